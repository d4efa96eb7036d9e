package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

// attemptStep is one thing that happens to a batch: a worker begins or
// finishes an attempt, reconciliation finds one, an event names one, or
// MarkBatch records an outcome the old way.
type attemptStep struct {
	op       string // begin, finish, reconcile, event, mark
	n        int    // attempt number (event: 0 for an unnumbered one)
	resend   string // begin
	outcome  AttemptOutcome
	state    BatchState // mark
	msg      string
	conflict bool // begin is refused
}

func begin(resend string) attemptStep { return attemptStep{op: "begin", resend: resend} }
func beginRefused() attemptStep       { return attemptStep{op: "begin", conflict: true} }
func finishAs(n int, o AttemptOutcome, msg string) attemptStep {
	return attemptStep{op: "finish", n: n, outcome: o, msg: msg}
}
func reconcile(n int, o AttemptOutcome, msg string) attemptStep {
	return attemptStep{op: "reconcile", n: n, outcome: o, msg: msg}
}
func eventOf(n int) attemptStep { return attemptStep{op: "event", n: n} }
func mark(state BatchState, msg string) attemptStep {
	return attemptStep{op: "mark", state: state, msg: msg}
}

const resendReason = "not confirmed within 2m0s"

// attemptCounts are the counts an attempt scenario ends with.
type attemptCounts struct {
	State                             BatchState
	Attempts, Resends                 int
	LastOutcome                       AttemptOutcome
	MessageID                         string
	Requests, Resent, ResentPeople    int
	Twice, MaybeTwice                 int
	Sending, Queued, Accepted, Failed int
}

