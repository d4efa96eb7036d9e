package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSnapshotWrite writes a snapshot of N subjects (BREACHCTL_BENCH_SUBJECTS,
// default 200,000) in batches of 10,000, 5% of them people seen before, and
// commits it. It reports subjects written per second (Commit and its counts
// included) and the peak Go heap in use, sampled after each batch, which
// should not grow with N. The target run:
//
//	BREACHCTL_BENCH_SUBJECTS=1000000 go test ./internal/store/ -run '^$' -bench BenchmarkSnapshotWrite -benchtime 1x
func BenchmarkSnapshotWrite(b *testing.B) {
	n := 200_000
	if v := os.Getenv("BREACHCTL_BENCH_SUBJECTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("BREACHCTL_BENCH_SUBJECTS=%q: want a positive number", v)
		}
	}
	const batchSize = 10_000
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			resetPeakRSS()
			var peak uint64
			var commitTime time.Duration
			for range b.N {
				b.StopTimer()
				s := benchOpen(b, d.dsn(b))
				gen := newSubjectGen(n)
				batch := make([]Subject, batchSize)
				for i := range batch {
					batch[i].Payload = make([]byte, benchPayload)
				}
				runtime.GC()
				b.StartTimer()

				w, err := s.NewSnapshot(ctx, "INC-BENCH", "benchmark")
				if err != nil {
					b.Fatal(err)
				}
				var added, merged int
				for written := 0; written < n; {
					b.StopTimer()
					m := min(batchSize, n-written)
					for i := range m {
						gen.next(&batch[i])
					}
					b.StartTimer()
					a, mg, err := w.Add(ctx, batch[:m])
					if err != nil {
						b.Fatal(err)
					}
					added, merged, written = added+a, merged+mg, written+m
					b.StopTimer()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
					b.StartTimer()
				}
				start := time.Now()
				info, err := w.Commit(ctx)
				if err != nil {
					b.Fatal(err)
				}
				commitTime += time.Since(start)
				b.StopTimer()
				if info.People != gen.people || added != gen.people || merged != n-gen.people || info.Merged != merged {
					b.Fatalf("people %d, added %d, merged %d (snapshot says %d): want %d people and %d merged",
						info.People, added, merged, info.Merged, gen.people, n-gen.people)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(commitTime.Seconds()/float64(b.N), "commit-s")
			if rss := peakRSS(); rss > 0 {
				b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
			}
		})
	}
}

// benchPayload is about what an AES-GCM sealed JSON record of a person is:
// a 12-byte nonce, ~130 bytes of name, email and ID, a 16-byte tag.
const benchPayload = 160

var benchJurisdictions = []string{"DE", "FR", "US-CA", "US-NY", "BR", "GB", "IE", "NL", "ES", "IT", "JP", "CA-QC"}

// subjectGen makes subjects: random-looking keys, 5% of them a person made
// before (in this batch or an earlier one), categories from a few common
// combinations as real exports have.
type subjectGen struct {
	rnd    *rand.Rand
	people int // distinct keys made so far
}

func newSubjectGen(int) *subjectGen {
	return &subjectGen{rnd: rand.New(rand.NewPCG(1, 2))}
}

