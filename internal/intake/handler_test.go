package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/store"
)

const (
	secret    = "whsec-0123456789abcdef0123456789abcdef"
	oldSecret = "whsec-old-0123456789abcdef0123456789"
	token     = "tok-0123456789abcdef0123456789abcdef"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t     *testing.T
	h     *Handler
	inc   *fakeIncidents
	keys  *store.Store
	clock *clock
	logs  *bytes.Buffer
	logMu *sync.Mutex
}

// newHarness runs the handler on a real SQLite store: the dedup protocol
// is the store's as much as the handler's.
func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "breachctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hs := &harness{t: t, inc: newFakeIncidents(), keys: st, logs: &bytes.Buffer{}, logMu: &sync.Mutex{},
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	cfg := Config{
		Secrets:   []string{secret, oldSecret},
		Tokens:    []string{token},
		Incidents: hs.inc,
		Keys:      st,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{hs.logMu, hs.logs}, nil)),
		Now:       hs.clock.now,
	}
	for _, m := range mod {
		m(&cfg)
	}
	if hs.h, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return hs
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type answer struct {
	status int
	header http.Header
	Result
	Error string `json:"error"`
	Field string `json:"field"`
}

func (hs *harness) post(path string, body []byte, header map[string]string) answer {
	hs.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		hs.t.Fatalf("answer is not JSON: %v: %s", err, rec.Body.String())
	}
	return a
}

// signed posts with a fresh signature.
func (hs *harness) signed(path string, body []byte) answer {
	hs.t.Helper()
	return hs.post(path, body, map[string]string{SignatureHeader: Sign(secret, hs.clock.now(), body)})
}

// bearer posts with the token.
func (hs *harness) bearer(path string, body []byte) answer {
	hs.t.Helper()
	return hs.post(path, body, map[string]string{"Authorization": "Bearer " + token})
}

func alertJSON(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	a := map[string]any{
		"title":      "Unusual export of customer records",
		"severity":   "high",
		"categories": []string{"email", "name"},
		"regions":    "DE,FR",
		"systems":    []string{"crm"},
		"source":     "siem",
		"dedup_key":  "rule-42/host-7",
	}
	for k, v := range fields {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignatures(t *testing.T) {
	hs := newHarness(t)
	body := alertJSON(t, nil)
	now := hs.clock.now()
	sign := func(s string, at time.Time, b []byte) map[string]string {
		return map[string]string{SignatureHeader: Sign(s, at, b)}
	}
	refused := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"wrong secret", sign("not-the-secret-0123456789", now, body), http.StatusUnauthorized},
		{"signed another body", sign(secret, now, []byte(`{"title":"x"}`)), http.StatusUnauthorized},
		{"six minutes old", sign(secret, now.Add(-6*time.Minute), body), http.StatusUnauthorized},
		{"six minutes ahead", sign(secret, now.Add(6*time.Minute), body), http.StatusUnauthorized},
		{"no timestamp", map[string]string{SignatureHeader: "v1=" + strings.Repeat("ab", 32)}, http.StatusUnauthorized},
		{"no v1", map[string]string{SignatureHeader: "t=" + strconv.FormatInt(now.Unix(), 10)}, http.StatusUnauthorized},
		{"a bad signature with a good token", map[string]string{SignatureHeader: Sign("wrong-secret-0123456789", now, body), "Authorization": "Bearer " + token}, http.StatusUnauthorized},
	}
	for _, c := range refused {
		if a := hs.post(PathAlerts, body, c.header); a.status != c.status || a.Error == "" {
			t.Errorf("%s: %d %+v, want %d with an error", c.name, a.status, a, c.status)
		}
	}
	if n := hs.inc.count(); n != 0 {
		t.Fatalf("%d incidents opened by refused requests", n)
	}

	// Four minutes old is fine; the same request again is a replay.
	header := sign(secret, now.Add(-4*time.Minute), body)
	first := hs.post(PathAlerts, body, header)
	if first.status != http.StatusCreated || first.Incident == "" || first.Deduplicated {
		t.Fatalf("signed alert: %d %+v", first.status, first)
	}
	if a := hs.post(PathAlerts, body, header); a.status != http.StatusConflict {
		t.Fatalf("replay: %d %+v, want 409", a.status, a)
	}
	// A rotated-out secret still verifies, and one good v1 among several
	// is enough.
	hs.clock.advance(time.Second)
	if a := hs.post(PathAlerts, body, sign(oldSecret, hs.clock.now(), body)); a.status != http.StatusOK || a.Incident != first.Incident {
		t.Fatalf("old secret: %d %+v", a.status, a)
	}
	hs.clock.advance(time.Second)
	two := Sign(secret, hs.clock.now(), body) + ",v1=" + strings.Repeat("00", 32)
	if a := hs.post(PathAlerts, body, map[string]string{SignatureHeader: two}); a.status != http.StatusOK {
		t.Fatalf("two v1: %d %+v", a.status, a)
	}
	if n := hs.inc.count(); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}

	// A refused payload is forgotten: sent again it is refused again for
	// what it is, not as a replay.
	bad := []byte(`{"title": ""}`)
	badHeader := sign(secret, hs.clock.now(), bad)
	for range 2 {
		if a := hs.post(PathAlerts, bad, badHeader); a.status != http.StatusBadRequest || a.Field != "title" {
			t.Fatalf("bad payload: %d %+v", a.status, a)
		}
	}
}

