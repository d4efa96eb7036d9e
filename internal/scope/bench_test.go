package scope

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/sources"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/internal/testpg"
)

var benchCountries = []struct{ country, region string }{
	{"DE", ""}, {"FR", ""}, {"US", "CA"}, {"US", "NY"}, {"BR", ""}, {"GB", ""}, {"IE", ""}, {"US", "TX"},
}

// writeAffected writes n rows: every 1000th has a bad email, every 100th
// repeats the person of the row before it. It returns the exact expected
// people and rejections.
func writeAffected(path string, n int) (people, rejected, duplicates int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,email,name,locale,country,region,seen_at")
	seen := "2026-11-19T23:00:00Z"
	id := 0
	for i := 1; i <= n; i++ {
		c := benchCountries[i%len(benchCountries)]
		email := "user" + strconv.Itoa(id) + "@example.com"
		switch {
		case i%1000 == 0:
			email = "not-an-email"
			rejected++
		case i%100 == 0 && id > 0:
			duplicates++ // same id as the previous row
		default:
			id++
			people++
			email = "user" + strconv.Itoa(id) + "@example.com"
		}
		fmt.Fprintf(w, "u%d,%s,Person %d,en-US,%s,%s,%s\n", id, email, id, c.country, c.region, seen)
	}
	return people, rejected, duplicates, w.Flush()
}

// BenchmarkScopeCSV scopes a file of N affected people (default 200,000;
// BREACHCTL_BENCH_ROWS=1000000 for the target) end to end: read, validate,
// merge, retention, snapshot into the store, counts. It checks the counts are
// exact and reports rows/s and the peak heap.
//
//	BREACHCTL_BENCH_ROWS=1000000 go test ./internal/scope -run '^$' -bench ScopeCSV -benchtime 1x
func BenchmarkScopeCSV(b *testing.B) {
	n := 200000
	if v, err := strconv.Atoi(os.Getenv("BREACHCTL_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "affected.csv")
	people, rejected, dups, err := writeAffected(path, n)
	if err != nil {
		b.Fatal(err)
	}
	dm, err := datamap.Parse("map.yaml", []byte(testMap))
	if err != nil {
		b.Fatal(err)
	}
	sys, _ := dm.System("uploads")
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			for range b.N {
				st := benchStore(b, dialect, dir)
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				fields := sources.FieldsFor(sys)
				fields.FixedSystem = "uploads"
				var peak atomic.Uint64
				stop := samplePeak(&peak)
				start := time.Now()
				rep, err := Run(context.Background(), st, Request{Map: dm, Systems: []string{"uploads"}, Window: window,
					Sources: []sources.Source{sources.CSV("affected.csv", f, fields)}}, nil)
				elapsed := time.Since(start)
				stop()
				f.Close()
				st.Close()
				if err != nil {
					b.Fatal(err)
				}
				if rep.People != people || rep.Rejected != rejected || rep.Duplicates != dups {
					b.Fatalf("people %d rejected %d duplicates %d; want %d %d %d", rep.People, rep.Rejected, rep.Duplicates, people, rejected, dups)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
			}
		})
	}
}

func benchStore(b *testing.B, dialect, dir string) *store.Store {
	b.Helper()
	if dialect == "sqlite" {
		st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, fmt.Sprintf("s%d.db", time.Now().UnixNano())))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	st, err := store.Open(context.Background(), testpg.DB(b))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// samplePeak samples the live heap every 20 ms until stopped.
func samplePeak(peak *atomic.Uint64) func() {
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}
