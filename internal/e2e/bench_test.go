package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/app"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
)

func benchDev(b *testing.B) (*app.Dev, *orchestrator.Incidents, func()) {
	b.Helper()
	cfg, err := config.Load(func(k string) string { return shortClockEnv[k] })
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dev, err := app.StartDev(context.Background(), cfg, config.Dev{
		DataDir: b.TempDir(), IP: "127.0.0.1", UIPort: -1, HTTPAddr: "127.0.0.1:0", Retention: cfg.Retention,
	}, logger)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Temporal.Address = dev.Server.FrontendAddress()
	svc, closeFn, err := app.Connect(context.Background(), cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	return dev, svc, func() { closeFn(); dev.Stop() }
}

// openMany opens n incidents from `workers` goroutines and returns their IDs.
func openMany(b *testing.B, svc *orchestrator.Incidents, n, workers int, facts func(i int) incident.Facts) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				st, err := svc.Open(context.Background(), facts(i), "bench")
				if err != nil {
					errs <- fmt.Errorf("open %d: %w", i, err)
					return
				}
				ids[i] = st.ID
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return ids
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkClockFiringLatency opens incidents whose GDPR clock is due a few
// seconds ahead and measures how long after its due time each one went
// overdue on the embedded server. Run with -benchtime 1x.
//
//	go test ./internal/e2e -run '^$' -bench ClockFiring -benchtime 1x
func BenchmarkClockFiringLatency(b *testing.B) {
	n := envInt("BREACHCTL_BENCH_CLOCKS", 50)
	_, svc, stop := benchDev(b)
	defer stop()
	for range b.N {
		aware := time.Now().UTC().Add(-72*time.Hour + 8*time.Second)
		ids := openMany(b, svc, n, 8, func(int) incident.Facts {
			return incident.Facts{Title: "clock bench", AwareAt: aware, Regions: []string{"EU"}}
		})
		due := aware.Truncate(time.Second).Add(72 * time.Hour)
		time.Sleep(time.Until(due))
		var late []time.Duration
		deadline := time.Now().Add(30 * time.Second)
		for _, id := range ids {
			for {
				st, err := svc.Show(context.Background(), id)
				if err != nil {
					b.Fatal(err)
				}
				if c := clockOf(st, "eu-gdpr-art33"); c != nil && c.OverdueAt != nil {
					late = append(late, c.OverdueAt.Sub(*c.Due))
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%s never went overdue", id)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		slices.Sort(late)
		b.ReportMetric(float64(late[len(late)/2].Milliseconds()), "p50-late-ms")
		b.ReportMetric(float64(late[len(late)*99/100].Milliseconds()), "p99-late-ms")
		b.ReportMetric(float64(late[len(late)-1].Milliseconds()), "max-late-ms")
	}
}

// BenchmarkListOpenIncidents measures `list` (one visibility query, paged)
// over many open incidents on the embedded server. The number comes from
// BREACHCTL_BENCH_INCIDENTS (default 1000; the target is 10000).
//
//	BREACHCTL_BENCH_INCIDENTS=10000 go test ./internal/e2e -run '^$' -bench ListOpen -timeout 60m
func BenchmarkListOpenIncidents(b *testing.B) {
	n := envInt("BREACHCTL_BENCH_INCIDENTS", 1000)
	_, svc, stop := benchDev(b)
	defer stop()
	aware := time.Now().UTC().Add(-time.Hour)
	start := time.Now()
	openMany(b, svc, n, 32, func(i int) incident.Facts {
		return incident.Facts{Title: fmt.Sprintf("incident %d", i), AwareAt: aware.Add(-time.Duration(i) * time.Second),
			Regions: []string{"EU"}, Severity: incident.SeverityHigh}
	})
	opened := time.Since(start)
	// Visibility is updated asynchronously; wait until every incident shows.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := svc.List(context.Background(), orchestrator.ListFilter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d incidents listed after two minutes", len(rows), n)
		}
		time.Sleep(time.Second)
	}
	b.ResetTimer()
	for range b.N {
		rows, err := svc.List(context.Background(), orchestrator.ListFilter{})
		if err != nil || len(rows) != n {
			b.Fatalf("list: %d rows, %v", len(rows), err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/opened.Seconds(), "opened/s")
}
