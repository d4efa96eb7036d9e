package e2e_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/sendgridtest"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/workflows"
)

// Stopping workers in the middle of a send (issue 14): `dev --no-worker`
// and worker processes against a loopback SendGrid that answers as slowly
// as the real one (2 s a request by default), stopped the way a deploy
// stops them (SIGTERM) or the way a crash does (SIGKILL), and restarted.
// Each run states what it injects; every run checks that nobody is missed
// and that the ledger's count of people mailed twice, which every view
// shows, is the sink's own.

// stopRun is one such run.
type stopRun struct {
	people  int
	workers int
	signal  syscall.Signal // SIGTERM or SIGKILL
	stops   int
	latency time.Duration
	// concurrency is each worker's Mail Send requests in flight.
	concurrency int
	// webhook: the sink posts signed "processed" events for every message
	// it takes to dev's Event Webhook endpoint, a second later.
	webhook bool
	// activity: breachctl asks the sink's Email Activity API about
	// attempts whose answer was lost.
	activity bool
	// wait is sending.unconfirmed.wait.
	wait time.Duration
	seed uint64
}

// stopResult is what a run measured.
type stopResult struct {
	elapsed     time.Duration
	mail        mailCount
	dupBatches  int
	ledger      store.NoticeProgress
	counts      incident.NoticeCounts
	deliveries  string // `deliveries -o json`
	stopsDone   int
	stopWaits   []time.Duration // SIGTERM: how long each worker took to exit
	notice      incident.Notice
	timeline    []string
	sinkStats   sendgridtest.Stats
	requestsLog []string
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// defaultStopRun reads the sizes shared by the stop tests from the
// environment: BREACHCTL_FAULT_PEOPLE (default 20,000), BREACHCTL_FAULT_STOPS
// (default 2), BREACHCTL_FAULT_LATENCY (default 2s), BREACHCTL_FAULT_CONCURRENCY
// (default 2: slow enough at 20,000 people to be stopped in), BREACHCTL_FAULT_SEED.
func defaultStopRun(sig syscall.Signal) stopRun {
	return stopRun{
		people: envInt("BREACHCTL_FAULT_PEOPLE", 20_000), workers: 2, signal: sig, stops: envInt("BREACHCTL_FAULT_STOPS", 2),
		latency: envDuration("BREACHCTL_FAULT_LATENCY", 2*time.Second), concurrency: envInt("BREACHCTL_FAULT_CONCURRENCY", 2),
		wait: 10 * time.Second, seed: uint64(envInt("BREACHCTL_FAULT_SEED", 1)),
	}
}

// TestFaultsSIGTERMWorkersDuringSend stops each of two workers with SIGTERM
// (what a deploy sends) while their requests are in flight, and restarts
// it. Injected: a 2 s SendGrid, stops mid-request. A stopping worker takes
// no new batch and lets the requests in flight finish and be recorded:
// nobody is mailed twice, and no batch is left unconfirmed.
func TestFaultsSIGTERMWorkersDuringSend(t *testing.T) {
	if testing.Short() {
		t.Skip("stops worker processes during a send (minutes)")
	}
	r := runStops(t, defaultStopRun(syscall.SIGTERM))
	if r.mail.twice != 0 || r.ledger.Twice != 0 || r.ledger.MaybeTwice != 0 || r.ledger.Resent != 0 {
		t.Errorf("after %d SIGTERMs: sink mailed %d people twice; ledger twice %d, maybe twice %d, resent %d batches; want none",
			r.stopsDone, r.mail.twice, r.ledger.Twice, r.ledger.MaybeTwice, r.ledger.Resent)
	}
	for i, d := range r.stopWaits {
		if d > 2*time.Minute {
			t.Errorf("worker stop %d took %s", i+1, d)
		}
	}
}

// TestFaultsKillWorkersDuringSend kills each of two workers with SIGKILL
// while their requests are in flight. Injected: a 2 s SendGrid, kills
// mid-request, so the sink has taken requests whose answers nobody reads.
// breachctl asks the sink's Email Activity API about each batch left
// "sending" and resends only what the sink does not list after the wait:
// at most the batches in flight at each kill go out again, and the
// ledger's count of people mailed twice equals the sink's exactly.
func TestFaultsKillWorkersDuringSend(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes during a send (minutes)")
	}
	run := defaultStopRun(syscall.SIGKILL)
	run.activity = true
	r := runStops(t, run)
	if bound := r.stopsDone * run.concurrency; r.dupBatches > bound {
		t.Errorf("%d batches sent twice after %d kills: more than the %d in flight", r.dupBatches, r.stopsDone, bound)
	}
	if r.ledger.Twice != r.mail.twice || r.counts.Twice != r.mail.twice {
		t.Errorf("mailed twice: sink %d, ledger %d, show %d; want the same number", r.mail.twice, r.ledger.Twice, r.counts.Twice)
	}
	if r.ledger.MaybeTwice != 0 {
		t.Errorf("ledger: %d people maybe mailed twice; the Email Activity API settles every lost attempt", r.ledger.MaybeTwice)
	}
}

