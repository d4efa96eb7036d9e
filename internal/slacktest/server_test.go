package slacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/slacktest"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1732370000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var people = []slacktest.User{
	{ID: "U0ANA0001", Name: "ana", RealName: "Ana Lima", Email: "ana@example.com", TZ: "Europe/Berlin"},
	{ID: "U0BEN0002", Name: "ben", RealName: "Ben Ode", Email: "ben@example.com"},
}

func start(t *testing.T, opts slacktest.Options) (*slacktest.Server, *slack.Client) {
	t.Helper()
	if opts.Users == nil {
		opts.Users = people
	}
	s := slacktest.NewServer(opts)
	t.Cleanup(s.Close)
	return s, slack.New(s.Token(), slack.OptionAPIURL(s.URL()+"/api/"))
}

// slackErr is the Slack error code carried by err, or "" if none.
func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func wantSlackErr(t *testing.T, err error, code string) {
	t.Helper()
	if got := slackErr(err); got != code {
		t.Fatalf("error = %v (code %q), want Slack error %q", err, got, code)
	}
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func TestPinnedSummaryIsEditedNotReposted(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, api := start(t, slacktest.Options{Now: clk.Now})

	ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-2024-0042", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.ID) != 9 || ch.ID[0] != 'C' || ch.Name != "inc-2024-0042" || !ch.IsPrivate || !ch.IsMember {
		t.Fatalf("created channel = %+v", ch)
	}
	if _, err := api.InviteUsersToConversationContext(ctx, ch.ID, "U0ANA0001", "U0BEN0002"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.Members(ch.ID), ","), "U0B0TUSER,U0ANA0001,U0BEN0002"; got != want {
		t.Fatalf("members = %s, want %s", got, want)
	}

	gotCh, ts, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("summary v1", false), slack.MsgOptionBlocks(section("*Status:* open")))
	if err != nil {
		t.Fatal(err)
	}
	if gotCh != ch.ID || ts != "1732370000.000000" {
		t.Fatalf("posted to %s at %s", gotCh, ts)
	}
	if err := api.AddPinContext(ctx, ch.ID, slack.NewRefToMessage(ch.ID, ts)); err != nil {
		t.Fatal(err)
	}
	wantSlackErr(t, api.AddPinContext(ctx, ch.ID, slack.NewRefToMessage(ch.ID, ts)), "already_pinned")

	clk.Advance(90 * time.Second)
	_, uts, _, err := api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("summary v2", false), slack.MsgOptionBlocks(section("*Status:* notified")))
	if err != nil {
		t.Fatal(err)
	}
	if uts != ts {
		t.Fatalf("chat.update answered ts %s, want the message's %s", uts, ts)
	}
	_, ts2, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("a later message", false))
	if err != nil {
		t.Fatal(err)
	}
	if ts2 <= ts {
		t.Fatalf("second ts %s not after first %s", ts2, ts)
	}
	if err := api.AddPinContext(ctx, ch.ID, slack.NewRefToMessage(ch.ID, ts2)); err != nil {
		t.Fatal(err)
	}

	msgs := s.Messages(ch.ID)
	if len(msgs) != 2 {
		t.Fatalf("messages = %+v, want 2", msgs)
	}
	m := msgs[0]
	if m.TS != ts || m.Text != "summary v2" || m.Updates != 1 || !strings.Contains(string(m.Blocks), "notified") || strings.Contains(string(m.Blocks), "open") {
		t.Fatalf("summary = %+v blocks %s", m, m.Blocks)
	}
	pins := s.Pins(ch.ID)
	if len(pins) != 2 || pins[0].TS != ts || pins[0].Text != "summary v2" || pins[1].TS != ts2 {
		t.Fatalf("pins = %+v", pins)
	}
	if n := len(s.CallsTo("chat.postMessage")); n != 2 {
		t.Fatalf("chat.postMessage calls = %d, want 2", n)
	}

	// What a client reads back agrees.
	items, _, err := api.ListPinsContext(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Message == nil || items[0].Message.Text != "summary v2" || items[0].Message.Timestamp != ts {
		t.Fatalf("pins.list = %+v", items)
	}
	info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: ch.ID, IncludeNumMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.NumMembers != 3 || info.Name != ch.Name {
		t.Fatalf("conversations.info = %+v", info)
	}

	// A deleted message leaves the channel and its pins.
	if _, _, err := api.DeleteMessageContext(ctx, ch.ID, ts); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(ch.ID); len(got) != 1 || got[0].TS != ts2 {
		t.Fatalf("after delete, messages = %+v", got)
	}
	if got := s.Pins(ch.ID); len(got) != 1 || got[0].TS != ts2 {
		t.Fatalf("after delete, pins = %+v", got)
	}
	_, _, _, err = api.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("x", false))
	wantSlackErr(t, err, "message_not_found")
}

