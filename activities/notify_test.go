package activities

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/sendgridtest"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/templates"
)

// crashyLedger fails FinishAttempt(accepted) for a fraction of calls, as a
// worker killed between SendGrid's 202 and the ledger write would: the
// attempt stays "sending" in the ledger, and the retry must reconcile it
// rather than mail its people again blindly.
type crashyLedger struct {
	*store.Store
	mu       sync.Mutex
	rng      *rand.Rand
	fraction float64
	crashes  int
}

func (l *crashyLedger) FinishAttempt(ctx context.Context, key string, n int, outcome store.AttemptOutcome, messageID, errText string, at time.Time) error {
	l.mu.Lock()
	crash := outcome == store.AttemptAccepted && l.rng.Float64() < l.fraction
	if crash {
		l.crashes++
	}
	l.mu.Unlock()
	if crash {
		return errors.New("worker killed before the ledger write")
	}
	return l.Store.FinishAttempt(ctx, key, n, outcome, messageID, errText, at)
}

type faults struct {
	rateLimited, serverError, dropAfterAccept, crashAfterAccept float64
	// activity: the notifier asks the sink's Email Activity API about an
	// attempt whose answer was lost; otherwise it resends after the wait.
	activity bool
}

type sendOutcome struct {
	people, mailable, mailedTwice, attempts int
	stats                                   sendgridtest.Stats
	crashes                                 int
	counts                                  PageResult
	progress                                store.NoticeProgress
}