// TestFaultsKillWorkersResendAfterWait kills workers as above with
// nothing to ask SendGrid: no Email Activity API, no Event Webhook. A batch
// left "sending" by a kill waits sending.unconfirmed.wait and is resent,
// counted: at most the batches in flight at each kill go out again, and
// the ledger's people "maybe mailed twice" are the sink's people mailed
// twice (the lost attempts were taken while the killed worker waited for
// the answer).
func TestFaultsKillWorkersResendAfterWait(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes during a send (minutes)")
	}
	run := defaultStopRun(syscall.SIGKILL)
	run.wait = 5 * time.Second
	r := runStops(t, run)
	if bound := r.stopsDone * run.concurrency; r.dupBatches > bound || r.ledger.Resent > bound {
		t.Errorf("after %d kills: %d batches taken twice, %d resent; at most the %d in flight", r.stopsDone, r.dupBatches, r.ledger.Resent, bound)
	}
	if r.mail.twice > r.ledger.MaybeTwice+r.ledger.Twice || r.counts.MaybeTwice != r.ledger.MaybeTwice {
		t.Errorf("mailed twice: sink %d; ledger twice %d, maybe twice %d; show maybe %d", r.mail.twice, r.ledger.Twice, r.ledger.MaybeTwice, r.counts.MaybeTwice)
	}
	if r.mail.twice != r.ledger.MaybeTwice {
		// Only a kill between the ledger's "sending" and the request's
		// last byte leaves an attempt the sink never had: logged, not failed.
		t.Logf("the sink mailed %d people twice, the ledger says %d maybe twice", r.mail.twice, r.ledger.MaybeTwice)
	}
}

// TestFaultsKillWorkersWithEventWebhook kills workers as above, without
// the Email Activity API but with SendGrid's Event Webhook on: the events
// of a batch whose answer was lost confirm it, so nothing is resent.
func TestFaultsKillWorkersWithEventWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes during a send (minutes)")
	}
	run := defaultStopRun(syscall.SIGKILL)
	run.webhook, run.wait = true, time.Minute
	r := runStops(t, run)
	if r.ledger.Resent != 0 || r.mail.twice != 0 || r.ledger.Twice != 0 || r.ledger.MaybeTwice != 0 {
		t.Errorf("with the Event Webhook: %d batches resent, sink mailed %d twice, ledger twice %d, maybe %d; want none",
			r.ledger.Resent, r.mail.twice, r.ledger.Twice, r.ledger.MaybeTwice)
	}
}

