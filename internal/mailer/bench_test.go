package mailer

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/benchstat"
	"github.com/breachctl/breachctl/internal/sendgridtest"
)

const (
	benchText = "Dear {{recipient_name}},\n\nWe are writing to tell you about a personal data breach that affects you " +
		"(reference {{case_ref}}). On 19 November an access misconfiguration exposed files uploaded to our service. " +
		"The data involved: your email address and the files you uploaded. What we have done: we closed the access " +
		"within five hours and reviewed every access made in that time. What you can do: be wary of messages that " +
		"refer to your uploads and ask for credentials. Our data protection officer can be reached at " +
		"dpo@example.com.\n\nExample Ltd\n"
	benchHTML = "<p>Dear {{recipient_name}},</p><p>We are writing to tell you about a personal data breach that " +
		"affects you (reference <b>{{case_ref}}</b>). On 19 November an access misconfiguration exposed files " +
		"uploaded to our service.</p><p>The data involved: your email address and the files you uploaded.</p><p>What " +
		"we have done: we closed the access within five hours and reviewed every access made in that time.</p><p>What " +
		"you can do: be wary of messages that refer to your uploads and ask for credentials. Our data protection " +
		"officer can be reached at <a href=\"mailto:dpo@example.com\">dpo@example.com</a>.</p><p>Example Ltd</p>"
)

// benchBatch is page-th batch of n recipients, all distinct across pages.
func benchBatch(page, n int) Batch {
	b := Batch{
		From:       Address{Email: "privacy@example.com", Name: "Example Privacy Team"},
		Subject:    "Important: a personal data breach affecting your account",
		Text:       benchText,
		HTML:       benchHTML,
		CustomArgs: map[string]string{"incident": "INC-20261120-7K3QX", "rule": "eu-gdpr-art34"},
		Categories: []string{"breach-notice"},
		Recipients: make([]Recipient, n),
	}
	fillBenchBatch(&b, page)
	return b
}

// fillBenchBatch rewrites b's key and recipients for page, reusing their maps.
func fillBenchBatch(b *Batch, page int) {
	b.Key = "INC-20261120-7K3QX/eu-gdpr-art34/page-" + strconv.Itoa(page)
	for i := range b.Recipients {
		n := strconv.Itoa(page*len(b.Recipients) + i)
		r := &b.Recipients[i]
		r.Email = "subject-" + n + "@example.org"
		r.Name = "Person " + n
		r.ID = "s-" + n
		if r.Substitutions == nil {
			r.Substitutions = make(map[string]string, 1)
		}
		r.Substitutions["case_ref"] = "R-" + n
	}
}

// BenchmarkSendMillion sends 1,000,000 recipients in 1,000-recipient batches
// with 4 concurrent senders to a sendgridtest server in the same process,
// which decodes, validates and records every request. It reports the wall
// time of the whole send, recipients per second, the CPU time the process
// spent (sender and sink together) and the peak RSS (VmHWM) of the process,
// sink included. BREACHCTL_BENCH_RECIPIENTS changes the count.
//
//	go test ./internal/mailer/ -run '^$' -bench BenchmarkSendMillion -benchtime 1x
func BenchmarkSendMillion(b *testing.B) {
	total := 1_000_000
	if v := os.Getenv("BREACHCTL_BENCH_RECIPIENTS"); v != "" {
		var err error
		if total, err = strconv.Atoi(v); err != nil || total <= 0 {
			b.Fatalf("BREACHCTL_BENCH_RECIPIENTS=%q: want a positive number", v)
		}
	}
	const senders = 4
	pages := (total + MaxRecipients - 1) / MaxRecipients
	ctx := context.Background()

	var elapsed, cpu time.Duration
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.bench"})
		m := NewSendGrid("SG.bench", SendGridOptions{BaseURL: sink.URL(), Concurrency: senders})
		runtime.GC()
		benchstat.ResetPeakRSS()
		b.StartTimer()

		start, cpuStart := time.Now(), benchstat.CPUTime()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for range senders {
			wg.Go(func() {
				batch := benchBatch(0, MaxRecipients)
				for {
					page := int(next.Add(1)) - 1
					if page >= pages {
						return
					}
					batch.Recipients = batch.Recipients[:min(MaxRecipients, total-page*MaxRecipients)]
					fillBenchBatch(&batch, page)
					if _, err := m.Send(ctx, batch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		cpu += benchstat.CPUTime() - cpuStart

		b.StopTimer()
		peak = max(peak, benchstat.PeakRSS())
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		if got := sink.Recipients(); got != total {
			b.Fatalf("sink recorded %d recipients, want %d", got, total)
		}
		for _, n := range []int{0, total / 2, total - 1} {
			if c := sink.RecipientCount("subject-" + strconv.Itoa(n) + "@example.org"); c != 1 {
				b.Fatalf("recipient %d mailed %d times", n, c)
			}
		}
		sink.Close()
		b.StartTimer()
	}
	secs := elapsed.Seconds() / float64(b.N)
	b.ReportMetric(secs, "s/send")
	b.ReportMetric(float64(total)/secs, "recipients/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/send")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
}
