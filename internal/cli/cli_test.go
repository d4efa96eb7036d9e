package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/evidence"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/workflows"
)

// fakeIncidents records calls; each field may be set to answer differently.
type fakeIncidents struct {
	scopeRequests []workflows.ScopeRequest
	open          func(incident.Facts, string) (incident.Status, error)
	list          func(orchestrator.ListFilter) ([]incident.Summary, error)
	show          func(string) (incident.Status, error)
	note          func(id, text, actor string) (incident.Entry, error)
	changeFacts   func(id string, c incident.FactsChange, reason string) (incident.Status, error)
	close         func(id, reason string) (incident.Status, error)
	closeReq      func(id string, req workflows.CloseRequest) (incident.Status, error)
	delay         func(id, rule, reasons string) (incident.Status, error)
	scope         func(id string, sn incident.SnapshotRef) (incident.Status, error)
	approve       func(id string, req workflows.ApproveRequest) (incident.Status, error)
	draft         func(id string, req workflows.ApproveRequest) (incident.Status, error)
	reject        func(id string, req workflows.RejectRequest) (incident.Status, error)
	filed         func(id string, req workflows.FiledRequest) (incident.Status, error)
	ack           func(id string, req workflows.AckRequest) (incident.Status, error)
	assign        func(id string, req workflows.AssignRequest) (incident.Status, error)
	progress      func(noticeID string) (workflows.NoticeProgress, error)
	// encryption answers EncryptionKey; nil: plain.
	encryption func(id string) (string, error)
	// anchor answers AnchorEvidence, records EvidenceRecord.
	anchor  func(in activities.EvidenceInput) (evidence.ServerAnchor, error)
	records map[string]evidence.ServerAnchor
}

var _ Incidents = (*fakeIncidents)(nil)

func (f *fakeIncidents) Open(_ context.Context, facts incident.Facts, actor string) (incident.Status, error) {
	return f.open(facts, actor)
}
func (f *fakeIncidents) List(_ context.Context, lf orchestrator.ListFilter) ([]incident.Summary, error) {
	return f.list(lf)
}
func (f *fakeIncidents) Show(_ context.Context, id string) (incident.Status, error) {
	return f.show(id)
}
func (f *fakeIncidents) Note(_ context.Context, id, text, actor string) (incident.Entry, error) {
	return f.note(id, text, actor)
}
func (f *fakeIncidents) ChangeFacts(_ context.Context, id string, c incident.FactsChange, reason, _ string) (incident.Status, error) {
	return f.changeFacts(id, c, reason)
}
func (f *fakeIncidents) CloseIncident(_ context.Context, id string, req workflows.CloseRequest) (incident.Status, error) {
	if f.closeReq != nil {
		return f.closeReq(id, req)
	}
	return f.close(id, req.Reason)
}
func (f *fakeIncidents) ScopeWith(_ context.Context, id string, req workflows.ScopeRequest) (incident.Status, error) {
	f.scopeRequests = append(f.scopeRequests, req)
	return f.scope(id, req.Snapshot)
}
func (f *fakeIncidents) DelayReasons(_ context.Context, id, rule, reasons, _ string) (incident.Status, error) {
	return f.delay(id, rule, reasons)
}

