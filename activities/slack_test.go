package activities

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slacktest"
)

const (
	slackIncident = "INC-20261123-ABCDE"
	ana           = "U0ANA0001"
	ben           = "U0BEN0002"
	nobody        = "U0NOBODY1"
	secretTitle   = "Export of Jane Roe's records"
)

var slackPeople = []slacktest.User{
	{ID: ana, Name: "ana", RealName: "Ana Lima"},
	{ID: ben, Name: "ben", RealName: "Ben Ode"},
}

// lossy loses the answer to the next calls of chosen methods after Slack
// acted on them, as a dropped connection or a worker crash would.
type lossy struct {
	mu   sync.Mutex
	lose map[string]int
}

func (l *lossy) Lose(method string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose[method]++
}

func (l *lossy) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lose[method] > 0 {
		l.lose[method]--
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return res, nil
}

type slackFixture struct {
	t     *testing.T
	srv   *slacktest.Server
	net   *lossy
	slack *Slack
	env   *testsuite.TestActivityEnvironment
	logs  *bytes.Buffer
}

func newSlackFixture(t *testing.T, opts slacktest.Options, cfg SlackSettings) *slackFixture {
	t.Helper()
	if opts.Users == nil {
		opts.Users = slackPeople
	}
	srv := slacktest.NewServer(opts)
	t.Cleanup(srv.Close)
	net := &lossy{lose: map[string]int{}}
	client := slack.New(srv.Token(), slack.OptionAPIURL(srv.APIURL()), slack.OptionHTTPClient(&http.Client{Transport: net}))
	s := NewSlack(client, cfg)
	logs := &bytes.Buffer{}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(logs, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(s)
	t.Cleanup(func() {
		for _, secret := range []string{secretTitle, "Jane", "Roe"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs carry %q:\n%s", secret, logs)
			}
		}
	})
	return &slackFixture{t: t, srv: srv, net: net, slack: s, env: env, logs: logs}
}

func (f *slackFixture) open(in OpenChannelInput) (ChannelRef, error) {
	var ref ChannelRef
	v, err := f.env.ExecuteActivity(f.slack.SlackOpenChannel, in)
	if err == nil {
		err = v.Get(&ref)
	}
	return ref, err
}

func (f *slackFixture) summary(in SummaryInput) (SummaryRef, error) {
	var ref SummaryRef
	v, err := f.env.ExecuteActivity(f.slack.SlackSummary, in)
	if err == nil {
		err = v.Get(&ref)
	}
	return ref, err
}

func (f *slackFixture) post(in PostInput) (PostRef, error) {
	var ref PostRef
	v, err := f.env.ExecuteActivity(f.slack.SlackPost, in)
	if err == nil {
		err = v.Get(&ref)
	}
	return ref, err
}

func (f *slackFixture) direct(in DirectInput) (PostRef, error) {
	var ref PostRef
	v, err := f.env.ExecuteActivity(f.slack.SlackDirect, in)
	if err == nil {
		err = v.Get(&ref)
	}
	return ref, err
}

func (f *slackFixture) mustOpen(in OpenChannelInput) ChannelRef {
	f.t.Helper()
	ref, err := f.open(in)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref
}

func (f *slackFixture) mustSummary(in SummaryInput) SummaryRef {
	f.t.Helper()
	ref, err := f.summary(in)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref
}

func (f *slackFixture) mustPost(in PostInput) PostRef {
	f.t.Helper()
	ref, err := f.post(in)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref
}

func (f *slackFixture) mustDirect(in DirectInput) PostRef {
	f.t.Helper()
	ref, err := f.direct(in)
	if err != nil {
		f.t.Fatal(err)
	}
	return ref
}

// retryable reports whether Temporal would retry err, with its type.
func retryable(t *testing.T, err error) (bool, string) {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want an error")
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return !ae.NonRetryable(), ae.Type()
	}
	return true, ""
}

