package slackin

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/workflows"
)

// call is one call the fake incident service saw.
type call struct {
	Op, ID, Text, Actor string
	Rule                string // ack
	Role, Person        string // assign
	Facts               incident.Facts
	Rules               []string
	Texts               activities.NoticeTexts
	Filter              orchestrator.ListFilter
	Draft               string // approve of a draft, reject
}

// fakeIncidents records calls; function fields change what it answers.
type fakeIncidents struct {
	mu    sync.Mutex
	calls []call
	// known are the incidents that exist; others are not found.
	known map[string]incident.Status
	list  []incident.Summary
	err   error // returned by every call when set
	// approveErr is returned by Approve when set.
	approveErr error
	// required is how many approvals a new draft needs (2 when 0).
	required int
	// paging makes Acknowledge stop a page.
	paging bool
}

var _ Incidents = (*fakeIncidents)(nil)

func newFakeIncidents() *fakeIncidents {
	due := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	st := incident.Status{
		ID: testID, State: incident.StateOpen, OpenedAt: due.Add(-72 * time.Hour), OpenedBy: "slack:UOPENER",
		Facts:        incident.Facts{Title: "Export bucket public", Description: "The export bucket was listable.", Severity: incident.SeverityHigh},
		NextDeadline: &due, BindingRule: "eu-gdpr-art33",
		Clocks: []incident.Clock{
			{Obligation: incident.Obligation{Rule: "eu-gdpr-art33", Title: "Tell the supervisory authority", Due: &due}, State: incident.ClockRunning},
			{Obligation: incident.Obligation{Rule: "us-ca-1798.82", Title: "Tell Californians"}, State: incident.ClockMet, NoticeID: "N-1"},
		},
	}
	return &fakeIncidents{
		known: map[string]incident.Status{testID: st},
		list:  []incident.Summary{{ID: testID, State: incident.StateOpen, Severity: incident.SeverityHigh, Title: "Export bucket public"}},
	}
}

const testID = "INC-20261120-7K3QX"

// testHash names the draft the fake records.
const testHash = "3f9a0c1d2e4b"

func (f *fakeIncidents) record(c call) (incident.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if f.err != nil {
		return incident.Status{}, f.err
	}
	if c.ID == "" {
		return incident.Status{}, nil
	}
	st, ok := f.known[c.ID]
	if !ok {
		return incident.Status{}, apperr.New(apperr.NotFound, "no incident %s in namespace default", c.ID)
	}
	return st, nil
}

func (f *fakeIncidents) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeIncidents) Open(_ context.Context, facts incident.Facts, actor string) (incident.Status, error) {
	if _, err := f.record(call{Op: "open", Facts: facts, Actor: actor}); err != nil {
		return incident.Status{}, err
	}
	st := f.known[testID]
	st.Facts = facts
	return st, nil
}

func (f *fakeIncidents) List(_ context.Context, flt orchestrator.ListFilter) ([]incident.Summary, error) {
	_, err := f.record(call{Op: "list", Filter: flt})
	return f.list, err
}

func (f *fakeIncidents) Show(_ context.Context, id string) (incident.Status, error) {
	return f.record(call{Op: "show", ID: id})
}

func (f *fakeIncidents) Note(_ context.Context, id, text, actor string) (incident.Entry, error) {
	_, err := f.record(call{Op: "note", ID: id, Text: text, Actor: actor})
	return incident.Entry{Seq: 7, Text: text, Actor: actor}, err
}

func (f *fakeIncidents) CloseWith(_ context.Context, id string, req workflows.CloseRequest) (incident.Status, error) {
	op := "close"
	if req.AcknowledgeOpen {
		op = "close --yes"
	}
	return f.record(call{Op: op, ID: id, Text: req.Reason, Actor: req.Actor})
}

