package slackin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

const testAppToken = "xapp-1-A111-222-abcdef"

// fakeSocketSlack speaks Slack's side of Socket Mode: apps.connections.open
// with the app-level token, then a websocket that says hello, sends the
// envelopes it is given and hands back the client's acks.
type fakeSocketSlack struct {
	srv   *httptest.Server
	send  chan any
	acks  chan socketAck
	opens chan string // the Authorization header of each apps.connections.open
}

// socketAck is what the client writes back for an envelope.
type socketAck struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

func newFakeSocketSlack(t *testing.T) *fakeSocketSlack {
	t.Helper()
	f := &fakeSocketSlack{send: make(chan any, 8), acks: make(chan socketAck, 8), opens: make(chan string, 8)}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		f.opens <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+testAppToken {
			_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws://" + r.Host + "/link"})
	})
	mux.HandleFunc("GET /link", func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		hello := map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A111"}}
		if err := conn.WriteJSON(hello); err != nil {
			return
		}
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			for {
				var a socketAck
				if err := conn.ReadJSON(&a); err != nil {
					return
				}
				f.acks <- a
			}
		}()
		for {
			select {
			case env := <-f.send:
				if err := conn.WriteJSON(env); err != nil {
					return
				}
			case <-gone:
				return
			}
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// runSocketMode runs the rig's handler against the fake until the test
// ends, and checks it then returns nil.
func (f *fakeSocketSlack) run(t *testing.T, r *rig, appToken string) {
	t.Helper()
	api := slack.New("xoxb-test", slack.OptionAppLevelToken(appToken), slack.OptionAPIURL(f.srv.URL+"/api/"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.h.RunSocketMode(ctx, socketmode.New(api)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode returned %v when its context ended, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunSocketMode did not return after its context ended")
		}
	})
}

// exchange sends one envelope and returns the client's ack of it.
func (f *fakeSocketSlack) exchange(t *testing.T, id, typ string, payload any, acceptsPayload bool) socketAck {
	t.Helper()
	return f.exchangeEnvelope(t, map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": acceptsPayload})
}

// exchangeEnvelope sends an envelope as given and returns the client's ack
// of it.
func (f *fakeSocketSlack) exchangeEnvelope(t *testing.T, env map[string]any) socketAck {
	t.Helper()
	id := env["envelope_id"]
	f.send <- env
	select {
	case a := <-f.acks:
		if a.EnvelopeID != id {
			t.Fatalf("ack for envelope %q, want %v", a.EnvelopeID, id)
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("envelope %s was not acknowledged", id)
	}
	return socketAck{}
}

// commandPayload is a slash command as Socket Mode sends it: the fields of
// the HTTP form as a JSON object.
func commandPayload(t *testing.T, user, text string) map[string]any {
	t.Helper()
	form, err := url.ParseQuery(slash(user, text))
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"is_enterprise_install": false, "team_id": "T1"}
	for k := range form {
		p[k] = form.Get(k)
	}
	return p
}

// logTo makes the rig's handler log into a buffer.
func logTo(r *rig) *syncBuffer {
	var b syncBuffer
	r.h.log = slog.New(slog.NewTextHandler(&b, nil))
	return &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(x, y)
}

func TestSocketModeSlashCommands(t *testing.T) {
	fake := newFakeSocketSlack(t)
	r := newRig(t)
	logs := logTo(r)
	fake.run(t, r, testAppToken)

	tests := []struct {
		name, user, text string
		want             string // in the ack's answer, which must equal the HTTP answer
		wantPost         string // on response_url afterwards ("" = nothing)
	}{
		{"help", "UREP", "help", "/breach note INC-ID text", ""},
		{"refusal", "URESP", "close " + testID + " false alarm", "needs the *commander* role", ""},
		{"malformed", "UADMIN", "status INC-1", "is not an incident ID", ""},
		{"status answers now and later", "UREP", "status " + testID, "Looking up " + testID, testID + ": open, severity high"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.resp.Posts())
			id := "e" + string(rune('1'+i))
			ack := fake.exchange(t, id, "slash_commands", commandPayload(t, tt.user, tt.text), true)
			r.wait(t)
			if !strings.Contains(string(ack.Payload), tt.want) {
				t.Fatalf("ack payload %s, want the answer with %q", ack.Payload, tt.want)
			}
			overHTTP := newRig(t).serve(t, slash(tt.user, tt.text))
			if !jsonEqual(t, ack.Payload, overHTTP.Body.Bytes()) {
				t.Errorf("ack payload %s\nHTTP answer  %s", ack.Payload, overHTTP.Body)
			}
			posts := r.resp.Posts()[before:]
			switch {
			case tt.wantPost == "" && len(posts) != 0:
				t.Errorf("posted %+v, want nothing", posts)
			case tt.wantPost != "" && (len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, tt.wantPost)):
				t.Errorf("posted %+v, want one with %q", posts, tt.wantPost)
			}
		})
	}

	t.Run("open: the form opens and the ack is plain", func(t *testing.T) {
		ack := fake.exchange(t, "e-open", "slash_commands", commandPayload(t, "UREP", "open"), true)
		if len(ack.Payload) != 0 {
			t.Errorf("ack payload %s, want none", ack.Payload)
		}
		if len(r.views.opened) != 1 || r.views.opened[0].Trigger != "trig-1" {
			t.Fatalf("opened %+v", r.views.opened)
		}
		if m := decodeMeta(r.views.opened[0].View.PrivateMetadata); m.Channel != "C1" {
			t.Errorf("form metadata %+v", m)
		}
	})

	if got := <-fake.opens; got != "Bearer "+testAppToken {
		t.Errorf("apps.connections.open authorised with %q, want the app-level token", got)
	}
	if l := logs.String(); !strings.Contains(l, "slack socket mode ready") || strings.Contains(l, "false alarm") {
		t.Errorf("logs lack the hello or carry what was typed:\n%s", l)
	}
}

