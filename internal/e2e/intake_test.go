package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/intake"
)

const intakeSecret = "e2e-intake-secret-0123456789abcdef"

// TestAlertmanagerIntake posts a signed Alertmanager notification to dev
// twice and finds one incident with the alert's facts and a note of the
// repeat; the first request sent again is refused as a replay.
func TestAlertmanagerIntake(t *testing.T) {
	dev := startDevEnv(t, t.TempDir(), map[string]string{"BREACHCTL_INTAKE_SECRETS": intakeSecret})
	defer dev.Stop()
	c := devCLI(t, dev, nil)

	startsAt := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	body, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}/{team="security"}:{alertname="CustomerTableExport"}`, "status": "firing",
		"receiver": "breachctl", "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
		"groupLabels":       map[string]string{"alertname": "CustomerTableExport"},
		"commonLabels":      map[string]string{"alertname": "CustomerTableExport", "severity": "critical"},
		"commonAnnotations": map[string]string{"summary": "Customer table exported outside the change window"},
		"alerts": []map[string]any{{
			"status": "firing",
			"labels": map[string]string{"alertname": "CustomerTableExport", "severity": "critical", "instance": "db-7",
				"breachctl_categories": "email,name", "breachctl_regions": "DE", "breachctl_systems": "crm"},
			"annotations": map[string]string{"summary": "Customer table exported outside the change window"},
			"startsAt":    startsAt.Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090/graph", "fingerprint": "5a1e",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(signature string) (int, intake.Result) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+dev.HTTPAddr+intake.PathAlertmanager, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(intake.SignatureHeader, signature)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var res intake.Result
		_ = json.Unmarshal(b, &res)
		if resp.StatusCode >= 300 {
			t.Logf("answer %d: %s", resp.StatusCode, b)
		}
		return resp.StatusCode, res
	}

	firstSig := intake.Sign(intakeSecret, time.Now(), body)
	code, first := post(firstSig)
	if code != http.StatusCreated || first.Incident == "" || first.Deduplicated {
		t.Fatalf("first notification: %d %+v", code, first)
	}
	// Alertmanager's repeat_interval: the same group again, signed anew.
	code, again := post(intake.Sign(intakeSecret, time.Now().Add(time.Second), body))
	if code != http.StatusOK || again.Incident != first.Incident || !again.Deduplicated {
		t.Fatalf("second notification: %d %+v, want 200 with %s", code, again, first.Incident)
	}
	if code, _ := post(firstSig); code != http.StatusConflict {
		t.Fatalf("replayed request: %d, want 409", code)
	}

	var rows []incident.Summary
	c.ok(&rows, "list", "--state", "all")
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r.Title, "Customer table exported") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d incidents from the alert group, want 1: %+v", n, rows)
	}
	var st incident.Status
	c.ok(&st, "show", first.Incident)
	f := st.Facts
	if f.Title != "Customer table exported outside the change window" || f.Severity != incident.SeverityCritical ||
		!slices.Equal(f.DataCategories, []string{"email", "name"}) || !slices.Equal(f.Regions, []string{"DE"}) ||
		!slices.Equal(f.Systems, []string{"crm"}) || f.DetectedAt == nil || !f.DetectedAt.Equal(startsAt) {
		t.Errorf("facts = %+v", f)
	}
	if st.OpenedBy != "intake:alertmanager" || !hasEntry(st, "note", "Alert received again from alertmanager") {
		t.Errorf("opened by %q; timeline %+v", st.OpenedBy, st.Timeline)
	}
	if clockOf(st, "eu-gdpr-art33") == nil {
		t.Errorf("no GDPR clock for a breach of DE residents' emails: %+v", st.Clocks)
	}
}
