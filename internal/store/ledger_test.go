package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

var ledgerT0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// ledgerStore opens a store whose clock starts at ledgerT0 and ticks a
// second per reading.
func ledgerStore(t *testing.T, dsn string) *Store {
	t.Helper()
	s := openStore(t, dsn)
	clock := ledgerT0
	s.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	return s
}

func testNotice(incident, rule, audience string) NoticeRecord {
	return NoticeRecord{
		ID:         incident + "/" + rule,
		IncidentID: incident,
		Rule:       rule,
		Audience:   audience,
		SnapshotID: "snap_1",
		Content:    []byte(`{"subject":"` + rule + `"}`),
		ApprovedBy: "dpo@example.com",
		ApprovedAt: ledgerT0.Add(-time.Hour),
	}
}

func createNotice(t *testing.T, s *Store, n NoticeRecord) NoticeRecord {
	t.Helper()
	got, err := s.CreateNotice(context.Background(), n)
	if err != nil {
		t.Fatalf("CreateNotice %s: %v", n.ID, err)
	}
	return got
}

// keys returns key(from), ..., key(through).
func keys(from, through uint64) [][16]byte {
	var out [][16]byte
	for n := from; n <= through; n++ {
		out = append(out, key(n))
	}
	return out
}

func claim(t *testing.T, s *Store, notice string, batches []BatchClaim, unreachable []Unreachable) []BatchStatus {
	t.Helper()
	st, err := s.Claim(context.Background(), notice, batches, unreachable)
	if err != nil {
		t.Fatalf("Claim for %s: %v", notice, err)
	}
	if len(st) != len(batches) {
		t.Fatalf("Claim returned %d statuses for %d batches", len(st), len(batches))
	}
	for i, b := range st {
		if b.Key != batches[i].Key {
			t.Fatalf("status %d is of batch %q, want %q (the order given)", i, b.Key, batches[i].Key)
		}
	}
	return st
}

func recipientState(t *testing.T, s *Store, incident, audience string, k [16]byte) RecipientRecord {
	t.Helper()
	r, err := s.Recipient(context.Background(), incident, audience, k)
	if err != nil {
		t.Fatalf("Recipient %x: %v", k[:4], err)
	}
	return r
}

func progress(t *testing.T, s *Store, notice string) NoticeProgress {
	t.Helper()
	p, err := s.NoticeProgress(context.Background(), notice)
	if err != nil {
		t.Fatalf("NoticeProgress %s: %v", notice, err)
	}
	return p
}

func TestCreateNoticeIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := testNotice("INC-1", "eu-gdpr-art34", "individuals")
		n.ApprovedAt = time.Date(2026, 11, 23, 8, 30, 0, 123456789, time.FixedZone("CET", 3600))
		first := createNotice(t, s, n)
		want := n
		want.ApprovedAt = n.ApprovedAt.UTC().Truncate(time.Microsecond)
		if !sameNotice(first, want) {
			t.Errorf("CreateNotice returned %+v, want %+v", first, want)
		}

		again := n
		again.Content, again.ApprovedBy, again.Audience = []byte(`{"other":true}`), "someone else", "org"
		second := createNotice(t, s, again)
		if !sameNotice(second, want) {
			t.Errorf("second CreateNotice returned %+v, want the first %+v", second, want)
		}
		got, err := s.Notice(ctx, n.ID)
		if err != nil || !sameNotice(got, want) {
			t.Errorf("Notice = %+v, %v; want %+v", got, err, want)
		}
		if c := rawInt(t, s, `SELECT count(*) FROM notices`); c != 1 {
			t.Errorf("%d notices stored, want 1", c)
		}
		if _, err := s.Notice(ctx, "INC-1/nonesuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Notice of an unknown ID: %v, want ErrNotFound", err)
		}
	})
}

func sameNotice(a, b NoticeRecord) bool {
	return a.ID == b.ID && a.IncidentID == b.IncidentID && a.Rule == b.Rule && a.Audience == b.Audience &&
		a.SnapshotID == b.SnapshotID && string(a.Content) == string(b.Content) && a.ApprovedBy == b.ApprovedBy &&
		a.ApprovedAt.Equal(b.ApprovedAt) && a.ApprovedAt.Location() == time.UTC
}

func TestCreateNoticeValidates(t *testing.T) {
	s := openStore(t, dialects[0].dsn(t))
	for _, tc := range []struct {
		field string
		edit  func(*NoticeRecord)
	}{
		{"id", func(n *NoticeRecord) { n.ID = "" }},
		{"incident", func(n *NoticeRecord) { n.IncidentID = "" }},
		{"rule", func(n *NoticeRecord) { n.Rule = "" }},
		{"audience", func(n *NoticeRecord) { n.Audience = "" }},
		{"approved_by", func(n *NoticeRecord) { n.ApprovedBy = "" }},
		{"content", func(n *NoticeRecord) { n.Content = nil }},
		{"approved_at", func(n *NoticeRecord) { n.ApprovedAt = time.Time{} }},
	} {
		n := testNotice("INC-1", "r", "individuals")
		tc.edit(&n)
		_, err := s.CreateNotice(context.Background(), n)
		if !apperr.Is(err, apperr.Invalid) || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("without %s: %v, want invalid naming %s", tc.field, err, tc.field)
		}
	}
	n := testNotice("INC-1", "r", "individuals")
	n.SnapshotID = "" // notices to organisations have none
	if _, err := s.CreateNotice(context.Background(), n); err != nil {
		t.Errorf("without a snapshot: %v", err)
	}
}