func TestBearerTokens(t *testing.T) {
	hs := newHarness(t)
	body := alertJSON(t, nil)
	for _, h := range []string{"Bearer nope-0123456789abcdef", "Basic " + token, "Bearer", token} {
		if a := hs.post(PathAlerts, body, map[string]string{"Authorization": h}); a.status != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", h, a.status)
		}
		if got := hs.post(PathAlerts, body, map[string]string{"Authorization": h}).header.Get("WWW-Authenticate"); got == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	if a := hs.bearer(PathAlerts, body); a.status != http.StatusCreated {
		t.Fatalf("bearer: %d %+v", a.status, a)
	}
	// Only signatures configured: a token is refused.
	sigOnly := newHarness(t, func(c *Config) { c.Tokens = nil })
	if a := sigOnly.bearer(PathAlerts, body); a.status != http.StatusUnauthorized {
		t.Fatalf("token without BREACHCTL_INTAKE_TOKENS: %d", a.status)
	}
	tokOnly := newHarness(t, func(c *Config) { c.Secrets = nil })
	if a := tokOnly.signed(PathAlerts, body); a.status != http.StatusUnauthorized {
		t.Fatalf("signature without BREACHCTL_INTAKE_SECRETS: %d", a.status)
	}
}

func TestBadPayloadsNameTheField(t *testing.T) {
	hs := newHarness(t)
	future := hs.clock.now().Add(time.Hour).Format(time.RFC3339)
	cases := []struct {
		name  string
		path  string
		body  string
		field string
	}{
		{"not JSON", PathAlerts, `{"title": `, "body"},
		{"an array", PathAlerts, `[1]`, "body"},
		{"null", PathAlerts, `null`, "body"},
		{"a misspelt field", PathAlerts, `{"title": "t", "severty": "high"}`, "severty"},
		{"no title", PathAlerts, `{"severity": "high"}`, "title"},
		{"a long title", PathAlerts, `{"title": "` + strings.Repeat("x", 201) + `"}`, "title"},
		{"a title that is a number", PathAlerts, `{"title": 7}`, "title"},
		{"an unknown severity", PathAlerts, `{"title": "t", "severity": "urgent"}`, "severity"},
		{"an unknown category", PathAlerts, `{"title": "t", "categories": ["email", "shoe_size"]}`, "categories[1]"},
		{"a category that is a number", PathAlerts, `{"title": "t", "categories": ["email", 3]}`, "categories[1]"},
		{"an unknown region", PathAlerts, `{"title": "t", "regions": "DE,XX"}`, "regions"},
		{"a bad system", PathAlerts, `{"title": "t", "systems": ["crm db"]}`, "systems[0]"},
		{"a bad time", PathAlerts, `{"title": "t", "detected_at": "yesterday"}`, "detected_at"},
		{"awareness in the future", PathAlerts, `{"title": "t", "aware_at": "` + future + `"}`, "aware_at"},
		{"detection in the future", PathAlerts, `{"title": "t", "detected_at": "` + future + `"}`, "detected_at"},
		{"detected after aware", PathAlerts, `{"title": "t", "detected_at": "2026-01-02T00:00:00Z", "aware_at": "2026-01-01T00:00:00Z"}`, "detected_at"},
		{"a label that is not a string", PathAlerts, `{"title": "t", "labels": {"rule": 42}}`, "labels.rule"},
		{"a bad source", PathAlerts, `{"title": "t", "source": "my siem!"}`, "source"},
		{"a field given twice", PathAlerts, `{"title": "Harmless test", "severity": "low", "title": "t"}`, "title"},
		{"a field given twice, escaped", PathAlerts, `{"title": "t", "regions": "DE", "re\u0067ions": "FR"}`, "regions"},
		{"a label given twice", PathAlerts, `{"title": "t", "labels": {"rule": "R1", "rule": "R2"}}`, "labels.rule"},

		{"am: not an object", PathAlertmanager, `"firing"`, "body"},
		{"am: another version", PathAlertmanager, amJSON(t, "3", "firing", "g", amAlertJSON("firing", nil, nil)), "version"},
		{"am: no status", PathAlertmanager, `{"version": "4", "alerts": [{}]}`, "status"},
		{"am: no alerts", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": []}`, "alerts"},
		{"am: alerts not an array", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": {}}`, "alerts"},
		{"am: an alert not an object", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing"}, 5]}`, "alerts[1]"},
		{"am: an unknown severity", PathAlertmanager, amJSON(t, "4", "firing", "g",
			amAlertJSON("firing", map[string]string{"severity": "warning"}, nil),
			amAlertJSON("firing", nil, nil),
			amAlertJSON("firing", map[string]string{"severity": "sev-whatever"}, nil)), "alerts[2].labels.severity"},
		{"am: a bad breachctl_severity", PathAlertmanager, amJSON(t, "4", "firing", "g",
			amAlertJSON("firing", map[string]string{"breachctl_severity": "warning"}, nil)), "alerts[0].labels.breachctl_severity"},
		{"am: an unknown region", PathAlertmanager, amJSON(t, "4", "firing", "g",
			amAlertJSON("firing", nil, nil), amAlertJSON("firing", nil, map[string]string{"breachctl_regions": "EU,XX"})), "alerts[1].annotations.breachctl_regions"},
		{"am: a label that is not a string", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "labels": {"a": ["b"]}}]}`, "alerts[0].labels.a"},
		{"am: a bad startsAt", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "startsAt": "now"}]}`, "alerts[0].startsAt"},
		{"am: an alert status", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "burning"}]}`, "alerts[0].status"},
		{"am: a label given twice", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing"}, {"status": "firing", "labels": {"severity": "low", "x": {"a": 1}, "severity": "critical"}}]}`, "alerts[1].labels.severity"},
		{"am: a key given twice in an odd name", PathAlertmanager, `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "annotations": {"a b": "1", "a b": "2"}}]}`, `alerts[0].annotations."a b"`},
		{"am: no key at all", PathAlertmanager, `{"version": "4", "status": "firing", "alerts": [{"status": "firing"}]}`, "groupKey"},
	}
	for _, c := range cases {
		a := hs.signed(c.path, []byte(c.body))
		if a.status != http.StatusBadRequest || a.Field != c.field || a.Error == "" {
			t.Errorf("%s: %d field %q error %q, want 400 naming %q", c.name, a.status, a.Field, a.Error, c.field)
		}
		hs.clock.advance(time.Second) // a new signature each time
	}
	if n := hs.inc.count(); n != 0 {
		t.Fatalf("%d incidents opened by bad payloads", n)
	}
}

