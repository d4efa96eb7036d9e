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

// crashyLedger fails MarkBatch(accepted) for a fraction of calls, as a
// worker killed between SendGrid's 202 and the ledger write would: the one
// window in which a batch is sent again.
type crashyLedger struct {
	*store.Store
	mu       sync.Mutex
	rng      *rand.Rand
	fraction float64
	crashes  int
	crashed  map[string]int // batch key -> recipients
}

func (l *crashyLedger) MarkBatch(ctx context.Context, key string, state store.BatchState, messageID, errText string, at time.Time) error {
	l.mu.Lock()
	crash := state == store.BatchAccepted && l.rng.Float64() < l.fraction
	if crash {
		l.crashes++
	}
	l.mu.Unlock()
	if crash {
		return errors.New("worker killed before the ledger write")
	}
	return l.Store.MarkBatch(ctx, key, state, messageID, errText, at)
}

type faults struct {
	rateLimited, serverError, dropAfterAccept, crashAfterAccept float64
}

type sendOutcome struct {
	people, mailable, mailedTwice, attempts int
	stats                                   sendgridtest.Stats
	crashes                                 int
	counts                                  PageResult
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
	notifier := NewNotifier(ledger, mailer.NewSendGrid("SG.k", mailer.SendGridOptions{BaseURL: sink.URL()}), Sending{
		From:         mailer.Address{Email: "privacy@example.org"},
		Organisation: templates.Organisation{Name: "Example GmbH", ContactName: "DPO", ContactEmail: "dpo@example.org"},
		PageSize:     2000, Partitions: 2, Concurrency: 4,
	})
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

// TestDuplicateWindow measures the one window for a duplicate: SendGrid
// accepted a batch and the ledger did not learn it (an answer lost after
// the 202, or a worker killed before the ledger write). Everyone is mailed;
// only the batches caught in the window go out twice, no more.
func TestDuplicateWindow(t *testing.T) {
	const n = 30_000
	out := sendUnderFaults(t, n, faults{rateLimited: 0.05, serverError: 0.05, dropAfterAccept: 0.05, crashAfterAccept: 0.05}, 3)
	windows := out.stats.Dropped + out.crashes
	if windows == 0 {
		t.Fatal("no batch was caught in the window: the faults did not fire")
	}
	// Each window resends one batch of at most 1,000 people once.
	if out.mailedTwice == 0 || out.mailedTwice > windows*mailer.MaxRecipients {
		t.Fatalf("%d people mailed twice after %d windows: %+v", out.mailedTwice, windows, out)
	}
	t.Logf("%d people, %d Mail Send requests accepted: %d answers lost after acceptance and %d crashes before the ledger write "+
		"resent %d batches; %d people (%.2f%%) mailed twice, nobody missed",
		n, out.stats.Accepted, out.stats.Dropped, out.crashes, windows, out.mailedTwice, 100*float64(out.mailedTwice)/n)
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
	n := NewNotifier(nil, nil, Sending{AmbiguousWait: 2 * time.Minute})
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
	if d := delay(n.retryError([]error{&mailer.AmbiguousError{Err: errors.New("EOF")}})); d != 2*time.Minute {
		t.Errorf("ambiguous: next retry in %s, want the 2 minutes the webhook gets", d)
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