func TestClaimRetried(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "eu-gdpr-art34", "individuals"))
		// A page: batches by language, so their keys interleave.
		page := []BatchClaim{
			{Key: "INC-1/eu-gdpr-art34/p0/de", Subjects: [][16]byte{key(1), key(4), key(7)}},
			{Key: "INC-1/eu-gdpr-art34/p0/en", Subjects: [][16]byte{key(2), key(5)}},
			{Key: "INC-1/eu-gdpr-art34/p0/fr", Subjects: [][16]byte{key(3), key(6), key(8), key(9)}},
		}
		unreachable := []Unreachable{{Key: key(10), Reason: "no_address"}, {Key: key(11), Reason: "invalid_address"}}
		first := claim(t, s, n.ID, page, unreachable)
		for i, b := range first {
			if b.State != BatchQueued || b.Recipients != len(page[i].Subjects) || b.Notice != n.ID || b.Attempts != 0 || b.Events != 0 {
				t.Errorf("first claim, batch %d: %+v", i, b)
			}
		}
		if err := s.MarkBatch(ctx, page[0].Key, BatchAccepted, "msg-de", "", ledgerT0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkBatch(ctx, page[2].Key, BatchFailed, "", "400 bad request", time.Time{}); err != nil {
			t.Fatal(err)
		}

		// The page again, as a retried activity sends it: nothing twice.
		again := claim(t, s, n.ID, page, unreachable)
		want := []BatchStatus{
			{Key: page[0].Key, Notice: n.ID, State: BatchAccepted, Recipients: 3, MessageID: "msg-de", Attempts: 1, SentAt: ledgerT0.Add(time.Minute)},
			{Key: page[1].Key, Notice: n.ID, State: BatchQueued, Recipients: 2},
			{Key: page[2].Key, Notice: n.ID, State: BatchFailed, Recipients: 4, Error: "400 bad request", Attempts: 1},
		}
		if !slices.EqualFunc(again, want, sameBatch) {
			t.Errorf("retried claim:\n got %+v\nwant %+v", again, want)
		}
		if c := rawInt(t, s, `SELECT count(*) FROM notice_recipients`); c != 11 {
			t.Errorf("%d recipient rows after a retried claim, want 11", c)
		}
		if c := rawInt(t, s, `SELECT count(*) FROM notice_batches`); c != 3 {
			t.Errorf("%d batches after a retried claim, want 3", c)
		}
		p := progress(t, s, n.ID)
		wantP := NoticeProgress{Notice: n.ID, Batches: 3, BatchesAccepted: 1, BatchesFailed: 1, Requests: 1,
			Recipients: 9, Queued: 2, Accepted: 3, Failed: 4, Unreachable: 2}
		if p != wantP {
			t.Errorf("NoticeProgress after retry:\n got %+v\nwant %+v", p, wantP)
		}

		// A retry that brings a batch's subjects differently leaves the
		// recorded batch as it is, and a new batch gets only who is free.
		changed := []BatchClaim{
			{Key: page[1].Key, Subjects: [][16]byte{key(2), key(5), key(12)}},
			{Key: "INC-1/eu-gdpr-art34/p0/es", Subjects: [][16]byte{key(13), key(9), key(10)}},
		}
		st := claim(t, s, n.ID, changed, nil)
		if st[0].Recipients != 2 || st[1].Recipients != 1 || st[1].State != BatchQueued {
			t.Errorf("claim with changed subjects: %+v", st)
		}
		if _, err := s.Recipient(ctx, "INC-1", "individuals", key(12)); !errors.Is(err, ErrNotFound) {
			t.Errorf("a subject added to a recorded batch was claimed: %v", err)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(10)); r.State != "unreachable" || r.Reason != "no_address" {
			t.Errorf("unreachable subject claimed again in a batch: %+v", r)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(13)); r.Batch != changed[1].Key {
			t.Errorf("key 13 in batch %q, want %q", r.Batch, changed[1].Key)
		}
	})
}

func sameBatch(a, b BatchStatus) bool {
	sentAt := a.SentAt.Equal(b.SentAt)
	a.SentAt, b.SentAt = time.Time{}, time.Time{}
	return sentAt && a == b
}

