package devserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/headers"
	sqliteschema "go.temporal.io/server/schema/sqlite"

	"github.com/breachctl/breachctl/internal/devserver"
)

const (
	testNamespace     = "breachctl-test"
	taskQueue         = "devserver-test"
	timerWorkflowName = "DevserverTestTimer"
	timerDuration     = 2 * time.Second

	// childDirEnv makes TestChildServer run a server on the directory it
	// names; see TestTimerSurvivesSIGKILL.
	childDirEnv = "BREACHCTL_DEVSERVER_TEST_CHILD_DIR"
)

// timerWorkflow waits on a durable timer, then returns "fired".
func timerWorkflow(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	return "fired", nil
}

func testOptions(dir string) devserver.Options {
	return devserver.Options{
		DataDir:   dir,
		Namespace: testNamespace,
		Retention: 45 * 24 * time.Hour,
		UIPort:    -1,
		SearchAttributes: map[string]enumspb.IndexedValueType{
			"IncidentID": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			"Severity":   enumspb.INDEXED_VALUE_TYPE_INT,
		},
		Logger: testLogger(),
	}
}

// testLogger shows the server's warnings and errors when
// BREACHCTL_DEVSERVER_TEST_LOG is set. It writes to stderr rather than t.Log:
// server goroutines may still log after a test ends.
func testLogger() *slog.Logger {
	if os.Getenv("BREACHCTL_DEVSERVER_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, ctx context.Context, opts devserver.Options) *devserver.Server {
	t.Helper()
	s, err := devserver.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func dial(t *testing.T, ctx context.Context, s *devserver.Server) client.Client {
	t.Helper()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.FrontendAddress(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	t.Cleanup(c.Close)
	return c
}

func startWorker(t *testing.T, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(timerWorkflow, workflow.RegisterOptions{Name: timerWorkflowName})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

func checkNamespace(t *testing.T, ctx context.Context, c client.Client, retention time.Duration,
	attrs map[string]enumspb.IndexedValueType,
) {
	t.Helper()
	desc, err := c.WorkflowService().DescribeNamespace(ctx,
		&workflowservice.DescribeNamespaceRequest{Namespace: testNamespace})
	if err != nil {
		t.Fatalf("DescribeNamespace: %v", err)
	}
	if got := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != retention {
		t.Errorf("retention = %s, want %s", got, retention)
	}
	list, err := c.OperatorService().ListSearchAttributes(ctx,
		&operatorservice.ListSearchAttributesRequest{Namespace: testNamespace})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	for name, typ := range attrs {
		if got, ok := list.GetCustomAttributes()[name]; !ok || got != typ {
			t.Errorf("search attribute %s = %s (registered: %t), want %s", name, got, ok, typ)
		}
	}
}

func TestStartConfiguresNamespaceOnEveryBoot(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "data") // Start creates it
	opts := testOptions(dir)

	s := start(t, ctx, opts)
	if s.UIAddress() != "" {
		t.Errorf("UIAddress = %q with the UI disabled, want empty", s.UIAddress())
	}
	if want := filepath.Join(dir, devserver.DBFileName); s.DBPath() != want {
		t.Errorf("DBPath = %q, want %q", s.DBPath(), want)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	checkNamespace(t, ctx, dial(t, ctx, s), opts.Retention, opts.SearchAttributes)
	body := get(t, ctx, "http://"+s.HTTPAddress()+"/api/v1/namespaces/"+testNamespace)
	if !bytes.Contains(body, []byte(testNamespace)) {
		t.Errorf("the HTTP API does not describe %s:\n%s", testNamespace, body)
	}

	var m struct {
		TemporalServer string `json:"temporal_server"`
		SQLiteSchema   string `json:"sqlite_schema"`
	}
	b, err := os.ReadFile(filepath.Join(dir, devserver.MarkerFileName))
	if err != nil {
		t.Fatalf("read marker: %v", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("marker %s: %v", b, err)
	}
	if m.TemporalServer != headers.ServerVersion || m.SQLiteSchema != sqliteschema.Version {
		t.Errorf("marker = %+v, want server %s, schema %s", m, headers.ServerVersion, sqliteschema.Version)
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// The next release asks for another retention and one more attribute.
	opts.Retention = 60 * 24 * time.Hour
	opts.SearchAttributes["NotifiedAt"] = enumspb.INDEXED_VALUE_TYPE_DATETIME
	s = start(t, ctx, opts)
	checkNamespace(t, ctx, dial(t, ctx, s), opts.Retention, opts.SearchAttributes)
}

func TestWebUIServesNamespaces(t *testing.T) {
	ctx := testContext(t)
	opts := testOptions(t.TempDir())
	opts.UIPort = 0
	s := start(t, ctx, opts)
	if !strings.HasPrefix(s.UIAddress(), "http://127.0.0.1:") {
		t.Fatalf("UIAddress = %q", s.UIAddress())
	}

	get(t, ctx, s.UIAddress()+"/")
	if body := get(t, ctx, s.UIAddress()+"/api/v1/namespaces"); !bytes.Contains(body, []byte(testNamespace)) {
		t.Errorf("the UI's API does not list %s:\n%s", testNamespace, body)
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := http.Get(s.UIAddress() + "/healthz"); err == nil {
		t.Errorf("the UI still answers after Stop")
	}
}

// get fetches url and fails the test unless the answer is 200 OK.
func get(t *testing.T, ctx context.Context, url string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return body
}

// startTimer starts timerWorkflow and returns its run once the server has
// recorded the timer, with the time the timer falls due.
func startTimer(t *testing.T, ctx context.Context, c client.Client) (client.WorkflowRun, time.Time) {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "timer-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		TaskQueue: taskQueue,
	}, timerWorkflowName, timerDuration)
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	ev := waitForEvent(t, ctx, c, run, enumspb.EVENT_TYPE_TIMER_STARTED)
	return run, ev.GetEventTime().AsTime().Add(timerDuration)
}

// waitForEvent polls the run's history until an event of type typ appears.
func waitForEvent(t *testing.T, ctx context.Context, c client.Client, run client.WorkflowRun,
	typ enumspb.EventType,
) *historypb.HistoryEvent {
	t.Helper()
	for {
		if ev := findEvent(ctx, c, run, typ); ev != nil {
			return ev
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s event in workflow %s: %v", typ, run.GetID(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func findEvent(ctx context.Context, c client.Client, run client.WorkflowRun, typ enumspb.EventType) *historypb.HistoryEvent {
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil
		}
		if ev.GetEventType() == typ {
			return ev
		}
	}
	return nil
}

// finishAfterRestart runs a worker against the restarted server s and checks
// that the workflow completes and that its timer fired after restartedAt.
func finishAfterRestart(t *testing.T, ctx context.Context, s *devserver.Server, run client.WorkflowRun, restartedAt time.Time) {
	t.Helper()
	c := dial(t, ctx, s)
	startWorker(t, c)
	var got string
	if err := c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &got); err != nil {
		t.Fatalf("workflow result after restart: %v", err)
	}
	if got != "fired" {
		t.Errorf("result = %q, want %q", got, "fired")
	}
	fired := findEvent(ctx, c, run, enumspb.EVENT_TYPE_TIMER_FIRED)
	if fired == nil {
		t.Fatalf("no TimerFired event")
	}
	at := fired.GetEventTime().AsTime()
	if at.Before(restartedAt) {
		t.Errorf("timer fired at %s, before the restart at %s", at, restartedAt)
	}
	t.Logf("the timer fired %s after the restart began", at.Sub(restartedAt).Round(time.Millisecond))
}

func TestTimerSurvivesRestartInProcess(t *testing.T) {
	ctx := testContext(t)
	opts := testOptions(t.TempDir())

	s := start(t, ctx, opts)
	c := dial(t, ctx, s)
	w := startWorker(t, c)
	run, due := startTimer(t, ctx, c)
	w.Stop()
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if now := time.Now(); !now.Before(due) {
		t.Fatalf("stopping took until %s, after the timer fell due at %s; the test proves nothing", now, due)
	}

	time.Sleep(time.Until(due) + 200*time.Millisecond) // let the timer fall due while the server is down
	restartedAt := time.Now()
	s = start(t, ctx, opts)
	finishAfterRestart(t, ctx, s, run, restartedAt)
}

// TestTimerSurvivesSIGKILL runs the server in a child process (this test
// binary, see TestChildServer), kills it with SIGKILL while a timer is
// pending, and finishes the workflow on a server started here on the same
// data dir.
func TestTimerSurvivesSIGKILL(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildServer$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	addr := readChildAddress(t, ctx, stdout, &stderr)

	c, err := client.DialContext(ctx, client.Options{
		HostPort:  addr,
		Namespace: testNamespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial child server %s: %v", addr, err)
	}
	w := startWorker(t, c)
	run, due := startTimer(t, ctx, c)

	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	_ = cmd.Wait()
	killed = true
	if now := time.Now(); !now.Before(due) {
		t.Fatalf("killing took until %s, after the timer fell due at %s; the test proves nothing", now, due)
	}
	w.Stop()
	c.Close()

	time.Sleep(time.Until(due) + 200*time.Millisecond)
	restartedAt := time.Now()
	s := start(t, ctx, testOptions(dir))
	finishAfterRestart(t, ctx, s, run, restartedAt)
}

// readChildAddress reads the child's "READY <addr>" line.
func readChildAddress(t *testing.T, ctx context.Context, stdout io.Reader, stderr *bytes.Buffer) string {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				lines <- addr
			}
		}
		close(lines)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			t.Fatalf("child exited before it was ready:\n%s", stderr)
		}
		return addr
	case <-ctx.Done():
		t.Fatalf("child not ready: %v\n%s", ctx.Err(), stderr)
	}
	return ""
}

// TestChildServer is the child process of TestTimerSurvivesSIGKILL; it does
// nothing in a normal test run.
func TestChildServer(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of TestTimerSurvivesSIGKILL")
	}
	s, err := devserver.Start(t.Context(), testOptions(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	fmt.Printf("READY %s\n", s.FrontendAddress())
	select {} // until killed
}

func TestVersionMismatchRefusesToStart(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	opts := testOptions(dir)
	s := start(t, ctx, opts)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	marker := filepath.Join(dir, devserver.MarkerFileName)
	dbPath := filepath.Join(dir, devserver.DBFileName)

	old := `{"temporal_server": "1.20.0", "sqlite_schema": "0.5"}`
	if err := os.WriteFile(marker, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := devserver.Start(ctx, opts)
	var mismatch *devserver.VersionMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Start = %v, want a *VersionMismatchError", err)
	}
	t.Log(err)
	for _, want := range []string{"1.20.0", "0.5", headers.ServerVersion, sqliteschema.Version, dbPath, "--data-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	if b, _ := os.ReadFile(marker); string(b) != old {
		t.Errorf("the marker was changed to %s", b)
	}

	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	_, err = devserver.Start(ctx, opts)
	if !errors.As(err, &mismatch) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Start without a marker = %v, want a *VersionMismatchError saying it is missing", err)
	}
}

func TestBusyPortIsAnError(t *testing.T) {
	ctx := testContext(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name    string
		set     func(*devserver.Options)
		purpose string
	}{
		{"frontend", func(o *devserver.Options) { o.FrontendPort = busy }, "frontend gRPC"},
		{"http", func(o *devserver.Options) { o.HTTPPort = busy }, "frontend HTTP"},
		{"ui", func(o *devserver.Options) { o.UIPort = busy }, "Web UI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(dir)
			tc.set(&opts)
			_, err := devserver.Start(ctx, opts)
			var inUse *devserver.PortInUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("Start = %v, want a *PortInUseError", err)
			}
			want := fmt.Sprintf("port %d on 127.0.0.1 is in use (another breachctl dev or temporal server?)", busy)
			if err.Error() != want || inUse.Purpose != tc.purpose {
				t.Errorf("error = %q (purpose %q), want %q (purpose %q)", err, inUse.Purpose, want, tc.purpose)
			}
			if _, err := os.Stat(filepath.Join(dir, devserver.DBFileName)); err == nil {
				t.Errorf("Start created the database before it failed")
			}
		})
	}
}