func TestBodyLimitAndMethod(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.MaxBody = 1000 })
	big := alertJSON(t, map[string]any{"description": strings.Repeat("x", 2000)})
	if a := hs.bearer(PathAlerts, big); a.status != http.StatusRequestEntityTooLarge || a.Field != "body" {
		t.Fatalf("big body: %d %+v", a.status, a)
	}
	req := httptest.NewRequest(http.MethodGet, PathAlerts, nil)
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
}

func TestAlertMapsToFacts(t *testing.T) {
	hs := newHarness(t)
	received := hs.clock.now()
	a := hs.bearer(PathAlerts, alertJSON(t, map[string]any{
		"description": "Export job ran outside the change window",
		"detected_at": received.Add(-time.Hour).Format(time.RFC3339),
		"labels":      map[string]string{"rule": "R42", "host": "db-7"},
	}))
	if a.status != http.StatusCreated {
		t.Fatalf("%d %+v", a.status, a)
	}
	st := hs.inc.get(a.Incident)
	f := st.Facts
	if f.Title != "Unusual export of customer records" || f.Severity != incident.SeverityHigh ||
		!slices.Equal(f.DataCategories, []string{"email", "name"}) || !slices.Equal(f.Regions, []string{"DE", "FR"}) ||
		!slices.Equal(f.Systems, []string{"crm"}) {
		t.Errorf("facts = %+v", f)
	}
	if !f.AwareAt.Equal(received) {
		t.Errorf("aware_at = %s, want the time received %s", f.AwareAt, received)
	}
	if f.DetectedAt == nil || !f.DetectedAt.Equal(received.Add(-time.Hour)) {
		t.Errorf("detected_at = %v", f.DetectedAt)
	}
	if !strings.Contains(f.Description, "Export job ran") || !strings.Contains(f.Description, "host: db-7") {
		t.Errorf("description = %q", f.Description)
	}
	if st.OpenedBy != "intake:siem" {
		t.Errorf("opened by %q, want intake:siem", st.OpenedBy)
	}
	// A sender's clock a little ahead: awareness follows detection rather
	// than coming before it.
	b := hs.bearer(PathAlerts, alertJSON(t, map[string]any{"dedup_key": "ahead", "detected_at": received.Add(2 * time.Second).Format(time.RFC3339)}))
	if b.status != http.StatusCreated || !hs.inc.get(b.Incident).Facts.AwareAt.Equal(received.Add(2*time.Second)) {
		t.Errorf("clock ahead: %d %+v", b.status, hs.inc.get(b.Incident).Facts)
	}
}