func TestClaimNoticesShareAnAudience(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		gdpr := createNotice(t, s, testNotice("INC-1", "eu-gdpr-art34", "individuals"))
		ccpa := createNotice(t, s, testNotice("INC-1", "us-ca-1798.82", "individuals"))
		ny := createNotice(t, s, testNotice("INC-1", "us-ny-own-notice", "us-ny-own-notice")) // its own audience
		other := createNotice(t, s, testNotice("INC-2", "eu-gdpr-art34", "individuals"))      // another incident

		claim(t, s, gdpr.ID, []BatchClaim{{Key: "gdpr/0", Subjects: keys(1, 10)}}, []Unreachable{{Key: key(20), Reason: "no_address"}})
		st := claim(t, s, ccpa.ID, []BatchClaim{
			{Key: "ccpa/0", Subjects: keys(5, 15)},
			{Key: "ccpa/1", Subjects: [][16]byte{key(20), key(21)}},
		}, nil)
		// Key 20 was unreachable under the first notice: the second takes
		// it over.
		if st[0].Recipients != 5 || st[1].Recipients != 2 {
			t.Errorf("second notice of the audience claimed %d and %d, want 5 (11-15) and 2 (20, 21)", st[0].Recipients, st[1].Recipients)
		}
		if p := progress(t, s, gdpr.ID); p.Unreachable != 0 || p.Recipients != 10 {
			t.Errorf("first notice after a take-over of its unreachable: %+v", p)
		}
		for _, n := range []NoticeRecord{ny, other} {
			st := claim(t, s, n.ID, []BatchClaim{{Key: n.ID + "/0", Subjects: keys(1, 15)}}, nil)
			if st[0].Recipients != 15 {
				t.Errorf("%s (%s/%s) claimed %d, want all 15: audiences are independent", n.ID, n.IncidentID, n.Audience, st[0].Recipients)
			}
		}

		got, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(3), key(21))
		if err != nil {
			t.Fatal(err)
		}
		want := map[[16]byte]string{key(20): ccpa.ID, key(21): ccpa.ID}
		for n := uint64(3); n <= 15; n++ {
			want[key(n)] = map[bool]string{true: gdpr.ID, false: ccpa.ID}[n <= 10]
		}
		if !maps.Equal(got, want) {
			t.Errorf("ClaimedBetween: %d entries %v, want %d %v", len(got), got, len(want), want)
		}
		if got, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(16), key(19)); err != nil || len(got) != 0 {
			t.Errorf("ClaimedBetween an empty range: %v, %v", got, err)
		}
		if got, err := s.ClaimedBetween(ctx, "INC-9", "individuals", key(1), key(21)); err != nil || len(got) != 0 {
			t.Errorf("ClaimedBetween of an unknown incident: %v, %v", got, err)
		}
		if _, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(5), key(4)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("ClaimedBetween backwards: %v, want invalid", err)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(7)); r.Notice != gdpr.ID || r.Batch != "gdpr/0" {
			t.Errorf("key 7: %+v, want the first notice's", r)
		}
		if r := recipientState(t, s, "INC-1", "us-ny-own-notice", key(7)); r.Notice != ny.ID {
			t.Errorf("key 7 in its own audience: %+v", r)
		}

		// A batch key of another notice is a conflict, and nothing is written.
		before := rawInt(t, s, `SELECT count(*) FROM notice_recipients`)
		_, err = s.Claim(ctx, ccpa.ID, []BatchClaim{{Key: "ccpa/2", Subjects: keys(30, 31)}, {Key: "gdpr/0", Subjects: keys(1, 2)}}, nil)
		if !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "batches[1].key") {
			t.Errorf("claiming another notice's batch: %v, want a conflict naming batches[1].key", err)
		}
		if after := rawInt(t, s, `SELECT count(*) FROM notice_recipients`); after != before {
			t.Errorf("a refused claim wrote %d rows", after-before)
		}
		if _, err := s.Claim(ctx, "INC-1/nonesuch", []BatchClaim{{Key: "x", Subjects: keys(1, 1)}}, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("claim for an unknown notice: %v, want ErrNotFound", err)
		}
	})
}

// TestClaimPages claims pages larger than one SQLite statement, with batch
// numbers of different widths, and a notice whose keys are spread thin over
// the range another notice of its audience filled.
func TestClaimPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		a := createNotice(t, s, testNotice("INC-1", "a", "individuals"))
		b := createNotice(t, s, testNotice("INC-1", "b", "individuals"))

		var small []BatchClaim
		for i := range 5 {
			small = append(small, BatchClaim{Key: fmt.Sprintf("a/p0/%d", i), Subjects: [][16]byte{key(uint64(100_000 + i))}})
		}
		claim(t, s, a.ID, small, nil)
		// Ten batches of 1,000, keys dealt round-robin: batch j has the
		// keys 1+j, 11+j, 21+j, ...
		var page []BatchClaim
		for j := range 10 {
			bc := BatchClaim{Key: fmt.Sprintf("a/p1/%d", j)}
			for i := range 1000 {
				bc.Subjects = append(bc.Subjects, key(uint64(1+10*i+j)))
			}
			page = append(page, bc)
		}
		var unreachable []Unreachable
		for n := uint64(20_001); n <= 20_030; n++ {
			unreachable = append(unreachable, Unreachable{Key: key(n), Reason: "no_address"})
		}
		for _, st := range claim(t, s, a.ID, page, unreachable) {
			if st.Recipients != 1000 {
				t.Errorf("batch %s: %d recipients, want 1000", st.Key, st.Recipients)
			}
		}
		for _, n := range []uint64{1, 10, 11, 5000, 9999, 10_000} {
			want := fmt.Sprintf("a/p1/%d", (n-1)%10)
			if r := recipientState(t, s, "INC-1", "individuals", key(n)); r.Batch != want || r.State != "queued" {
				t.Errorf("key %d: %+v, want queued in %s", n, r, want)
			}
		}
		// The unreachable are left out: another notice may claim them.
		got, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(1), key(20_030))
		if err != nil || len(got) != 10_000 {
			t.Fatalf("ClaimedBetween: %d entries, %v; want 10,000", len(got), err)
		}

		// b's page spans a's 10,000: the few it shares are found key by
		// key, and a's unreachable 20,001 is taken over.
		spread := []BatchClaim{{Key: "b/p0/0", Subjects: [][16]byte{key(1), key(5000), key(10_000), key(10_001), key(10_002)}}}
		st := claim(t, s, b.ID, spread, []Unreachable{{Key: key(20_001), Reason: "no_address"}, {Key: key(20_031), Reason: "no_address"}})
		if st[0].Recipients != 2 {
			t.Errorf("spread batch: %d recipients, want 2", st[0].Recipients)
		}
		if p := progress(t, s, b.ID); p.Recipients != 2 || p.Unreachable != 2 {
			t.Errorf("spread notice: %+v", p)
		}
		if p := progress(t, s, a.ID); p.Recipients != 10_005 || p.Queued != 10_005 || p.Unreachable != 29 || p.Batches != 15 {
			t.Errorf("big notice: %+v", p)
		}
	})
}

