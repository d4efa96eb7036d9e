package orchestrator

import (
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

func TestListQuery(t *testing.T) {
	cases := []struct {
		f    ListFilter
		want string
	}{
		{ListFilter{}, "WorkflowType = 'IncidentWorkflow' AND ExecutionStatus = 'Running'"},
		{ListFilter{State: "closed"}, "WorkflowType = 'IncidentWorkflow' AND ExecutionStatus != 'Running'"},
		{ListFilter{State: "overdue"}, "WorkflowType = 'IncidentWorkflow' AND ExecutionStatus = 'Running' AND BreachState = 'overdue'"},
		{ListFilter{State: "all", Severities: []incident.Severity{"high", "critical"}}, "WorkflowType = 'IncidentWorkflow' AND BreachSeverity IN ('high', 'critical')"},
	}
	for _, c := range cases {
		got, err := listQuery(c.f)
		if err != nil || got != c.want {
			t.Errorf("listQuery(%+v) = %q, %v; want %q", c.f, got, err, c.want)
		}
	}
	if _, err := listQuery(ListFilter{State: "dormant"}); err == nil {
		t.Error("an unknown state was accepted")
	}
}

func TestSortSummariesPutsTheMostPressingFirst(t *testing.T) {
	at := func(h int) *time.Time { t := time.Date(2026, 11, 20, h, 0, 0, 0, time.UTC); return &t }
	rows := []incident.Summary{
		{ID: "closed", ClosedAt: at(1), OpenedAt: *at(1)},
		{ID: "no-deadline", OpenedAt: *at(5)},
		{ID: "later", NextDeadline: at(20), OpenedAt: *at(1)},
		{ID: "sooner", NextDeadline: at(10), OpenedAt: *at(1)},
	}
	sortSummaries(rows)
	got := ""
	for _, r := range rows {
		got += r.ID + " "
	}
	if got != "sooner later no-deadline closed " {
		t.Fatalf("order = %s", got)
	}
}