func TestDedupe(t *testing.T) {
	hs := newHarness(t)
	body := alertJSON(t, nil)
	first := hs.bearer(PathAlerts, body)
	if first.status != http.StatusCreated || first.Deduplicated {
		t.Fatalf("first: %d %+v", first.status, first)
	}
	// Repeats: the same incident; the first repeat noted, the next within
	// the hour only counted, the one after the hour noted with the count.
	for i, step := range []time.Duration{time.Minute, time.Minute, 10 * time.Minute, time.Hour} {
		hs.clock.advance(step)
		a := hs.bearer(PathAlerts, body)
		if a.status != http.StatusOK || a.Incident != first.Incident || !a.Deduplicated {
			t.Fatalf("repeat %d: %d %+v", i+1, a.status, a)
		}
	}
	notes := hs.inc.notes(first.Incident)
	if len(notes) != 2 || !strings.Contains(notes[0], "Alert received again from siem") ||
		!strings.Contains(notes[1], "3 times since the last note, 4 in all") {
		t.Fatalf("notes = %q", notes)
	}
	// Another key, or the same key from another source: other incidents.
	other := hs.bearer(PathAlerts, alertJSON(t, map[string]any{"dedup_key": "rule-42/host-8"}))
	elsewhere := hs.bearer(PathAlerts, alertJSON(t, map[string]any{"source": "edr"}))
	if other.status != http.StatusCreated || elsewhere.status != http.StatusCreated ||
		other.Incident == first.Incident || elsewhere.Incident == first.Incident || other.Incident == elsewhere.Incident {
		t.Fatalf("other key %+v, other source %+v", other, elsewhere)
	}
}

func TestDerivedKey(t *testing.T) {
	hs := newHarness(t)
	body := alertJSON(t, map[string]any{"dedup_key": nil})
	a := hs.bearer(PathAlerts, body)
	hs.clock.advance(time.Minute) // aware_at defaults to a later time: still the same alert
	b := hs.bearer(PathAlerts, body)
	c := hs.bearer(PathAlerts, alertJSON(t, map[string]any{"dedup_key": nil, "title": "Another alert"}))
	if a.status != http.StatusCreated || b.status != http.StatusOK || b.Incident != a.Incident {
		t.Fatalf("identical alerts without a key: %+v then %+v", a, b)
	}
	if c.status != http.StatusCreated || c.Incident == a.Incident {
		t.Fatalf("a different alert without a key: %+v", c)
	}
}