func (g *subjectGen) next(s *Subject) {
	u := g.people
	if g.people > 0 && g.rnd.IntN(100) < 5 {
		u = g.rnd.IntN(g.people)
	} else {
		g.people++
	}
	x := splitmix(uint64(u))
	binary.LittleEndian.PutUint64(s.Key[:8], x)
	binary.LittleEndian.PutUint64(s.Key[8:], splitmix(x))
	s.Jurisdiction = benchJurisdictions[x%uint64(len(benchJurisdictions))]
	s.Locale = "en"
	s.Categories = 1<<(x>>8%6) | 1<<(g.rnd.IntN(4)+6) // a duplicate may bring a new bit
	for i := 0; i < len(s.Payload); i += 8 {
		binary.LittleEndian.PutUint64(s.Payload[i:], splitmix(x+uint64(i)))
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, where Linux
// tells it, else 0. Unlike the Go heap it includes SQLite's page cache,
// which lives outside the Go heap (modernc's allocator maps its own memory).
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS starts VmHWM again from the current RSS, so each
// sub-benchmark reports its own peak (Linux only; ignored elsewhere).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// BenchmarkClaim claims N subjects (BREACHCTL_BENCH_SUBJECTS, default
// 200,000) for one notice as the notification activity does: pages of
// 10,000 in key order (a page of a snapshot is a key range), each split into
// 10 batches of 1,000 whose keys interleave (batches group people by
// language), plus 50 unreachable subjects per page, one Claim per page. It
// reports subjects claimed per second and the mean Claim time per page.
// The target run:
//
//	BREACHCTL_BENCH_SUBJECTS=1000000 go test ./internal/store/ -run '^$' -bench BenchmarkClaim -benchtime 1x
func BenchmarkClaim(b *testing.B) {
	n := benchSubjects(b)
	keys := sortedBenchKeys(n)
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			var pages int
			for range b.N {
				b.StopTimer()
				s := benchOpen(b, d.dsn(b))
				notice, err := s.CreateNotice(ctx, benchNotice("individuals"))
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				b.StartTimer()
				claimed := 0
				for p, page := range benchPages(keys) {
					st, err := s.Claim(ctx, notice.ID, page.batches, page.unreachable)
					if err != nil {
						b.Fatal(err)
					}
					for i := range st {
						claimed += st[i].Recipients
					}
					claimed += len(page.unreachable)
					pages = p + 1
				}
				b.StopTimer()
				if claimed != n {
					b.Fatalf("claimed %d subjects, want %d", claimed, n)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*pages), "ms/page")
		})
	}
}

// BenchmarkNoticeProgress times NoticeProgress on a notice of N recipients
// (BREACHCTL_BENCH_SUBJECTS, default 200,000), claimed as in BenchmarkClaim,
// most batches accepted and some recipients delivered. A progress bar polls
// it every second while a notice is sent. The target run:
//
//	BREACHCTL_BENCH_SUBJECTS=1000000 go test ./internal/store/ -run '^$' -bench BenchmarkNoticeProgress
func BenchmarkNoticeProgress(b *testing.B) {
	keys := sortedBenchKeys(benchSubjects(b))
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			s, notice, claimed := benchLedger(b, d.dsn(b), keys)
			var events []DeliveryEvent
			for i, bc := range claimed {
				if i%10 == 0 {
					events = append(events, DeliveryEvent{Batch: bc.Key, Subject: bc.Subjects[0], Event: "delivered"})
				}
			}
			if _, err := s.RecordEvents(ctx, events); err != nil {
				b.Fatal(err)
			}
			want := len(keys) - len(keys)/201 // subjects in batches
			for b.Loop() {
				p, err := s.NoticeProgress(ctx, notice.ID)
				if err != nil {
					b.Fatal(err)
				}
				if p.Recipients != want || p.Delivered != len(events) {
					b.Fatalf("progress %+v, want %d recipients, %d delivered", p, want, len(events))
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/op")
		})
	}
}

