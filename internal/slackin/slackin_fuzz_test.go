package slackin

import (
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
)

// FuzzVerifySignature drives the signature check with any body and any
// headers. A request signed now with the secret is accepted; one bit of its
// signature flipped, or one byte of its body changed, and it is refused. Any
// other headers are accepted only when they carry the HMAC of their own
// timestamp and the body, and the timestamp is within five minutes.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(docsBody), docsTimestamp, docsSignature, uint16(0), int64(0))
	f.Add([]byte(slash("UADMIN", "note "+testID+" hi")), "", "", uint16(255), int64(-299))
	f.Add([]byte(""), "", "v0=", uint16(7), int64(301))
	f.Add([]byte("payload=%7B%7D"), "+1531420618", "V0="+strings.ToUpper(docsSignature[3:]), uint16(3), int64(-400))
	f.Add([]byte("x"), "0001531420618", "v0=zz", uint16(1), int64(1<<40))
	f.Fuzz(func(t *testing.T, body []byte, tsHeader, sigHeader string, flip uint16, skew int64) {
		h, err := New(Config{SigningSecret: testSecret, Incidents: newFakeIncidents(), Views: &fakeViews{}, Responder: &fakeResponder{}})
		if err != nil {
			t.Fatal(err)
		}
		header := func(ts, sig string) http.Header {
			hd := http.Header{}
			hd.Set("X-Slack-Request-Timestamp", ts)
			hd.Set("X-Slack-Signature", sig)
			return hd
		}
		now := time.Now()
		ts := strconv.FormatInt(now.Unix(), 10)
		good := sign(testSecret, ts, string(body))
		if err := h.verify(header(ts, good), body); err != nil {
			t.Fatalf("signed now, refused: %v", err)
		}
		mac, _ := hex.DecodeString(strings.TrimPrefix(good, "v0="))
		bit := int(flip) % (8 * len(mac))
		mac[bit/8] ^= 1 << (bit % 8)
		if err := h.verify(header(ts, "v0="+hex.EncodeToString(mac)), body); err == nil {
			t.Fatalf("accepted with bit %d of the signature flipped", bit)
		}
		changed := append([]byte(nil), body...)
		if len(changed) == 0 {
			changed = []byte{byte(flip)}
		} else {
			changed[int(flip)%len(changed)] ^= 1 << (flip % 8)
		}
		if err := h.verify(header(ts, good), changed); err == nil {
			t.Fatalf("accepted %q with the signature of %q", changed, body)
		}

		// Headers as sent: accepted only with the right signature, fresh.
		fresh := func(ts string) (ok, edge bool) {
			secs, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return false, false
			}
			d := now.Sub(time.Unix(secs, 0)).Abs()
			return d <= 5*time.Minute, d > 5*time.Minute-5*time.Second && d < 5*time.Minute+5*time.Second
		}
		err = h.verify(header(tsHeader, sigHeader), body)
		if err != nil && err.Error() == "" {
			t.Fatal("a refusal without a reason")
		}
		if err == nil {
			want := sign(testSecret, tsHeader, string(body))
			ok, _ := fresh(tsHeader)
			if !strings.HasPrefix(sigHeader, "v0=") || !strings.EqualFold(sigHeader, want) || !ok {
				t.Fatalf("accepted timestamp %q, signature %q (want %q)", tsHeader, sigHeader, want)
			}
		}
		// A right signature for any timestamp: accepted if and only if it is fresh.
		if tsHeader == "" {
			tsHeader = strconv.FormatInt(now.Unix()+skew%(1<<40), 10)
		}
		err = h.verify(header(tsHeader, sign(testSecret, tsHeader, string(body))), body)
		if ok, edge := fresh(tsHeader); !edge && (err == nil) != ok {
			t.Fatalf("timestamp %q (now %d), fresh = %v: verify says %v", tsHeader, now.Unix(), ok, err)
		}
	})
}

// checkServed checks the answer to a signed request and everything it set
// off: never a server error; a body, when there is one, is JSON; and the
// incident service only ever sees canonical incident IDs, from users whose
// role allows what they asked, with facts that validate.
func checkServed(t *testing.T, r *rig, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest:
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusOK && rec.Body.Len() > 0 {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer %q of type %q is not JSON", rec.Body, ct)
		}
	}
	needs := map[string]Action{"open": ActionOpen, "note": ActionNote, "close": ActionClose, "approve": ActionApprove,
		"ack": ActionAck, "assign": ActionAssign}
	for _, c := range r.inc.Calls() {
		if c.ID != "" {
			if id, err := incident.ParseID(c.ID); err != nil || id != c.ID {
				t.Fatalf("%s called with incident ID %q", c.Op, c.ID)
			}
		}
		a, mutates := needs[c.Op]
		if !mutates {
			continue
		}
		user, ok := strings.CutPrefix(c.Actor, "slack:")
		if !ok || !testRoles.Allows(user, a) {
			t.Fatalf("%s called by %q, whose role does not allow it", c.Op, c.Actor)
		}
		switch c.Op {
		case "open":
			if err := c.Facts.Validate(); err != nil {
				t.Fatalf("opened with facts that do not validate: %v", err)
			}
		case "note", "close":
			if strings.TrimSpace(c.Text) == "" {
				t.Fatalf("%s without text", c.Op)
			}
		case "approve":
			if len(c.Rules) == 0 {
				t.Fatal("approve without a rule")
			}
		}
	}
}