func TestSlackOpenChannelCreatesAndInvites(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{Responders: []string{ana}})
	ref := f.mustOpen(OpenChannelInput{Incident: slackIncident, Title: secretTitle, Invite: []string{ben, nobody, ana}})

	if ref.Name != "inc-20261123-abcde" || ref.ID == "" {
		t.Fatalf("channel = %+v", ref)
	}
	if want := []NotInvited{{User: nobody, Reason: "user_not_found"}}; !slices.Equal(ref.NotInvited, want) {
		t.Fatalf("not invited = %+v, want %+v", ref.NotInvited, want)
	}
	chs := f.srv.Channels()
	if len(chs) != 1 || !chs[0].IsPrivate || chs[0].ID != ref.ID {
		t.Fatalf("channels = %+v", chs)
	}
	if got, want := f.srv.Members(ref.ID), []string{"U0B0TUSER", ana, ben}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if !strings.Contains(chs[0].Topic, slackIncident) || !strings.Contains(chs[0].Topic, secretTitle) || !strings.Contains(chs[0].Purpose, slackIncident) {
		t.Fatalf("topic %q, purpose %q", chs[0].Topic, chs[0].Purpose)
	}

	// Opening again changes nothing and creates nothing.
	again := f.mustOpen(OpenChannelInput{Incident: slackIncident, Title: secretTitle, Invite: []string{ben}})
	if again.ID != ref.ID || len(f.srv.Channels()) != 1 || len(f.srv.Members(ref.ID)) != 3 {
		t.Fatalf("second open = %+v, channels %+v", again, f.srv.Channels())
	}
	if n := len(f.srv.CallsTo("conversations.setTopic")); n != 1 {
		t.Fatalf("topic set %d times, want once", n)
	}
}

func TestSlackOpenChannelRetryFindsTheChannel(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{Responders: []string{ana, ben}})
	// Enough private channels that the incident's is on a later page.
	for i := range 450 {
		f.srv.AddChannel("other-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), true, "U0B0TUSER")
	}
	f.srv.AddChannel("inc-20261123-zzzzz", true, ana) // taken, without the bot: never used

	f.net.Lose("conversations.create")
	_, err := f.open(OpenChannelInput{Incident: slackIncident})
	if ok, _ := retryable(t, err); !ok {
		t.Fatalf("a lost answer is not retried: %v", err)
	}
	ref := f.mustOpen(OpenChannelInput{Incident: slackIncident})

	var named []slacktest.Channel
	for _, c := range f.srv.Channels() {
		if c.Name == "inc-20261123-abcde" {
			named = append(named, c)
		}
	}
	if len(named) != 1 || named[0].ID != ref.ID {
		t.Fatalf("channels named for the incident = %+v, retry answered %+v", named, ref)
	}
	if got, want := f.srv.Members(ref.ID), []string{"U0B0TUSER", ana, ben}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if n := len(f.srv.CallsTo("conversations.list")); n < 3 {
		t.Fatalf("conversations.list called %d times; the channel is on page 3", n)
	}

	// A name taken where the bot cannot see it is a permanent failure.
	_, err = f.open(OpenChannelInput{Incident: "INC-20261123-ZZZZZ"})
	if ok, typ := retryable(t, err); ok || typ != ErrTypeSlackPermanent || !strings.Contains(err.Error(), "name_taken") {
		t.Fatalf("error = %v (retryable %v, type %s), want permanent name_taken", err, ok, typ)
	}
}

func slackStatus(now time.Time) incident.Status {
	due := now.Add(48 * time.Hour)
	st := incident.Status{
		ID: slackIncident, OpenedAt: now, OpenedBy: "slack:" + ana,
		Facts: incident.Facts{Title: secretTitle, AwareAt: now, Severity: incident.SeverityHigh},
		Clocks: []incident.Clock{
			{Obligation: incident.Obligation{Rule: "eu-gdpr-art33", Title: "Tell the supervisory authority", StartsAt: &now, Due: &due}, State: incident.ClockRunning},
		},
	}
	st.Refresh()
	return st
}