func TestSocketModeInteractions(t *testing.T) {
	fake := newFakeSocketSlack(t)
	r := newRig(t)
	fake.run(t, r, testAppToken)

	ack := fake.exchange(t, "b1", "interactive", buttonPayload("URESP", ActionIDAck, testID), false)
	r.wait(t)
	if len(ack.Payload) != 0 {
		t.Errorf("button ack payload %s, want none", ack.Payload)
	}
	want := call{Op: "ack", ID: testID, Actor: "slack:URESP"}
	if calls := r.inc.Calls(); len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
		t.Errorf("calls = %+v, want %+v", calls, want)
	}
	if posts := r.resp.Posts(); len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, "<@URESP> acknowledged "+testID) {
		t.Errorf("posts = %+v", posts)
	}

	// A refused form keeps its errors: they ride on the ack.
	meta := formMeta{ResponseURL: "https://hooks.slack.test/actions/2", Incident: testID}.encode()
	note := map[string]any{blockNote: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "keys rotated"}}}
	ack = fake.exchange(t, "v1", "interactive", viewPayload("UREP", callbackNote, meta, note), true)
	r.wait(t)
	var got slack.ViewSubmissionResponse
	if err := json.Unmarshal(ack.Payload, &got); err != nil || got.ResponseAction != slack.RAErrors ||
		!strings.Contains(got.Errors[blockNote], "needs the *responder* role") {
		t.Errorf("ack payload %s, want response_action errors with the refusal", ack.Payload)
	}
	if calls := r.inc.Calls(); len(calls) != 1 {
		t.Errorf("the refused note reached the service: %+v", calls)
	}
}

func TestSocketModeResentEnvelope(t *testing.T) {
	fake := newFakeSocketSlack(t)
	r := newRig(t)
	logs := logTo(r)
	fake.run(t, r, testAppToken)

	env := map[string]any{"envelope_id": "b-twice", "type": "interactive", "payload": buttonPayload("URESP", ActionIDAck, testID)}
	first := fake.exchangeEnvelope(t, env)
	r.wait(t)
	// The ack was lost: Slack sends the same envelope again.
	env["retry_attempt"], env["retry_reason"] = 1, "timeout"
	second := fake.exchangeEnvelope(t, env)
	r.wait(t)

	if len(first.Payload) != 0 || len(second.Payload) != 0 {
		t.Errorf("ack payloads %s and %s, want plain acks", first.Payload, second.Payload)
	}
	if calls := r.inc.Calls(); len(calls) != 1 {
		t.Errorf("calls = %+v, want the acknowledgement once", calls)
	}
	if posts := r.resp.Posts(); len(posts) != 1 {
		t.Errorf("posts = %+v, want one", posts)
	}
	l := logs.String()
	if !strings.Contains(l, "envelope already handled") || !strings.Contains(l, "envelope=b-twice") {
		t.Errorf("the resent envelope was not logged by its ID:\n%s", l)
	}

	// Another envelope is still handled.
	fake.exchange(t, "b-other", "interactive", buttonPayload("URESP", ActionIDAck, testID), false)
	r.wait(t)
	if calls := r.inc.Calls(); len(calls) != 2 {
		t.Errorf("calls = %+v, want a second acknowledgement for a new envelope", calls)
	}
}

func TestSeenEnvelopes(t *testing.T) {
	s := newSeenEnvelopes(3)
	for _, id := range []string{"a", "b", "c", "d"} {
		if !s.add(id) {
			t.Fatalf("%s seen before it was added", id)
		}
	}
	if !s.add("a") {
		t.Error("a is still remembered past the bound") // and now "b" is forgotten
	}
	for _, id := range []string{"c", "d", "a"} {
		if s.add(id) {
			t.Errorf("%s forgotten too early", id)
		}
	}
	if len(s.ids) != 3 {
		t.Errorf("remembers %d IDs, want at most 3", len(s.ids))
	}
	if !s.add("") || !s.add("") {
		t.Error("an empty ID counts as seen")
	}

	// Concurrent adds of one ID: exactly one is new.
	s = newSeenEnvelopes(maxSeenEnvelopes)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 50 {
		wg.Go(func() {
			if s.add("same") {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d concurrent adds of one ID were new, want 1", fresh)
	}
}

func TestSocketModeRefusedToken(t *testing.T) {
	fake := newFakeSocketSlack(t)
	r := newRig(t)
	api := slack.New("xoxb-test", slack.OptionAppLevelToken("xapp-1-revoked"), slack.OptionAPIURL(fake.srv.URL+"/api/"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.h.RunSocketMode(ctx, socketmode.New(api))
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("RunSocketMode = %v, want the invalid_auth error", err)
	}
}

func TestCommandForm(t *testing.T) {
	form, err := commandForm(json.RawMessage(`{"command":"/breach","text":"a &amp; b","is_enterprise_install":false,"n":3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"command": {"/breach"}, "text": {"a &amp; b"}, "is_enterprise_install": {"false"}, "n": {"3"}}
	if !reflect.DeepEqual(form, want) {
		t.Errorf("form = %v, want %v", form, want)
	}
	for _, bad := range []string{`null`, `[]`, `"x"`, `{`} {
		if _, err := commandForm(json.RawMessage(bad)); err == nil {
			t.Errorf("%s read as a form", bad)
		}
	}
}