func formSeeds(t testing.TB) []string {
	var out []string
	add := func(p map[string]any) {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	add(viewPayload("UADMIN", callbackOpen, formMeta{ResponseURL: "https://hooks.slack.test/commands/1", Channel: "C1"}.encode(), openValues(nil)))
	add(viewPayload("UNOBODY", callbackOpen, "", openValues(setText(blockRegions, "EU, Atlantis"))))
	add(viewPayload("URESP", callbackNote, formMeta{Incident: strings.ToLower(testID)}.encode(),
		map[string]any{blockNote: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": "found it"}}}))
	add(viewPayload("UAPPR", callbackApprove, approveMeta, approveValues()))
	add(viewPayload("UCMDR", callbackApprove, `{"i":"INC-20261120-7K3QX","u":[]}`, nil))
	for _, user := range []string{"UADMIN", "UCMDR", "UAPPR", "UREPORTER"} {
		add(buttonPayload(user, ActionIDAck, testID))
		add(buttonPayload(user, ActionIDAddNote, " "+testID))
		add(buttonPayload(user, ActionIDApprove, testID+"|eu-gdpr-art33"))
	}
	add(buttonPayload("UADMIN", ActionIDApprove, testID+"| "))
	add(map[string]any{"type": "shortcut"})
	out = append(out, `{"type":"view_submission","view":{"callback_id":"breach_open","state":null}}`,
		`{"type":"block_actions","actions":[{"block_id":1},{"action_id":"ack"}]}`, `[]`, `null`, `{`)
	return out
}

// FuzzServeSigned sends any body, correctly signed, the way Slack posts a
// slash command or an interaction.
func FuzzServeSigned(f *testing.F) {
	for _, text := range []string{"", "help", "open", "status", "status " + testID, "list overdue", "note " + testID + " found it",
		"ack " + testID + " eu-gdpr-art33 on it", "close " + testID + " false alarm", "approve " + testID + " eu-gdpr-art33",
		"assign " + testID + " dpo <@U0123ABCD|dana>", "scope " + testID} {
		for _, user := range []string{"UADMIN", "UREPORTER"} {
			f.Add([]byte(slash(user, text)))
		}
	}
	for _, p := range formSeeds(f) {
		f.Add([]byte(url.Values{"payload": {p}}.Encode()))
	}
	f.Add([]byte("command=%2Fother&text=help"))
	f.Add([]byte("%zz"))
	f.Add([]byte("command=/breach&command=/other&user_id=UADMIN&text=close+" + testID + "+x;y"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := newRig(t)
		checkServed(t, r, r.serve(t, string(body)))

		// The same signed bytes twice: the second is a replay, refused
		// with 401 whatever the first did, and it calls nothing.
		now := time.Now()
		send := func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			r.h.ServeHTTP(rec, signedRequest(testSecret, now, string(body)))
			r.wait(t)
			return rec
		}
		first := send()
		views := func() int {
			r.views.mu.Lock()
			defer r.views.mu.Unlock()
			return len(r.views.opened) + len(r.views.updated)
		}
		calls, opened := len(r.inc.Calls()), views()
		if again := send(); first.Code != http.StatusRequestEntityTooLarge &&
			(again.Code != http.StatusUnauthorized || len(r.inc.Calls()) != calls || views() != opened) {
			t.Fatalf("replayed: status %d (first %d), calls %d then %d", again.Code, first.Code, calls, len(r.inc.Calls()))
		}
	})
}

// FuzzInteractionPayload sends any JSON as the payload of an interaction:
// view submissions (the report, note and approval forms) and button
// presses.
func FuzzInteractionPayload(f *testing.F) {
	for _, p := range formSeeds(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		r := newRig(t)
		rec := r.serve(t, url.Values{"payload": {payload}}.Encode())
		checkServed(t, r, rec)
		var cb slack.InteractionCallback
		if json.Unmarshal([]byte(payload), &cb) != nil && rec.Code != http.StatusBadRequest {
			t.Fatalf("a payload that is not an interaction answered %d", rec.Code)
		}
	})
}

// openBlocks are the blocks of the report form, where an error can show.
var openBlocks = []string{blockTitle, blockDescription, blockAwareAt, blockSystems, blockCategories, blockRegions, blockSeverity}

// FuzzFormFacts fills the report form with anything: either every error
// sits on a block of the form and says something, or the facts validate,
// are already normalized, are reported by the person who sent the form and
// became known no later than a minute from now.
func FuzzFormFacts(f *testing.F) {
	aware := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC).Unix()
	f.Add("Export bucket public", "The bucket was listable.", "uploads, accounts", "de us-ca", "email,name", "high", aware)
	f.Add(" ", "", "billing/db", "EU, Atlantis", "shoe_size", "apocalyptic", int64(0))
	f.Add("x", "y", "", "", "", "", aware+3600)
	f.Add(strings.Repeat("t", 201), "d", "a;b c", "EEA", "health", "CRITICAL", int64(-62135596800))
	f.Add("t", "d", "", "", "", "", int64(1<<62))
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, title, description, systems, regions, categories, severity string, awareAt int64) {
		text := func(v string) map[string]slack.BlockAction {
			return map[string]slack.BlockAction{inputAction: {Value: v}}
		}
		var cats []slack.OptionBlockObject
		for _, c := range strings.Split(categories, ",") {
			cats = append(cats, slack.OptionBlockObject{Value: c})
		}
		state := &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
			blockTitle: text(title), blockDescription: text(description), blockSystems: text(systems), blockRegions: text(regions),
			blockCategories: {inputAction: {SelectedOptions: cats}},
			blockSeverity:   {inputAction: {SelectedOption: slack.OptionBlockObject{Value: severity}}},
			blockAwareAt:    {inputAction: {SelectedDateTime: awareAt}},
		}}
		facts, errs := formFacts(state, now, "slack:UFORM")
		if len(errs) > 0 {
			for block, msg := range errs {
				if !slices.Contains(openBlocks, block) || strings.TrimSpace(msg) == "" {
					t.Fatalf("error %q on block %q", msg, block)
				}
			}
			return
		}
		if err := facts.Validate(); err != nil {
			t.Fatalf("accepted facts that do not validate: %v", err)
		}
		if facts.Reporter != "slack:UFORM" || facts.AwareAt.After(now.Add(time.Minute)) {
			t.Fatalf("accepted %+v", facts)
		}
		if n := facts.Normalize(); !factsEqual(n, facts) {
			t.Fatalf("accepted facts are not normalized: %+v, normalized %+v", facts, n)
		}
	})
}