func (f *fakeIncidents) Approve(_ context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	return f.approve(id, req)
}
func (f *fakeIncidents) Draft(_ context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	return f.draft(id, req)
}
func (f *fakeIncidents) Reject(_ context.Context, id string, req workflows.RejectRequest) (incident.Status, error) {
	return f.reject(id, req)
}
func (f *fakeIncidents) Filed(_ context.Context, id string, req workflows.FiledRequest) (incident.Status, error) {
	return f.filed(id, req)
}
func (f *fakeIncidents) Acknowledge(_ context.Context, id string, req workflows.AckRequest) (incident.Status, error) {
	return f.ack(id, req)
}
func (f *fakeIncidents) Assign(_ context.Context, id string, req workflows.AssignRequest) (incident.Status, error) {
	return f.assign(id, req)
}
func (f *fakeIncidents) NoticeProgress(_ context.Context, noticeID string) (workflows.NoticeProgress, error) {
	return f.progress(noticeID)
}
func (f *fakeIncidents) AnchorEvidence(_ context.Context, in activities.EvidenceInput) (evidence.ServerAnchor, error) {
	a, err := f.anchor(in)
	if err == nil {
		if f.records == nil {
			f.records = map[string]evidence.ServerAnchor{}
		}
		f.records[in.Incident+" "+in.Head] = a
	}
	return a, err
}
func (f *fakeIncidents) EvidenceRecord(_ context.Context, id, head string) (evidence.ServerAnchor, bool, error) {
	a, ok := f.records[id+" "+head]
	return a, ok, nil
}
func (f *fakeIncidents) EncryptionKey(_ context.Context, id string) (string, error) {
	if f.encryption == nil {
		return "", nil
	}
	return f.encryption(id)
}

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func run(t *testing.T, svc Incidents, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{
		Stdout: &out, Stderr: &errb, Now: func() time.Time { return now },
		Getenv: func(k string) string { return env[k] },
		Connect: func(context.Context, config.Config, *slog.Logger) (Incidents, func(), error) {
			if svc == nil {
				return nil, nil, apperr.New(apperr.Unavailable, "cannot reach Temporal at 127.0.0.1:7233")
			}
			return svc, func() {}, nil
		},
	}
	code = Run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func statusFor(f incident.Facts) incident.Status {
	due := f.AwareAt.Add(72 * time.Hour)
	st := incident.Status{ID: "INC-20261121-AB12C", State: incident.StateOpen, Facts: f, OpenedAt: now, OpenedBy: "cli:alice",
		Clocks:   []incident.Clock{{Obligation: incident.Obligation{Rule: "eu-gdpr-art33", Notify: "authority", Due: &due, Title: "Notify the supervisory authority", Citation: "GDPR Art. 33(1)"}, State: incident.ClockRunning}},
		Timeline: incident.Timeline{{Seq: 1, At: now, Kind: incident.EntryOpened, Actor: "cli:alice", Text: "Incident opened"}}}
	st.Refresh()
	return st
}

func TestOpenPassesNormalizedFactsAndPrintsTheClock(t *testing.T) {
	var got incident.Facts
	var actor string
	svc := &fakeIncidents{open: func(f incident.Facts, a string) (incident.Status, error) {
		got, actor = f, a
		return statusFor(f), nil
	}}
	code, out, errOut := run(t, svc, map[string]string{"BREACHCTL_ACTOR": "cli:alice"}, "open",
		"--title", "Bucket with customer uploads exposed", "--aware-at", "2026-11-20T09:00:00Z",
		"--category", "email", "--category", "media_content,Email", "--region", "eu", "--severity", "HIGH", "--system", "uploads")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if !got.AwareAt.Equal(want) || got.Severity != incident.SeverityHigh || actor != "cli:alice" ||
		strings.Join(got.DataCategories, ",") != "email,media_content" || strings.Join(got.Regions, ",") != "EU" {
		t.Fatalf("facts = %+v, actor %q", got, actor)
	}
	for _, s := range []string{"Opened INC-20261121-AB12C", "eu-gdpr-art33", "2026-11-23T09:00:00Z", "45h"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestOpenWithoutAwareAtMeansNow(t *testing.T) {
	var got incident.Facts
	svc := &fakeIncidents{open: func(f incident.Facts, _ string) (incident.Status, error) { got = f; return statusFor(f), nil }}
	if code, _, errOut := run(t, svc, nil, "open", "--title", "x"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !got.AwareAt.Equal(now) {
		t.Fatalf("aware_at = %s, want now %s", got.AwareAt, now)
	}
}

func TestBadInputNamesTheFlagAndExitsTwo(t *testing.T) {
	never := &fakeIncidents{}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"open", "--title", "x", "--aware-at", "2026-11-20 09:00"}, "--aware-at"},
		{[]string{"open", "--title", "x", "--occurred-at", "yesterday"}, "--occurred-at"},
		{[]string{"open", "--title", "x", "--category", "shoe_size"}, "--category"},
		{[]string{"open", "--title", "x", "--region", "XX"}, "--region"},
		{[]string{"open", "--title", "x", "--severity", "apocalyptic"}, "--severity"},
		{[]string{"open", "--aware-at", "2026-11-20T09:00:00Z"}, "--title"},
		{[]string{"open", "--title", "x", "--aware-at", "2026-11-20T09:00:00Z", "--detected-at", "2026-11-21T09:00:00Z"}, "--detected-at"},
		{[]string{"close", "INC-20261121-AB12C"}, "--reason"},
		{[]string{"close", "INC-20261121-AB12C", "--reason", "  "}, "--reason"},
		{[]string{"show", "INC-nope"}, "incident"},
		{[]string{"list", "--state", "sleeping"}, "--state"},
		{[]string{"list", "--severity", "meh"}, "--severity"},
		{[]string{"update", "INC-20261121-AB12C"}, "nothing to change"},
		{[]string{"show", "INC-20261121-AB12C", "-o", "yaml"}, "--output"},
		{[]string{"open", "--nonsense"}, "unknown flag"},
		{[]string{"note", "INC-20261121-AB12C"}, "requires at least 2"},
	}
	for _, c := range cases {
		code, _, errOut := run(t, never, nil, c.args...)
		if code != ExitInvalid || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", c.args, code, errOut, ExitInvalid, c.want)
		}
	}
}

