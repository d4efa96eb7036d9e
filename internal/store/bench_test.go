package store

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"runtime"
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
				s, err := Open(ctx, d.dsn(b))
				if err != nil {
					b.Fatal(err)
				}
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