// BenchmarkRecordEvents records Event Webhook posts of 3,000 events
// (processed, then delivered, for 1,500 recipients of accepted batches) on a
// notice of N recipients (BREACHCTL_BENCH_SUBJECTS, default 200,000), and
// reports events recorded per second.
func BenchmarkRecordEvents(b *testing.B) {
	keys := sortedBenchKeys(benchSubjects(b))
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			s, _, claimed := benchLedger(b, d.dsn(b), keys)
			var subjects []DeliveryEvent
			for _, bc := range claimed {
				for _, k := range bc.Subjects {
					subjects = append(subjects, DeliveryEvent{Batch: bc.Key, Subject: k})
				}
			}
			rnd := rand.New(rand.NewPCG(3, 4))
			post := make([]DeliveryEvent, 0, 3000)
			var events int
			for b.Loop() {
				b.StopTimer()
				post = post[:0]
				for range 1500 {
					e := subjects[rnd.IntN(len(subjects))]
					e.Event = "processed"
					post = append(post, e)
					e.Event = "delivered"
					post = append(post, e)
				}
				b.StartTimer()
				applied, err := s.RecordEvents(ctx, post)
				if err != nil {
					b.Fatal(err)
				}
				if applied != len(post) {
					b.Fatalf("applied %d of %d events", applied, len(post))
				}
				events += applied
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkClaimedBetween reads the claims of a page's key range (10,050
// keys) of a notice of N recipients (BREACHCTL_BENCH_SUBJECTS, default
// 200,000): what a second notice of the audience finds before claiming,
// the claims of failed batches and of the unreachable left out.
func BenchmarkClaimedBetween(b *testing.B) {
	keys := sortedBenchKeys(benchSubjects(b))
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			s, notice, _ := benchLedger(b, d.dsn(b), keys)
			page := keys[len(keys)/2 : min(len(keys)/2+10_050, len(keys))]
			held := benchHeld(keys, page) // the failed batches and the unreachable let their people go
			for b.Loop() {
				got, err := s.ClaimedBetween(ctx, notice.IncidentID, notice.Audience, page[0], page[len(page)-1])
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != held {
					b.Fatalf("%d claims in a page of %d, want %d", len(got), len(page), held)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/op")
		})
	}
}

// benchLedger opens a store with a notice that claimed keys as
// BenchmarkClaim does, and marks 90% of its batches accepted, 5% failed and
// 5% not at all. It returns the accepted batches.
func benchLedger(b *testing.B, dsn string, keys [][16]byte) (*Store, NoticeRecord, []BatchClaim) {
	ctx := context.Background()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	notice, err := s.CreateNotice(ctx, benchNotice("individuals"))
	if err != nil {
		b.Fatal(err)
	}
	var accepted []BatchClaim
	i := 0
	for _, page := range benchPages(keys) {
		if _, err := s.Claim(ctx, notice.ID, page.batches, page.unreachable); err != nil {
			b.Fatal(err)
		}
		for _, bc := range page.batches {
			i++
			state := benchBatchState(i)
			if state == BatchQueued {
				continue
			}
			if err := s.MarkBatch(ctx, bc.Key, state, "msg-"+bc.Key, "", time.Time{}); err != nil {
				b.Fatal(err)
			}
			if state == BatchAccepted {
				accepted = append(accepted, bc)
			}
		}
	}
	return s, notice, accepted
}

// benchBatchState is what benchLedger makes of its i-th batch (from 1):
// 90% accepted, 5% failed, 5% queued.
func benchBatchState(i int) BatchState {
	switch i % 20 {
	case 0:
		return BatchQueued
	case 1:
		return BatchFailed
	}
	return BatchAccepted
}

// benchHeld is how many of keys (a key range) benchLedger leaves claimed
// as ClaimedBetween reports them: neither unreachable nor in a failed batch.
func benchHeld(all [][16]byte, keys [][16]byte) int {
	let := map[[16]byte]bool{}
	i := 0
	for _, page := range benchPages(all) {
		for _, u := range page.unreachable {
			let[u.Key] = true
		}
		for _, bc := range page.batches {
			i++
			if benchBatchState(i) == BatchFailed {
				for _, k := range bc.Subjects {
					let[k] = true
				}
			}
		}
	}
	n := 0
	for _, k := range keys {
		if !let[k] {
			n++
		}
	}
	return n
}

func benchSubjects(b *testing.B) int {
	if v := os.Getenv("BREACHCTL_BENCH_SUBJECTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("BREACHCTL_BENCH_SUBJECTS=%q: want a positive number", v)
		}
		return n
	}
	return 200_000
}

func benchNotice(audience string) NoticeRecord {
	return NoticeRecord{
		ID: "INC-BENCH/eu-gdpr-art34", IncidentID: "INC-BENCH", Rule: "eu-gdpr-art34", Audience: audience,
		SnapshotID: "snap_bench", Content: []byte(`{}`), ApprovedBy: "bench", ApprovedAt: time.Now(),
	}
}