func TestClaimValidates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		ok := func() []BatchClaim {
			return []BatchClaim{{Key: "b0", Subjects: keys(1, 3)}, {Key: "b1", Subjects: keys(4, 6)}, {Key: "b2", Subjects: keys(7, 30)}}
		}
		tooMany := ok()
		tooMany[1].Subjects = keys(100, 1100)
		zero := ok()
		zero[2].Subjects[17] = [16]byte{}
		within := ok()
		within[2].Subjects[5] = key(8)
		across := ok()
		across[2].Subjects[3] = key(2)
		for _, tc := range []struct {
			name        string
			notice      string
			batches     []BatchClaim
			unreachable []Unreachable
			field       string
		}{
			{"no notice", "", ok(), nil, "notice"},
			{"no key", n.ID, append(ok(), BatchClaim{Subjects: keys(40, 41)}), nil, "batches[3].key"},
			{"repeated key", n.ID, append(ok(), BatchClaim{Key: "b1", Subjects: keys(40, 41)}), nil, "batches[3].key"},
			{"empty batch", n.ID, append(ok(), BatchClaim{Key: "b3"}), nil, "batches[3].subjects"},
			{"1,001 subjects", n.ID, tooMany, nil, "batches[1].subjects"},
			{"zero key", n.ID, zero, nil, "batches[2].subjects[17]"},
			{"repeated within a batch", n.ID, within, nil, "batches[2].subjects[5]"},
			{"repeated across batches", n.ID, across, nil, "batches[2].subjects[3]"},
			{"unreachable in a batch", n.ID, ok(), []Unreachable{{Key: key(50), Reason: "no_address"}, {Key: key(5), Reason: "no_address"}}, "unreachable[1].key"},
			{"unreachable twice", n.ID, ok(), []Unreachable{{Key: key(50), Reason: "x"}, {Key: key(50), Reason: "y"}}, "unreachable[1].key"},
			{"unreachable zero", n.ID, ok(), []Unreachable{{Reason: "x"}}, "unreachable[0].key"},
			{"unreachable without reason", n.ID, ok(), []Unreachable{{Key: key(50)}}, "unreachable[0].reason"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Claim(context.Background(), tc.notice, tc.batches, tc.unreachable)
				var e *apperr.Error
				if !errors.As(err, &e) || e.Kind != apperr.Invalid || e.Field != tc.field {
					t.Errorf("Claim: %v, want invalid with field %s", err, tc.field)
				}
			})
		}
		if c := rawInt(t, s, `SELECT count(*) FROM notice_recipients`); c != 0 {
			t.Errorf("refused claims wrote %d rows", c)
		}
		if st, err := s.Claim(context.Background(), n.ID, nil, nil); err != nil || len(st) != 0 {
			t.Errorf("empty claim: %v, %v", st, err)
		}
		full := ok()
		full[0].Subjects = keys(1000, 1999)
		if _, err := s.Claim(context.Background(), n.ID, full, nil); err != nil {
			t.Errorf("claim with 1,000 subjects in a batch: %v", err)
		}
	})
}

func TestMarkBatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		claim(t, s, n.ID, []BatchClaim{{Key: "b0", Subjects: keys(1, 3)}, {Key: "b1", Subjects: keys(4, 6)}}, nil)
		t1, t2, t3 := ledgerT0.Add(time.Minute), ledgerT0.Add(2*time.Minute), ledgerT0.Add(3*time.Minute)

		steps := []struct {
			state     BatchState
			msg, err  string
			at        time.Time
			want      BatchStatus
			recipient RecipientRecord
		}{
			{BatchAmbiguous, "", "connection reset after the request was written", t1,
				BatchStatus{State: BatchAmbiguous, Error: "connection reset after the request was written", Attempts: 1},
				RecipientRecord{State: "ambiguous", Reason: "connection reset after the request was written", UpdatedAt: t1}},
			{BatchFailed, "", "400 invalid from address", t2,
				BatchStatus{State: BatchFailed, Error: "400 invalid from address", Attempts: 2},
				RecipientRecord{State: "failed", Reason: "400 invalid from address", UpdatedAt: t2}},
			{BatchAccepted, "msg-1", "", t3,
				BatchStatus{State: BatchAccepted, MessageID: "msg-1", Attempts: 3, SentAt: t3},
				RecipientRecord{State: "accepted", MessageID: "msg-1", UpdatedAt: t3}},
			// Accepted is final: nothing changes, not even attempts.
			{BatchFailed, "", "too late", t3.Add(time.Minute),
				BatchStatus{State: BatchAccepted, MessageID: "msg-1", Attempts: 3, SentAt: t3},
				RecipientRecord{State: "accepted", MessageID: "msg-1", UpdatedAt: t3}},
			{BatchAccepted, "msg-2", "", t3.Add(time.Minute),
				BatchStatus{State: BatchAccepted, MessageID: "msg-1", Attempts: 3, SentAt: t3},
				RecipientRecord{State: "accepted", MessageID: "msg-1", UpdatedAt: t3}},
		}
		for i, step := range steps {
			if err := s.MarkBatch(ctx, "b0", step.state, step.msg, step.err, step.at); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got, err := s.Batch(ctx, "b0")
			if err != nil {
				t.Fatal(err)
			}
			want := step.want
			want.Key, want.Notice, want.Recipients = "b0", n.ID, 3
			if !sameBatch(got, want) {
				t.Errorf("step %d (%s): got %+v\nwant %+v", i, step.state, got, want)
			}
			r := recipientState(t, s, "INC-1", "individuals", key(2))
			wantR := step.recipient
			wantR.Notice, wantR.Batch = n.ID, "b0"
			if r != wantR {
				t.Errorf("step %d: recipient %+v, want %+v", i, r, wantR)
			}
		}
		if b, err := s.Batch(ctx, "b1"); err != nil || b.State != BatchQueued || b.Attempts != 0 {
			t.Errorf("the other batch: %+v, %v", b, err)
		}
		if err := s.MarkBatch(ctx, "nonesuch", BatchAccepted, "m", "", t1); !errors.Is(err, ErrNotFound) || !apperr.Is(err, apperr.NotFound) {
			t.Errorf("MarkBatch of an unknown batch: %v, want ErrNotFound", err)
		}
		if _, err := s.Batch(ctx, "nonesuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Batch of an unknown key: %v, want ErrNotFound", err)
		}
		for _, state := range []BatchState{BatchQueued, "sent", ""} {
			if err := s.MarkBatch(ctx, "b1", state, "", "", t1); !apperr.Is(err, apperr.Invalid) || !strings.HasPrefix(err.Error(), "state:") {
				t.Errorf("MarkBatch %q: %v, want invalid naming state", state, err)
			}
		}
		if err := s.MarkBatch(ctx, "", BatchAccepted, "", "", t1); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("MarkBatch without a key: %v, want invalid", err)
		}
		// A zero time means now.
		if err := s.MarkBatch(ctx, "b1", BatchAccepted, "msg-b1", "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if b, _ := s.Batch(ctx, "b1"); b.SentAt.Before(ledgerT0) || b.SentAt.Location() != time.UTC {
			t.Errorf("accepted without a time: sent at %v", b.SentAt)
		}
	})
}

func TestRecordEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		m := createNotice(t, s, testNotice("INC-1", "m", "individuals"))
		claim(t, s, n.ID, []BatchClaim{
			{Key: "b1", Subjects: keys(1, 5)},
			{Key: "b2", Subjects: keys(6, 8)},
			{Key: "b3", Subjects: keys(30, 31)},
		}, []Unreachable{{Key: key(9), Reason: "no_address"}})
		claim(t, s, m.ID, []BatchClaim{{Key: "m1", Subjects: keys(40, 41)}}, nil)
		must(t, s.MarkBatch(ctx, "b1", BatchAccepted, "msg-1", "", ledgerT0))
		must(t, s.MarkBatch(ctx, "b2", BatchAmbiguous, "", "timeout", ledgerT0))
		must(t, s.MarkBatch(ctx, "m1", BatchAccepted, "msg-m", "", ledgerT0))
		at := func(min int) time.Time { return ledgerT0.Add(time.Duration(min) * time.Minute) }

		applied, err := s.RecordEvents(ctx, []DeliveryEvent{
			{Batch: "b1", Subject: key(1), Event: "processed", At: at(1)},
			{Batch: "b1", Subject: key(1), Event: "delivered", At: at(3)},
			{Batch: "b1", Subject: key(1), Event: "deferred", Reason: "late", At: at(4)}, // no downgrade
			{Batch: "b1", Subject: key(2), Event: "deferred", Reason: "try later", At: at(3)},
			{Batch: "b1", Subject: key(2), Event: "delivered", At: at(2)}, // final beats deferred, whenever
			{Batch: "b1", Subject: key(3), Event: "bounce", Reason: "550 no such user", At: at(3)},
			{Batch: "b1", Subject: key(4), Event: "blocked", Reason: "554 blocked", At: at(3)},
			{Batch: "b1", Subject: key(5), Event: "dropped", Reason: "Bounced Address", At: at(3)},
			{Batch: "b1", Subject: key(6), Event: "delivered", At: at(3)},   // in b2, not b1
			{Batch: "nope", Subject: key(1), Event: "delivered", At: at(3)}, // unknown batch
			{Batch: "b1", Subject: key(99), Event: "delivered", At: at(3)},  // unknown subject
			{Batch: "b1", Subject: key(9), Event: "delivered", At: at(3)},   // unreachable
			{Batch: "b1", Subject: key(40), Event: "delivered", At: at(3)},  // another notice's
			{Batch: "b2", Subject: key(6), Event: "processed", At: at(2)},   // SendGrid had b2
			{Batch: "b2", Subject: key(7), Event: "open", At: at(1)},
			{Batch: "m1", Subject: key(40), Event: "deferred", Reason: "greylisted", At: at(2)},
			{Batch: "m1", Subject: key(41), Event: "spamreport", At: at(2)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if applied != 12 {
			t.Errorf("applied %d events, want 12", applied)
		}
		check := func(step string, want map[uint64]RecipientRecord) {
			t.Helper()
			for n, w := range want {
				if r := recipientState(t, s, "INC-1", "individuals", key(n)); r != w {
					t.Errorf("%s: key %d\n got %+v\nwant %+v", step, n, r, w)
				}
			}
		}
		check("first post", map[uint64]RecipientRecord{
			1:  {Notice: n.ID, Batch: "b1", State: "delivered", MessageID: "msg-1", UpdatedAt: at(3)},
			2:  {Notice: n.ID, Batch: "b1", State: "delivered", MessageID: "msg-1", UpdatedAt: at(2)},
			3:  {Notice: n.ID, Batch: "b1", State: "bounced", MessageID: "msg-1", Reason: "550 no such user", UpdatedAt: at(3)},
			4:  {Notice: n.ID, Batch: "b1", State: "bounced", MessageID: "msg-1", Reason: "554 blocked", UpdatedAt: at(3)},
			5:  {Notice: n.ID, Batch: "b1", State: "dropped", MessageID: "msg-1", Reason: "Bounced Address", UpdatedAt: at(3)},
			6:  {Notice: n.ID, Batch: "b2", State: "accepted", UpdatedAt: ledgerT0.Add(5 * time.Second)}, // accepted when the events came
			8:  {Notice: n.ID, Batch: "b2", State: "accepted", UpdatedAt: ledgerT0.Add(5 * time.Second)},
			9:  {Notice: n.ID, State: "unreachable", Reason: "no_address", UpdatedAt: ledgerT0.Add(3 * time.Second)},
			30: {Notice: n.ID, Batch: "b3", State: "queued", UpdatedAt: ledgerT0.Add(3 * time.Second)},
			40: {Notice: m.ID, Batch: "m1", State: "deferred", MessageID: "msg-m", Reason: "greylisted", UpdatedAt: at(2)},
			41: {Notice: m.ID, Batch: "m1", State: "accepted", MessageID: "msg-m", UpdatedAt: ledgerT0},
		})
		b2, err := s.Batch(ctx, "b2")
		if err != nil || b2.State != BatchAccepted || !b2.SentAt.Equal(at(1)) || b2.Events != 2 || b2.Attempts != 1 {
			t.Errorf("b2 after its events: %+v, %v; want accepted, sent at the first event, 2 events", b2, err)
		}
		if b1, _ := s.Batch(ctx, "b1"); b1.Events != 8 || !b1.SentAt.Equal(ledgerT0) {
			t.Errorf("b1: %+v, want 8 events and its own sent time", b1)
		}
		wantP := NoticeProgress{Notice: n.ID, Batches: 3, BatchesAccepted: 2, Requests: 2, Recipients: 10, Queued: 2, Accepted: 8,
			Unreachable: 1, Delivered: 2, Bounced: 2, Dropped: 1}
		if p := progress(t, s, n.ID); p != wantP {
			t.Errorf("progress after the first post:\n got %+v\nwant %+v", p, wantP)
		}

		// The webhook posts the same events again, then later ones and
		// late arrivals of earlier ones.
		for _, evs := range [][]DeliveryEvent{
			{
				{Batch: "b1", Subject: key(2), Event: "delivered", At: at(2)},
				{Batch: "b1", Subject: key(3), Event: "bounce", Reason: "550 no such user", At: at(3)},
			},
			{
				{Batch: "b1", Subject: key(1), Event: "bounce", Reason: "async bounce", At: at(10)}, // a later final state wins
				{Batch: "b1", Subject: key(3), Event: "delivered", At: at(1)},                       // an earlier one does not
				{Batch: "m1", Subject: key(40), Event: "deferred", Reason: "greylisted again", At: at(5)},
				{Batch: "b2", Subject: key(8), Event: "deferred", Reason: "mailbox full", At: at(5)},
				{Batch: "b2", Subject: key(8), Event: "deferred", Reason: "older", At: at(4)},
			},
		} {
			if _, err := s.RecordEvents(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		check("later posts", map[uint64]RecipientRecord{
			1:  {Notice: n.ID, Batch: "b1", State: "bounced", MessageID: "msg-1", Reason: "async bounce", UpdatedAt: at(10)},
			2:  {Notice: n.ID, Batch: "b1", State: "delivered", MessageID: "msg-1", UpdatedAt: at(2)},
			3:  {Notice: n.ID, Batch: "b1", State: "bounced", MessageID: "msg-1", Reason: "550 no such user", UpdatedAt: at(3)},
			8:  {Notice: n.ID, Batch: "b2", State: "deferred", Reason: "mailbox full", UpdatedAt: at(5)},
			40: {Notice: m.ID, Batch: "m1", State: "deferred", MessageID: "msg-m", Reason: "greylisted again", UpdatedAt: at(5)},
		})
		wantP.Delivered, wantP.Bounced, wantP.Deferred = 1, 3, 1
		if p := progress(t, s, n.ID); p != wantP {
			t.Errorf("progress after later posts:\n got %+v\nwant %+v", p, wantP)
		}
		if p := progress(t, s, m.ID); p.Deferred != 1 || p.Accepted != 2 || p.Delivered != 0 {
			t.Errorf("the other notice's progress: %+v", p)
		}

		// An accepted batch stays accepted; MarkBatch after events changes nothing.
		must(t, s.MarkBatch(ctx, "b2", BatchFailed, "", "late failure", at(20)))
		if b, _ := s.Batch(ctx, "b2"); b.State != BatchAccepted {
			t.Errorf("b2 after a late MarkBatch: %+v", b)
		}
		// Events about nobody change nothing.
		if applied, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "nope", Subject: key(1), Event: "delivered"}, {Event: "delivered"}}); err != nil || applied != 0 {
			t.Errorf("unknown events: applied %d, %v", applied, err)
		}
		if applied, err := s.RecordEvents(ctx, nil); err != nil || applied != 0 {
			t.Errorf("no events: applied %d, %v", applied, err)
		}
		// An event without a time is taken as now.
		if _, err := s.RecordEvents(ctx, []DeliveryEvent{{Batch: "b3", Subject: key(30), Event: "delivered"}}); err != nil {
			t.Fatal(err)
		}
		if r := recipientState(t, s, "INC-1", "individuals", key(30)); r.State != "delivered" || !r.UpdatedAt.After(ledgerT0) {
			t.Errorf("event without a time: %+v", r)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSupersedes(t *testing.T) {
	t1, t2 := ledgerT0, ledgerT0.Add(time.Second)
	for _, tc := range []struct {
		cur  string
		at   time.Time
		next string
		nat  time.Time
		want bool
	}{
		{"", t1, "deferred", t1, true},
		{"", t2, "delivered", t1, true},
		{"deferred", t2, "delivered", t1, true},
		{"deferred", t1, "deferred", t2, true},
		{"deferred", t2, "deferred", t1, false},
		{"delivered", t1, "deferred", t2, false},
		{"bounced", t1, "deferred", t2, false},
		{"delivered", t1, "bounced", t2, true},
		{"delivered", t2, "bounced", t1, false},
		{"dropped", t1, "delivered", t1, true},
	} {
		if got := supersedes(tc.cur, tc.at, tc.next, tc.nat); got != tc.want {
			t.Errorf("supersedes(%q at %v, %q at %v) = %v", tc.cur, tc.at.Second(), tc.next, tc.nat.Second(), got)
		}
	}
}

func TestRecipientNotFound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		claim(t, s, n.ID, []BatchClaim{{Key: "b1", Subjects: keys(1, 2)}}, nil)
		for _, tc := range []struct {
			incident, audience string
			k                  [16]byte
		}{
			{"INC-1", "individuals", key(3)},
			{"INC-1", "org", key(1)},
			{"INC-2", "individuals", key(1)},
		} {
			if _, err := s.Recipient(ctx, tc.incident, tc.audience, tc.k); !errors.Is(err, ErrNotFound) {
				t.Errorf("Recipient %v: %v, want ErrNotFound", tc, err)
			}
		}
		if _, err := s.Recipient(ctx, "", "individuals", key(1)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Recipient without an incident: %v, want invalid", err)
		}
		if _, err := s.NoticeProgress(ctx, "INC-1/nonesuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("NoticeProgress of an unknown notice: %v, want ErrNotFound", err)
		}
		m := createNotice(t, s, testNotice("INC-1", "empty", "individuals"))
		if p := progress(t, s, m.ID); p != (NoticeProgress{Notice: m.ID}) {
			t.Errorf("progress of a notice with no claims: %+v", p)
		}
	})
}