func TestConversationsCreateNames(t *testing.T) {
	ctx := context.Background()
	_, api := start(t, slacktest.Options{})
	if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-taken"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
	}{
		{"inc-2024_01", ""},
		{"inc-émeute", ""},
		{strings.Repeat("a", 80), ""},
		{strings.Repeat("a", 81), "invalid_name_maxlength"},
		{"Incident", "invalid_name_specials"},
		{"has space", "invalid_name_specials"},
		{"has.period", "invalid_name_specials"},
		{"", "invalid_name_required"},
		{"inc-taken", "name_taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: tc.name})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantSlackErr(t, err, tc.want)
		})
	}
}

func TestConversationsInviteErrors(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	id := s.AddChannel("incidents", false, "U0ANA0001")

	_, err := api.InviteUsersToConversationContext(ctx, "C0NOSUCH0", "U0ANA0001")
	wantSlackErr(t, err, "channel_not_found")
	_, err = api.InviteUsersToConversationContext(ctx, id, "U0BEN0002", "U0ANA0001")
	wantSlackErr(t, err, "already_in_channel")
	if got := s.Members(id); len(got) != 1 {
		t.Fatalf("a failed invite added members: %v", got)
	}
	_, err = api.InviteUsersToConversationContext(ctx, id, "U0NOBODY0")
	wantSlackErr(t, err, "user_not_found")

	// force invites the valid ones.
	if _, err := api.ForceInviteUsersToConversationContext(ctx, id, "U0BEN0002", "U0ANA0001"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Members("#incidents"), ","); got != "U0ANA0001,U0BEN0002" {
		t.Fatalf("members = %s", got)
	}
}

func modal(title string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject(slack.PlainTextType, title, false, false),
		Blocks:     slack.Blocks{BlockSet: []slack.Block{section("body")}},
		CallbackID: "declare",
	}
}