// sendUnderFaults notifies n people through the notifier's page activity,
// retried as Temporal would retry it, against a sink and a ledger that
// misbehave as f says.
func sendUnderFaults(t testing.TB, n int, f faults, seed uint64) sendOutcome {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := st.NewSnapshot(ctx, "INC-20261123-FAULT", "faults")
	if err != nil {
		t.Fatal(err)
	}
	var batch []store.Subject
	emails := make([]string, n)
	for i := range n {
		key := sha256.Sum256([]byte("id:" + strconv.Itoa(i)))
		emails[i] = "p" + strconv.Itoa(i) + "@example.org"
		payload, _ := json.Marshal(map[string]string{"email": emails[i], "name": "P " + strconv.Itoa(i), "locale": []string{"de", "fr", "en"}[i%3]})
		batch = append(batch, store.Subject{Key: [16]byte(key[:16]), Jurisdiction: "DE", Categories: 3, Locale: "de", Payload: payload})
	}
	if _, _, err := w.Add(ctx, batch); err != nil {
		t.Fatal(err)
	}
	snap, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.k", RateLimited: f.rateLimited, ServerError: f.serverError,
		DropAfterAccept: f.dropAfterAccept, Seed: seed})
	defer sink.Close()
	ledger := &crashyLedger{Store: st, rng: rand.New(rand.NewPCG(seed, 7)), fraction: f.crashAfterAccept}
	sending := Sending{
		From:         mailer.Address{Email: "privacy@example.org"},
		Organisation: templates.Organisation{Name: "Example GmbH", ContactName: "DPO", ContactEmail: "dpo@example.org"},
		PageSize:     2000, Partitions: 2, Concurrency: 4, UnconfirmedWait: 2 * time.Minute,
	}
	if f.activity {
		sending.Activity = mailer.NewActivity("SG.k", mailer.ActivityOptions{BaseURL: sink.URL()})
	}
	notifier := NewNotifier(ledger, mailer.NewSendGrid("SG.k", mailer.SendGridOptions{BaseURL: sink.URL()}), sending)
	// The notifier's clock: a failed page moves it on by the wait, as the
	// retry Temporal schedules would.
	var clockMu sync.Mutex
	clock := time.Now().UTC()
	notifier.now = func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return clock
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(notifier)
	spec := NoticeSpec{ID: "INC-20261123-FAULT/eu-gdpr-art34", Incident: "INC-20261123-FAULT", Rules: []string{"eu-gdpr-art34"},
		Notify: "individuals", Residents: []string{"EU"}, SnapshotID: snap.ID, ApprovedBy: "test", ApprovedAt: time.Now(),
		Data: templates.NoticeData{IncidentID: "INC-20261123-FAULT", NoticeDate: time.Now(), DiscoveredAt: time.Now(),
			WhatHappened: "x", LikelyConsequences: "y", MeasuresTaken: "z", WhatYouCanDo: "w", DataCategories: []string{"name", "email"}}}
	if _, err := env.ExecuteActivity(notifier.PrepareNotice, spec); err != nil {
		t.Fatal(err)
	}
	out := sendOutcome{people: n, mailable: n}
	for p, part := range Partitions(2) {
		cur := PageInput{Notice: spec.ID, Partition: p, After: part[0], Through: part[1], PageSize: 2000}
		for {
			var res PageResult
			// The test environment retries a failed activity as Temporal
			// would; an error here is one it gave up on.
			v, err := env.ExecuteActivity(notifier.SendNoticePage, cur)
			out.attempts++
			if err != nil {
				clockMu.Lock()
				clock = clock.Add(sending.UnconfirmedWait)
				clockMu.Unlock()
				if out.attempts > 1000 {
					t.Fatalf("page %d/%d never succeeds: %v", p, cur.Page, err)
				}
				continue
			}
			if err := v.Get(&res); err != nil {
				t.Fatal(err)
			}
			out.counts.Accepted += res.Accepted
			out.counts.Read += res.Read
			out.counts.Retried += res.Retried
			if res.Last != "" {
				cur.After = res.Last
			}
			cur.Page++
			if res.Done {
				break
			}
		}
	}
	for _, e := range emails {
		switch c := sink.RecipientCount(e); {
		case c == 0:
			t.Errorf("%s was never mailed", e)
		case c > 1:
			out.mailedTwice++
		}
	}
	out.stats, out.crashes = sink.Stats(), ledger.crashes
	if out.progress, err = st.NoticeProgress(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNobodyMailedTwiceWithoutTheCrashWindow: rate limits and server
// errors retry pages, and the ledger keeps every batch from going out twice.
func TestNobodyMailedTwiceWithoutTheCrashWindow(t *testing.T) {
	out := sendUnderFaults(t, 12_000, faults{rateLimited: 0.15, serverError: 0.15}, 1)
	if out.mailedTwice != 0 || out.counts.Accepted != out.people || out.counts.Read != out.people {
		t.Fatalf("%+v", out)
	}
	if out.stats.RateLimited == 0 || out.stats.ServerError == 0 {
		t.Fatalf("no fault was injected: %+v", out)
	}
}

// TestLostAnswersAreReconciled: SendGrid took a batch and the notifier did
// not learn it (an answer lost after the 202, or a worker killed before the
// ledger write). The batch is left "sending" or ambiguous in the ledger and
// is never resent at once. Without a way to ask SendGrid it is resent after
// the wait, counted: the ledger's people maybe mailed twice are exactly the
// ones the sink mailed twice. With the Email Activity API the sink lists
// it, it is confirmed, and nobody is mailed twice.
func TestLostAnswersAreReconciled(t *testing.T) {
	const n = 30_000
	for _, tc := range []struct {
		name     string
		activity bool
	}{{"resent after the wait", false}, {"confirmed by the Email Activity API", true}} {
		t.Run(tc.name, func(t *testing.T) {
			out := sendUnderFaults(t, n, faults{rateLimited: 0.05, serverError: 0.05, dropAfterAccept: 0.1, crashAfterAccept: 0.05, activity: tc.activity}, 3)
			windows := out.stats.Dropped + out.crashes
			if out.stats.Dropped == 0 || out.crashes == 0 {
				t.Fatalf("%d answers lost, %d crashes: the faults did not fire", out.stats.Dropped, out.crashes)
			}
			p := out.progress
			t.Logf("%d people, %d Mail Send requests taken: %d answers lost after acceptance and %d crashes before the ledger write; "+
				"ledger: %d requests, %d batches resent, %d people mailed twice, %d maybe twice; sink: %d people mailed twice",
				n, out.stats.Accepted, out.stats.Dropped, out.crashes, p.Requests, p.Resent, p.Twice, p.MaybeTwice, out.mailedTwice)
			// Each window is a request the sink took and the ledger could not
			// confirm, unless the Email Activity API lists it.
			unconfirmed := windows
			if tc.activity {
				unconfirmed = 0
			}
			if p.Accepted != n || p.Requests != out.stats.Accepted-unconfirmed {
				t.Errorf("ledger accepted %d people in %d requests taken; the sink took %d requests of %d people, %d of them unconfirmed",
					p.Accepted, p.Requests, out.stats.Accepted, n, unconfirmed)
			}
			if tc.activity {
				if out.mailedTwice != 0 || p.Resent != 0 || p.Twice != 0 || p.MaybeTwice != 0 {
					t.Errorf("with the Email Activity API: %d mailed twice, ledger %+v", out.mailedTwice, p)
				}
				return
			}
			// A batch caught twice (its resend lost too) is one batch resent.
			if p.Resent == 0 || p.Resent > windows || out.mailedTwice == 0 || p.MaybeTwice != out.mailedTwice || p.Twice != 0 {
				t.Errorf("%d windows: %d resent, maybe twice %d, twice %d; sink mailed %d twice", windows, p.Resent, p.MaybeTwice, p.Twice, out.mailedTwice)
			}
		})
	}
}

func TestAudience(t *testing.T) {
	for _, tc := range []struct {
		spec NoticeSpec
		want string
	}{
		{NoticeSpec{ID: "INC-1/eu-gdpr-art34", Notify: "individuals", Rules: []string{"eu-gdpr-art34", "br-lgpd-art48-titulares"}}, "individuals"},
		{NoticeSpec{ID: "INC-1/x", Notify: "individuals", Rules: []string{"x"}, OwnNotice: true}, "individuals:x"},
		{NoticeSpec{ID: "INC-1/eu-gdpr-art33", Notify: "authority", Rules: []string{"eu-gdpr-art33"}}, "org:INC-1/eu-gdpr-art33"},
	} {
		if got := tc.spec.Audience(); got != tc.want {
			t.Errorf("%+v: audience %q, want %q", tc.spec, got, tc.want)
		}
	}
}

// TestRetryDelays: a rate limit waits for SendGrid's reset; an ambiguous
// batch waits for the Event Webhook when it is on.
func TestRetryDelays(t *testing.T) {
	n := NewNotifier(nil, nil, Sending{UnconfirmedWait: 2 * time.Minute})
	delay := func(err error) time.Duration {
		var app *temporal.ApplicationError
		if !errors.As(err, &app) {
			t.Fatalf("%v is not an application error", err)
		}
		return app.NextRetryDelay()
	}
	limited := n.retryError([]error{&mailer.TemporaryError{Status: 500}, &mailer.RateLimitedError{RetryAt: time.Now().Add(30 * time.Second)}})
	if d := delay(limited); d < 29*time.Second || d > 30*time.Second {
		t.Errorf("rate limited: next retry in %s, want SendGrid's 30 s", d)
	}
	unconfirmed := n.retryError([]error{&unconfirmedError{key: "a", wait: 2 * time.Minute}, &unconfirmedError{key: "b", wait: 40 * time.Second},
		&mailer.TemporaryError{Status: 500}})
	if d := delay(unconfirmed); d != 40*time.Second {
		t.Errorf("unconfirmed: next retry in %s, want the 40 s left of the soonest wait", d)
	}
	var app *temporal.ApplicationError
	if stopping := n.retryError([]error{errStopping}); !errors.As(stopping, &app) || app.Type() != ErrTypeWorkerStopping || delay(stopping) != time.Second {
		t.Errorf("stopping: %v; want %s, retried in 1 s on another worker", stopping, ErrTypeWorkerStopping)
	}
	if err := n.retryError([]error{&mailer.TemporaryError{Status: 503}}); err == nil {
		t.Error("a 503 is not retried")
	}
}

func TestSendPageEmail(t *testing.T) {
	sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.k"})
	defer sink.Close()
	n := NewNotifier(nil, mailer.NewSendGrid("SG.k", mailer.SendGridOptions{BaseURL: sink.URL()}), Sending{From: mailer.Address{Email: "breachctl@example.org"}})
	in := PageEmailInput{Key: "INC-1/page/r/reminder/x/0", To: []string{"dpo@example.com", "ciso@example.com"}, Subject: "[breachctl] INC-1: r needs someone", Text: "Reminder: 6h left <soon>"}
	if err := n.SendPageEmail(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if sink.RecipientCount("dpo@example.com") != 1 || sink.RecipientCount("ciso@example.com") != 1 {
		t.Fatalf("sink: %+v", sink.Stats())
	}
	bad := in
	bad.To = []string{"not-an-address"}
	err := n.SendPageEmail(context.Background(), bad)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		t.Fatalf("a page to an impossible address: %v, want a non-retryable error", err)
	}
}