func TestErrorKindsMapToExitCodes(t *testing.T) {
	svc := &fakeIncidents{
		show: func(id string) (incident.Status, error) {
			return incident.Status{}, apperr.New(apperr.NotFound, "no incident %s", id)
		},
		close: func(id, _ string) (incident.Status, error) {
			return incident.Status{}, apperr.New(apperr.Conflict, "incident %s is closed", id)
		},
	}
	if code, _, errOut := run(t, svc, nil, "show", "inc-20261121-ab12c"); code != ExitNotFound || !strings.Contains(errOut, "INC-20261121-AB12C") {
		t.Errorf("unknown incident: exit %d, %q", code, errOut)
	}
	if code, _, _ := run(t, svc, nil, "close", "INC-20261121-AB12C", "--reason", "done", "--yes"); code != ExitConflict {
		t.Errorf("closing a closed incident: exit %d, want %d", code, ExitConflict)
	}
	if code, _, errOut := run(t, nil, nil, "list"); code != ExitUnavailable || !strings.Contains(errOut, "127.0.0.1:7233") {
		t.Errorf("server down: exit %d, %q; want %d naming the address", code, errOut, ExitUnavailable)
	}
}

func TestShowJSONIsTheStatus(t *testing.T) {
	f := incident.Facts{Title: "t", AwareAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Regions: []string{"EU"}}
	svc := &fakeIncidents{show: func(string) (incident.Status, error) { return statusFor(f), nil }}
	code, out, errOut := run(t, svc, nil, "show", "INC-20261121-AB12C", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var st incident.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if st.Clocks[0].Due.Format(time.RFC3339) != "2026-11-23T09:00:00Z" || st.BindingRule != "eu-gdpr-art33" {
		t.Fatalf("status = %+v", st)
	}
}

func TestListPassesTheFilter(t *testing.T) {
	var got orchestrator.ListFilter
	svc := &fakeIncidents{list: func(f orchestrator.ListFilter) ([]incident.Summary, error) { got = f; return nil, nil }}
	code, out, _ := run(t, svc, nil, "list", "--state", "closed", "--severity", "high,critical", "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("exit %d, out %q", code, out)
	}
	if got.State != "closed" || len(got.Severities) != 2 || got.Severities[1] != incident.SeverityCritical {
		t.Fatalf("filter = %+v", got)
	}
}

func TestUpdateSendsOnlyTheFlagsGiven(t *testing.T) {
	var got incident.FactsChange
	var reason string
	opened := time.Date(2026, 11, 19, 20, 0, 0, 0, time.UTC)
	svc := &fakeIncidents{
		changeFacts: func(_ string, c incident.FactsChange, r string) (incident.Status, error) {
			got, reason = c, r
			return statusFor(incident.Facts{Title: "t", AwareAt: now}), nil
		},
		show: func(string) (incident.Status, error) {
			return statusFor(incident.Facts{Title: "t", AwareAt: opened}), nil
		},
	}
	code, _, errOut := run(t, svc, nil, "update", "INC-20261121-AB12C", "--aware-at", "2026-11-19T22:00:00Z", "--region", "DE", "--reason", "logs")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.AwareAt == nil || got.AwareAt.Hour() != 22 || got.Regions == nil || got.Title != nil || got.Severity != nil || reason != "logs" {
		t.Fatalf("change = %+v reason %q", got, reason)
	}
	// Detection was never given: it was at the old awareness, and stays
	// there when awareness moves later.
	if got.DetectedAt == nil || !got.DetectedAt.Equal(opened) || !strings.Contains(errOut, "Detected stays at 2026-11-19T20:00:00Z") {
		t.Fatalf("detected_at = %v: %s", got.DetectedAt, errOut)
	}
	// Awareness moved earlier takes detection with it, and says so.
	code, _, errOut = run(t, svc, nil, "update", "INC-20261121-AB12C", "--aware-at", "2026-11-19T18:00:00Z")
	if code != 0 || got.DetectedAt != nil || !strings.Contains(errOut, "Detected moves to 2026-11-19T18:00:00Z") {
		t.Fatalf("earlier: exit %d, detected_at = %v: %s", code, got.DetectedAt, errOut)
	}
	// Given, it is the person's.
	code, _, errOut = run(t, svc, nil, "update", "INC-20261121-AB12C", "--aware-at", "2026-11-19T22:00:00Z", "--detected-at", "2026-11-19T21:00:00Z")
	if code != 0 || got.DetectedAt == nil || got.DetectedAt.Hour() != 21 || strings.Contains(errOut, "Detected") {
		t.Fatalf("given: exit %d, detected_at = %v: %s", code, got.DetectedAt, errOut)
	}
}

func TestIncidentFileErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "title: Exposed bucket\naware_at: 2026-11-20T09:00:00Z\ndata_categories: [email, media_content]\nregions: EU\nseverity: high\n")
	var got incident.Facts
	svc := &fakeIncidents{open: func(f incident.Facts, _ string) (incident.Status, error) { got = f; return statusFor(f), nil }}
	if code, _, errOut := run(t, svc, nil, "open", "--file", good, "--severity", "critical"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Title != "Exposed bucket" || got.Severity != incident.SeverityCritical || len(got.DataCategories) != 2 {
		t.Fatalf("facts from file = %+v (the flag overrides severity)", got)
	}
	cases := []struct{ body, want string }{
		{"title: x\naware_at: 2026-11-20T09:00:00Z\ndata_categories: [email, shoe_size]\n", "bad.yaml:3: data_categories"},
		{"title: x\naware_at: tuesday\n", "bad.yaml:2: aware_at"},
		{"title: x\nawareness: 2026-11-20T09:00:00Z\n", "field awareness not found"},
	}
	for _, c := range cases {
		bad := write("bad.yaml", c.body)
		code, _, errOut := run(t, svc, nil, "open", "--file", bad)
		if code != ExitInvalid || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q; want %q", c.body, code, errOut, c.want)
		}
	}
}