func TestViewsOpenTriggers(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, api := start(t, slacktest.Options{Now: clk.Now})

	fresh := s.IssueTrigger()
	clk.Advance(2900 * time.Millisecond)
	resp, err := api.OpenViewContext(ctx, fresh, modal("Declare"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID == "" || resp.Hash == "" || resp.CallbackID != "declare" || resp.Title.Text != "Declare" {
		t.Fatalf("views.open = %+v", resp.View)
	}

	_, err = api.OpenViewContext(ctx, fresh, modal("Again"))
	wantSlackErr(t, err, "exchanged_trigger_id")

	stale := s.IssueTrigger()
	clk.Advance(3*time.Second + time.Millisecond)
	_, err = api.OpenViewContext(ctx, stale, modal("Late"))
	wantSlackErr(t, err, "expired_trigger_id")

	_, err = api.OpenViewContext(ctx, "1234.5678.made-up", modal("Forged"))
	wantSlackErr(t, err, "expired_trigger_id")

	// views.update checks the hash and keeps the ID.
	_, err = api.UpdateViewContext(ctx, modal("Step 2"), "", "stale-hash", resp.ID)
	wantSlackErr(t, err, "hash_conflict")
	up, err := api.UpdateViewContext(ctx, modal("Step 2"), "", resp.Hash, resp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if up.ID != resp.ID || up.Hash == resp.Hash || up.Title.Text != "Step 2" {
		t.Fatalf("views.update = %+v", up.View)
	}
	views := s.Views()
	if len(views) != 1 || views[0].Updates != 1 || views[0].TriggerID != fresh || !strings.Contains(string(views[0].JSON), "Step 2") {
		t.Fatalf("views = %+v", views)
	}
}

func TestViewsPublish(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{section("2 open incidents")}}}
	v1, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U0ANA0001", View: home})
	if err != nil {
		t.Fatal(err)
	}
	home.Blocks = slack.Blocks{BlockSet: []slack.Block{section("1 open incident")}}
	v2, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U0ANA0001", View: home})
	if err != nil {
		t.Fatal(err)
	}
	if v1.ID != v2.ID {
		t.Fatalf("home tab ID changed: %s then %s", v1.ID, v2.ID)
	}
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U0NOBODY0", View: home})
	wantSlackErr(t, err, "user_not_found")
	views := s.Views()
	if len(views) != 1 || views[0].User != "U0ANA0001" || !strings.Contains(string(views[0].JSON), "1 open incident") {
		t.Fatalf("views = %+v", views)
	}
}

func TestRateLimitedSurfacesRetryAfter(t *testing.T) {
	s, api := start(t, slacktest.Options{RateLimited: 1, RetryAfter: 1500 * time.Millisecond})
	_, _, err := api.PostMessageContext(context.Background(), "U0ANA0001", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v, want *slack.RateLimitedError", err)
	}
	if rl.RetryAfter != 2*time.Second {
		t.Fatalf("RetryAfter = %s, want 2s (1.5 s rounded up)", rl.RetryAfter)
	}
	calls := s.Calls()
	if len(calls) != 1 || calls[0].Status != http.StatusTooManyRequests || calls[0].Error != "ratelimited" {
		t.Fatalf("calls = %+v", calls)
	}
	if len(s.Channels()) != 0 {
		t.Fatal("a rate-limited post opened a DM")
	}
}

func TestRateLimitedFractionIsDeterministic(t *testing.T) {
	pattern := func(seed uint64) string {
		_, api := start(t, slacktest.Options{RateLimited: 0.3, Seed: seed})
		var b strings.Builder
		for i := range 200 {
			_, _, err := api.PostMessageContext(context.Background(), "U0ANA0001", slack.MsgOptionText(fmt.Sprint("m", i), false))
			var rl *slack.RateLimitedError
			switch {
			case errors.As(err, &rl):
				b.WriteByte('x')
			case err != nil:
				t.Fatal(err)
			default:
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Fatalf("same seed, different limits:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatal("different seeds, same limits")
	}
	if n := strings.Count(a, "x"); n < 30 || n > 90 {
		t.Fatalf("%d of 200 limited at 0.3: %s", n, a)
	}
}

func TestTokenIsChecked(t *testing.T) {
	ctx := context.Background()
	s, _ := start(t, slacktest.Options{Token: "xoxb-right"})
	wrong := slack.New("xoxb-wrong", slack.OptionAPIURL(s.URL()+"/api/"))
	none := slack.New("", slack.OptionAPIURL(s.URL()+"/api/"))

	_, _, err := wrong.PostMessageContext(ctx, "U0ANA0001", slack.MsgOptionText("hi", false))
	wantSlackErr(t, err, "invalid_auth")
	_, err = wrong.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U0ANA0001", View: slack.HomeTabViewRequest{Type: slack.VTHomeTab}})
	wantSlackErr(t, err, "invalid_auth")
	_, err = none.AuthTestContext(ctx)
	wantSlackErr(t, err, "not_authed")

	right := slack.New("xoxb-right", slack.OptionAPIURL(s.URL()+"/api/"))
	at, err := right.AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if at.UserID != "U0B0TUSER" || at.TeamID != "T0SLACKTST" || at.BotID != "B0B0TBOT1" {
		t.Fatalf("auth.test = %+v", at)
	}
	if len(s.Channels()) != 0 {
		t.Fatal("an unauthenticated post had an effect")
	}
}

func TestFailNext(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	_, ts, err := api.PostMessageContext(ctx, "U0ANA0001", slack.MsgOptionText("v1", false))
	if err != nil {
		t.Fatal(err)
	}
	dm := s.Channels()[0].ID

	s.FailNext("chat.update", "internal_error")
	_, _, _, err = api.UpdateMessageContext(ctx, dm, ts, slack.MsgOptionText("v2", false))
	wantSlackErr(t, err, "internal_error")
	if got := s.Messages(dm)[0].Text; got != "v1" {
		t.Fatalf("a failed update changed the text to %q", got)
	}
	if _, _, _, err = api.UpdateMessageContext(ctx, dm, ts, slack.MsgOptionText("v2", false)); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(dm)[0].Text; got != "v2" {
		t.Fatalf("text = %q, want v2", got)
	}

	s.FailNext("chat.postMessage", "ratelimited")
	_, _, err = api.PostMessageContext(ctx, dm, slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("error = %v, want rate limit with the default 1 s", err)
	}
}

func TestSetDown(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	s.SetDown(http.StatusServiceUnavailable)
	_, _, err := api.PostMessageContext(ctx, "U0ANA0001", slack.MsgOptionText("during", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable || !sc.Retryable() {
		t.Fatalf("error = %v, want a retryable HTTP 503", err)
	}
	if len(s.Channels()) != 0 {
		t.Fatal("a call while down had an effect")
	}
	s.SetDown(0)
	if _, _, err := api.PostMessageContext(ctx, "U0ANA0001", slack.MsgOptionText("after", false)); err != nil {
		t.Fatal(err)
	}
	calls := s.CallsTo("chat.postMessage")
	if len(calls) != 2 || calls[0].Status != http.StatusServiceUnavailable || calls[0].Error != "http_503" || calls[1].Error != "" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestUsersInfoAndEphemeral(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	u, err := api.GetUserInfoContext(ctx, "U0ANA0001")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "ana" || u.RealName != "Ana Lima" || u.Profile.Email != "ana@example.com" || u.TZ != "Europe/Berlin" {
		t.Fatalf("users.info = %+v", u)
	}
	_, err = api.GetUserInfoContext(ctx, "U0NOBODY0")
	wantSlackErr(t, err, "user_not_found")

	id := s.AddChannel("incidents", false, "U0B0TUSER", "U0ANA0001")
	if _, err := api.PostEphemeralContext(ctx, id, "U0ANA0001", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatal(err)
	}
	_, err = api.PostEphemeralContext(ctx, id, "U0BEN0002", slack.MsgOptionText("only you", false))
	wantSlackErr(t, err, "user_not_in_channel")
	if e := s.Ephemerals(id); len(e) != 1 || e[0].User != "U0ANA0001" || e[0].Text != "only you" {
		t.Fatalf("ephemerals = %+v", e)
	}
	if len(s.Messages(id)) != 0 {
		t.Fatal("an ephemeral message was recorded as a channel message")
	}
}

func TestResponseURL(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	u := s.NewResponseURL()
	other := s.NewResponseURL()

	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(u), slack.MsgOptionText("Declared", false)); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{Text: fmt.Sprint("update ", i), ResponseType: slack.ResponseTypeEphemeral}); err != nil {
			t.Fatal(err)
		}
	}
	var sce slack.StatusCodeError
	if err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{Text: "sixth"}); !errors.As(err, &sce) || sce.Code != http.StatusNotFound {
		t.Fatalf("sixth post: %v, want 404", err)
	}
	posts := s.Responses(u)
	if len(posts) != 6 || !posts[0].ReplaceOriginal || posts[0].Text != "Declared" || posts[1].ResponseType != "ephemeral" || posts[5].Error != "used_url" {
		t.Fatalf("posts = %+v", posts)
	}
	if len(s.Responses(other)) != 0 || len(s.Responses("")) != 6 {
		t.Fatal("posts recorded against the wrong URL")
	}
	if len(s.Calls()) != 0 {
		t.Fatal("response URL posts recorded as Web API calls")
	}
}

func TestJSONBodyAndUnknownMethod(t *testing.T) {
	s, _ := start(t, slacktest.Options{})
	id := s.AddChannel("incidents", false)
	post := func(method, contentType, body string, auth bool) map[string]any {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.URL()+"/api/"+method, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if auth {
			req.Header.Set("Authorization", "Bearer "+s.Token())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d", method, resp.StatusCode)
		}
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v in %s", method, err, b)
		}
		return out
	}

	out := post("chat.postMessage", "application/json; charset=utf-8",
		`{"channel":"`+id+`","text":"hello","blocks":[{"type":"divider"}]}`, true)
	if out["ok"] != true {
		t.Fatalf("answer = %v", out)
	}
	msgs := s.Messages(id)
	if len(msgs) != 1 || msgs[0].Text != "hello" || string(msgs[0].Blocks) != `[{"type":"divider"}]` {
		t.Fatalf("messages = %+v", msgs)
	}
	c := s.Calls()[0]
	if c.Params.Get("channel") != id || c.JSON["text"] != "hello" || c.Params.Get("blocks") != `[{"type":"divider"}]` {
		t.Fatalf("call = %+v", c)
	}

	// A JSON body cannot carry the token; Slack wants the header.
	out = post("chat.postMessage", "application/json", `{"token":"`+s.Token()+`","channel":"`+id+`","text":"x"}`, false)
	if out["error"] != "not_authed" {
		t.Fatalf("answer = %v", out)
	}
	out = post("chat.flyToTheMoon", "application/x-www-form-urlencoded", "token="+s.Token(), false)
	if out["ok"] != false || out["error"] != "unknown_method" {
		t.Fatalf("answer = %v", out)
	}
}

func TestLatencyGivesWayToTheCaller(t *testing.T) {
	_, api := start(t, slacktest.Options{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := api.AuthTestContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the deadline", err)
	}
}

func TestConcurrentPosts(t *testing.T) {
	s, api := start(t, slacktest.Options{})
	id := s.AddChannel("incidents", false)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				if _, _, err := api.PostMessageContext(context.Background(), id, slack.MsgOptionText(fmt.Sprint(i, "/", j), false)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	msgs := s.Messages(id)
	if len(msgs) != 80 {
		t.Fatalf("%d messages, want 80", len(msgs))
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].TS <= msgs[i-1].TS {
			t.Fatalf("ts not increasing: %s then %s", msgs[i-1].TS, msgs[i].TS)
		}
	}
}