func TestAttemptScenarios(t *testing.T) {
	const people = 3
	for _, tc := range []struct {
		name     string
		steps    []attemptStep
		outcomes []AttemptOutcome // of the attempts, in order
		want     attemptCounts
	}{
		{"accepted at once",
			[]attemptStep{begin(""), finishAs(1, AttemptAccepted, "m1")},
			[]AttemptOutcome{AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptAccepted, MessageID: "m1", Requests: 1, Accepted: people}},
		{"sending",
			[]attemptStep{begin("")},
			[]AttemptOutcome{AttemptSending},
			attemptCounts{State: BatchSending, Attempts: 1, LastOutcome: AttemptSending, Sending: 1, Queued: people}},
		{"a second worker may not begin a batch being sent",
			[]attemptStep{begin(""), beginRefused(), finishAs(1, AttemptAccepted, "m1"), begin(""), begin(resendReason)},
			[]AttemptOutcome{AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptAccepted, MessageID: "m1", Requests: 1, Accepted: people}},
		{"temporary, then accepted: no resend",
			[]attemptStep{begin(""), finishAs(1, AttemptTemporary, ""), begin(""), finishAs(2, AttemptAccepted, "m2")},
			[]AttemptOutcome{AttemptTemporary, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, LastOutcome: AttemptAccepted, MessageID: "m2", Requests: 1, Accepted: people}},
		{"temporary puts it back to queued",
			[]attemptStep{begin(""), finishAs(1, AttemptTemporary, "")},
			[]AttemptOutcome{AttemptTemporary},
			attemptCounts{State: BatchQueued, Attempts: 1, LastOutcome: AttemptTemporary, Queued: people}},
		{"refused is final",
			[]attemptStep{begin(""), finishAs(1, AttemptRefused, ""), begin(""), begin(resendReason)},
			[]AttemptOutcome{AttemptRefused},
			attemptCounts{State: BatchFailed, Attempts: 1, LastOutcome: AttemptRefused, Failed: people}},
		{"crash after begin, resent, the first confirmed by an event later: twice",
			[]attemptStep{begin(""), beginRefused(), begin(resendReason), finishAs(2, AttemptAccepted, "m2"), eventOf(1)},
			[]AttemptOutcome{AttemptConfirmed, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 2, Resent: 1, ResentPeople: people, Twice: people, Accepted: people}},
		{"crash after begin, resent, the first not taken: nobody twice",
			[]attemptStep{begin(""), begin(resendReason), finishAs(2, AttemptAccepted, "m2"), reconcile(1, AttemptNotTaken, "")},
			[]AttemptOutcome{AttemptNotTaken, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 1, Resent: 1, ResentPeople: people, Accepted: people}},
		{"crash after begin, resent, the first unknown: maybe twice",
			[]attemptStep{begin(""), begin(resendReason), finishAs(2, AttemptAccepted, "m2")},
			[]AttemptOutcome{AttemptSending, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 1, Resent: 1, ResentPeople: people, MaybeTwice: people, Accepted: people}},
		{"resent, both still out: maybe twice, sending",
			[]attemptStep{begin(""), begin(resendReason)},
			[]AttemptOutcome{AttemptSending, AttemptSending},
			attemptCounts{State: BatchSending, Attempts: 2, Resends: 1, LastOutcome: AttemptSending,
				Resent: 1, ResentPeople: people, MaybeTwice: people, Sending: 1, Queued: people}},
		{"ambiguous, resent, refused by a temporary answer: not twice",
			[]attemptStep{begin(""), finishAs(1, AttemptAmbiguous, ""), begin(resendReason), finishAs(2, AttemptTemporary, "")},
			[]AttemptOutcome{AttemptAmbiguous, AttemptTemporary},
			attemptCounts{State: BatchAmbiguous, Attempts: 2, Resends: 1, LastOutcome: AttemptTemporary,
				Resent: 1, ResentPeople: people, Queued: people}},
		{"an unnumbered event cannot tell which of two attempts it is of",
			[]attemptStep{begin(""), finishAs(1, AttemptAmbiguous, ""), begin(resendReason), finishAs(2, AttemptAccepted, "m2"), eventOf(0)},
			[]AttemptOutcome{AttemptAmbiguous, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 1, Resent: 1, ResentPeople: people, MaybeTwice: people, Accepted: people}},
		{"an unnumbered event confirms the attempt being sent; its answer then brings the message ID",
			[]attemptStep{begin(""), eventOf(0), finishAs(1, AttemptAccepted, "m1"), finishAs(1, AttemptRefused, "")},
			[]AttemptOutcome{AttemptConfirmed},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptConfirmed, MessageID: "m1", Requests: 1, Accepted: people}},
		{"ambiguous, confirmed by the Email Activity API",
			[]attemptStep{begin(""), finishAs(1, AttemptAmbiguous, ""), reconcile(1, AttemptConfirmed, "m1"), reconcile(1, AttemptNotTaken, "")},
			[]AttemptOutcome{AttemptConfirmed},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptConfirmed, MessageID: "m1", Requests: 1, Accepted: people}},
		{"ambiguous, not taken: queued, and sent again as no resend",
			[]attemptStep{begin(""), finishAs(1, AttemptAmbiguous, ""), beginRefused(), reconcile(1, AttemptNotTaken, ""), begin(resendReason), finishAs(2, AttemptAccepted, "m2")},
			[]AttemptOutcome{AttemptNotTaken, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, LastOutcome: AttemptAccepted, MessageID: "m2", Requests: 1, Accepted: people}},
		{"an event proves an attempt found not taken was taken",
			[]attemptStep{begin(""), reconcile(1, AttemptNotTaken, ""), eventOf(1)},
			[]AttemptOutcome{AttemptConfirmed},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptConfirmed, Requests: 1, Accepted: people}},
		{"a finished attempt keeps its outcome",
			[]attemptStep{begin(""), finishAs(1, AttemptAccepted, "m1"), finishAs(1, AttemptAccepted, "other"), finishAs(1, AttemptAmbiguous, "")},
			[]AttemptOutcome{AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptAccepted, MessageID: "m1", Requests: 1, Accepted: people}},
		{"the first worker's answer comes after the resend was accepted: twice",
			[]attemptStep{begin(""), begin(resendReason), finishAs(2, AttemptAccepted, "m2"), finishAs(1, AttemptAccepted, "m1")},
			[]AttemptOutcome{AttemptAccepted, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 2, Resent: 1, ResentPeople: people, Twice: people, Accepted: people}},
		{"the first refused while the resend is out, which is then accepted",
			[]attemptStep{begin(""), begin(resendReason), finishAs(1, AttemptRefused, ""), begin(resendReason), finishAs(2, AttemptAccepted, "m2")},
			[]AttemptOutcome{AttemptRefused, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 1, Resent: 1, ResentPeople: people, Accepted: people}},
		{"MarkBatch finishes the attempt being sent",
			[]attemptStep{begin(""), mark(BatchAccepted, "m1"), mark(BatchFailed, "")},
			[]AttemptOutcome{AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 1, LastOutcome: AttemptAccepted, MessageID: "m1", Requests: 1, Accepted: people}},
		{"left ambiguous by MarkBatch, resent: maybe twice, then twice by its event",
			[]attemptStep{mark(BatchAmbiguous, ""), beginRefused(), begin(resendReason), finishAs(2, AttemptAccepted, "m2"), eventOf(0), eventOf(1)},
			[]AttemptOutcome{AttemptConfirmed, AttemptAccepted},
			attemptCounts{State: BatchAccepted, Attempts: 2, Resends: 1, LastOutcome: AttemptAccepted, MessageID: "m2",
				Requests: 2, Resent: 1, ResentPeople: people, Twice: people, Accepted: people}},
		{"left ambiguous by MarkBatch, confirmed by an event",
			[]attemptStep{mark(BatchAmbiguous, ""), eventOf(0)},
			nil,
			attemptCounts{State: BatchAccepted, Attempts: 1, Requests: 1, Accepted: people}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, dsn string) {
				ctx := context.Background()
				s := ledgerStore(t, dsn)
				n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
				claim(t, s, n.ID, []BatchClaim{{Key: "b", Subjects: keys(1, people)}}, nil)
				for i, st := range tc.steps {
					at := ledgerT0.Add(time.Duration(i+1) * time.Minute)
					var err error
					switch st.op {
					case "begin":
						var b BatchStatus
						b, err = s.BeginAttempt(ctx, "b", st.resend, at)
						if st.conflict {
							if !apperr.Is(err, apperr.Conflict) {
								t.Fatalf("step %d: begin: %+v, %v; want a conflict", i, b, err)
							}
							err = nil
						}
					case "finish":
						err = s.FinishAttempt(ctx, "b", st.n, st.outcome, st.msg, "error of step "+fmt.Sprint(i), at)
					case "reconcile":
						err = s.ReconcileAttempt(ctx, "b", st.n, st.outcome, "activity", st.msg, at)
					case "event":
						var applied int
						applied, err = s.RecordEvents(ctx, []DeliveryEvent{{Batch: "b", Subject: key(2), Attempt: st.n, Event: "processed", At: at}})
						if err == nil && applied != 1 {
							err = fmt.Errorf("applied %d events", applied)
						}
					case "mark":
						err = s.MarkBatch(ctx, "b", st.state, st.msg, "marked", at)
					}
					if err != nil {
						t.Fatalf("step %d (%s): %v", i, st.op, err)
					}
				}
				b, err := s.Batch(ctx, "b")
				must(t, err)
				p := progress(t, s, n.ID)
				got := attemptCounts{State: b.State, Attempts: b.Attempts, Resends: b.Resends, LastOutcome: b.LastOutcome, MessageID: b.MessageID,
					Requests: p.Requests, Resent: p.Resent, ResentPeople: p.ResentRecipients, Twice: p.Twice, MaybeTwice: p.MaybeTwice,
					Sending: p.BatchesSending, Queued: p.Queued, Accepted: p.Accepted, Failed: p.Failed}
				if got != tc.want {
					t.Errorf("after %d steps:\n got %+v\nwant %+v", len(tc.steps), got, tc.want)
				}
				atts, err := s.Attempts(ctx, "b")
				must(t, err)
				var outcomes []AttemptOutcome
				for i, a := range atts {
					outcomes = append(outcomes, a.Outcome)
					if a.N != i+1 || a.Batch != "b" || a.StartedAt.IsZero() || a.EndedAt.IsZero() != (a.Outcome == AttemptSending) {
						t.Errorf("attempt %d: %+v", i, a)
					}
					if (a.Outcome == AttemptConfirmed || a.Outcome == AttemptNotTaken) != (a.ConfirmedBy != "") {
						t.Errorf("attempt %d %s confirmed by %q", a.N, a.Outcome, a.ConfirmedBy)
					}
					if a.Resend != "" && a.Resend != resendReason {
						t.Errorf("attempt %d resend %q", a.N, a.Resend)
					}
				}
				if !slices.Equal(outcomes, tc.outcomes) {
					t.Errorf("attempts %v, want %v", outcomes, tc.outcomes)
				}
				if b.Attempts > 0 && len(atts) > 0 && b.LastAttemptAt.IsZero() {
					t.Errorf("no LastAttemptAt: %+v", b)
				}
			})
		})
	}
}