func TestAckParsesTheArguments(t *testing.T) {
	tests := []struct {
		args    []string
		rule    string
		wantID  string
		wantReq workflows.AckRequest
		wantErr string
	}{
		{args: []string{"inc-20261121-ab12c"}, wantID: "INC-20261121-AB12C"},
		{args: []string{"INC-20261121-AB12C", "on it,", " pulling logs "}, rule: " eu-gdpr-art33 ", wantID: "INC-20261121-AB12C",
			wantReq: workflows.AckRequest{Rule: "eu-gdpr-art33", Text: "on it,  pulling logs"}},
		{args: []string{"INC-1"}, wantErr: "INC-1"},
		{args: []string{"INC-20261121-AB12C"}, rule: "  ", wantErr: "--rule"},
	}
	for _, tt := range tests {
		o := &ackOptions{rule: tt.rule}
		id, req, err := o.request(tt.args)
		if tt.wantErr != "" {
			if err == nil || apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want invalid naming %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || id != tt.wantID || req != tt.wantReq {
			t.Errorf("%q --rule %q: %q %+v %v; want %q %+v", tt.args, tt.rule, id, req, err, tt.wantID, tt.wantReq)
		}
	}
}

func TestAckSendsTheUpdateAndSaysWhetherPagingStopped(t *testing.T) {
	var gotID string
	var got workflows.AckRequest
	stopped := true
	svc := &fakeIncidents{ack: func(id string, req workflows.AckRequest) (incident.Status, error) {
		gotID, got = id, req
		st := statusFor(incident.Facts{Title: "t", AwareAt: now})
		text := "Acknowledged by " + req.Actor
		if stopped {
			text += "; paging stopped"
		}
		st.Timeline.Append(now, "acknowledged", req.Actor, req.Rule, text)
		return st, nil
	}}
	env := map[string]string{"BREACHCTL_ACTOR": "cli:alice"}
	code, out, errOut := run(t, svc, env, "ack", "INC-20261121-AB12C", "--rule", "eu-gdpr-art33", "on", "it")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := (workflows.AckRequest{Rule: "eu-gdpr-art33", Text: "on it", Actor: "cli:alice"}); gotID != "INC-20261121-AB12C" || got != want {
		t.Errorf("sent %s %+v, want %+v", gotID, got, want)
	}
	if want := "Acknowledged INC-20261121-AB12C for eu-gdpr-art33 (paging stopped)\n"; out != want {
		t.Errorf("out = %q, want %q", out, want)
	}

	stopped = false
	if _, out, _ := run(t, svc, env, "ack", "INC-20261121-AB12C"); out != "Acknowledged INC-20261121-AB12C (nothing was paging)\n" {
		t.Errorf("without a page: out = %q", out)
	}

	code, out, _ = run(t, svc, env, "ack", "INC-20261121-AB12C", "-o", "json")
	var st incident.Status
	if code != ExitOK || json.Unmarshal([]byte(out), &st) != nil || st.Timeline[len(st.Timeline)-1].Kind != "acknowledged" {
		t.Errorf("json: exit %d, %s", code, out)
	}

	svc.ack = func(id string, _ workflows.AckRequest) (incident.Status, error) {
		return incident.Status{}, apperr.New(apperr.Conflict, "incident %s is closed", id)
	}
	if code, _, errOut := run(t, svc, env, "ack", "INC-20261121-AB12C"); code != ExitConflict || !strings.Contains(errOut, "is closed") {
		t.Errorf("closed incident: exit %d, %q; want %d", code, errOut, ExitConflict)
	}
	if code, _, _ := run(t, &fakeIncidents{}, env, "ack"); code != ExitInvalid {
		t.Errorf("no ID: exit %d, want %d", code, ExitInvalid)
	}
}

func TestAssignRequestFromArgs(t *testing.T) {
	tests := []struct {
		args    []string
		wantReq workflows.AssignRequest
		wantErr bool
	}{
		{args: []string{"INC-20261121-AB12C", "commander", "alice@example.com"}, wantReq: workflows.AssignRequest{Role: "commander", Person: "alice@example.com"}},
		{args: []string{"INC-20261121-AB12C", "DPO", "Dana", "Okafor"}, wantReq: workflows.AssignRequest{Role: "dpo", Person: "Dana Okafor"}},
		{args: []string{"INC-20261121-AB12C", "scribe", " slack:U0123ABCD "}, wantReq: workflows.AssignRequest{Role: "scribe", Person: "slack:U0123ABCD"}},
		{args: []string{"INC-20261121-AB12C", "janitor", "bob"}, wantErr: true},
		{args: []string{"INC-20261121-AB12C", "legal"}, wantErr: true},
		{args: []string{"INC-20261121-AB12C", "legal", " "}, wantErr: true},
		{args: []string{"INC-20261121-AB12C"}, wantErr: true},
		{args: []string{"not-an-id", "legal", "bob"}, wantErr: true},
	}
	for _, tt := range tests {
		id, req, err := assignRequest(tt.args)
		if tt.wantErr {
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("%q: err = %v, want invalid", tt.args, err)
			}
			continue
		}
		if err != nil || id != "INC-20261121-AB12C" || req != tt.wantReq {
			t.Errorf("%q: %q %+v %v; want %+v", tt.args, id, req, err, tt.wantReq)
		}
	}
}