// sortedBenchKeys makes n random-looking keys in ascending order, as
// ReadSnapshot pages through them.
func sortedBenchKeys(n int) [][16]byte {
	keys := make([][16]byte, n)
	for i := range keys {
		x := splitmix(uint64(i))
		binary.BigEndian.PutUint64(keys[i][:8], x)
		binary.BigEndian.PutUint64(keys[i][8:], splitmix(x))
	}
	slices.SortFunc(keys, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	return keys
}

type benchPage struct {
	batches     []BatchClaim
	unreachable []Unreachable
}

// benchPages splits keys into pages of 10,000 subjects: every 201st is
// unreachable, the others are dealt round-robin into batches of at most
// 1,000.
func benchPages(keys [][16]byte) iter.Seq2[int, benchPage] {
	const pageSize, batchSize = 10_050, 1000
	return func(yield func(int, benchPage) bool) {
		for p := 0; p*pageSize < len(keys); p++ {
			page := keys[p*pageSize : min((p+1)*pageSize, len(keys))]
			var bp benchPage
			var reachable [][16]byte
			for i, k := range page {
				if (p*pageSize+i)%201 == 200 {
					bp.unreachable = append(bp.unreachable, Unreachable{Key: k, Reason: "no_address"})
				} else {
					reachable = append(reachable, k)
				}
			}
			nb := (len(reachable) + batchSize - 1) / batchSize
			bp.batches = make([]BatchClaim, nb)
			for j := range bp.batches {
				bp.batches[j].Key = fmt.Sprintf("INC-BENCH/eu-gdpr-art34/p%d/b%d", p, j)
			}
			for i, k := range reachable {
				bp.batches[i%nb].Subjects = append(bp.batches[i%nb].Subjects, k)
			}
			if !yield(p, bp) {
				return
			}
		}
	}
}

// BenchmarkSnapshotRead reads a committed snapshot of N subjects
// (BREACHCTL_BENCH_SUBJECTS, default 200,000) in pages of 10,000, as the
// notifier does, payloads included (opened, with BREACHCTL_BENCH_SEALED=1).
// It reports subjects read per second.
// The target run:
//
//	BREACHCTL_BENCH_SUBJECTS=1000000 go test ./internal/store/ -run '^$' -bench BenchmarkSnapshotRead -benchtime 3x
func BenchmarkSnapshotRead(b *testing.B) {
	n := benchSubjects(b)
	const pageSize = 10_000
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			s := benchOpen(b, d.dsn(b))
			defer s.Close()
			w, err := s.NewSnapshot(ctx, "INC-BENCH", "benchmark")
			if err != nil {
				b.Fatal(err)
			}
			gen := newSubjectGen(n)
			batch := make([]Subject, pageSize)
			for i := range batch {
				batch[i].Payload = make([]byte, benchPayload)
			}
			for written := 0; written < n; {
				m := min(pageSize, n-written)
				for i := range m {
					gen.next(&batch[i])
				}
				if _, _, err := w.Add(ctx, batch[:m]); err != nil {
					b.Fatal(err)
				}
				written += m
			}
			info, err := w.Commit(ctx)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			b.ResetTimer()
			for range b.N {
				var after [16]byte
				read := 0
				for {
					page, err := s.ReadSnapshot(ctx, info.ID, after, pageSize)
					if err != nil {
						b.Fatal(err)
					}
					read += len(page)
					if len(page) < pageSize {
						break
					}
					after = page[len(page)-1].Key
				}
				if read != info.People {
					b.Fatalf("read %d subjects, want %d", read, info.People)
				}
			}
			b.ReportMetric(float64(info.People)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// benchOpen opens the store a benchmark measures; with
// BREACHCTL_BENCH_SEALED=1 it seals what it stores (WithKeys), to measure
// what encryption costs.
func benchOpen(b *testing.B, dsn string) *Store {
	var opts []Option
	if os.Getenv("BREACHCTL_BENCH_SEALED") == "1" {
		opts = append(opts, WithKeys(testKeyring(b, newEntry(b, "k1"))))
	}
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
