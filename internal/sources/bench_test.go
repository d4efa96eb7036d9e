package sources

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The benchmarks read BREACHCTL_BENCH_ROWS generated people (default
// 200,000; one in 1,000 with an invalid email) and report rows per second
// and the peak heap, sampled during the run. The peak must not grow with the
// number of rows:
//
//	BREACHCTL_BENCH_ROWS=1000000 go test ./internal/sources -run '^$' -bench . -benchtime 3x
func benchRows(b *testing.B) int {
	n := 200_000
	if s := os.Getenv("BREACHCTL_BENCH_ROWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("BREACHCTL_BENCH_ROWS=%q: want a positive number of rows", s)
		}
		n = v
	}
	return n
}

const benchBadEvery = 1000

// heapSampler records the largest live heap seen every few milliseconds.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func sampleHeap() *heapSampler {
	runtime.GC() // start from the live heap, not the garbage of the setup
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			h.peak = max(h.peak, m.HeapAlloc)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Peak stops sampling and returns the peak heap in MB.
func (h *heapSampler) Peak() float64 {
	close(h.stop)
	h.done.Wait()
	return float64(h.peak) / (1 << 20)
}

// benchSource reads the source that open makes, once per iteration.
func benchSource(b *testing.B, rows int, open func() (Source, func())) {
	var ok, bad int
	var mallocs uint64
	var m0, m1 runtime.MemStats
	heap := sampleHeap()
	for b.Loop() {
		ok, bad = 0, 0
		src, done := open()
		runtime.ReadMemStats(&m0)
		err := src.Read(context.Background(), func(Record) error { ok++; return nil }, func(Rejection) { bad++ })
		runtime.ReadMemStats(&m1)
		done()
		if err != nil {
			b.Fatal(err)
		}
		mallocs = m1.Mallocs - m0.Mallocs
	}
	peak := heap.Peak()
	if ok+bad != rows || bad != rows/benchBadEvery {
		b.Fatalf("%d records and %d rejections from %d rows", ok, bad, rows)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(peak, "peak-heap-MB")
	b.ReportMetric(float64(mallocs)/float64(rows), "allocs/row")
}

func benchFile(b *testing.B, ext string, write func(*os.File, int, int) error, source func(name string, f *os.File) Source) {
	rows := benchRows(b)
	path := filepath.Join(b.TempDir(), "people"+ext)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := write(f, rows, benchBadEvery); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchSource(b, rows, func() (Source, func()) {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		return source(filepath.Base(path), f), func() { f.Close() }
	})
}

func BenchmarkCSV(b *testing.B) {
	benchFile(b, ".csv",
		func(f *os.File, n, bad int) error { return writeCSV(f, n, bad) },
		func(name string, f *os.File) Source { return CSV(name, f, Fields{CountryFromLocale: true}) })
}

func BenchmarkJSONL(b *testing.B) {
	benchFile(b, ".jsonl",
		func(f *os.File, n, bad int) error { return writeJSONL(f, n, bad) },
		func(name string, f *os.File) Source { return JSONL(name, f, Fields{CountryFromLocale: true}) })
}

func BenchmarkPostgres(b *testing.B) {
	rows := benchRows(b)
	pool := testDB(b)
	if err := loadPeople(context.Background(), pool, rows, benchBadEvery); err != nil {
		b.Fatalf("load %d people: %v", rows, err)
	}
	query := `SELECT id, email, name, locale, country, region, categories, system, seen_at FROM people
		WHERE seen_at >= $1 AND seen_at < $2 AND system = ANY($3)`
	args := WindowArgs(epoch, epoch.AddDate(0, 2, 0), systemIDs)
	benchSource(b, rows, func() (Source, func()) {
		return Postgres(pool, query, args, Fields{CountryFromLocale: true}), func() {}
	})
}
