package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/breachctl/breachctl/internal/app"
	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
)

// TestMain lets the test binary double as the breachctl binary: with
// BREACHCTL_E2E_CHILD set it runs the CLI with the arguments after "--", so
// a test can start `dev` as a child process and kill -9 it.
func TestMain(m *testing.M) {
	if os.Getenv("BREACHCTL_E2E_CHILD") == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		// As cmd/breachctl does: SIGTERM stops the command gracefully.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, app.CLIEnv(os.Stdout, os.Stderr, os.Getenv), args)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// shortClockEnv makes reminders fire 3 s before a deadline, so a clock that
// is due a few seconds after opening has a reminder to fire too.
var shortClockEnv = map[string]string{"BREACHCTL_REMINDERS": "48h,24h,6h,1h,3s", "BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_LOG_LEVEL": "warn"}

type cliRunner struct {
	t       testing.TB
	address string
	env     map[string]string
}

func (c cliRunner) run(args ...string) (int, string, string) {
	c.t.Helper()
	env := map[string]string{"TEMPORAL_ADDRESS": c.address}
	for k, v := range c.env {
		env[k] = v
	}
	var out, errb bytes.Buffer
	e := app.CLIEnv(&out, &errb, func(k string) string { return env[k] })
	code := cli.Run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and decodes its JSON output into v.
func (c cliRunner) ok(v any, args ...string) {
	c.t.Helper()
	code, out, errOut := c.run(append(args, "-o", "json")...)
	if code != 0 {
		c.t.Fatalf("breachctl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			c.t.Fatalf("breachctl %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startDev(t *testing.T, dir string, port int) *app.Dev {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return shortClockEnv[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dev, err := app.StartDev(context.Background(), cfg, config.Dev{
		DataDir: dir, IP: "127.0.0.1", Port: port, UIPort: -1, HTTPAddr: "127.0.0.1:0", Retention: cfg.Retention,
	}, logger)
	if err != nil {
		t.Fatalf("start dev: %v", err)
	}
	return dev
}

func findSummary(rows []incident.Summary, id string) *incident.Summary {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	return nil
}

// readableHistory renders a history as text with every payload decoded: what
// anyone reading the Temporal database could read.
func readableHistory(t *testing.T, h *historypb.History) string {
	t.Helper()
	js, err := protojson.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	text := string(js)
	for _, m := range regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(text, -1) {
		if b, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
			text += "\n" + string(b)
		}
	}
	return text
}

func clockOf(s incident.Status, rule string) *incident.Clock {
	for i := range s.Clocks {
		if s.Clocks[i].Rule == rule {
			return &s.Clocks[i]
		}
	}
	return nil
}

func hasEntry(s incident.Status, kind, text string) bool {
	for _, e := range s.Timeline {
		if string(e.Kind) == kind && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

// TestIncidentLifeSurvivesARestart drives the CLI through the real client
// against the embedded server, stops the server, starts it on the same file,
// and sees the incident and a clock that fell due while it was down.
func TestIncidentLifeSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	dev := startDev(t, dir, port)
	c := cliRunner{t: t, address: dev.Server.FrontendAddress(), env: shortClockEnv}

	// The walkthrough of the README.
	aware := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	var opened incident.Status
	c.ok(&opened, "open", "--title", "Bucket with customer uploads exposed", "--aware-at", aware.Format(time.RFC3339),
		"--category", "email", "--category", "media_content", "--region", "EU", "--severity", "high")
	id := opened.ID
	var shown incident.Status
	c.ok(&shown, "show", id)
	if c := clockOf(shown, "eu-gdpr-art33"); c == nil || c.Due == nil || !c.Due.Equal(aware.Add(72*time.Hour)) {
		t.Fatalf("clocks = %+v; want the GDPR authority clock due exactly aware_at + 72h", shown.Clocks)
	}
	c.ok(nil, "note", id, "Access logs pulled")
	var rows []incident.Summary
	eventually(t, 10*time.Second, "the incident listed with its severity and deadline", func() bool {
		c.ok(&rows, "list")
		s := findSummary(rows, id)
		return s != nil && s.Severity == incident.SeverityHigh && s.NextDeadline != nil && s.NextDeadline.Equal(aware.Add(72*time.Hour)) &&
			s.Title == "Bucket with customer uploads exposed"
	})

	// A clock due a few seconds from now, to fall due while the server is down.
	shortAware := time.Now().UTC().Add(-72*time.Hour + 6*time.Second).Truncate(time.Second)
	var short incident.Status
	c.ok(&short, "open", "--title", "Short clock", "--aware-at", shortAware.Format(time.RFC3339), "--region", "DE")
	due := *clockOf(short, "eu-gdpr-art33").Due

	// Errors a person meets, with their exit codes.
	if code, _, errOut := c.run("close", id); code != cli.ExitInvalid || !strings.Contains(errOut, "--reason") {
		t.Errorf("close without a reason: exit %d, %q", code, errOut)
	}
	if code, _, errOut := c.run("show", "INC-20000101-AAAAA"); code != cli.ExitNotFound || !strings.Contains(errOut, "INC-20000101-AAAAA") {
		t.Errorf("unknown incident: exit %d, %q", code, errOut)
	}

	dev.Stop()
	time.Sleep(time.Until(due.Add(time.Second))) // let the deadline pass while nothing runs

	dev = startDev(t, dir, port)
	defer dev.Stop()

	c.ok(&shown, "show", id)
	if !hasEntry(shown, "note", "Access logs pulled") || clockOf(shown, "eu-gdpr-art33") == nil || shown.State != incident.StateOpen {
		t.Fatalf("after restart: %+v", shown)
	}
	eventually(t, 10*time.Second, "the short clock to fire after the restart", func() bool {
		c.ok(&short, "show", short.ID)
		return short.State == incident.StateOverdue
	})
	c0 := clockOf(short, "eu-gdpr-art33")
	if c0.OverdueAt == nil || c0.OverdueAt.Before(due) {
		t.Fatalf("overdue at %v, due %s", c0.OverdueAt, due)
	}
	t.Logf("clock due %s fired %s after it (the server was down at the due time)", due.Format(time.RFC3339), c0.OverdueAt.Sub(due))

	var closed incident.Status
	// Its clock is overdue with no notice: closing says so, and --yes
	// confirms it.
	if code, _, errOut := c.run("close", id, "--reason", "Notified; contained"); code == 0 || !strings.Contains(errOut, "eu-gdpr-art33") {
		t.Errorf("closing with an obligation overdue and no notice: exit %d: %s", code, errOut)
	}
	c.ok(&closed, "close", id, "--yes", "--reason", "Notified; contained")
	if closed.State != incident.StateClosed || closed.CloseReason != "Notified; contained" {
		t.Fatalf("closed = %+v", closed)
	}
	if code, _, _ := c.run("note", id, "too late"); code != cli.ExitConflict {
		t.Errorf("note on a closed incident: exit %d, want %d", code, cli.ExitConflict)
	}
	eventually(t, 10*time.Second, "the closed incident listed as closed", func() bool {
		c.ok(&rows, "list", "--state", "closed")
		s := findSummary(rows, id)
		return s != nil && s.State == incident.StateClosed
	})
	c.ok(&shown, "show", id) // a closed incident can still be shown
	if shown.State != incident.StateClosed {
		t.Fatalf("show after close: %s", shown.State)
	}
	captureHistories(t, dev, id, short.ID)
}

// TestUnreachableServerNamesTheAddress checks the error a person sees when
// nothing listens where the CLI looks.
func TestUnreachableServerNamesTheAddress(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c := cliRunner{t: t, address: addr}
	code, _, errOut := c.run("list")
	if code != cli.ExitUnavailable || !strings.Contains(errOut, addr) {
		t.Fatalf("exit %d, %q; want %d naming %s", code, errOut, cli.ExitUnavailable, addr)
	}
}

// TestKill9DuringACountdown starts `breachctl dev` as a child process, opens
// an incident whose clock is due in a few seconds, kills the process with
// SIGKILL before the deadline, restarts it, and sees the clock fire.
func TestKill9DuringACountdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	child := startChild(t, dir, port)
	c := cliRunner{t: t, address: addr, env: shortClockEnv}

	aware := time.Now().UTC().Add(-72*time.Hour + 8*time.Second).Truncate(time.Second)
	var st incident.Status
	c.ok(&st, "open", "--title", "Countdown", "--aware-at", aware.Format(time.RFC3339), "--region", "EU")
	due := *clockOf(st, "eu-gdpr-art33").Due

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if time.Now().After(due) {
		t.Fatalf("the kill came after the deadline %s; the test machine is too slow for this countdown", due)
	}
	time.Sleep(time.Until(due.Add(time.Second)))

	child = startChild(t, dir, port)
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM)
		_ = child.Wait()
	}()
	eventually(t, 15*time.Second, "the clock to fire after kill -9 and restart", func() bool {
		c.ok(&st, "show", st.ID)
		return st.State == incident.StateOverdue
	})
	t.Logf("due %s; overdue recorded %s after it (process killed before the due time)", due.Format(time.RFC3339), clockOf(st, "eu-gdpr-art33").OverdueAt.Sub(due))
}

// startProcess starts the test binary as `breachctl args...` and, when
// ready is set, waits for that line on its stdout.
func startProcess(t testing.TB, env map[string]string, ready string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "BREACHCTL_E2E_CHILD=1", "BREACHCTL_LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ready != "" && strings.Contains(sc.Text(), ready) {
				close(up)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // a full pipe would block the child
	}()
	if ready == "" {
		return cmd
	}
	select {
	case <-up:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("breachctl %s did not start: %s", args[0], stderr.String())
	}
	return cmd
}

// startChild starts `breachctl dev` on dir and port as a child process,
// with a reminder 3 s before each deadline, and waits until it runs.
func startChild(t *testing.T, dir string, port int) *exec.Cmd {
	t.Helper()
	return startProcess(t, map[string]string{"BREACHCTL_REMINDERS": "48h,24h,6h,1h,3s"}, "breachctl dev is running",
		"dev", "--data-dir", dir, "--port", fmt.Sprint(port), "--ui-port", "-1", "--http-addr", "127.0.0.1:0")
}

// captureHistories writes the histories of a real run into
// workflows/testdata when BREACHCTL_UPDATE_HISTORIES=1, for the replay test.
func captureHistories(t *testing.T, dev *app.Dev, ids ...string) {
	workflowIDs := make([]string, len(ids))
	for i, id := range ids {
		workflowIDs[i] = incident.WorkflowID(id)
	}
	captureWorkflowHistories(t, dev, workflowIDs...)
}

// captureWorkflowHistories writes the histories of workflows by ID
// ("incident/INC-...", "notice/INC-.../rule") to workflows/testdata.
func captureWorkflowHistories(t *testing.T, dev *app.Dev, ids ...string) {
	if os.Getenv("BREACHCTL_UPDATE_HISTORIES") != "1" {
		return
	}
	for _, id := range ids {
		h := workflowHistory(t, dev, id)
		data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join("..", "..", "workflows", "testdata", strings.NewReplacer("/", "-").Replace(strings.ToLower(id))+".json")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", name)
	}
}

// TestScopingAnIncidentKeepsPeopleOutOfTheHistory scopes a running incident
// from a CSV file: its facts take the counts, its obligations follow, and the
// workflow history holds no email address or name of the people.
func TestScopingAnIncidentKeepsPeopleOutOfTheHistory(t *testing.T) {
	dir := t.TempDir()
	dev := startDev(t, dir, freePort(t))
	defer dev.Stop()
	// The store dev's workers read: the incident refuses a snapshot
	// written anywhere else.
	env := map[string]string{"BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db"), "BREACHCTL_LOG_LEVEL": "warn"}
	c := cliRunner{t: t, address: dev.Server.FrontendAddress(), env: env}

	aware := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var st incident.Status
	c.ok(&st, "open", "--title", "Upload bucket exposed", "--aware-at", aware.Format(time.RFC3339),
		"--occurred-at", aware.Add(-5*time.Hour).Format(time.RFC3339), "--system", "uploads,accounts", "--region", "EU")
	people := []string{"ana@example.com", "Ana Souza", "cal@example.com", "Cal Jones", "ben@example.com"}
	csvPath := filepath.Join(dir, "affected.csv")
	seen := aware.Add(-time.Hour).Format(time.RFC3339)
	rows := "id,email,name,locale,country,region,seen_at\n" +
		"u1,ana@example.com,Ana Souza,pt-BR,BR,," + seen + "\n" +
		"u3,cal@example.com,Cal Jones,en-US,US,CA," + seen + "\n" +
		"u4,ben@example.com,Ben,de-DE,XX,," + seen + "\n"
	if err := os.WriteFile(csvPath, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Incident incident.Status `json:"incident"`
	}
	// The people found live outside the EU the facts named: the scoping
	// would withdraw the GDPR obligations, so it waits for a person's word.
	if code, _, errOut := c.run("scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "accounts="+csvPath); code != cli.ExitConflict || !strings.Contains(errOut, "would withdraw eu-gdpr-art33") {
		t.Fatalf("a scoping that withdraws obligations: exit %d: %s", code, errOut)
	}
	c.ok(&out, "scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "accounts="+csvPath, "--confirm")
	f := out.Incident.Facts
	if f.AffectedTotal() != 2 || len(out.Incident.Snapshots) != 1 || out.Incident.Snapshots[0].Rejected != 1 {
		t.Fatalf("facts after scoping: %+v; snapshots %+v", f, out.Incident.Snapshots)
	}
	// The scoped people live in Brazil and California, not the EU as first
	// thought: the Brazilian clock starts, the GDPR one is withdrawn, and
	// California's law does not cover a password hash without the password.
	state := map[string]incident.ClockState{}
	for _, cl := range out.Incident.Clocks {
		state[cl.Rule] = cl.State
	}
	if state["br-lgpd-art48-anpd"] != incident.ClockRunning || state["eu-gdpr-art33"] != incident.ClockWithdrawn || state["us-ca-civ-1798-82"] != "" {
		t.Fatalf("clocks after scoping: %v", state)
	}

	raw := readableHistory(t, workflowHistory(t, dev, incident.WorkflowID(st.ID)))
	for _, p := range people {
		if strings.Contains(string(raw), p) {
			t.Errorf("the workflow history contains %q", p)
		}
	}
	if !strings.Contains(string(raw), out.Incident.Snapshots[0].ID) {
		t.Error("the history lacks the snapshot ID")
	}
	captureHistories(t, dev, st.ID)
}

// TestOpenSurvivesAnIDCollision forces two incidents to draw the same ID:
// the second must become a new incident, not an answer from the first.
func TestOpenSurvivesAnIDCollision(t *testing.T) {
	dev := startDev(t, t.TempDir(), freePort(t))
	defer dev.Stop()
	cfg, err := config.Load(func(k string) string { return shortClockEnv[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Temporal.Address = dev.Server.FrontendAddress()
	svc, closeFn, err := app.Connect(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	draws := 0
	svc.Random = func() []byte {
		draws++
		if draws <= 2 {
			return []byte{1, 2, 3, 4} // the first two draws collide
		}
		return []byte{5, 6, 7, 8}
	}
	open := func(title string) incident.Status {
		st, err := svc.Open(context.Background(), incident.Facts{Title: title, AwareAt: time.Now().UTC(), Regions: []string{"EU"}}, "cli:e2e")
		if err != nil {
			t.Fatalf("open %s: %v", title, err)
		}
		return st
	}
	a, b := open("first"), open("second")
	if a.ID == b.ID || b.Facts.Title != "second" || draws != 3 {
		t.Fatalf("first %s %q, second %s %q after %d draws: the collision was not resolved", a.ID, a.Facts.Title, b.ID, b.Facts.Title, draws)
	}
}