// runStops runs one stopRun and checks what every run must hold.
func runStops(t testing.TB, run stopRun) stopResult {
	t.Helper()
	dir := t.TempDir()
	var (
		mu     sync.Mutex
		events []map[string]any // for the Event Webhook, not posted yet
		taken  = map[string][]time.Time{}
	)
	sink := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.fault", Latency: run.latency, Seed: run.seed,
		Inspect: func(m *sendgridtest.Mail) {
			mu.Lock()
			defer mu.Unlock()
			key := m.CustomArgs[mailer.ArgBatch]
			taken[key] = append(taken[key], time.Now())
			if !run.webhook {
				return
			}
			for _, p := range m.Personalizations {
				for _, to := range p.To {
					events = append(events, map[string]any{"email": to.Email, "event": "processed", "timestamp": time.Now().Unix(),
						"sg_event_id":   fmt.Sprintf("ev-%s-%s-%s", key, m.CustomArgs[mailer.ArgAttempt], to.Email),
						mailer.ArgBatch: key, mailer.ArgAttempt: m.CustomArgs[mailer.ArgAttempt], mailer.ArgSubject: p.CustomArgs[mailer.ArgSubject]})
				}
			}
		}})
	defer sink.Close()

	sending := fmt.Sprintf("sending: {concurrency: %d, unconfirmed: {wait: %s, email_activity: %t}}\n", run.concurrency, run.wait, run.activity)
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML+sending), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite:" + filepath.Join(dir, "breachctl.db")
	env := map[string]string{"SENDGRID_API_KEY": "SG.fault", "SENDGRID_BASE_URL": sink.URL(), "BREACHCTL_NOTIFY": notifyPath, "BREACHCTL_STORE": dsn}
	var webhookKey *ecdsa.PrivateKey
	if run.webhook {
		var err error
		if webhookKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(&webhookKey.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.StdEncoding.EncodeToString(pub)
	}
	port, httpPort := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dev := startProcess(t, env, "breachctl dev is running", "dev", "--no-worker", "--data-dir", dir,
		"--port", fmt.Sprint(port), "--ui-port", "-1", "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort))
	defer func() {
		_ = dev.Process.Signal(syscall.SIGTERM)
		_ = dev.Wait()
	}()
	if run.webhook {
		// SendGrid posts events in batches, about a second after the fact.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
				mu.Lock()
				batch := events
				events = nil
				mu.Unlock()
				if len(batch) == 0 {
					continue
				}
				switch code, answer, err := postEvents(webhookKey, fmt.Sprintf("http://127.0.0.1:%d/sendgrid/events", httpPort), batch); {
				case err != nil:
					t.Logf("event webhook: %v", err) // dev stopping at the end of the run
				case code != http.StatusOK:
					t.Errorf("event webhook answered %d: %s", code, answer)
				}
			}
		}()
	}
	workerEnv := map[string]string{"TEMPORAL_ADDRESS": addr, "BREACHCTL_DATA_DIR": dir}
	for k, v := range env {
		workerEnv[k] = v
	}
	startWorker := func() *exec.Cmd { return startProcess(t, workerEnv, "", "worker") }
	workers := make([]*exec.Cmd, run.workers)
	for i := range workers {
		workers[i] = startWorker()
	}
	defer func() {
		for _, w := range workers {
			_ = w.Process.Signal(syscall.SIGTERM)
			_ = w.Wait()
		}
	}()

	c := cliRunner{t: t, address: addr, env: map[string]string{"BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_LOG_LEVEL": "warn", "BREACHCTL_STORE": dsn}}
	people := faultPeople(run.people)
	id := openScopedIncident(t, c, dir, people)
	cl, err := orchestrator.Dial(context.Background(), config.Temporal{Address: addr, Namespace: config.DefaultNamespace},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	noticeID := incident.NoticeID(id, "eu-gdpr-art34")
	sent := func() bool {
		d, err := cl.DescribeWorkflowExecution(context.Background(), workflows.NoticeWorkflowID(noticeID), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}

	var res stopResult
	rng := mrand.New(mrand.NewPCG(run.seed, 0x73746f70))
	start := time.Now()
	since := func() string { return fmt.Sprintf("+%.1fs", time.Since(start).Seconds()) }
	c.ok(nil, append([]string{"approve", id, "eu-gdpr-art34"}, faultNoticeTexts...)...)
	for res.stopsDone < run.stops && !sent() {
		// Stop a worker while requests are in flight: some time after the
		// sink has taken a request, with the latency running.
		before := sink.Requests()
		for sink.Requests() == before && !sent() {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(run.latency/4 + time.Duration(rng.Int64N(int64(run.latency/2+1))))
		if sent() {
			break
		}
		i := res.stopsDone % len(workers)
		w := workers[i]
		at := time.Now()
		if err := w.Process.Signal(run.signal); err != nil {
			t.Fatal(err)
		}
		_ = w.Wait()
		res.stopWaits = append(res.stopWaits, time.Since(at))
		res.stopsDone++
		res.timeline = append(res.timeline, fmt.Sprintf("%s %s worker %d (exited after %s; sink took %d requests, %d recipients)",
			since(), run.signal, i+1, time.Since(at).Round(10*time.Millisecond), sink.Requests(), sink.Recipients()))
		workers[i] = startWorker()
	}
	eventually(t, 15*time.Minute, "the notice to be sent", sent)
	res.elapsed = time.Since(start)

	var st incident.Status
	eventually(t, 2*time.Minute, "the incident to hear that the notice was sent", func() bool {
		code, out, _ := c.run("show", id, "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		nt := noticeOf(st, noticeID)
		return nt != nil && nt.State != incident.NoticeSending
	})
	res.notice = *noticeOf(st, noticeID)
	res.counts = res.notice.Counts
	res.mail = countMail(sink, people)
	res.ledger = ledgerProgress(t, dsn, noticeID)
	res.dupBatches = duplicateBatches(sink)
	res.sinkStats = sink.Stats()
	if code, out, errOut := c.run("deliveries", id, "-o", "json"); code == 0 {
		res.deliveries = out
	} else {
		t.Errorf("deliveries: exit %d: %s", code, errOut)
	}
	mu.Lock()
	for key, at := range taken {
		if len(at) > 1 {
			res.requestsLog = append(res.requestsLog, fmt.Sprintf("batch %s taken at +%.3fs and again at +%.3fs", key[strings.LastIndex(key, "/")+1:],
				at[0].Sub(start).Seconds(), at[1].Sub(start).Seconds()))
		}
	}
	mu.Unlock()

	t.Logf("%d people, %d workers, %d x %s, SendGrid latency %s, %d requests in flight per worker, webhook %t, Email Activity %t: sent in %s from approval; %s",
		run.people, run.workers, res.stopsDone, run.signal, run.latency, run.concurrency, run.webhook, run.activity,
		res.elapsed.Round(100*time.Millisecond), strings.Join(res.timeline, "; "))
	t.Logf("sink: %d people, %d mailed twice (%d extra emails, %d batches taken twice), missed %d; %d requests taken, %d abandoned by their client",
		res.mail.accepted, res.mail.twice, res.mail.extra, res.dupBatches, res.mail.missed, res.sinkStats.Accepted, res.sinkStats.Abandoned)
	t.Logf("ledger: %d accepted in %d batches, %d requests taken, %d resent (%d people), twice %d, maybe twice %d; show: %+v",
		res.ledger.Accepted, res.ledger.BatchesAccepted, res.ledger.Requests, res.ledger.Resent, res.ledger.ResentRecipients, res.ledger.Twice, res.ledger.MaybeTwice, res.counts)
	for _, l := range res.requestsLog {
		t.Log(l)
	}

	if res.mail.missed != 0 {
		t.Errorf("%d people were never mailed", res.mail.missed)
	}
	if res.notice.State != incident.NoticeSent || res.ledger.Accepted != run.people || res.counts.Accepted != run.people {
		t.Errorf("notice %s, ledger accepted %d, counts %+v; want sent, %d", res.notice.State, res.ledger.Accepted, res.counts, run.people)
	}
	// Every view counts from the ledger: deliveries says what show says.
	var reports []struct {
		Notice                    string
		Accepted, Requests        int
		Resent, Twice, MaybeTwice int
	}
	if err := json.Unmarshal([]byte(res.deliveries), &reports); err != nil || len(reports) != 1 || reports[0].Notice != noticeID {
		t.Errorf("deliveries -o json: %v: %s", err, res.deliveries)
	} else if d := reports[0]; d.Accepted != res.counts.Accepted || d.Requests != res.counts.Requests || d.Resent != res.counts.Retried ||
		d.Twice != res.counts.Twice || d.MaybeTwice != res.counts.MaybeTwice {
		t.Errorf("deliveries %+v, show %+v: one ledger, two answers", d, res.counts)
	}
	switch {
	case run.activity || run.webhook || run.signal == syscall.SIGTERM:
		// Every attempt's fate is known: the ledger's requests are the sink's.
		if res.ledger.Requests != res.sinkStats.Accepted {
			t.Errorf("the ledger counts %d requests taken, the sink %d", res.ledger.Requests, res.sinkStats.Accepted)
		}
	default:
		// The attempts lost with a killed worker may or may not have been
		// taken: at most the requests in flight at each kill.
		if lost := res.sinkStats.Accepted - res.ledger.Requests; lost < 0 || lost > res.stopsDone*run.concurrency {
			t.Errorf("the sink took %d requests; the ledger counts %d taken, after %d kills", res.sinkStats.Accepted, res.ledger.Requests, res.stopsDone)
		}
	}
	if c := clockOf(st, "eu-gdpr-art34"); c == nil || c.State != incident.ClockMet {
		t.Errorf("eu-gdpr-art34 after the notice: %+v", c)
	}
	return res
}

// postEvents posts Event Webhook events to url, signed as SendGrid signs
// them, and returns the answer's status and body.
func postEvents(key *ecdsa.PrivateKey, url string, events []map[string]any) (int, string, error) {
	body, _ := json.Marshal(events)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	digest := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return 0, "", err
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(mailer.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(mailer.TimestampHeader, ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), err
}

// BenchmarkNoticeAcrossWorkers sends one notice through one worker, then
// through two, against a SendGrid that answers in 2 s (the requests' own
// time dominates, as with the real service): pages of one notice spread
// over every worker polling the queue, so two send about twice as fast.
// BREACHCTL_BENCH_PEOPLE (default 100,000) and BREACHCTL_FAULT_LATENCY set
// the size; each worker has 8 requests in flight (the default).
//
//	go test ./internal/e2e/ -run '^$' -bench BenchmarkNoticeAcrossWorkers -benchtime 1x -timeout 30m
func BenchmarkNoticeAcrossWorkers(b *testing.B) {
	run := defaultStopRun(syscall.SIGTERM)
	run.people, run.stops, run.concurrency = envInt("BREACHCTL_BENCH_PEOPLE", 100_000), 0, 8
	for range b.N {
		var took [3]time.Duration
		for _, workers := range []int{1, 2} {
			r := run
			r.workers = workers
			took[workers] = runStops(b, r).elapsed
		}
		b.ReportMetric(took[1].Seconds(), "s/1-worker")
		b.ReportMetric(took[2].Seconds(), "s/2-workers")
		b.ReportMetric(took[2].Seconds()/took[1].Seconds(), "2-workers/1-worker")
	}
}