// TestAttemptRecords checks what an attempt keeps, what Batch, Claim and
// Resends show of a batch left sending by a crash, and the errors.
func TestAttemptRecords(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		page := []BatchClaim{{Key: "b0", Subjects: keys(1, 3)}, {Key: "b1", Subjects: keys(4, 5)}, {Key: "b2", Subjects: keys(6, 6)}}
		claim(t, s, n.ID, page, nil)
		t1, t2, t3 := ledgerT0.Add(time.Minute), ledgerT0.Add(2*time.Minute), ledgerT0.Add(3*time.Minute)

		st, err := s.BeginAttempt(ctx, "b0", "", t1)
		if err != nil || st.State != BatchSending || st.Attempts != 1 || !st.LastAttemptAt.Equal(t1) || st.LastOutcome != AttemptSending || st.Recipients != 3 || st.Notice != n.ID {
			t.Fatalf("BeginAttempt: %+v, %v", st, err)
		}
		// A worker killed mid-request: its retry claims the page again and
		// finds the batch sending.
		again := claim(t, s, n.ID, page, nil)
		if b := again[0]; b.State != BatchSending || !b.LastAttemptAt.Equal(t1) || b.LastOutcome != AttemptSending || b.Attempts != 1 {
			t.Errorf("claimed again while sending: %+v", b)
		}
		if b, _ := s.Batch(ctx, "b0"); b.State != BatchSending || !b.LastAttemptAt.Equal(t1) {
			t.Errorf("Batch while sending: %+v", b)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(2)); r.State != "sending" {
			t.Errorf("recipient while sending: %+v", r)
		}
		_, err = s.BeginAttempt(ctx, "b0", "", t2)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.Conflict || e.Field != "resend" || !strings.Contains(err.Error(), "attempt 1 of batch b0 is sending") {
			t.Errorf("begin without a reason while sending: %v", err)
		}
		st, err = s.BeginAttempt(ctx, "b0", resendReason, t2)
		if err != nil || st.Attempts != 2 || st.Resends != 1 || !st.LastAttemptAt.Equal(t2) {
			t.Fatalf("resend: %+v, %v", st, err)
		}
		must(t, s.FinishAttempt(ctx, "b0", 2, AttemptAmbiguous, "", "connection reset after the request was written", t3))
		if r := recipientState(t, s, "INC-1", "individuals", key(2)); r.State != "ambiguous" || r.Reason != "connection reset after the request was written" {
			t.Errorf("recipient of an ambiguous attempt: %+v", r)
		}
		must(t, s.ReconcileAttempt(ctx, "b0", 2, AttemptConfirmed, "activity", "msg-2", t3.Add(time.Minute)))

		// b1 goes in one, b2 is refused.
		if _, err := s.BeginAttempt(ctx, "b1", "", t1); err != nil {
			t.Fatal(err)
		}
		must(t, s.FinishAttempt(ctx, "b1", 1, AttemptAccepted, "msg-b1", "ignored", t2))
		if _, err := s.BeginAttempt(ctx, "b2", "", t1); err != nil {
			t.Fatal(err)
		}
		must(t, s.FinishAttempt(ctx, "b2", 1, AttemptRefused, "", "403 the from address does not match a verified Sender Identity", t2))
		if b, _ := s.Batch(ctx, "b2"); b.State != BatchFailed || b.Error != "403 the from address does not match a verified Sender Identity" || b.LastOutcome != AttemptRefused {
			t.Errorf("refused batch: %+v", b)
		}
		if b, _ := s.Batch(ctx, "b1"); b.State != BatchAccepted || b.MessageID != "msg-b1" || !b.SentAt.Equal(t2) || b.Error != "" {
			t.Errorf("accepted batch: %+v", b)
		}

		rs, err := s.Resends(ctx, n.ID)
		must(t, err)
		want := []BatchAttempts{{Batch: "b0", Recipients: 3, State: BatchAccepted, Attempts: []Attempt{
			{Batch: "b0", N: 1, StartedAt: t1, Outcome: AttemptSending},
			{Batch: "b0", N: 2, StartedAt: t2, EndedAt: t3, Outcome: AttemptConfirmed, MessageID: "msg-2",
				Error: "connection reset after the request was written", Resend: resendReason, ConfirmedBy: "activity"},
		}}}
		if !slices.EqualFunc(rs, want, func(a, b BatchAttempts) bool {
			return a.Batch == b.Batch && a.Recipients == b.Recipients && a.State == b.State && slices.EqualFunc(a.Attempts, b.Attempts, sameAttempt)
		}) {
			t.Errorf("Resends:\n got %+v\nwant %+v", rs, want)
		}
		if atts, err := s.Attempts(ctx, "b1"); err != nil || len(atts) != 1 || atts[0].Error != "" || atts[0].MessageID != "msg-b1" {
			t.Errorf("attempts of b1: %+v, %v", atts, err)
		}
		p := progress(t, s, n.ID)
		if p.Requests != 2 || p.Resent != 1 || p.ResentRecipients != 3 || p.MaybeTwice != 3 || p.Twice != 0 || p.Accepted != 5 || p.Failed != 1 || p.BatchesFailed != 1 {
			t.Errorf("progress: %+v", p)
		}

		// Errors name what is wrong.
		for _, tc := range []struct {
			name  string
			err   error
			kind  apperr.Kind
			field string
		}{
			{"begin without a key", func() error { _, err := s.BeginAttempt(ctx, "", "", t1); return err }(), apperr.Invalid, "key"},
			{"finish without a key", s.FinishAttempt(ctx, "", 1, AttemptAccepted, "", "", t1), apperr.Invalid, "key"},
			{"finish attempt 0", s.FinishAttempt(ctx, "b0", 0, AttemptAccepted, "", "", t1), apperr.Invalid, "attempt"},
			{"finish as confirmed", s.FinishAttempt(ctx, "b0", 1, AttemptConfirmed, "", "", t1), apperr.Invalid, "outcome"},
			{"finish as sending", s.FinishAttempt(ctx, "b0", 1, AttemptSending, "", "", t1), apperr.Invalid, "outcome"},
			{"reconcile as accepted", s.ReconcileAttempt(ctx, "b0", 1, AttemptAccepted, "x", "", t1), apperr.Invalid, "outcome"},
			{"reconcile attempt -1", s.ReconcileAttempt(ctx, "b0", -1, AttemptConfirmed, "x", "", t1), apperr.Invalid, "attempt"},
		} {
			if !errors.As(tc.err, &e) || e.Kind != tc.kind || e.Field != tc.field {
				t.Errorf("%s: %v, want %s naming %s", tc.name, tc.err, tc.kind, tc.field)
			}
		}
		for name, err := range map[string]error{
			"begin of an unknown batch":     func() error { _, err := s.BeginAttempt(ctx, "nonesuch", "", t1); return err }(),
			"finish of an unknown batch":    s.FinishAttempt(ctx, "nonesuch", 1, AttemptAccepted, "", "", t1),
			"finish of an unknown attempt":  s.FinishAttempt(ctx, "b1", 2, AttemptAccepted, "", "", t1),
			"reconcile of an unknown batch": s.ReconcileAttempt(ctx, "nonesuch", 1, AttemptConfirmed, "x", "", t1),
			"attempts of an unknown batch":  func() error { _, err := s.Attempts(ctx, "nonesuch"); return err }(),
			"resends of an unknown notice":  func() error { _, err := s.Resends(ctx, "INC-1/nonesuch"); return err }(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		if atts, err := s.Attempts(ctx, "b1"); err != nil || len(atts) != 1 {
			t.Errorf("a refused finish changed the attempts: %+v, %v", atts, err)
		}
	})
}