func (f *fakeIncidents) Approve(_ context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	st, err := f.record(call{Op: "approve", ID: id, Rules: req.Rules, Texts: req.Texts, Actor: req.Actor, Draft: req.Draft})
	if err == nil && f.approveErr != nil {
		return incident.Status{}, f.approveErr
	}
	if err != nil || req.Draft == "" {
		return st, err
	}
	// An approval of a draft, with the workflow's rules about it.
	f.mu.Lock()
	defer f.mu.Unlock()
	st = f.known[id]
	st.Drafts = slices.Clone(st.Drafts)
	i := slices.IndexFunc(st.Drafts, func(d incident.Draft) bool { return d.Hash == req.Draft })
	if i < 0 {
		return incident.Status{}, apperr.New(apperr.Invalid, "draft: incident %s has no draft %q", id, req.Draft)
	}
	d := &st.Drafts[i]
	switch {
	case d.State != incident.DraftPending:
		return incident.Status{}, apperr.New(apperr.Conflict, "draft %s is %s", d.Hash, d.State)
	case slices.ContainsFunc(d.Approvals, func(a incident.Approval) bool { return a.By == req.Actor }):
		return incident.Status{}, apperr.New(apperr.Conflict, "%s has already approved draft %s: it needs another approver", req.Actor, d.Hash)
	}
	d.Approvals = append(slices.Clone(d.Approvals), incident.Approval{By: req.Actor})
	if len(d.Approvals) >= d.Required {
		d.State = incident.DraftApproved
		st.Clocks = slices.Clone(st.Clocks)
		for j := range st.Clocks {
			if st.Clocks[j].Rule == d.Rules[0] {
				st.Clocks[j].NoticeID = "N-2"
			}
		}
	}
	f.known[id] = st
	return st, nil
}

func (f *fakeIncidents) Draft(_ context.Context, id string, req workflows.ApproveRequest) (incident.Status, error) {
	if _, err := f.record(call{Op: "draft", ID: id, Rules: req.Rules, Texts: req.Texts, Actor: req.Actor}); err != nil {
		return incident.Status{}, err
	}
	raw, _ := json.Marshal(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.known[id]
	st.Drafts = append(slices.Clone(st.Drafts), incident.Draft{Hash: testHash, Rules: req.Rules, Notify: "authority", By: req.Actor,
		State: incident.DraftPending, Required: cmp.Or(f.required, 2), Request: raw})
	f.known[id] = st
	return st, nil
}

func (f *fakeIncidents) Reject(_ context.Context, id string, req workflows.RejectRequest) (incident.Status, error) {
	if _, err := f.record(call{Op: "reject", ID: id, Draft: req.Draft, Text: req.Reason, Actor: req.Actor}); err != nil {
		return incident.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.known[id]
	st.Drafts = slices.Clone(st.Drafts)
	for i := range st.Drafts {
		if st.Drafts[i].Hash == req.Draft {
			if st.Drafts[i].State != incident.DraftPending {
				return incident.Status{}, apperr.New(apperr.Conflict, "draft %s is %s", req.Draft, st.Drafts[i].State)
			}
			st.Drafts[i].State, st.Drafts[i].Reason = incident.DraftRejected, req.Reason
		}
	}
	f.known[id] = st
	return st, nil
}

func (f *fakeIncidents) Acknowledge(_ context.Context, id string, req workflows.AckRequest) (incident.Status, error) {
	st, err := f.record(call{Op: "ack", ID: id, Rule: req.Rule, Text: req.Text, Actor: req.Actor})
	if err != nil {
		return st, err
	}
	text := "Acknowledged by " + req.Actor
	if f.paging {
		text += "; paging stopped"
	}
	st.Timeline = append(slices.Clone(st.Timeline), incident.Entry{Seq: len(st.Timeline) + 1, Kind: entryAcknowledged, Actor: req.Actor, Rule: req.Rule, Text: text})
	return st, nil
}

func (f *fakeIncidents) Assign(_ context.Context, id string, req workflows.AssignRequest) (incident.Status, error) {
	st, err := f.record(call{Op: "assign", ID: id, Role: req.Role, Person: req.Person, Actor: req.Actor})
	if err != nil {
		return st, err
	}
	st.Roles = maps.Clone(st.Roles)
	if st.Roles == nil {
		st.Roles = map[string]string{}
	}
	st.Roles[req.Role] = req.Person
	return st, nil
}

// fakeViews records the modals opened and updated.
type fakeViews struct {
	mu      sync.Mutex
	opened  []openedView
	updated []slack.ModalViewRequest
	openErr error
}

type openedView struct {
	Trigger string
	View    slack.ModalViewRequest
}

var _ Views = (*fakeViews)(nil)

func (v *fakeViews) OpenView(_ context.Context, triggerID string, view slack.ModalViewRequest) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.openErr != nil {
		return v.openErr
	}
	v.opened = append(v.opened, openedView{triggerID, view})
	return nil
}

func (v *fakeViews) UpdateView(_ context.Context, viewID string, view slack.ModalViewRequest) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.updated = append(v.updated, view)
	return nil
}

