package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/internal/store"
)

func TestRegisterOptions(t *testing.T) {
	for _, tc := range []struct {
		o         registerOptions
		wantErr   string
		wantState string
		wantSince time.Time
	}{
		{o: registerOptions{state: "all"}, wantState: "all"},
		{o: registerOptions{state: "Closed", since: "2026-01-31"}, wantState: "closed", wantSince: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{o: registerOptions{state: "all", since: "2026-01-31T09:30:00+01:00"}, wantState: "all", wantSince: time.Date(2026, 1, 31, 8, 30, 0, 0, time.UTC)},
		{o: registerOptions{state: "gone"}, wantErr: "--state"},
		{o: registerOptions{state: "all", since: "last week"}, wantErr: "--since"},
	} {
		f, since, err := tc.o.parsed()
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: err %v, want one naming %s", tc.o, err, tc.wantErr)
			}
		case err != nil || f.State != tc.wantState || !since.Equal(tc.wantSince):
			t.Errorf("%+v: %+v %s %v", tc.o, f, since, err)
		}
	}
	for out, ok := range map[string]bool{"table": true, "md": true, "csv": true, "json": true, "xml": false} {
		if _, err := registerFormat(out); (err == nil) != ok {
			t.Errorf("-o %s: %v", out, err)
		}
	}
}

// registerFake serves three incidents: one notified, one closed without a
// notice, one opened before --since in the test.
func registerFake(t *testing.T) (*fakeIncidents, *atomic.Int32) {
	t.Helper()
	day := func(d int) time.Time { return time.Date(2026, 1, d, 9, 0, 0, 0, time.UTC) }
	closed := day(3)
	statuses := map[string]incident.Status{}
	notified := statusFor(incident.Facts{Title: "Database copied", AwareAt: day(2), Regions: []string{"DE"}, Severity: incident.SeverityHigh})
	notified.ID, notified.OpenedAt = "INC-20260102-AAAAA", day(2)
	met := day(3)
	notified.Clocks[0].State, notified.Clocks[0].ClosedAt, notified.Clocks[0].NoticeID = incident.ClockMet, &met, notified.ID+"/eu-gdpr-art33"
	notified.Notices = []incident.Notice{{ID: notified.ID + "/eu-gdpr-art33", Rules: []string{"eu-gdpr-art33"}, Notify: "authority", State: incident.NoticeSent,
		ApprovedBy: "cli:dpo", ApprovedAt: met, SentAt: &met, Deliveries: []incident.OrgDelivery{{Recipient: "DPA", MessageID: "msg-1", SentAt: met}}}}
	quiet := incident.Status{ID: "INC-20260104-BBBBB", State: incident.StateClosed, OpenedAt: day(4), ClosedAt: &closed,
		CloseReason: "Encrypted laptop; no risk", Facts: incident.Facts{Title: "Laptop lost", AwareAt: day(4), Severity: incident.SeverityLow},
		NotTriggered: []incident.NotTriggered{{Rule: "eu-gdpr-art33", Jurisdiction: "EU", Why: "unlikely to result in a risk"}}}
	old := statusFor(incident.Facts{Title: "Old one", AwareAt: day(1)})
	old.ID, old.OpenedAt = "INC-20260101-CCCCC", day(1)
	for _, st := range []incident.Status{notified, quiet, old} {
		statuses[st.ID] = st
	}
	var shows atomic.Int32
	return &fakeIncidents{
		list: func(f orchestrator.ListFilter) ([]incident.Summary, error) {
			if f.State != "all" {
				t.Errorf("listed %q incidents; the register is of all of them", f.State)
			}
			var out []incident.Summary
			for _, st := range []incident.Status{quiet, old, notified} {
				out = append(out, incident.Summary{ID: st.ID, State: st.State, OpenedAt: st.OpenedAt, Title: st.Facts.Title})
			}
			out = append(out, incident.Summary{ID: "INC-20260105-GONE0", OpenedAt: day(5)})
			return out, nil
		},
		show: func(id string) (incident.Status, error) {
			shows.Add(1)
			st, ok := statuses[id]
			if !ok {
				return st, apperr.New(apperr.NotFound, "incident %s not found", id)
			}
			return st, nil
		},
	}, &shows
}

func TestRegisterCommand(t *testing.T) {
	svc, shows := registerFake(t)
	env := map[string]string{"BREACHCTL_STORE": "sqlite:" + filepath.Join(t.TempDir(), "store.db")}
	code, out, errOut := run(t, svc, env, "register", "-o", "json", "--since", "2026-01-02")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reg register.Register
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	if len(reg.Incidents) != 2 || reg.Incidents[0].ID != "INC-20260102-AAAAA" || reg.Incidents[1].ID != "INC-20260104-BBBBB" {
		t.Fatalf("register %+v", reg.Incidents)
	}
	if shows.Load() != 3 {
		t.Errorf("%d incidents read; the one opened before --since needs no read", shows.Load())
	}
	if r := reg.Incidents[1]; r.Outcome != register.OutcomeNotNotified || !strings.Contains(strings.Join(r.Reasons, "\n"), "closed: Encrypted laptop; no risk") {
		t.Errorf("not-notified incident: %+v", r)
	}

	code, out, errOut = run(t, svc, env, "register", "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 4 || rows[0][0] != "incident_id" {
		t.Fatalf("csv: exit %d %v %s\n%s", code, err, errOut, out)
	}
	code, out, _ = run(t, svc, env, "register")
	if code != 0 || !strings.HasPrefix(out, "# Breach register") || !strings.Contains(out, "INC-20260101-CCCCC") {
		t.Errorf("default (markdown): exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, svc, env, "register", "-o", "xml"); code != ExitInvalid || !strings.Contains(errOut, "md, csv or json") {
		t.Errorf("-o xml: exit %d %s", code, errOut)
	}
	// Other commands keep the global formats.
	if code, _, _ := run(t, svc, nil, "list", "-o", "csv"); code != ExitInvalid {
		t.Errorf("list -o csv: exit %d", code)
	}

	svc.show = func(id string) (incident.Status, error) {
		return incident.Status{}, apperr.New(apperr.Unavailable, "cannot reach Temporal")
	}
	if code, _, errOut := run(t, svc, env, "register"); code != ExitUnavailable {
		t.Errorf("a read failing: exit %d %s; a register must not silently miss a breach", code, errOut)
	}
}

// TestRegisterKeepsIncidentsTemporalNoLongerHas: a closed incident whose
// workflow retention removed is still in the register, from the store.
func TestRegisterKeepsIncidentsTemporalNoLongerHas(t *testing.T) {
	svc, _ := registerFake(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "store.db")
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	closed := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	old := incident.Status{ID: "INC-20250301-OLDER", State: incident.StateClosed, OpenedAt: closed.Add(-24 * time.Hour), ClosedAt: &closed,
		CloseReason: "contained before anyone's data left", Facts: incident.Facts{Title: "Old breach", Severity: incident.SeverityLow}}
	raw, _ := json.Marshal(old)
	if err := st.PutRegisterEntry(context.Background(), old.ID, closed, raw); err != nil {
		t.Fatal(err)
	}
	st.Close()
	env := map[string]string{"BREACHCTL_STORE": dsn}
	code, out, errOut := run(t, svc, env, "register", "-o", "json")
	var reg register.Register
	if code != 0 || json.Unmarshal([]byte(out), &reg) != nil {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	found := false
	for _, r := range reg.Incidents {
		found = found || r.ID == old.ID
	}
	if !found || len(reg.Incidents) != 4 {
		t.Fatalf("register %+v", reg.Incidents)
	}
}