func sameAttempt(a, b Attempt) bool {
	return a.Batch == b.Batch && a.N == b.N && a.StartedAt.Equal(b.StartedAt) && a.EndedAt.Equal(b.EndedAt) && a.Outcome == b.Outcome &&
		a.MessageID == b.MessageID && a.Error == b.Error && a.Resend == b.Resend && a.ConfirmedBy == b.ConfirmedBy
}

// TestAttemptsConcurrent races workers of two processes (two stores on one
// database) on the same batches: one BeginAttempt wins a queued batch, every
// resend gets its own number, and answers and events racing on one attempt
// count it once.
func TestAttemptsConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		stores := []*Store{ledgerStore(t, dsn), openStore(t, dsn)}
		s := stores[0]
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		const batches = 20
		var page []BatchClaim
		for i := range batches {
			page = append(page, BatchClaim{Key: fmt.Sprintf("b%02d", i), Subjects: keys(uint64(10*i+1), uint64(10*i+10))})
		}
		claim(t, s, n.ID, page, nil)
		t1 := ledgerT0.Add(time.Minute) // the test clock is not for goroutines

		// Four workers begin every batch at once: one wins each.
		const workers = 4
		wins := make([][]int, workers)
		var wg sync.WaitGroup
		errs := make(chan error, workers*batches)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, b := range page {
					st, err := stores[w%2].BeginAttempt(ctx, b.Key, "", t1)
					switch {
					case apperr.Is(err, apperr.Conflict):
					case err != nil:
						errs <- err
					default:
						if st.Attempts != 1 || st.State != BatchSending {
							errs <- fmt.Errorf("worker %d won %s as %+v", w, b.Key, st)
						}
						wins[w] = append(wins[w], st.Attempts)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		won := 0
		for _, w := range wins {
			won += len(w)
		}
		if won != batches {
			t.Errorf("%d attempts won for %d batches", won, batches)
		}

		// Every worker resends b00 at once: attempts 2 to 5, each once.
		var mu sync.Mutex
		var numbers []int
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := stores[w%2].BeginAttempt(ctx, "b00", resendReason, t1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				numbers = append(numbers, st.Attempts)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(numbers)
		if !slices.Equal(numbers, []int{2, 3, 4, 5}) {
			t.Errorf("resends numbered %v, want 2 to 5", numbers)
		}

		// The answer of attempt 1 of each other batch and an event naming
		// it arrive at once, from both processes: each is taken once.
		for _, b := range page[1:] {
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if i == 0 {
						err = stores[0].FinishAttempt(ctx, b.Key, 1, AttemptAccepted, "msg-"+b.Key, "", t1)
					} else {
						_, err = stores[1].RecordEvents(ctx, []DeliveryEvent{{Batch: b.Key, Subject: b.Subjects[0], Attempt: 1, Event: "delivered"}})
					}
					if err != nil {
						t.Error(err)
					}
				}()
			}
		}
		wg.Wait()
		p := progress(t, s, n.ID)
		if p.Requests != batches-1 || p.BatchesAccepted != batches-1 || p.Twice != 0 || p.MaybeTwice != 10 || p.Resent != 1 || p.Delivered != batches-1 || p.BatchesSending != 1 {
			t.Errorf("progress: %+v", p)
		}
		for _, b := range page[1:] {
			if st, _ := s.Batch(ctx, b.Key); st.MessageID != "msg-"+b.Key || st.State != BatchAccepted {
				t.Errorf("%s: %+v", b.Key, st)
			}
		}
	})
}