// fakeResponder records follow-ups by response_url.
type fakeResponder struct {
	mu    sync.Mutex
	posts []posted
}

type posted struct {
	URL string
	Msg *slack.WebhookMessage
}

var _ Responder = (*fakeResponder)(nil)

func (r *fakeResponder) Respond(_ context.Context, u string, msg *slack.WebhookMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts = append(r.posts, posted{u, msg})
	return nil
}

func (r *fakeResponder) Posts() []posted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]posted(nil), r.posts...)
}

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

var testRoles = Roles{
	Default: RoleReporter,
	Users: map[string][]Role{
		"URESP":  {RoleResponder},
		"UCMDR":  {RoleCommander},
		"UAPPR":  {RoleApprover},
		"UADMIN": {RoleAdmin},
	},
}

type rig struct {
	h     *Handler
	inc   *fakeIncidents
	views *fakeViews
	resp  *fakeResponder
	sent  int // requests served, to make each one distinct
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{inc: newFakeIncidents(), views: &fakeViews{}, resp: &fakeResponder{}}
	h, err := New(Config{
		SigningSecret: testSecret, Incidents: r.inc, Views: r.views, Roles: testRoles, Responder: r.resp,
		Now: func() time.Time { return time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	return r
}

// serve sends a signed request and waits for the work carried on after it.
// Each request differs from the last, as Slack's do (a trigger ID, an
// action time): the same bytes twice are a replay, refused.
func (r *rig) serve(t *testing.T, body string) *httptest.ResponseRecorder {
	t.Helper()
	r.sent++
	req := signedRequest(testSecret, time.Now(), body+"&x_test_request="+strconv.Itoa(r.sent))
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	r.wait(t)
	return rec
}

func (r *rig) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.h.Wait(ctx); err != nil {
		t.Fatalf("background work did not finish: %v", err)
	}
}

func sign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

func signedRequest(secret string, at time.Time, body string) *http.Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sign(secret, ts, body))
	return req
}

// slash is the form of a slash command.
func slash(user, text string) string {
	return url.Values{
		"command": {"/breach"}, "text": {text}, "user_id": {user}, "channel_id": {"C1"},
		"response_url": {"https://hooks.slack.test/commands/1"}, "trigger_id": {"trig-1"},
	}.Encode()
}

// interactionBody is the form Slack posts for an interaction.
func interactionBody(t *testing.T, payload map[string]any) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}

func buttonPayload(user, actionID, value string) map[string]any {
	return map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "name": "ada"},
		"trigger_id":   "trig-2",
		"response_url": "https://hooks.slack.test/actions/2",
		"actions": []any{map[string]any{
			"type": "button", "action_id": actionID, "block_id": "incident_actions", "value": value,
		}},
	}
}

func viewPayload(user, callbackID, meta string, values map[string]any) map[string]any {
	return map[string]any{
		"type": "view_submission",
		"user": map[string]any{"id": user},
		"view": map[string]any{
			"id": "V1", "callback_id": callbackID, "private_metadata": meta,
			"state": map[string]any{"values": values},
		},
	}
}