// TestLedgerConcurrent claims the same pages for four notices of one
// audience at once, then records the same events from four posts at once:
// every person is claimed once, and every count comes out exact.
func TestLedgerConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := ledgerStore(t, dsn)
		var notices []NoticeRecord
		for i := range 4 {
			notices = append(notices, createNotice(t, s, testNotice("INC-1", fmt.Sprintf("r%d", i), "individuals")))
		}
		// Every notice claims keys 1 ... 3,500 in 7 pages of 500.
		claimed := make([]int, len(notices))
		errs := make(chan error, len(notices))
		for i, n := range notices {
			go func() {
				for p := range 7 {
					from := uint64(500*p + 1)
					st, err := s.Claim(ctx, n.ID, []BatchClaim{
						{Key: fmt.Sprintf("%s/p%d/a", n.ID, p), Subjects: keys(from, from+249)},
						{Key: fmt.Sprintf("%s/p%d/b", n.ID, p), Subjects: keys(from+250, from+499)},
					}, nil)
					if err != nil {
						errs <- err
						return
					}
					claimed[i] += st[0].Recipients + st[1].Recipients
				}
				errs <- nil
			}()
		}
		for range notices {
			must(t, <-errs)
		}
		total := 0
		for _, c := range claimed {
			total += c
		}
		if total != 3500 {
			t.Errorf("claimed %d in all (%v), want 3,500: each person once", total, claimed)
		}
		if c := rawInt(t, s, `SELECT count(*) FROM notice_recipients`); c != 3500 {
			t.Errorf("%d recipient rows, want 3,500", c)
		}

		var events []DeliveryEvent
		for _, n := range notices {
			for p := range 7 {
				for _, half := range []string{"a", "b"} {
					key := fmt.Sprintf("%s/p%d/%s", n.ID, p, half)
					must(t, s.MarkBatch(ctx, key, BatchAmbiguous, "", "timeout", ledgerT0))
				}
			}
		}
		owners, err := s.ClaimedBetween(ctx, "INC-1", "individuals", key(1), key(3500))
		must(t, err)
		for k := uint64(1); k <= 3500; k++ {
			half := map[bool]string{true: "a", false: "b"}[(k-1)%500 < 250]
			batch := fmt.Sprintf("%s/p%d/%s", owners[key(k)], (k-1)/500, half)
			if k%250 == 0 {
				if r := recipientState(t, s, "INC-1", "individuals", key(k)); r.Notice != owners[key(k)] || r.Batch != batch {
					t.Fatalf("key %d: Recipient says %s in %s, ClaimedBetween %s", k, r.Notice, r.Batch, owners[key(k)])
				}
			}
			events = append(events, DeliveryEvent{Batch: batch, Subject: key(k), Event: "delivered", At: ledgerT0.Add(time.Minute)})
		}
		for i := range 4 {
			go func() {
				evs := slices.Clone(events)
				if i%2 == 1 {
					slices.Reverse(evs)
				}
				_, err := s.RecordEvents(ctx, evs)
				errs <- err
			}()
		}
		for range 4 {
			must(t, <-errs)
		}
		delivered, accepted := 0, 0
		for _, n := range notices {
			p := progress(t, s, n.ID)
			delivered += p.Delivered
			accepted += p.Accepted
			if p.Queued != 0 || p.Accepted != p.Recipients {
				t.Errorf("%s: %+v, want every batch with recipients accepted by its events", n.ID, p)
			}
		}
		if delivered != 3500 || accepted != 3500 {
			t.Errorf("%d delivered and %d accepted in all, want 3,500 each", delivered, accepted)
		}
	})
}