// TestEventsConfirmAttempts posts events of several batches at once, with
// and without attempt numbers.
func TestEventsConfirmAttempts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		claim(t, s, n.ID, []BatchClaim{
			{Key: "crashed", Subjects: keys(1, 4)},    // attempt 1 sending, 2 accepted
			{Key: "ambiguous", Subjects: keys(5, 6)},  // attempt 1 ambiguous
			{Key: "queued", Subjects: keys(7, 8)},     // attempt 1 temporary
			{Key: "old", Subjects: keys(9, 10)},       // MarkBatch ambiguous, before attempts
			{Key: "accepted", Subjects: keys(11, 12)}, // attempt 1 accepted
		}, nil)
		t1 := ledgerT0.Add(time.Minute)
		for _, k := range []string{"crashed", "ambiguous", "queued", "accepted"} {
			if _, err := s.BeginAttempt(ctx, k, "", t1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.BeginAttempt(ctx, "crashed", resendReason, t1); err != nil {
			t.Fatal(err)
		}
		must(t, s.FinishAttempt(ctx, "crashed", 2, AttemptAccepted, "m-crashed-2", "", t1))
		must(t, s.FinishAttempt(ctx, "ambiguous", 1, AttemptAmbiguous, "", "timeout", t1))
		must(t, s.FinishAttempt(ctx, "queued", 1, AttemptTemporary, "", "503", t1))
		must(t, s.FinishAttempt(ctx, "accepted", 1, AttemptAccepted, "m-accepted", "", t1))
		must(t, s.MarkBatch(ctx, "old", BatchAmbiguous, "", "timeout", t1))
		before := progress(t, s, n.ID)
		if before.Requests != 2 || before.MaybeTwice != 4 || before.Twice != 0 {
			t.Fatalf("before the events: %+v", before)
		}

		at := ledgerT0.Add(2 * time.Minute)
		applied, err := s.RecordEvents(ctx, []DeliveryEvent{
			{Batch: "crashed", Subject: key(1), Attempt: 2, Event: "delivered", At: at}, // the resend: known already
			{Batch: "crashed", Subject: key(2), Attempt: 1, Event: "delivered", At: at}, // the first: twice
			{Batch: "crashed", Subject: key(2), Attempt: 1, Event: "processed", At: at}, // again: once
			{Batch: "ambiguous", Subject: key(5), Event: "processed", At: at},           // unnumbered: the ambiguous one
			{Batch: "queued", Subject: key(7), Event: "processed", At: at},              // unnumbered, nothing unknown: stays queued
			{Batch: "queued", Subject: key(8), Attempt: 1, Event: "processed", At: at},  // numbered, temporary: left as it is
			{Batch: "old", Subject: key(9), Event: "delivered", At: at},                 // before attempts
			{Batch: "accepted", Subject: key(11), Attempt: 7, Event: "delivered", At: at},
		})
		must(t, err)
		if applied != 8 {
			t.Errorf("applied %d events, want 8", applied)
		}
		p := progress(t, s, n.ID)
		want := before
		want.Requests, want.Twice, want.MaybeTwice = 2+1+1+1, 4, 0 // crashed's first, ambiguous, old
		want.BatchesAccepted, want.BatchesAmbiguous = 4, 0
		want.Accepted, want.Queued = 10, 2
		want.Delivered = 4
		if p != want {
			t.Errorf("after the events:\n got %+v\nwant %+v", p, want)
		}
		for key, outcomes := range map[string][]AttemptOutcome{
			"crashed":   {AttemptConfirmed, AttemptAccepted},
			"ambiguous": {AttemptConfirmed},
			"queued":    {AttemptTemporary},
			"old":       nil,
			"accepted":  {AttemptAccepted},
		} {
			atts, err := s.Attempts(ctx, key)
			must(t, err)
			var got []AttemptOutcome
			for _, a := range atts {
				got = append(got, a.Outcome)
				if a.Outcome == AttemptConfirmed && (a.ConfirmedBy != "event" || a.EndedAt.IsZero()) {
					t.Errorf("%s attempt %d: %+v", key, a.N, a)
				}
			}
			if !slices.Equal(got, outcomes) {
				t.Errorf("%s: attempts %v, want %v", key, got, outcomes)
			}
		}
		if b, _ := s.Batch(ctx, "ambiguous"); b.State != BatchAccepted || !b.SentAt.Equal(at) || b.LastOutcome != AttemptConfirmed || b.Error != "" {
			t.Errorf("ambiguous batch after its event: %+v", b)
		}
		if b, _ := s.Batch(ctx, "queued"); b.State != BatchQueued {
			t.Errorf("queued batch after events: %+v", b)
		}
	})
}