func TestSlackSummaryPostedPinnedThenEdited(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{})
	ch := f.mustOpen(OpenChannelInput{Incident: slackIncident})
	now := time.Now()
	st := slackStatus(now)

	first := f.mustSummary(SummaryInput{Channel: ch.ID, View: SummaryViewOf(st, now)})
	st.Facts.Severity = incident.SeverityCritical
	second := f.mustSummary(SummaryInput{Channel: ch.ID, TS: first.TS, View: SummaryViewOf(st, now)})
	if second.TS != first.TS {
		t.Fatalf("edit answered ts %s, want %s", second.TS, first.TS)
	}
	msgs := f.srv.Messages(ch.ID)
	if len(msgs) != 1 || msgs[0].TS != first.TS || msgs[0].Updates != 1 || !strings.Contains(string(msgs[0].Blocks), "critical") {
		t.Fatalf("messages = %+v", msgs)
	}
	if !strings.Contains(string(msgs[0].Metadata), `"event_type":"breachctl_summary"`) || !strings.Contains(string(msgs[0].Metadata), slackIncident) {
		t.Fatalf("metadata = %s", msgs[0].Metadata)
	}
	if pins := f.srv.Pins(ch.ID); len(pins) != 1 || pins[0].TS != first.TS {
		t.Fatalf("pins = %+v", pins)
	}
	for _, want := range []string{`"action_id":"ack"`, `"action_id":"add_note"`, `"value":"` + slackIncident + `|eu-gdpr-art33"`} {
		if !strings.Contains(string(msgs[0].Blocks), want) {
			t.Errorf("summary lacks %s", want)
		}
	}

	// Deleted by someone: a new one is posted and pinned.
	client := slack.New(f.srv.Token(), slack.OptionAPIURL(f.srv.APIURL()))
	if _, _, err := client.DeleteMessage(ch.ID, first.TS); err != nil {
		t.Fatal(err)
	}
	third := f.mustSummary(SummaryInput{Channel: ch.ID, TS: first.TS, View: SummaryViewOf(st, now)})
	if third.TS == first.TS || len(f.srv.Messages(ch.ID)) != 1 || len(f.srv.Pins(ch.ID)) != 1 {
		t.Fatalf("after delete: %+v, messages %+v, pins %+v", third, f.srv.Messages(ch.ID), f.srv.Pins(ch.ID))
	}
}

func TestSlackSummaryRetryAfterALostAnswer(t *testing.T) {
	for _, lost := range []string{"pins.add", "chat.postMessage"} {
		t.Run(lost, func(t *testing.T) {
			f := newSlackFixture(t, slacktest.Options{}, SlackSettings{})
			ch := f.mustOpen(OpenChannelInput{Incident: slackIncident})
			// Another incident's summary and someone's pin are left alone.
			now := time.Now()
			other := slackStatus(now)
			other.ID = "INC-20261123-OTHER"
			otherRef := f.mustSummary(SummaryInput{Channel: ch.ID, View: SummaryViewOf(other, now)})
			client := slack.New(f.srv.Token(), slack.OptionAPIURL(f.srv.APIURL()))
			_, plainTS, err := client.PostMessage(ch.ID, slack.MsgOptionText("a pinned link", false))
			if err != nil {
				t.Fatal(err)
			}
			if err := client.AddPin(ch.ID, slack.NewRefToMessage(ch.ID, plainTS)); err != nil {
				t.Fatal(err)
			}

			f.net.Lose(lost)
			view := SummaryViewOf(slackStatus(now), now)
			_, err = f.summary(SummaryInput{Channel: ch.ID, View: view})
			if ok, _ := retryable(t, err); !ok {
				t.Fatalf("a lost answer is not retried: %v", err)
			}
			ref := f.mustSummary(SummaryInput{Channel: ch.ID, View: view})

			var ours []slacktest.Message
			for _, m := range f.srv.Messages(ch.ID) {
				if strings.Contains(string(m.Metadata), slackIncident) {
					ours = append(ours, m)
				}
			}
			if len(ours) != 1 || ours[0].TS != ref.TS || ours[0].Updates != 1 {
				t.Fatalf("summaries of %s = %+v, retry answered %s", slackIncident, ours, ref.TS)
			}
			var pinned []string
			for _, p := range f.srv.Pins(ch.ID) {
				pinned = append(pinned, p.TS)
			}
			if want := []string{otherRef.TS, plainTS, ref.TS}; !slices.Equal(pinned, want) {
				t.Fatalf("pins = %v, want %v", pinned, want)
			}
			if n := len(f.srv.CallsTo("chat.postMessage")); n != 3 { // the other summary, the link, ours
				t.Fatalf("chat.postMessage called %d times, want 3", n)
			}
		})
	}
}