func factsEqual(a, b incident.Facts) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzCommandForm reads any JSON as a Socket Mode slash command, the way
// an envelope is answered: a form whose string fields are the JSON's
// strings, which encoded again as JSON reads back the same, and which the
// handler answers as it answers the same form over HTTP.
func FuzzCommandForm(f *testing.F) {
	f.Add([]byte(`{"command":"/breach","text":"a &amp; b","is_enterprise_install":false,"n":3}`))
	f.Add([]byte(`{"command":"/breach","text":"note ` + testID + ` hi","user_id":"URESP","response_url":"https://hooks.slack.test/1"}`))
	f.Add([]byte(`{"command":"/breach","text":"open","user_id":"UADMIN","trigger_id":"t"}`))
	f.Add([]byte(`{"command":"/breach","text":{"nested":[1,2]},"user_id":null}`))
	f.Add([]byte(`{"a":"\ud800","a":"b"}`))
	for _, bad := range []string{`null`, `[]`, `"x"`, `{`, ``} {
		f.Add([]byte(bad))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		form, err := commandForm(payload)
		var fields map[string]json.RawMessage
		refErr := json.Unmarshal(payload, &fields)
		if err != nil {
			if refErr == nil && fields != nil {
				t.Fatalf("%q is a JSON object, refused: %v", payload, err)
			}
			return
		}
		if refErr != nil || fields == nil {
			t.Fatalf("%q is no JSON object, read as %v", payload, form)
		}
		if len(form) != len(fields) {
			t.Fatalf("%d fields read as %d", len(fields), len(form))
		}
		strs := map[string]string{}
		for k, raw := range fields {
			var s string
			if json.Unmarshal(raw, &s) == nil && form.Get(k) != s {
				t.Fatalf("field %q is %q, read as %q", k, s, form.Get(k))
			}
			strs[k] = form.Get(k)
		}
		// A JSON string holds valid UTF-8 only: the raw text of a non-string
		// value may not be, and then cannot come back the same.
		if !slices.ContainsFunc(slices.Collect(maps.Values(strs)), func(v string) bool { return !utf8.ValidString(v) }) {
			again, _ := json.Marshal(strs)
			back, err := commandForm(again)
			if err != nil || !maps.EqualFunc(back, form, slices.Equal) {
				t.Fatalf("%s reads back as %v, %v; want %v", again, back, err, form)
			}
		}
		r := newRig(t)
		rec := httptest.NewRecorder()
		r.h.dispatch(rec, form)
		r.wait(t)
		checkServed(t, r, rec)
	})
}

// FuzzDecodeMeta: any private_metadata decodes (bad metadata as none), and
// what is decoded is encoded and decoded again unchanged.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(approveMeta)
	f.Add(formMeta{ResponseURL: "https://hooks.slack.test/x", Channel: "C1"}.encode())
	f.Add(`{"i":"INC-20261120-7K3QX","u":[]}`)
	f.Add(`{"u":["a",null,"\u00e9\xff"],"r":1}`)
	f.Add(`not json`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		m := decodeMeta(s)
		back := decodeMeta(m.encode())
		if back.ResponseURL != m.ResponseURL || back.Channel != m.Channel || back.Incident != m.Incident || !slices.Equal(back.Rules, m.Rules) {
			t.Fatalf("%q decodes as %+v, which reads back as %+v", s, m, back)
		}
	})
}