// TestTakeOver approves a notice again after SendGrid refused the first
// one's batches and some people had no address: the second claims them.
func TestTakeOver(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		first := createNotice(t, s, testNotice("INC-1", "eu-gdpr-art34", "individuals"))
		claim(t, s, first.ID, []BatchClaim{
			{Key: "a/refused", Subjects: keys(1, 5)},     // refused: let go
			{Key: "a/accepted", Subjects: keys(6, 8)},    // accepted: held
			{Key: "a/unknown", Subjects: keys(9, 10)},    // attempt 1 unknown, the resend refused: held
			{Key: "a/marked", Subjects: keys(11, 12)},    // failed by MarkBatch: let go
			{Key: "a/queued", Subjects: keys(13, 13)},    // not sent yet: held
			{Key: "a/temporary", Subjects: keys(14, 14)}, // 429, then refused: let go
		}, []Unreachable{{Key: key(20), Reason: "no_address"}, {Key: key(21), Reason: "invalid_address"}})
		refuse := func(key string, n int) {
			t.Helper()
			must(t, s.FinishAttempt(ctx, key, n, AttemptRefused, "", "403 sender not verified", time.Time{}))
		}
		for _, k := range []string{"a/refused", "a/accepted", "a/unknown", "a/temporary"} {
			if _, err := s.BeginAttempt(ctx, k, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		refuse("a/refused", 1)
		must(t, s.FinishAttempt(ctx, "a/accepted", 1, AttemptAccepted, "m", "", time.Time{}))
		if _, err := s.BeginAttempt(ctx, "a/unknown", resendReason, time.Time{}); err != nil {
			t.Fatal(err)
		}
		refuse("a/unknown", 2)
		must(t, s.FinishAttempt(ctx, "a/temporary", 1, AttemptTemporary, "", "429", time.Time{}))
		if _, err := s.BeginAttempt(ctx, "a/temporary", "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		refuse("a/temporary", 2)
		must(t, s.MarkBatch(ctx, "a/marked", BatchFailed, "", "400", time.Time{}))
		// An event about someone in the refused batch (SendGrid drops what
		// it never sent): counted, then moved with them.
		if _, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "a/refused", Subject: key(3), Event: "dropped", Reason: "x"}}); err != nil {
			t.Fatal(err)
		}
		p1 := progress(t, s, first.ID)
		if p1.Failed != 5+2+2+1 || p1.Unreachable != 2 || p1.Dropped != 1 || p1.Recipients != 14 {
			t.Fatalf("first notice before: %+v", p1)
		}

		got, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(1), key(30))
		must(t, err)
		var held []uint64
		for n := uint64(1); n <= 30; n++ {
			if owner, ok := got[key(n)]; ok {
				if owner != first.ID {
					t.Errorf("key %d claimed by %s", n, owner)
				}
				held = append(held, n)
			}
		}
		if want := []uint64{6, 7, 8, 9, 10, 13}; !slices.Equal(held, want) {
			t.Errorf("ClaimedBetween holds %v, want %v (the refused and unreachable left out)", held, want)
		}

		// Approved again: the second notice's page has everybody; 12 lost
		// its address, 21 still has an invalid one, 30 is new.
		second := createNotice(t, s, testNotice("INC-1", "eu-gdpr-art34-2", "individuals"))
		page := []BatchClaim{
			{Key: "b/0", Subjects: [][16]byte{key(1), key(2), key(3), key(4), key(5), key(6), key(9), key(11), key(13), key(14)}},
			{Key: "b/1", Subjects: [][16]byte{key(7), key(20), key(30)}},
		}
		unreachable := []Unreachable{{Key: key(12), Reason: "no_address"}, {Key: key(21), Reason: "invalid_address"}}
		st := claim(t, s, second.ID, page, unreachable)
		if st[0].Recipients != 7 || st[1].Recipients != 2 {
			t.Errorf("second notice claimed %d and %d, want 7 (1-5, 11, 14) and 2 (20, 30)", st[0].Recipients, st[1].Recipients)
		}
		p1 = progress(t, s, first.ID)
		wantP1 := NoticeProgress{Notice: first.ID, Batches: 6, BatchesAccepted: 1, BatchesFailed: 4, Requests: 1, Resent: 1, ResentRecipients: 2,
			Recipients: 6, Queued: 1, Accepted: 3, Failed: 2}
		if p1 != wantP1 {
			t.Errorf("first notice after the take-over:\n got %+v\nwant %+v", p1, wantP1)
		}
		p2 := progress(t, s, second.ID)
		wantP2 := NoticeProgress{Notice: second.ID, Batches: 2, Recipients: 9, Queued: 9, Unreachable: 2}
		if p2 != wantP2 {
			t.Errorf("second notice:\n got %+v\nwant %+v", p2, wantP2)
		}
		// Nobody counted twice: the people of both notices are the 17
		// distinct ones.
		if total := p1.Recipients + p1.Unreachable + p2.Recipients + p2.Unreachable; total != 17 {
			t.Errorf("%d people in both notices, want 17", total)
		}
		for n, want := range map[uint64]RecipientRecord{
			3:  {Notice: second.ID, Batch: "b/0", State: "queued"},
			11: {Notice: second.ID, Batch: "b/0", State: "queued"},
			20: {Notice: second.ID, Batch: "b/1", State: "queued"},
			12: {Notice: second.ID, State: "unreachable", Reason: "no_address"},
			21: {Notice: second.ID, State: "unreachable", Reason: "invalid_address"},
			9:  {Notice: first.ID, Batch: "a/unknown", State: "failed", Reason: "403 sender not verified"},
		} {
			r := recipientState(t, s, "INC-1", "individuals", key(n))
			r.UpdatedAt = time.Time{}
			if r != want {
				t.Errorf("key %d: %+v, want %+v", n, r, want)
			}
		}
		// The old batch's events no longer reach the people it let go.
		if applied, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "a/refused", Subject: key(1), Event: "delivered"}}); err != nil || applied != 0 {
			t.Errorf("event of the old batch: applied %d, %v", applied, err)
		}
		got, err = s.ClaimedBetween(ctx, "INC-1", "individuals", key(1), key(30))
		must(t, err)
		if len(got) != 6+9 || got[key(3)] != second.ID || got[key(9)] != first.ID {
			t.Errorf("ClaimedBetween after the take-over: %d entries, 3 by %q, 9 by %q", len(got), got[key(3)], got[key(9)])
		}

		// The page again: nothing moves twice.
		again := claim(t, s, second.ID, page, unreachable)
		if again[0].Recipients != 7 || again[1].Recipients != 2 {
			t.Errorf("retried page: %+v", again)
		}
		if p := progress(t, s, first.ID); p != wantP1 {
			t.Errorf("first notice after a retried page: %+v", p)
		}
		if p := progress(t, s, second.ID); p != wantP2 {
			t.Errorf("second notice after a retried page: %+v", p)
		}
		// A third notice takes from the second only what the second let go.
		for _, k := range []string{"b/0", "b/1"} {
			if _, err := s.BeginAttempt(ctx, k, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		must(t, s.FinishAttempt(ctx, "b/0", 1, AttemptAccepted, "m", "", time.Time{}))
		must(t, s.FinishAttempt(ctx, "b/1", 1, AttemptRefused, "", "400", time.Time{}))
		third := createNotice(t, s, testNotice("INC-1", "eu-gdpr-art34-3", "individuals"))
		st = claim(t, s, third.ID, []BatchClaim{{Key: "c/0", Subjects: keys(1, 30)}}, nil)
		// 20 and 30 from the refused b/1, 12 and 21 unreachable, 13 new
		// (15-19, 22-29); none of b/0's or of the first's held.
		if st[0].Recipients != 2+2+13 {
			t.Errorf("third notice claimed %d, want 17", st[0].Recipients)
		}
		if p := progress(t, s, second.ID); p.Recipients != 7 || p.Unreachable != 0 || p.Failed != 0 || p.BatchesFailed != 1 {
			t.Errorf("second notice after the third's take-over: %+v", p)
		}
	})
}

