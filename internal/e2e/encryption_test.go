package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/breachctl/breachctl/internal/app"
	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/codec"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/seal"
)

// TestEncryptionLeavesNothingReadable runs dev with a key through a whole
// notice (open, scope, approve, send to the outbox), stops it, and reads
// every file the data directory holds, byte for byte: the Temporal database,
// the store, their WAL and shared-memory files, the outbox. None may hold
// the incident's title or description or any affected person's address.
// The codec endpoint decrypts a payload of the real history for the token,
// and for nobody else.
func TestEncryptionLeavesNothingReadable(t *testing.T) {
	dataDir := t.TempDir()
	work := t.TempDir() // the inputs: they hold the secrets, so not in dataDir
	entry, err := seal.NewEntry("e2e1")
	if err != nil {
		t.Fatal(err)
	}
	const token = "e2e-codec-token-4f8a2c9d71"
	notifyPath := filepath.Join(work, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BREACHCTL_ENCRYPTION_KEYS": entry,
		"BREACHCTL_CODEC_TOKEN":     token,
		"BREACHCTL_NOTIFY":          notifyPath,
		"BREACHCTL_STORE":           "sqlite:" + filepath.Join(dataDir, "breachctl.db"),
	}
	dev := startDevEnv(t, dataDir, env)
	running := true
	defer func() {
		if running {
			dev.Stop()
		}
	}()
	c := devCLI(t, dev, env)

	const (
		title       = "Quokka-7ZR payroll bucket exposed"
		description = "Xylophone-K4T2: an attacker listed the payroll bucket"
	)
	aware := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var st incident.Status
	c.ok(&st, "open", "--title", title, "--aware-at", aware.Format(time.RFC3339),
		"--system", "accounts", "--region", "EU", "--category", "name,email,password_hash,api_key",
		"--description", description, "--risk", "high", "--risk-justification", "API keys allow access to customers' images")
	people := affectedPeople(14)
	var emails []string
	for i := range people {
		if strings.Contains(people[i].email, "@") {
			people[i].email = fmt.Sprintf("zq%02d-enc-e2e@vault%d.example", i, i)
			emails = append(emails, people[i].email)
		}
	}
	csvPath := filepath.Join(work, "affected.csv")
	writePeopleCSV(t, csvPath, people, aware.Add(-time.Hour))
	c.ok(nil, "scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"), "--source", "accounts="+csvPath)
	var scoped incident.Status
	c.ok(&scoped, "show", st.ID)
	if scoped.Facts.Title != title || scoped.Facts.Description != description {
		t.Fatalf("the CLI with the key reads %q / %q", scoped.Facts.Title, scoped.Facts.Description)
	}
	var individuals []string
	for _, cl := range scoped.Clocks {
		if cl.Notify == "individuals" && cl.State.Open() {
			individuals = append(individuals, cl.Rule)
		}
	}
	if len(individuals) == 0 {
		t.Fatalf("no notice to people after scoping: %+v", scoped.Clocks)
	}
	code, out, errOut := c.run(append([]string{"approve", st.ID}, append(individuals, "--watch", "--interval", "200ms",
		"--consequences", "Someone could sign in to your account.", "--measures", "We reset every password.",
		"--what-you-can-do", "Choose a new password.")...)...)
	// One of the people has no address: the notice is not given to
	// everyone, and --watch says so with its exit code.
	if code != cli.ExitNotGiven || !strings.Contains(out, "accepted for delivery") || !strings.Contains(errOut, "without a usable address") {
		t.Fatalf("approve --watch: exit %d\n%s\n%s", code, out, errOut)
	}

	// The outbox is sealed, and `outbox show` opens it with the key.
	outbox := filepath.Join(dataDir, "outbox")
	sealedFiles, _ := filepath.Glob(filepath.Join(outbox, "*.eml.sealed"))
	plainFiles, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
	if len(sealedFiles) == 0 || len(plainFiles) != 0 {
		t.Fatalf("outbox: %d sealed, %d plain files", len(sealedFiles), len(plainFiles))
	}
	code, out, errOut = c.run("outbox", "show", "--dir", outbox)
	if code != 0 || !slices.ContainsFunc(emails, func(e string) bool { return strings.Contains(out, e) }) {
		t.Fatalf("outbox show: exit %d: %s", code, errOut)
	}

	// A CLI without the key cannot read the incident, and says why.
	noKey := map[string]string{}
	for k, v := range env {
		noKey[k] = v
	}
	delete(noKey, "BREACHCTL_ENCRYPTION_KEYS")
	if code, _, errOut := devCLI(t, dev, noKey).run("show", st.ID); code == 0 || !strings.Contains(errOut, `"e2e1"`) {
		t.Errorf("show without the key: exit %d: %s", code, errOut)
	}
	// Nor write to it: the close and its reason are never sent, and the
	// CLI says why before sending anything.
	const noKeyReason = "Narwhal-5QX closed without the key"
	if code, _, errOut := devCLI(t, dev, noKey).run("close", st.ID, "--reason", noKeyReason, "--yes"); code != cli.ExitInvalid ||
		!strings.Contains(errOut, "this client has no encryption key (BREACHCTL_ENCRYPTION_KEYS)") || !strings.Contains(errOut, `"e2e1"`) {
		t.Errorf("close without the key: exit %d: %s", code, errOut)
	}
	// A client that sends in the clear all the same (no guard: an old
	// CLI, a script) is refused by the worker, naming the cause.
	const plainNote = "Walrus-8TB note sent in the clear"
	plainCfg, err := config.Load(func(k string) string { return noKey[k] })
	if err != nil {
		t.Fatal(err)
	}
	plainCfg.Temporal.Address = dev.Server.FrontendAddress()
	plain, closePlain, err := app.Connect(context.Background(), plainCfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Note(context.Background(), st.ID, plainNote, "cli:e2e"); err == nil {
		t.Error("the worker took a note sent in the clear")
	}
	closePlain()
	var still incident.Status
	c.ok(&still, "show", st.ID)
	if still.State == incident.StateClosed || hasEntry(still, "note", plainNote) {
		t.Fatalf("written without the key: state %s", still.State)
	}

	// The evidence pack is anchored by the worker's key, which it made on
	// first start, and verifies against it.
	pack := filepath.Join(work, "evidence.zip")
	if code, out, errOut := c.run("evidence", st.ID, "-o", pack); code != 0 || !strings.Contains(out, "Anchored: the server rebuilt the pack") {
		t.Fatalf("evidence: exit %d\n%s%s", code, out, errOut)
	}
	serverKey, err := os.ReadFile(filepath.Join(dataDir, "evidence-server.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run("evidence", "verify", pack, "--incident", "--server-key", strings.TrimSpace(string(serverKey))); code != 0 ||
		!strings.Contains(out, "Anchored: the server with the trusted key") || !strings.Contains(out, "Temporal has the server's record of this export") {
		t.Fatalf("evidence verify: exit %d\n%s%s", code, out, errOut)
	}

	checkCodecEndpoint(t, dev.Codec, token, workflowHistoryInput(t, workflowHistory(t, dev, incident.WorkflowID(st.ID))), title)

	dev.Stop()
	running = false
	secrets := append([]string{title, description, noKeyReason, plainNote}, emails...)
	var seen []string
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		seen = append(seen, rel)
		for _, s := range secrets {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s holds %q in the clear", rel, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"temporal.db", "breachctl.db"} {
		if !slices.Contains(seen, want) {
			t.Errorf("the data directory has no %s: %v", want, seen)
		}
	}
	t.Logf("read %d files: %d in the outbox, and %v", len(seen), len(sealedFiles),
		slices.DeleteFunc(slices.Clone(seen), func(s string) bool { return strings.HasPrefix(s, "outbox") }))
}

// workflowHistoryInput is the first payload of a workflow's start event, as
// the Temporal database holds it.
func workflowHistoryInput(t *testing.T, h *historypb.History) *commonpb.Payload {
	t.Helper()
	for _, ev := range h.GetEvents() {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
			ps := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
			if len(ps) > 0 {
				return ps[0]
			}
		}
	}
	t.Fatal("no start event with an input")
	return nil
}

// checkCodecEndpoint posts an encrypted payload to the codec endpoint.
func checkCodecEndpoint(t *testing.T, endpoint, token string, p *commonpb.Payload, title string) {
	t.Helper()
	if endpoint == "" {
		t.Fatal("dev has no codec endpoint")
	}
	if enc := string(p.GetMetadata()["encoding"]); enc != codec.EncodingEncrypted || bytes.Contains(p.GetData(), []byte(title)) {
		t.Fatalf("the history's input is not encrypted: encoding %q", enc)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, endpoint+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, auth := range []string{"", "Bearer wrong-token-000000000", token} {
		if code, b := post(auth); code != http.StatusUnauthorized || bytes.Contains(b, []byte(title)) {
			t.Errorf("codec with %q: %d %s", auth, code, b)
		}
	}
	code, b := post("Bearer " + token)
	if code != http.StatusOK {
		t.Fatalf("codec with the token: %d %s", code, b)
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(b, &out); err != nil {
		t.Fatalf("codec answer: %v: %s", err, b)
	}
	if len(out.Payloads) != 1 || !bytes.Contains(out.Payloads[0].GetData(), []byte(title)) {
		t.Fatalf("decoded payload does not hold the title: %s", b)
	}
}
