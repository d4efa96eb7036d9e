package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/workflows"
)

// workerStore is the store the workers read, as far as snapshots go.
type workerStore struct {
	activities.Ledger
	snaps map[string]store.SnapshotInfo
}

func (w *workerStore) Snapshot(_ context.Context, id string) (store.SnapshotInfo, error) {
	info, ok := w.snaps[id]
	if !ok {
		return store.SnapshotInfo{}, fmt.Errorf("snapshot %s: %w", id, store.ErrNotFound)
	}
	return info, nil
}

// checkIn registers the snapshot check of a worker reading ws.
func checkIn(h *harness, ws *workerStore) {
	n := activities.NewNotifier(ws, nil, activities.Sending{StoreName: "sqlite:/srv/breachctl/breachctl.db"})
	h.env.RegisterActivityWithOptions(n.CheckSnapshot, activity.RegisterOptions{Name: activities.CheckSnapshotName})
}

func snapshotOf(id string, people int, affected ...incident.Residents) incident.SnapshotRef {
	return incident.SnapshotRef{ID: id, At: start, Systems: []string{"accounts"}, Window: "2026-11-19T22:00:00Z/2026-11-20T03:00:00Z",
		People: people, Affected: affected, Categories: []string{"email"}}
}

// TestScopeRefusesASnapshotTheWorkersCannotRead: a snapshot written to
// another store than the workers read (a CLI without BREACHCTL_DATA_DIR
// against `dev --data-dir X`), or one whose counts differ, is refused at
// once, naming both stores; the incident keeps its facts. One in the
// workers' store is taken.
func TestScopeRefusesASnapshotTheWorkersCannotRead(t *testing.T) {
	h := newHarness(t)
	de := incident.Residents{Region: "DE", Count: 3}
	ws := &workerStore{snaps: map[string]store.SnapshotInfo{
		"snap_here":  {ID: "snap_here", CommittedAt: start, People: 3, ByJurisdiction: map[string]int{"DE": 3}},
		"snap_other": {ID: "snap_other", CommittedAt: start, People: 2, ByJurisdiction: map[string]int{"DE": 2}},
	}}
	checkIn(h, ws)
	var errs []string
	var answeredAt []time.Duration
	keep := func(_ any, err error) {
		answeredAt = append(answeredAt, h.env.Now().Sub(start))
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	var refused, taken incident.Status
	h.at(time.Hour, func() {
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: snapshotOf("snap_elsewhere", 3, de), Actor: "cli:analyst",
			Store: "sqlite:/home/alice/.breachctl/breachctl.db"}, keep)
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: snapshotOf("snap_other", 3, de), Actor: "cli:analyst"}, keep)
	})
	h.at(2*time.Hour, func() {
		refused = h.status()
		h.update(workflows.UpdateScope, workflows.ScopeRequest{Snapshot: snapshotOf("snap_here", 3, de), Actor: "cli:analyst"}, h.must("scope", func() { taken = h.status() }))
	})
	h.at(3*time.Hour, func() { h.close("done") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	h.result()

	slices.Sort(errs) // the two answers come in either order
	if len(errs) != 2 || !strings.Contains(errs[0], "snapshot snap_elsewhere is not in the store the workers read (sqlite:/srv/breachctl/breachctl.db); the scoping wrote it to sqlite:/home/alice/.breachctl/breachctl.db") ||
		!strings.Contains(errs[1], "it holds 2 people, the scoping reported 3") {
		t.Fatalf("refusals: %q", errs)
	}
	if answeredAt[0] != time.Hour || answeredAt[1] != time.Hour {
		t.Errorf("answered at %v, want at once (+1h)", answeredAt)
	}
	if len(refused.Snapshots) != 0 || !strings.Contains(strings.Join(refused.Facts.Regions, ","), "EU") || refused.Clocks[0].State != incident.ClockRunning {
		t.Fatalf("after the refusals: snapshots %v, regions %v, clock %s", refused.Snapshots, refused.Facts.Regions, refused.Clocks[0].State)
	}
	if len(taken.Snapshots) != 1 || taken.Snapshots[0].ID != "snap_here" || taken.Facts.AffectedTotal() != 3 {
		t.Fatalf("after the snapshot in the workers' store: %+v", taken.Snapshots)
	}
}

// TestScopingThatFindsNobodyNeedsConfirming: a scoping that finds nobody
// (the rows' times fell outside the window) is refused, saying why, and
// leaves the facts and clocks as they were; one that would withdraw an
// obligation is refused too; confirmed, each is taken.
func TestScopingThatFindsNobodyNeedsConfirming(t *testing.T) {
	h := newHarness(t)
	ws := &workerStore{snaps: map[string]store.SnapshotInfo{
		"snap_empty": {ID: "snap_empty", CommittedAt: start, People: 0},
		"snap_ca":    {ID: "snap_ca", CommittedAt: start, People: 4, ByJurisdiction: map[string]int{"US-CA": 4}},
	}}
	checkIn(h, ws)
	f := facts(start, "EU")
	f.Affected = []incident.Residents{{Region: "DE", Count: 1200}}
	empty := workflows.ScopeRequest{Snapshot: snapshotOf("snap_empty", 0), Actor: "cli:analyst", Rows: 40, NotExposed: 40}
	ca := workflows.ScopeRequest{Snapshot: snapshotOf("snap_ca", 4, incident.Residents{Region: "US-CA", Count: 4}), Actor: "cli:analyst"}
	var errs []string
	keep := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	var kept, confirmed incident.Status
	h.at(time.Hour, func() {
		h.update(workflows.UpdateScope, empty, keep)
		h.update(workflows.UpdateScope, ca, keep)
	})
	h.at(2*time.Hour, func() {
		kept = h.status()
		ca.Confirm = true
		h.update(workflows.UpdateScope, ca, h.must("confirmed scope", func() { confirmed = h.status() }))
	})
	h.at(3*time.Hour, func() {
		empty.Confirm = true
		h.update(workflows.UpdateScope, empty, h.must("confirmed empty scope", nil))
	})
	h.at(4*time.Hour, func() { h.close("nobody affected") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(f))
	final := h.result()

	if len(errs) != 2 {
		t.Fatalf("refusals: %q", errs)
	}
	if want := "scoping found 0 people in the window 2026-11-19T22:00:00Z/2026-11-20T03:00:00Z; of 40 rows read, 40 were outside it"; !strings.Contains(errs[0], want) ||
		!strings.Contains(errs[0], "eu-gdpr-art33 (running") || !strings.Contains(errs[0], "--confirm") {
		t.Errorf("refusal of the empty scoping: %s\nwant it to contain %q, the clock and how to confirm", errs[0], want)
	}
	if !strings.Contains(errs[1], "snapshot snap_ca (4 people: US-CA 4) would withdraw eu-gdpr-art33") {
		t.Errorf("refusal of the scoping that withdraws: %s", errs[1])
	}
	if len(kept.Snapshots) != 0 || kept.Facts.AffectedTotal() != 1200 || len(kept.Facts.Regions) == 0 || len(kept.Facts.DataCategories) == 0 || kept.Clocks[0].State != incident.ClockRunning {
		t.Fatalf("after the refusals the facts and clock changed: %+v, clock %s", kept.Facts, kept.Clocks[0].State)
	}
	if c := clockIn(confirmed, "eu-gdpr-art33"); c == nil || c.State != incident.ClockWithdrawn || len(confirmed.Snapshots) != 1 {
		t.Fatalf("after the confirmed scoping: clock %+v, snapshots %v", c, confirmed.Snapshots)
	}
	if len(final.Snapshots) != 2 || final.Facts.AffectedTotal() != 0 {
		t.Fatalf("after the confirmed empty scoping: snapshots %v, affected %d", final.Snapshots, final.Facts.AffectedTotal())
	}
}
