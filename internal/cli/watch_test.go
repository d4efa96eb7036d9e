package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/workflows"
)

// fakeLedger answers for the notification ledger.
type fakeLedger struct {
	progress  map[string]store.NoticeProgress
	resends   map[string][]store.BatchAttempts
	resendErr error
	reads     int
}

var _ Ledger = (*fakeLedger)(nil)

func (f *fakeLedger) NoticeProgress(_ context.Context, id string) (store.NoticeProgress, error) {
	f.reads++
	p, ok := f.progress[id]
	if !ok {
		return store.NoticeProgress{}, fmt.Errorf("progress of notice %s: %w", id, store.ErrNotFound)
	}
	return p, nil
}

func (f *fakeLedger) Resends(_ context.Context, id string) ([]store.BatchAttempts, error) {
	return f.resends[id], f.resendErr
}

// world runs the CLI with a fake service, an optional fake ledger (named by
// BREACHCTL_STORE) and a clock that sleeping moves.
type world struct {
	t      *testing.T
	svc    *fakeIncidents
	ledger *fakeLedger
	clock  time.Time
	slept  []time.Duration
}

func (w *world) run(args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{}
	if w.ledger != nil {
		env["BREACHCTL_STORE"] = "sqlite:/nonexistent/fake.db"
	}
	e := &Env{
		Stdout: &out, Stderr: &errb, Now: func() time.Time { return w.clock },
		Getenv: func(k string) string { return env[k] },
		Connect: func(context.Context, config.Config, *slog.Logger) (Incidents, func(), error) {
			return w.svc, func() {}, nil
		},
		OpenLedger: func(context.Context, string, config.Config) (Ledger, func(), error) {
			if w.ledger == nil {
				return nil, nil, apperr.New(apperr.Unavailable, "no store in this test")
			}
			return w.ledger, func() {}, nil
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			w.slept = append(w.slept, d)
			w.clock = w.clock.Add(d)
			return ctx.Err()
		},
	}
	code = Run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

const incID = "INC-20261121-AB12C"

func people(state incident.NoticeState, c incident.NoticeCounts, errText string) incident.Notice {
	return incident.Notice{ID: incID + "/eu-gdpr-art34", Rules: []string{"eu-gdpr-art34"}, Notify: "individuals", State: state,
		ApprovedBy: "cli:dpo", ApprovedAt: now, Counts: c, Error: errText}
}

func authority(state incident.NoticeState, deliveries []incident.OrgDelivery, filings []incident.Filing) incident.Notice {
	return incident.Notice{ID: incID + "/eu-gdpr-art33", Rules: []string{"eu-gdpr-art33"}, Notify: "authority", State: state,
		ApprovedBy: "cli:dpo", ApprovedAt: now, Deliveries: deliveries, Filings: filings}
}

// noticeWorld serves an incident with one notice, whose progress comes
// from the notice itself.
func noticeWorld(t *testing.T, n incident.Notice) *world {
	st := statusFor(incident.Facts{Title: "Database copied", AwareAt: now.Add(-time.Hour), Regions: []string{"DE"}})
	st.ID = incID
	st.Notices = []incident.Notice{n}
	w := &world{t: t, clock: now}
	w.svc = &fakeIncidents{
		show: func(string) (incident.Status, error) { return st, nil },
		progress: func(id string) (workflows.NoticeProgress, error) {
			return workflows.NoticeProgress{Notice: id, State: n.State, Counts: n.Counts, At: w.clock}, nil
		},
		approve: func(string, workflows.ApproveRequest) (incident.Status, error) { return st, nil },
	}
	return w
}

// TestWatchExitsNonZeroUnlessGiven: a notice that failed, reached only some
// of its people, or whose email an authority never got ends `watch` and
// `approve --watch` with ExitNotGiven, saying why; only a notice given to
// everyone it owes exits 0.
func TestWatchExitsNonZeroUnlessGiven(t *testing.T) {
	dpa := "Berliner Beauftragte für Datenschutz"
	for _, c := range []struct {
		name   string
		notice incident.Notice
		code   int
		want   []string
	}{
		{"all accepted", people(incident.NoticeSent, incident.NoticeCounts{Expected: 4, Read: 4, Accepted: 3, Covered: 1}, ""), ExitOK, nil},
		{"refused by SendGrid", people(incident.NoticeIncomplete, incident.NoticeCounts{Expected: 4, Read: 4, Failed: 4},
			"403 The from address does not match a verified Sender Identity"), ExitNotGiven,
			[]string{"eu-gdpr-art34 incomplete: 403 The from address", "4 people in scope not given it (4 refused, 0 without a usable address)", "clocks stay open"}},
		{"some without an address", people(incident.NoticeIncomplete, incident.NoticeCounts{Expected: 4, Read: 4, Accepted: 2, Unreachable: 2}, ""), ExitNotGiven,
			[]string{"2 people in scope not given it (0 refused, 2 without a usable address)"}},
		{"failed", people(incident.NoticeFailed, incident.NoticeCounts{}, "render: what_happened is required"), ExitNotGiven,
			[]string{"eu-gdpr-art34 failed: render: what_happened is required"}},
		{"sent under the old rules with a shortfall", people(incident.NoticeSent, incident.NoticeCounts{Expected: 4, Accepted: 3, Failed: 1}, ""), ExitNotGiven,
			[]string{"1 person in scope not given it (1 refused"}},
		{"authority emailed", authority(incident.NoticeSent, []incident.OrgDelivery{{Recipient: dpa, MessageID: "sg-1", SentAt: now}}, nil), ExitOK, nil},
		{"authority refused", authority(incident.NoticeSent, []incident.OrgDelivery{{Recipient: dpa, Error: "401 bad API key", SentAt: now}}, nil), ExitNotGiven,
			[]string{"the email to " + dpa + " was not accepted: 401 bad API key"}},
		{"authority failed", authority(incident.NoticeFailed, nil, nil), ExitNotGiven, []string{"eu-gdpr-art33 failed"}},
		{"portal still to file", authority(incident.NoticeAwaitingFiling, nil, []incident.Filing{{Recipient: "ANPD", Portal: "https://www.gov.br/anpd"}}), ExitNotGiven,
			[]string{"the report to ANPD is still to file at https://www.gov.br/anpd"}},
		{"portal filed", authority(incident.NoticeFiled, nil, []incident.Filing{{Recipient: "ANPD", Portal: "https://www.gov.br/anpd", Reference: "CIS-1"}}), ExitOK, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := noticeWorld(t, c.notice)
			for _, args := range [][]string{
				{"watch", incID},
				{"watch", incID, "--rule", c.notice.Rules[0], "-o", "json"},
				{"approve", incID, c.notice.Rules[0], "--what-happened", "x", "--watch"},
			} {
				code, out, errOut := w.run(args...)
				if code != c.code {
					t.Errorf("%v: exit %d, want %d\n%s%s", args, code, c.code, out, errOut)
				}
				for _, want := range c.want {
					if !strings.Contains(errOut, want) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, want, errOut)
					}
				}
				if args[len(args)-1] == "json" {
					var res []watchResult
					if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Given != (c.code == ExitOK) ||
						(c.code != ExitOK && res[0].NotGiven == "") {
						t.Errorf("-o json: %v %+v\n%s", err, res, out)
					}
				}
			}
		})
	}
}