// TestConcurrentIdenticalAlerts: alerts with one key arriving at once open
// one incident, and every request answers with it.
func TestConcurrentIdenticalAlerts(t *testing.T) {
	hs := newHarness(t)
	hs.inc.openDelay = 200 * time.Millisecond
	body := alertJSON(t, nil)
	const n = 12
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = hs.bearer(PathAlerts, body)
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, a := range answers {
		switch {
		case a.status == http.StatusCreated:
			created++
		case a.status != http.StatusOK || !a.Deduplicated:
			t.Errorf("request %d: %d %+v", i, a.status, a)
		}
		if a.Incident != answers[0].Incident || a.Incident == "" {
			t.Errorf("request %d went to %q, request 0 to %q", i, a.Incident, answers[0].Incident)
		}
	}
	if created != 1 || hs.inc.count() != 1 {
		t.Fatalf("%d answered 201, %d incidents; want one", created, hs.inc.count())
	}
	if notes := hs.inc.notes(answers[0].Incident); len(notes) != 1 {
		t.Errorf("%d notes for %d repeats at once, want 1: %q", len(notes), n-1, notes)
	}
}

func TestClosedIncidentOpensANewOne(t *testing.T) {
	hs := newHarness(t)
	body := alertJSON(t, nil)
	first := hs.bearer(PathAlerts, body)
	hs.inc.close(first.Incident)
	second := hs.bearer(PathAlerts, body)
	if second.status != http.StatusCreated || second.Incident == first.Incident || second.Deduplicated {
		t.Fatalf("after close: %d %+v", second.status, second)
	}
	third := hs.bearer(PathAlerts, body)
	if third.status != http.StatusOK || third.Incident != second.Incident {
		t.Fatalf("repeat of the new incident: %d %+v", third.status, third)
	}
	// Gone from Temporal altogether (past retention): as closed.
	hs.inc.ShowFunc = func(context.Context, string) (incident.Status, error) {
		return incident.Status{}, apperr.New(apperr.NotFound, "no incident")
	}
	if fourth := hs.bearer(PathAlerts, body); fourth.status != http.StatusCreated || fourth.Incident == second.Incident {
		t.Fatalf("after the incident is gone: %d %+v", fourth.status, fourth)
	}
}

func TestFailedOpenIsRetried(t *testing.T) {
	hs := newHarness(t)
	hs.inc.OpenFunc = func(context.Context, incident.Facts, string) (incident.Status, error) {
		return incident.Status{}, apperr.New(apperr.Unavailable, "no worker")
	}
	body := alertJSON(t, nil)
	header := map[string]string{SignatureHeader: Sign(secret, hs.clock.now(), body)}
	a := hs.post(PathAlerts, body, header)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("open failing: %d %+v", a.status, a)
	}
	hs.inc.OpenFunc = nil
	// The same signed request again: not a replay (it failed), and the
	// key was released, so it opens at once.
	if b := hs.post(PathAlerts, body, header); b.status != http.StatusCreated {
		t.Fatalf("retry: %d %+v", b.status, b)
	}
}

func TestLogsHoldNoAlertText(t *testing.T) {
	hs := newHarness(t)
	hs.bearer(PathAlerts, alertJSON(t, map[string]any{"title": "Jane Roe's mailbox exported", "labels": map[string]string{"user": "jane.roe@example.com"}}))
	hs.bearer(PathAlerts, alertJSON(t, map[string]any{"title": "Jane Roe's mailbox exported", "labels": map[string]string{"user": "jane.roe@example.com"}}))
	hs.bearer(PathAlerts, []byte(`{"title": "Jane Roe", "regions": "jane.roe@example.com"}`))
	hs.logMu.Lock()
	logs := hs.logs.String()
	hs.logMu.Unlock()
	for _, secret := range []string{"Jane", "jane.roe", "rule-42", "host-7"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "incident=INC-") || !strings.Contains(logs, "key=") {
		t.Errorf("the log does not name the incident and key hash:\n%s", logs)
	}
}
