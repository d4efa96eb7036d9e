package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/benchstat"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/risk"
	"github.com/breachctl/breachctl/internal/sendgridtest"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/templates"
	"github.com/breachctl/breachctl/workflows"
)

var benchPlaces = []struct{ country, locale string }{
	{"DE", "de-DE"}, {"FR", "fr-FR"}, {"ES", "es-ES"}, {"IE", "en-IE"}, {"PT", "pt-BR"}, {"IT", "it-IT"},
}

// writeBenchSnapshot stores n people straight into a snapshot (scoping is
// measured on its own) and returns its reference for the incident.
func writeBenchSnapshot(b *testing.B, dsn, incidentID string, n int) incident.SnapshotRef {
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := st.NewSnapshot(ctx, incidentID, "benchmark")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort(ctx)
	emailBit := uint64(1) << 1 // incident.DataCategories: name, email, ...
	batch := make([]store.Subject, 0, 10_000)
	for i := range n {
		p := benchPlaces[i%len(benchPlaces)]
		key := sha256.Sum256([]byte("id:bench-" + strconv.Itoa(i)))
		payload, _ := json.Marshal(map[string]string{
			"id": "bench-" + strconv.Itoa(i), "email": "person-" + strconv.Itoa(i) + "@example.org",
			"name": "Person " + strconv.Itoa(i), "locale": p.locale, "country": p.country,
		})
		batch = append(batch, store.Subject{Key: [16]byte(key[:16]), Jurisdiction: p.country, Categories: 1 | emailBit, Locale: p.locale, Payload: payload})
		if len(batch) == cap(batch) || i == n-1 {
			if _, _, err := w.Add(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	info, err := w.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ref := incident.SnapshotRef{ID: info.ID, At: info.CommittedAt, Systems: []string{"accounts"}, Window: "benchmark", People: info.People,
		Categories: []string{"name", "email"}}
	for region, people := range info.ByJurisdiction {
		ref.Affected = append(ref.Affected, incident.Residents{Region: region, Count: people})
	}
	return ref
}

// BenchmarkNotifyMillion notifies 1,000,000 people end to end on the
// embedded server: snapshot → incident workflow → notice workflow → page
// activities → the ledger → a loopback SendGrid. It reports the time from
// approval to the notice's completion, recipients per second, the peak RSS
// of the whole process (embedded Temporal server, worker and sink
// together: the worker alone is less), and, as the ceiling, the same
// number of 1,000-recipient batches posted straight to a loopback sink from
// one process, with the ratio of the two. BREACHCTL_BENCH_PEOPLE changes
// the count; BREACHCTL_BENCH_STORE=postgres://... uses PostgreSQL for the
// store; BREACHCTL_BENCH_PARTITIONS, _PAGE_SIZE and _CONCURRENCY change the
// sending settings (default 4, 10,000 and 8, the notify defaults).
//
//	go test ./internal/e2e/ -run '^$' -bench BenchmarkNotifyMillion -benchtime 1x -timeout 30m
func BenchmarkNotifyMillion(b *testing.B) {
	total := envInt("BREACHCTL_BENCH_PEOPLE", 1_000_000)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.bench"})
		notifyPath := filepath.Join(dir, "notify.yaml")
		sending := fmt.Sprintf("sending: {partitions: %d, page_size: %d, concurrency: %d}\n",
			envInt("BREACHCTL_BENCH_PARTITIONS", 4), envInt("BREACHCTL_BENCH_PAGE_SIZE", 10_000), envInt("BREACHCTL_BENCH_CONCURRENCY", 8))
		if err := os.WriteFile(notifyPath, []byte(notifyYAML+sending), 0o600); err != nil {
			b.Fatal(err)
		}
		dsn := os.Getenv("BREACHCTL_BENCH_STORE")
		if dsn == "" {
			dsn = "sqlite:" + filepath.Join(dir, "breachctl.db")
		}
		env := map[string]string{"SENDGRID_API_KEY": "SG.bench", "SENDGRID_BASE_URL": sink.URL(), "BREACHCTL_NOTIFY": notifyPath, "BREACHCTL_STORE": dsn}
		dev := startDevEnv(b, dir, env)
		svc, closeSvc := benchService(b, dev.Server.FrontendAddress(), dev.Server.Namespace())

		aware := time.Now().UTC().Add(-time.Hour)
		st, err := svc.Open(ctx, incident.Facts{Title: "Account database copied", AwareAt: aware, Systems: []string{"accounts"},
			DataCategories: []string{"name", "email", "password_hash"}, Regions: []string{"EU"}, Severity: incident.SeverityHigh,
			Risk: &risk.Override{Level: risk.High, Justification: "password hashes and addresses together"}}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		ref := writeBenchSnapshot(b, dsn, st.ID, total)
		if _, err := svc.Scope(ctx, st.ID, ref, "bench"); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		benchstat.ResetPeakRSS()
		b.StartTimer()

		stopHeap := sampleHeap()
		start, cpuStart := time.Now(), benchstat.CPUTime()
		st, err = svc.Approve(ctx, st.ID, workflows.ApproveRequest{Rules: []string{"eu-gdpr-art34"}, Actor: "bench",
			Texts: benchTexts})
		if err != nil {
			b.Fatal(err)
		}
		noticeID := incident.NoticeID(st.ID, "eu-gdpr-art34")
		var p workflows.NoticeProgress
		for {
			p, err = svc.NoticeProgress(ctx, noticeID)
			if err != nil {
				b.Fatal(err)
			}
			if p.State != incident.NoticeSending {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed, cpu := time.Since(start), benchstat.CPUTime()-cpuStart
		b.StopTimer()
		peak, peakHeap := benchstat.PeakRSS(), stopHeap()
		if p.State != incident.NoticeSent || p.Counts.Accepted != total || sink.Recipients() != total {
			b.Fatalf("notice %s: %+v; the sink has %d recipients, want %d", p.State, p.Counts, sink.Recipients(), total)
		}
		duplicates := duplicateBatches(sink)
		closeSvc()
		dev.Stop()
		sink.Close()

		baseline := directSend(b, total)
		b.ReportMetric(elapsed.Seconds(), "s/notice")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "recipients/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
		b.ReportMetric(baseline.Seconds(), "s/direct-send")
		b.ReportMetric(elapsed.Seconds()/baseline.Seconds(), "x-direct")
		b.ReportMetric(float64(duplicates), "duplicate-batches")
		b.StartTimer()
	}
}

var benchTexts = activities.NoticeTexts{
	WhatHappened:       "On 20 November an attacker copied part of our account database, including names, email addresses and password hashes.",
	MeasuresTaken:      "We reset every password and revoked every API key.",
	LikelyConsequences: "Someone could try your password on other sites.",
	WhatYouCanDo:       "Change your password wherever you used the same one.",
}

// duplicateBatches counts batch keys the sink accepted more than once.
func duplicateBatches(sink *sendgridtest.Server) int {
	seen := map[string]int{}
	dups := 0
	for _, r := range sink.AcceptedRequests() {
		key := r.CustomArgs[mailer.ArgBatch]
		seen[key]++
		if seen[key] == 2 {
			dups++
		}
	}
	return dups
}

// directSend posts total recipients in 1,000-recipient batches of the same
// rendered notice straight to a loopback sink with the notifier's
// concurrency: the ceiling the orchestrated send is measured against.
func directSend(b *testing.B, total int) time.Duration {
	sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.bench"})
	defer sink.Close()
	const senders = 8
	m := mailer.NewSendGrid("SG.bench", mailer.SendGridOptions{BaseURL: sink.URL(), Concurrency: senders})
	r, err := templates.Render(templates.Individuals, "de", templates.NoticeData{
		Organisation: templates.Organisation{Name: "Pixelcrunch GmbH", ContactName: "DPO", ContactEmail: "privacy@pixelcrunch.example"},
		IncidentID:   "INC-20261123-BENCH", NoticeDate: time.Now(), DiscoveredAt: time.Now(),
		WhatHappened: benchTexts.WhatHappened, MeasuresTaken: benchTexts.MeasuresTaken, DataCategories: []string{"name", "email"},
		LikelyConsequences: benchTexts.LikelyConsequences, WhatYouCanDo: benchTexts.WhatYouCanDo,
	})
	if err != nil {
		b.Fatal(err)
	}
	pages := (total + mailer.MaxRecipients - 1) / mailer.MaxRecipients
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	start := time.Now()
	for range senders {
		wg.Go(func() {
			batch := mailer.Batch{From: mailer.Address{Email: "privacy@pixelcrunch.example"}, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
				Categories: []string{"breach-notice"}, Recipients: make([]mailer.Recipient, mailer.MaxRecipients)}
			for {
				page := int(next.Add(1)) - 1
				if page >= pages {
					return
				}
				batch.Key = "direct/" + strconv.Itoa(page)
				batch.CustomArgs = map[string]string{"incident": "INC-20261123-BENCH", "notice": "INC-20261123-BENCH/eu-gdpr-art34"}
				batch.Recipients = batch.Recipients[:min(mailer.MaxRecipients, total-page*mailer.MaxRecipients)]
				for i := range batch.Recipients {
					n := strconv.Itoa(page*mailer.MaxRecipients + i)
					batch.Recipients[i] = mailer.Recipient{Email: "person-" + n + "@example.org", Name: "Person " + n, ID: fmt.Sprintf("%032d", page*mailer.MaxRecipients+i)}
				}
				if _, err := m.Send(context.Background(), batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}

func benchService(b *testing.B, address, namespace string) (*orchestrator.Incidents, func()) {
	c, err := orchestrator.Dial(context.Background(), config.Temporal{Address: address, Namespace: namespace}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	svc := orchestrator.NewIncidents(c, nil, config.DefaultTaskQueue, address, namespace)
	svc.AnswerTimeout = time.Minute
	return svc, c.Close
}

// sampleHeap samples the Go heap (live and not yet collected objects)
// every 20 ms until the returned function is called, which returns the
// peak: the memory the process's Go code holds, without the pages of the
// SQLite file it maps.
func sampleHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}