func TestAssignSendsTheUpdateAndSaysWhatChanged(t *testing.T) {
	var gotID string
	var got workflows.AssignRequest
	svc := &fakeIncidents{assign: func(id string, req workflows.AssignRequest) (incident.Status, error) {
		gotID, got = id, req
		st := statusFor(incident.Facts{Title: "t", AwareAt: now})
		st.Roles = map[string]string{req.Role: req.Person}
		st.Timeline.Append(now, "role_assigned", req.Actor, "", req.Person+" is now the incident commander (was bob)")
		return st, nil
	}}
	env := map[string]string{"BREACHCTL_ACTOR": "cli:alice"}
	code, out, errOut := run(t, svc, env, "assign", "INC-20261121-AB12C", "commander", "alice@example.com")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := (workflows.AssignRequest{Role: "commander", Person: "alice@example.com", Actor: "cli:alice"}); gotID != "INC-20261121-AB12C" || got != want {
		t.Errorf("sent %s %+v, want %+v", gotID, got, want)
	}
	if want := "INC-20261121-AB12C: alice@example.com is now the incident commander (was bob)\n"; out != want {
		t.Errorf("out = %q, want %q", out, want)
	}

	code, out, _ = run(t, svc, env, "assign", "INC-20261121-AB12C", "commander", "alice@example.com", "-o", "json")
	var st incident.Status
	if code != ExitOK || json.Unmarshal([]byte(out), &st) != nil || st.Roles["commander"] != "alice@example.com" {
		t.Errorf("json: exit %d, %s", code, out)
	}

	svc.assign = func(string, workflows.AssignRequest) (incident.Status, error) {
		return incident.Status{}, apperr.New(apperr.Conflict, "alice@example.com is already the incident commander")
	}
	if code, _, errOut := run(t, svc, env, "assign", "INC-20261121-AB12C", "commander", "alice@example.com"); code != ExitConflict || !strings.Contains(errOut, "already") {
		t.Errorf("no change: exit %d, %q; want %d", code, errOut, ExitConflict)
	}
	if code, _, _ := run(t, &fakeIncidents{}, env, "assign", "INC-20261121-AB12C", "janitor", "bob"); code != ExitInvalid {
		t.Errorf("unknown role: exit %d, want %d", code, ExitInvalid)
	}
}

func TestShowPrintsRolesWhenSet(t *testing.T) {
	st := statusFor(incident.Facts{Title: "t", AwareAt: now})
	svc := &fakeIncidents{show: func(string) (incident.Status, error) { return st, nil }}
	if _, out, _ := run(t, svc, nil, "show", "INC-20261121-AB12C"); strings.Contains(out, "ROLES") {
		t.Errorf("no roles, yet a ROLES section:\n%s", out)
	}
	st.Roles = map[string]string{"scribe": "Sam", "commander": "alice@example.com"}
	_, out, _ := run(t, svc, nil, "show", "INC-20261121-AB12C")
	want := "\nROLES\n  commander  alice@example.com  (incident commander)\n  scribe     Sam                (scribe)\n\nCLOCKS\n"
	if !strings.Contains(out, want) {
		t.Errorf("show lacks %q:\n%s", want, out)
	}
}