// TestWatchRidesOutAnOutage: the progress query failing as a restart of
// Temporal or the worker makes it fail (unreachable, nobody answering in
// time) shows "reconnecting (since ...)" and retries, backing off, until
// it answers; it gives up with exit 5 only after --reconnect-timeout.
func TestWatchRidesOutAnOutage(t *testing.T) {
	w := noticeWorld(t, people(incident.NoticeSent, incident.NoticeCounts{Expected: 1000, Read: 1000, Accepted: 1000}, ""))
	fails := 0
	answer := w.svc.progress
	outages := []error{
		apperr.New(apperr.Unavailable, "progress: no worker answered within 15s; is a `breachctl worker` running on task queue \"breachctl\"?"),
		apperr.Wrap(apperr.Unavailable, context.DeadlineExceeded, "cannot reach the Temporal cluster at temporal:7233 (namespace breachctl)"),
	}
	w.svc.progress = func(id string) (workflows.NoticeProgress, error) {
		if fails < 6 {
			fails++
			return workflows.NoticeProgress{}, outages[fails%2]
		}
		return answer(id)
	}
	code, out, errOut := w.run("watch", incID, "--interval", "1s")
	if code != ExitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"reconnecting (since 0s: cannot reach the Temporal cluster at temporal:7233", "reconnecting (since 1s: progress: no worker answered",
		"reconnecting (since 31s:", "reconnected after 1m", "Notice " + incID + "/eu-gdpr-art34 sent: 1000 accepted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}; fmt.Sprint(w.slept) != fmt.Sprint(want) {
		t.Errorf("waits %v, want the backoff %v", w.slept, want)
	}

	// With -o json the reconnecting lines go to stderr; stdout stays JSON.
	fails = 4
	code, out, errOut = w.run("watch", incID, "-o", "json")
	var res []watchResult
	if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || !strings.Contains(errOut, "reconnecting (since") {
		t.Errorf("-o json: exit %d\n%s\n%s", code, out, errOut)
	}

	// Never back: exit 5 once the timeout has passed, not before.
	w.svc.progress = func(string) (workflows.NoticeProgress, error) { return workflows.NoticeProgress{}, outages[0] }
	start := w.clock
	w.slept = nil
	code, _, errOut = w.run("watch", incID, "--reconnect-timeout", "2m")
	if code != ExitUnavailable || !strings.Contains(errOut, "gave up reconnecting after 2m") || !strings.Contains(errOut, "no worker answered") {
		t.Errorf("never back: exit %d, %s", code, errOut)
	}
	if waited := w.clock.Sub(start); waited != 2*time.Minute {
		t.Errorf("gave up after %s, want the 2m asked for", waited)
	}

	// Anything else is no outage: it ends the watch at once.
	w.svc.progress = func(string) (workflows.NoticeProgress, error) {
		return workflows.NoticeProgress{}, apperr.New(apperr.NotFound, "no notice %s/eu-gdpr-art34", incID)
	}
	w.slept = nil
	if code, _, _ := w.run("watch", incID); code != ExitNotFound || len(w.slept) != 0 {
		t.Errorf("not found: exit %d after %v", code, w.slept)
	}
	if code, _, errOut := w.run("watch", incID, "--reconnect-timeout", "0s"); code != ExitInvalid || !strings.Contains(errOut, "--reconnect-timeout") {
		t.Errorf("--reconnect-timeout 0: exit %d %s", code, errOut)
	}
}

