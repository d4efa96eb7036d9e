package intake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// amAlertJSON is one alert of a notification, as Alertmanager writes it.
func amAlertJSON(status string, labels, annotations map[string]string) map[string]any {
	l := map[string]string{"alertname": "BulkExport", "instance": "db-7:9100"}
	for k, v := range labels {
		l[k] = v
	}
	a := map[string]string{"summary": "Bulk export of customer table"}
	for k, v := range annotations {
		a[k] = v
	}
	ends := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		ends = "2026-11-23T10:30:00Z"
	}
	return map[string]any{
		"status": status, "labels": l, "annotations": a,
		"startsAt": "2026-11-23T09:00:00.123Z", "endsAt": ends,
		"generatorURL": "http://prometheus:9090/graph?g0.expr=up", "fingerprint": "c0ffee" + status,
	}
}

// amJSON is a webhook notification (version 4) of one group.
func amJSON(t *testing.T, version, status, groupKey string, alerts ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": version, "groupKey": groupKey, "truncatedAlerts": 0, "status": status, "receiver": "breachctl",
		"groupLabels": map[string]string{"alertname": "BulkExport"}, "commonLabels": map[string]string{"alertname": "BulkExport"},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093", "alerts": alerts,
		"someFieldOfALaterVersion": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAlertmanagerFiringThenResolved(t *testing.T) {
	hs := newHarness(t)
	received := hs.clock.now()
	group := `{}/{severity="critical"}:{alertname="BulkExport"}`
	firing := amJSON(t, "4", "firing", group,
		amAlertJSON("firing", map[string]string{"severity": "warning", "breachctl_categories": "email,name", "breachctl_systems": "crm"}, nil),
		amAlertJSON("firing", map[string]string{"severity": "critical"}, map[string]string{"breachctl_regions": "EU, us-ca", "description": "200k rows"}),
	)
	a := hs.signed(PathAlertmanager, []byte(firing))
	if a.status != http.StatusCreated || a.Incident == "" {
		t.Fatalf("firing: %d %+v", a.status, a)
	}
	st := hs.inc.get(a.Incident)
	f := st.Facts
	if f.Title != "Bulk export of customer table (2 alerts)" || f.Severity != incident.SeverityCritical ||
		!slices.Equal(f.DataCategories, []string{"email", "name"}) || !slices.Equal(f.Regions, []string{"EU", "US-CA"}) ||
		!slices.Equal(f.Systems, []string{"crm"}) {
		t.Errorf("facts = %+v", f)
	}
	if want := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC); f.DetectedAt == nil || !f.DetectedAt.Equal(want) || !f.AwareAt.Equal(received) {
		t.Errorf("detected %v aware %s; want %s and the time received %s", f.DetectedAt, f.AwareAt, want, received)
	}
	for _, s := range []string{"[firing] BulkExport since 2026-11-23T09:00:00Z", "200k rows", "instance=db-7:9100", "http://prometheus:9090"} {
		if !strings.Contains(f.Description, s) {
			t.Errorf("description lacks %q:\n%s", s, f.Description)
		}
	}
	if st.OpenedBy != "intake:alertmanager" {
		t.Errorf("opened by %q", st.OpenedBy)
	}

	// The group notified again (repeat_interval): the same incident.
	hs.clock.advance(4 * time.Hour)
	if b := hs.signed(PathAlertmanager, []byte(firing)); b.status != http.StatusOK || b.Incident != a.Incident || !b.Deduplicated {
		t.Fatalf("firing again: %d %+v", b.status, b)
	}
	// Resolved: a note; the incident stays open.
	hs.clock.advance(time.Minute)
	resolved := amJSON(t, "4", "resolved", group, amAlertJSON("resolved", nil, nil), amAlertJSON("resolved", nil, nil))
	r := hs.signed(PathAlertmanager, []byte(resolved))
	if r.status != http.StatusOK || r.Incident != a.Incident || r.Ignored != "" {
		t.Fatalf("resolved: %d %+v", r.status, r)
	}
	if st := hs.inc.get(a.Incident); st.State != incident.StateOpen {
		t.Fatalf("state after resolved = %s; a person closes a breach", st.State)
	}
	notes := hs.inc.notes(a.Incident)
	if len(notes) != 2 || !strings.Contains(notes[0], "received again") || !strings.Contains(notes[1], "resolved") {
		t.Fatalf("notes = %q", notes)
	}
	// Resolved for a group never seen, or whose incident is closed: nothing opens.
	if u := hs.signed(PathAlertmanager, []byte(amJSON(t, "4", "resolved", "other-group", amAlertJSON("resolved", nil, nil)))); u.status != http.StatusOK || u.Incident != "" || u.Ignored == "" {
		t.Fatalf("resolved, unknown group: %d %+v", u.status, u)
	}
	hs.inc.close(a.Incident)
	hs.clock.advance(time.Second)
	if c := hs.signed(PathAlertmanager, []byte(resolved)); c.status != http.StatusOK || c.Ignored == "" {
		t.Fatalf("resolved, closed incident: %d %+v", c.status, c)
	}
	if n := hs.inc.count(); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
	// Firing again after the close: a new incident.
	hs.clock.advance(time.Second)
	if d := hs.signed(PathAlertmanager, []byte(firing)); d.status != http.StatusCreated || d.Incident == a.Incident {
		t.Fatalf("firing after close: %d %+v", d.status, d)
	}
}

func TestAlertmanagerKeysAndDefaults(t *testing.T) {
	received := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	parse := func(s string) delivery {
		t.Helper()
		d, err := parseAlertmanager([]byte(s), received, DefaultTolerance)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	plain := amAlertJSON("firing", nil, nil)
	// The group key is the key; breachctl_dedup_key overrides it; without
	// either, the fingerprints.
	if a, b := parse(amJSON(t, "4", "firing", "g1", plain)), parse(amJSON(t, "4", "firing", "g2", plain)); a.key == b.key {
		t.Error("two groups share a key")
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(amJSON(t, "4", "firing", "g1", plain)), &m)
	m["commonLabels"] = map[string]string{"breachctl_dedup_key": "k"}
	withKey, _ := json.Marshal(m)
	m["groupKey"] = "g2"
	withKey2, _ := json.Marshal(m)
	if a, b := parse(string(withKey)), parse(string(withKey2)); a.key != b.key {
		t.Error("breachctl_dedup_key does not make one key of two groups")
	}
	delete(m, "groupKey")
	delete(m, "commonLabels")
	noGroup, _ := json.Marshal(m)
	if d := parse(string(noGroup)); d.key != keyHash(SourceAlertmanager, "c0ffeefiring") {
		t.Error("without a group key, the fingerprint is not the key")
	}

	// No summary, no severity: the alert name, unassessed.
	bare := `{"version": "4", "status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "labels": {"alertname": "Exfil"}}]}`
	d := parse(bare)
	if d.facts.Title != "Exfil" || d.facts.Severity != incident.SeverityUnassessed || d.facts.DetectedAt != nil || !d.facts.AwareAt.Equal(received) {
		t.Errorf("bare alert: %+v", d.facts)
	}
	// A summary longer than a title may be is cut, not refused.
	long := amJSON(t, "4", "firing", "g", amAlertJSON("firing", nil, map[string]string{"summary": strings.Repeat("é", 300)}))
	if d := parse(long); len(d.facts.Title) > maxTitle || d.facts.Validate() != nil {
		t.Errorf("long summary: %d bytes, %v", len(d.facts.Title), d.facts.Validate())
	}
}