func TestSlackPostOncePerKey(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{})
	ch := f.mustOpen(OpenChannelInput{Incident: slackIncident})
	in := PostInput{Channel: ch.ID, Key: slackIncident + "/reminder/eu-gdpr-art33/24h", Text: "Jane Roe: 24h left", Mention: []string{ana}}

	first := f.mustPost(in)
	again := f.mustPost(in)
	if again != first {
		t.Fatalf("second post answered %+v, want %+v", again, first)
	}
	f.net.Lose("chat.postMessage")
	lostIn := PostInput{Channel: ch.ID, Key: slackIncident + "/reminder/eu-gdpr-art33/6h", Text: "Jane Roe: 6h left"}
	if _, err := f.post(lostIn); err == nil {
		t.Fatal("a lost answer succeeded")
	}
	lost := f.mustPost(lostIn)

	msgs := f.srv.Messages(ch.ID)
	if len(msgs) != 2 || msgs[0].TS != first.TS || msgs[1].TS != lost.TS {
		t.Fatalf("messages = %+v", msgs)
	}
	if msgs[0].Text != "<@"+ana+"> Jane Roe: 24h left" {
		t.Fatalf("text = %q", msgs[0].Text)
	}
	if n := len(f.srv.CallsTo("chat.postMessage")); n != 2 {
		t.Fatalf("chat.postMessage called %d times, want 2", n)
	}
}

func TestSlackDirectOncePerKey(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{})
	in := DirectInput{User: ben, Key: slackIncident + "/escalate/ben", Text: "Jane Roe, please look at " + slackIncident}
	first := f.mustDirect(in)
	again := f.mustDirect(in)
	if again != first || first.Channel == "" || first.Channel[0] != 'D' {
		t.Fatalf("direct = %+v then %+v", first, again)
	}
	if msgs := f.srv.Messages(first.Channel); len(msgs) != 1 {
		t.Fatalf("DM messages = %+v", msgs)
	}
	_, err := f.direct(DirectInput{User: nobody, Key: "k", Text: "x"})
	if ok, typ := retryable(t, err); ok || typ != ErrTypeSlackPermanent {
		t.Fatalf("DM to nobody: %v", err)
	}
}

func TestSlackRateLimitRetriesAfterRetryAfter(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{RetryAfter: 7 * time.Second}, SlackSettings{})
	ch := f.mustOpen(OpenChannelInput{Incident: slackIncident})
	f.srv.FailNext("chat.postMessage", "ratelimited")
	_, err := f.post(PostInput{Channel: ch.ID, Key: "k", Text: "x"})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an application error", err)
	}
	if ae.NonRetryable() || ae.Type() != ErrTypeRateLimited || ae.NextRetryDelay() != 7*time.Second {
		t.Fatalf("error = %v: retryable %v, type %s, next retry in %s; want retryable %s in 7s", err, !ae.NonRetryable(), ae.Type(), ae.NextRetryDelay(), ErrTypeRateLimited)
	}
	// The retry posts once.
	f.mustPost(PostInput{Channel: ch.ID, Key: "k", Text: "x"})
	if n := len(f.srv.Messages(ch.ID)); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestSlackErrorsPermanentOrNot(t *testing.T) {
	f := newSlackFixture(t, slacktest.Options{}, SlackSettings{})
	ch := f.mustOpen(OpenChannelInput{Incident: slackIncident})
	for _, tc := range []struct {
		name      string
		fail      string // method to fail, with code
		code      string
		channel   string
		retryable bool
	}{
		{"unknown channel", "", "channel_not_found", "C0NOSUCH1", false},
		{"not in channel", "conversations.history", "not_in_channel", ch.ID, false},
		{"invalid auth", "chat.postMessage", "invalid_auth", ch.ID, false},
		{"Slack's internal error", "chat.postMessage", "internal_error", ch.ID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != "" {
				f.srv.FailNext(tc.fail, tc.code)
			}
			_, err := f.post(PostInput{Channel: tc.channel, Key: "k-" + tc.code, Text: "x"})
			ok, typ := retryable(t, err)
			if ok != tc.retryable || !strings.Contains(err.Error(), tc.code) {
				t.Fatalf("error = %v (type %s): retryable %v, want %v with %s", err, typ, ok, tc.retryable, tc.code)
			}
			if !tc.retryable && (typ != ErrTypeSlackPermanent || !strings.Contains(err.Error(), "slack ")) {
				t.Fatalf("error = %v, type %s; want %s naming the method", err, typ, ErrTypeSlackPermanent)
			}
		})
	}
	// A wrong token is permanent on every method.
	bad := NewSlack(slack.New("xoxb-wrong", slack.OptionAPIURL(f.srv.APIURL())), SlackSettings{})
	f.env.RegisterActivity(bad)
	_, err := f.env.ExecuteActivity(bad.SlackOpenChannel, OpenChannelInput{Incident: "INC-20261123-WRONG"})
	if ok, typ := retryable(t, err); ok || typ != ErrTypeSlackPermanent || !strings.Contains(err.Error(), "conversations.create: invalid_auth") {
		t.Fatalf("wrong token: %v", err)
	}
}