// resentBatch is a batch whose first attempt's answer was lost; SendGrid
// took both attempts.
func resentBatch() store.BatchAttempts {
	t0 := now.Add(-time.Hour)
	return store.BatchAttempts{Batch: incID + "/eu-gdpr-art34/p0-000001", Recipients: 1000, State: store.BatchAccepted, Attempts: []store.Attempt{
		{Batch: incID + "/eu-gdpr-art34/p0-000001", N: 1, StartedAt: t0, EndedAt: t0.Add(2 * time.Second), Outcome: store.AttemptConfirmed, MessageID: "sg-1a", Error: "context canceled", ConfirmedBy: "event"},
		{Batch: incID + "/eu-gdpr-art34/p0-000001", N: 2, StartedAt: t0.Add(2 * time.Minute), EndedAt: t0.Add(2*time.Minute + 2*time.Second), Outcome: store.AttemptAccepted, MessageID: "sg-1b", Resend: "not confirmed within 2m0s"},
	}}
}

// TestEveryViewCountsFromTheLedger: show, watch and deliveries print the
// ledger's numbers (requests, resent with why, mailed twice, maybe twice)
// next to accepted, and the same numbers.
func TestEveryViewCountsFromTheLedger(t *testing.T) {
	// The incident's record (from the workflow's page counts) says nobody
	// twice; the ledger knows better.
	n := people(incident.NoticeSent, incident.NoticeCounts{Expected: 3000, Read: 3000, Accepted: 3000, Batches: 3}, "")
	w := noticeWorld(t, n)
	w.ledger = &fakeLedger{
		progress: map[string]store.NoticeProgress{n.ID: {Notice: n.ID, Batches: 3, BatchesAccepted: 3, Requests: 4, Resent: 1, ResentRecipients: 1000, Twice: 1000,
			Recipients: 3000, Accepted: 3000}},
		resends: map[string][]store.BatchAttempts{n.ID: {resentBatch()}},
	}
	why := "attempt 2 at 2026-11-21T11:02:00Z (resent: not confirmed within 2m0s): accepted, message sg-1b"

	code, out, errOut := w.run("show", incID)
	if code != 0 {
		t.Fatalf("show: exit %d %s", code, errOut)
	}
	for _, want := range []string{"ACCEPTED  REQUESTS  RESENT           TWICE  MAYBE TWICE", "3000      4         1 (1000 people)  1000   0",
		"1 batch resent (1000 people), 1000 people mailed twice", "sent 2 times, mailed twice: attempt 1", why, "counted from the ledger"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = w.run("show", incID, "-o", "json")
	var sj struct {
		incident.Status
		Ledger map[string]noticeView `json:"ledger"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &sj) != nil || sj.Notices[0].Counts.Twice != 1000 || sj.Notices[0].Counts.Requests != 4 ||
		sj.Ledger[n.ID].From != "ledger" || len(sj.Ledger[n.ID].Resends) != 1 || sj.Ledger[n.ID].Resends[0].Taken != 2 {
		t.Errorf("show -o json: exit %d %+v\n%s", code, sj.Ledger, out)
	}

	code, out, _ = w.run("watch", incID)
	for _, want := range []string{"sent 3000  requests 4  resent 1 (1000 people)  twice 1000", "4 requests taken by SendGrid; 1 batch resent (1000 people), 1000 people mailed twice (from the ledger)", why} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("watch: exit %d, lacks %q:\n%s", code, want, out)
		}
	}

	code, out, _ = w.run("deliveries", incID)
	for _, want := range []string{"ACCEPTED  REQUESTS  RESENT           TWICE  MAYBE TWICE  DELIVERED", "3000      4         1 (1000 people)  1000   0", why} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("deliveries: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = w.run("deliveries", incID, "-o", "json")
	var reports []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &reports) != nil || reports[0]["Twice"] != 1000.0 || reports[0]["Requests"] != 4.0 ||
		len(reports[0]["resends"].([]any)) != 1 {
		t.Errorf("deliveries -o json: exit %d\n%s", code, out)
	}

	// Resends the ledger cannot read: the counts still show, and it says so.
	w.ledger.resendErr = apperr.New(apperr.Unavailable, "store: the attempts table is locked")
	code, out, errOut = w.run("show", incID)
	if code != 0 || !strings.Contains(out, "1000 people mailed twice") || !strings.Contains(errOut, "warning: "+n.ID+": the ledger's resends") {
		t.Errorf("resends unreadable: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestShowCountsASendingNoticeLive: while a notice is sending, the
// incident's record counts 0; show asks the notice's workflow (no ledger
// here) or the ledger, human and -o json alike.
func TestShowCountsASendingNoticeLive(t *testing.T) {
	n := people(incident.NoticeSending, incident.NoticeCounts{}, "")
	w := noticeWorld(t, n)
	w.svc.progress = func(id string) (workflows.NoticeProgress, error) {
		return workflows.NoticeProgress{Notice: id, State: incident.NoticeSending, Counts: incident.NoticeCounts{Expected: 100000, Read: 40000, Accepted: 40000, Batches: 40}}, nil
	}
	code, out, _ := w.run("show", incID, "-o", "json")
	var sj showJSON
	if code != 0 || json.Unmarshal([]byte(out), &sj) != nil || sj.Notices[0].Counts.Accepted != 40000 || sj.Notices[0].Counts.Expected != 100000 ||
		sj.Ledger[n.ID].From != "notice workflow" {
		t.Fatalf("show -o json while sending, no ledger: exit %d\n%s", code, out)
	}
	// The ledger counts each batch as SendGrid answers, ahead of the
	// workflow's pages; what only the workflow knows (expected) stays.
	w.ledger = &fakeLedger{progress: map[string]store.NoticeProgress{n.ID: {Notice: n.ID, Batches: 43, BatchesSending: 1, Requests: 42, Recipients: 43000, Queued: 1000, Accepted: 42000}}}
	code, out, _ = w.run("show", incID, "-o", "json")
	if code != 0 || json.Unmarshal([]byte(out), &sj) != nil || sj.Notices[0].Counts.Accepted != 42000 || sj.Notices[0].Counts.Expected != 100000 ||
		sj.Notices[0].Counts.Requests != 42 || sj.Ledger[n.ID].From != "ledger" {
		t.Errorf("show -o json while sending, with the ledger: exit %d\n%s", code, out)
	}
	_, out, _ = w.run("show", incID)
	if !strings.Contains(out, "42000") || strings.Contains(out, "substitute notice") {
		t.Errorf("show while sending:\n%s", out)
	}
}

// TestDeliveriesAdviceFitsTheAudience: people not reached may need a
// substitute notice; an authority whose email was refused needs its sender
// or address fixed and the notice approved again, never a substitute
// notice.
func TestDeliveriesAdviceFitsTheAudience(t *testing.T) {
	org := authority(incident.NoticeSent, []incident.OrgDelivery{{Recipient: "Berlin DPA", Error: "403 unverified sender"}}, nil)
	w := noticeWorld(t, org)
	w.ledger = &fakeLedger{progress: map[string]store.NoticeProgress{org.ID: {Notice: org.ID, Batches: 1, BatchesFailed: 1, Recipients: 1, Failed: 1}}}
	code, out, _ := w.run("deliveries", incID)
	if code != 0 || strings.Contains(out, "substitute") || !strings.Contains(out, "the email to the authority was not accepted") ||
		!strings.Contains(out, "approve again: breachctl approve "+incID+" eu-gdpr-art33") {
		t.Errorf("authority refused: exit %d\n%s", code, out)
	}
	if _, out, _ := w.run("show", incID); strings.Contains(out, "substitute") || !strings.Contains(out, "fix the sender") {
		t.Errorf("show, authority refused:\n%s", out)
	}

	ppl := people(incident.NoticeIncomplete, incident.NoticeCounts{Expected: 10, Accepted: 8, Failed: 2}, "")
	w = noticeWorld(t, ppl)
	w.ledger = &fakeLedger{progress: map[string]store.NoticeProgress{ppl.ID: {Notice: ppl.ID, Batches: 2, Accepted: 8, Failed: 1, Unreachable: 1, Bounced: 1}}}
	code, out, _ = w.run("deliveries", incID, "-o", "json")
	var reports []deliveryReport
	if code != 0 || json.Unmarshal([]byte(out), &reports) != nil || reports[0].NotReached != 3 || !strings.Contains(reports[0].Advice, "substitute notice") {
		t.Errorf("people not reached: exit %d\n%s", code, out)
	}

	// A notice that failed before the ledger recorded it is said, not an error.
	w.ledger = &fakeLedger{}
	if code, out, errOut := w.run("deliveries", incID); code != 0 || !strings.Contains(out, "not in the ledger") {
		t.Errorf("not in the ledger: exit %d\n%s%s", code, out, errOut)
	}
}

func TestRegisterLedgerIsTheLedgers(t *testing.T) {
	n := people(incident.NoticeSent, incident.NoticeCounts{Expected: 3000, Read: 3000, Accepted: 3000, Covered: 5}, "")
	st := incident.Status{ID: incID, Notices: []incident.Notice{n, authority(incident.NoticeSent, nil, nil)}}
	l := &fakeLedger{
		progress: map[string]store.NoticeProgress{n.ID: {Notice: n.ID, Accepted: 3000, Requests: 4, Resent: 1, ResentRecipients: 1000, MaybeTwice: 1000}},
		resends:  map[string][]store.BatchAttempts{n.ID: {resentBatch()}},
	}
	got, err := registerLedger(context.Background(), l, []incident.Status{st})
	if err != nil {
		t.Fatal(err)
	}
	nl, ok := got[n.ID]
	if len(got) != 1 || !ok || nl.Counts.MaybeTwice != 1000 || nl.Counts.Covered != 5 || nl.Counts.Expected != 3000 || len(nl.Resends) != 1 {
		t.Errorf("ledger %+v", got)
	}
	// A record must not say less than the ledger knows.
	l.resendErr = apperr.New(apperr.Unavailable, "locked")
	if _, err := registerLedger(context.Background(), l, []incident.Status{st}); err == nil {
		t.Error("a resend read failing was ignored")
	}
}

// TestWatchWaitsForTheIncidentToHear: the notice's workflow ends, then
// tells the incident; a watch that reads the incident in between waits for
// it rather than judging a notice still "sending".
func TestWatchWaitsForTheIncidentToHear(t *testing.T) {
	done := people(incident.NoticeSent, incident.NoticeCounts{Expected: 10, Read: 10, Accepted: 10}, "")
	w := noticeWorld(t, done)
	shows := 0
	st := statusFor(incident.Facts{Title: "t", AwareAt: now})
	st.ID = incID
	w.svc.show = func(string) (incident.Status, error) {
		shows++
		n := done
		if shows < 3 { // the watch's first read, then one before the signal lands
			n.State, n.Counts = incident.NoticeSending, incident.NoticeCounts{}
		}
		st.Notices = []incident.Notice{n}
		return st, nil
	}
	if code, out, errOut := w.run("watch", incID, "--rule", "eu-gdpr-art34"); code != ExitOK || shows != 3 || !strings.Contains(out, "10 accepted") {
		t.Errorf("exit %d after %d reads\n%s%s", code, shows, out, errOut)
	}

	// Never heard: judged by the workflow's word, and said so.
	incomplete := people(incident.NoticeIncomplete, incident.NoticeCounts{Expected: 10, Read: 10, Accepted: 7, Failed: 3}, "")
	w = noticeWorld(t, incomplete)
	st.Notices = []incident.Notice{people(incident.NoticeSending, incident.NoticeCounts{}, "")}
	w.svc.show = func(string) (incident.Status, error) { return st, nil }
	code, _, errOut := w.run("watch", incID, "--rule", "eu-gdpr-art34")
	if code != ExitNotGiven || !strings.Contains(errOut, "judged by its workflow (incomplete)") || !strings.Contains(errOut, "3 people in scope not given it") {
		t.Errorf("never heard: exit %d %s", code, errOut)
	}
}
