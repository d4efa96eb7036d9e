package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slacktest"
)

// BenchmarkSlackCommandBurst sends bursts of 50 signed slash commands at
// once to dev's Slack endpoint (a mix of status, list, note and help) and
// reports how long Slack waits for each acknowledgement: p50, p99 and max
// over all bursts. The work behind them goes on through response URLs.
//
//	go test ./internal/e2e/ -run '^$' -bench BenchmarkSlackCommandBurst -benchtime 20x
func BenchmarkSlackCommandBurst(b *testing.B) {
	dir := b.TempDir()
	sl := slacktest.NewServer(slacktest.Options{})
	defer sl.Close()
	dev := startDevEnv(b, dir, map[string]string{"SLACK_SIGNING_SECRET": slackSecret, "SLACK_BOT_TOKEN": sl.Token(), "SLACK_API_URL": sl.APIURL()})
	defer dev.Stop()
	svc, closeSvc := benchService(b, dev.Server.FrontendAddress(), dev.Server.Namespace())
	defer closeSvc()
	st, err := svc.Open(b.Context(), incident.Facts{Title: "Burst", AwareAt: time.Now().UTC().Add(-time.Hour), DataCategories: []string{"email"},
		Regions: []string{"DE"}, Severity: incident.SeverityHigh}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	texts := []string{"status " + st.ID, "list", "note " + st.ID + " burst note", "help", "status"}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			form := url.Values{"command": {"/breach"}, "text": {texts[i%len(texts)]}, "user_id": {"U0BENCH"}, "team_id": {"T1"},
				"channel_id": {"C1"}, "response_url": {sl.NewResponseURL()}, "trigger_id": {"t"}}
			body := form.Encode()
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			mac := hmac.New(sha256.New, []byte(slackSecret))
			mac.Write([]byte("v0:" + ts + ":" + body))
			sig := "v0=" + hex.EncodeToString(mac.Sum(nil))
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, "http://"+dev.HTTPAddr+"/slack/commands", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Slack-Request-Timestamp", ts)
				req.Header.Set("X-Slack-Signature", sig)
				<-start
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(latencies)
	q := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
}