// TestLedgerMigratesFromVersion4 opens a ledger that the previous release
// (schema version 4) filled, with batches in every state.
func TestLedgerMigratesFromVersion4(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var e engine
		var err error
		if strings.HasPrefix(dsn, "sqlite:") {
			e, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
		} else {
			e, err = openPostgres(ctx, dsn)
		}
		if err != nil {
			t.Fatal(err)
		}
		ms, err := migrations(e.dialect())
		must(t, err)
		must(t, migrate(ctx, e.beginMigration, ms[:4]))
		// The previous release's statements, as it ran them.
		exec := func(q string, args ...any) {
			t.Helper()
			switch db := e.(type) {
			case *sqliteDB:
				q = strings.NewReplacer("$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4", "$5", "?5", "$6", "?6").Replace(q)
				_, err = db.w.ExecContext(ctx, q, args...)
			case *pgDB:
				_, err = db.pool.Exec(ctx, q, args...)
			}
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		at := ledgerT0.Format(sqliteTime)
		exec(`INSERT INTO ledger_audiences (incident_id, audience) VALUES ('INC-1', 'individuals')`)
		exec(`INSERT INTO notices (id, incident_id, rule, audience_seq, snapshot_id, content, approved_by, approved_at, created_at, unreachable)
			VALUES ('INC-1/r', 'INC-1', 'r', 1, 's', $1, 'dpo', $2, $2, 1)`, []byte(`{}`), at)
		for i, b := range []struct {
			key, state string
			attempts   int
			msg        string
		}{{"b/accepted", "accepted", 1, "m1"}, {"b/failed", "failed", 1, ""}, {"b/ambiguous", "ambiguous", 2, ""}, {"b/queued", "queued", 0, ""}} {
			exec(`INSERT INTO notice_batches (key, notice_seq, recipients, state, message_id, error, attempts, sent_at, updated_at, events, delivered)
				VALUES ($1, 1, 2, $2, $3, $4, $5, $6, $6, $5, $5)`, b.key, b.state, b.msg, "", b.attempts, at)
			for j := range 2 {
				k := key(uint64(10*i + j + 1))
				exec(`INSERT INTO notice_recipients (audience_seq, subject_key, notice_seq, batch_seq) VALUES (1, $1, 1, $2)`, k[:], i+1)
			}
		}
		k99 := key(99)
		exec(`INSERT INTO notice_recipients (audience_seq, subject_key, notice_seq, reason, updated_at) VALUES (1, $1, 1, 'no_address', $2)`, k99[:], at)
		_ = e.close()

		s := ledgerStore(t, dsn)
		if v := rawInt(t, s, `SELECT max(version) FROM schema_migrations`); v != int64(len(ms)) {
			t.Errorf("schema version %d after Open, want %d", v, len(ms))
		}
		p := progress(t, s, "INC-1/r")
		want := NoticeProgress{Notice: "INC-1/r", Batches: 4, BatchesAccepted: 1, BatchesFailed: 1, BatchesAmbiguous: 1, Requests: 1,
			Recipients: 8, Queued: 4, Accepted: 2, Failed: 2, Unreachable: 1, Delivered: 4}
		if p != want {
			t.Errorf("progress across the migration:\n got %+v\nwant %+v", p, want)
		}
		if b, err := s.Batch(ctx, "b/accepted"); err != nil || b.State != BatchAccepted || b.MessageID != "m1" || b.Attempts != 1 || b.Events != 1 || !b.SentAt.Equal(ledgerT0) || b.LastOutcome != "" {
			t.Errorf("accepted batch across the migration: %+v, %v", b, err)
		}
		// The ambiguous batch may not be sent blindly; resent, it counts.
		if _, err := s.BeginAttempt(ctx, "b/ambiguous", "", time.Time{}); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("begin an old ambiguous batch without a reason: %v", err)
		}
		st, err := s.BeginAttempt(ctx, "b/ambiguous", resendReason, time.Time{})
		if err != nil || st.Attempts != 3 || st.State != BatchSending || st.Resends != 1 {
			t.Errorf("resend of an old ambiguous batch: %+v, %v", st, err)
		}
		if p := progress(t, s, "INC-1/r"); p.BatchesSending != 1 || p.MaybeTwice != 2 || p.Queued != 4 {
			t.Errorf("progress while it is resent: %+v", p)
		}
		if _, err := s.BeginAttempt(ctx, "b/failed", "", time.Time{}); err != nil {
			t.Error(err)
		} else if b, _ := s.Batch(ctx, "b/failed"); b.State != BatchFailed || b.Attempts != 1 {
			t.Errorf("an old failed batch begun: %+v", b)
		}
		// Its people and the unreachable may be claimed again by a notice
		// approved again; new batches get seqs of their own.
		got, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(1), key(99))
		must(t, err)
		if len(got) != 6 {
			t.Errorf("ClaimedBetween after the migration: %d, want 6 (the failed and unreachable left out)", len(got))
		}
		n := createNotice(t, s, testNotice("INC-1", "r-2", "individuals"))
		if st := claim(t, s, n.ID, []BatchClaim{{Key: "c", Subjects: keys(1, 99)}}, nil); st[0].Recipients != 99-6 {
			t.Errorf("claim after the migration: %+v", st)
		}
		if b, err := s.Batch(ctx, "c"); err != nil || b.Notice != n.ID {
			t.Errorf("new batch: %+v, %v", b, err)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(1)); r.Batch != "b/accepted" {
			t.Errorf("key 1 after the migration: %+v", r)
		}
	})
}