// TestLedgerMigratesFromVersion1 opens a database that has only the first
// migration, with a snapshot in it, as the previous release left it.
func TestLedgerMigratesFromVersion1(t *testing.T) {
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
		if err != nil {
			t.Fatal(err)
		}
		if err := migrate(ctx, e.beginMigration, ms[:1]); err != nil {
			t.Fatal(err)
		}
		// The snapshot as the release with migration 1 wrote it (this
		// release's writer needs later columns).
		k := key(1)
		info := SnapshotInfo{ID: "snap_v1"}
		switch db := e.(type) {
		case *sqliteDB:
			_, err = db.w.Exec(`INSERT INTO snapshots (seq, id, incident_id, description, created_at, committed_at, people) VALUES (1, 'snap_v1', 'INC-1', 'before the ledger', ?, ?, 1)`,
				ledgerT0.Format(sqliteTime), ledgerT0.Format(sqliteTime))
			if err == nil {
				_, err = db.w.Exec(`INSERT INTO snapshot_subjects VALUES (1, ?, 'DE', 1, 'en', x'')`, k[:])
			}
		case *pgDB:
			_, err = db.pool.Exec(ctx, `INSERT INTO snapshots (id, incident_id, description, created_at, committed_at, people) VALUES ('snap_v1', 'INC-1', 'before the ledger', $1, $1, 1)`, ledgerT0)
			if err == nil {
				_, err = db.pool.Exec(ctx, `INSERT INTO snapshot_subjects SELECT seq, $1, 'DE', 1, 'en', '' FROM snapshots`, k[:])
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		old := &Store{db: e, now: func() time.Time { return ledgerT0 }}
		if _, err := old.Claim(ctx, "INC-1/r", []BatchClaim{{Key: "b", Subjects: keys(1, 1)}}, nil); err == nil {
			t.Error("Claim worked on a database at version 1")
		}
		_ = e.close()

		s := ledgerStore(t, dsn)
		if v := rawInt(t, s, `SELECT max(version) FROM schema_migrations`); v != int64(len(ms)) {
			t.Errorf("schema version %d after Open, want %d", v, len(ms))
		}
		if got, err := s.Snapshot(ctx, info.ID); err != nil || got.People != 1 {
			t.Errorf("snapshot across the migration: %+v, %v", got, err)
		}
		n := createNotice(t, s, testNotice("INC-1", "r", "individuals"))
		if st := claim(t, s, n.ID, []BatchClaim{{Key: "b", Subjects: keys(1, 1)}}, nil); st[0].Recipients != 1 {
			t.Errorf("claim after the migration: %+v", st)
		}
	})
}
