package activities

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// CheckSnapshotName is the registered name of Notifier.CheckSnapshot.
const CheckSnapshotName = "CheckSnapshot"

// ErrTypeSnapshotUnusable: the workers cannot use the snapshot an incident
// is asked to take (it is not in their store, not committed, or counts
// other people). Retrying cannot help; the scoping must be run against
// the store the workers read.
const ErrTypeSnapshotUnusable = "SnapshotUnusable"

// CheckSnapshotInput asks whether this worker's store holds a snapshot as
// the client that made it describes it.
type CheckSnapshotInput struct {
	Snapshot incident.SnapshotRef `json:"snapshot"`
	// Store is where the client wrote it (StoreName), for the refusal.
	Store string `json:"store,omitempty"`
}

// CheckSnapshotResult is the snapshot as the worker's store has it.
type CheckSnapshotResult struct {
	// Store is the store the worker reads (StoreName).
	Store string `json:"store,omitempty"`
	// Unchecked: this worker has no store (it sends no notices), so it
	// could not look.
	Unchecked bool `json:"unchecked,omitempty"`
}

// CheckSnapshot finds the snapshot in the store the workers read, committed
// and with the counts the client reported, so an incident refuses at once a
// snapshot its notices could never read (a CLI that wrote to another store).
// It has no side effect.
func (n *Notifier) CheckSnapshot(ctx context.Context, in CheckSnapshotInput) (CheckSnapshotResult, error) {
	res := CheckSnapshotResult{Store: n.sending.StoreName}
	if n.ledger == nil {
		res.Unchecked = true
		return res, nil
	}
	sn := in.Snapshot
	info, err := n.ledger.Snapshot(ctx, sn.ID)
	switch {
	case apperr.KindOf(err) == apperr.NotFound:
		return res, unusable("snapshot %s is not in the store the workers read (%s); the scoping wrote it to %s. "+
			"Run scope with the store the workers use (BREACHCTL_STORE, or BREACHCTL_DATA_DIR as `dev --data-dir` has it), then scope the incident again",
			sn.ID, orUnknown(n.sending.StoreName, "the worker's store"), orUnknown(in.Store, "another store"))
	case err != nil:
		return res, fmt.Errorf("look up snapshot %s: %w", sn.ID, err)
	case info.CommittedAt.IsZero():
		return res, unusable("snapshot %s in %s was never finished (its scoping stopped or failed): scope again",
			sn.ID, orUnknown(n.sending.StoreName, "the worker's store"))
	}
	if diff := countDiff(sn, info.People, info.ByJurisdiction); diff != "" {
		return res, unusable("snapshot %s in the store the workers read (%s) is not the one scoped (%s): %s; scope again against the store the workers use",
			sn.ID, orUnknown(n.sending.StoreName, "the worker's store"), orUnknown(in.Store, "the client's store"), diff)
	}
	return res, nil
}

// countDiff says how the store's counts differ from the client's, or "".
func countDiff(sn incident.SnapshotRef, people int, byJurisdiction map[string]int) string {
	if people != sn.People {
		return fmt.Sprintf("it holds %d people, the scoping reported %d", people, sn.People)
	}
	reported := map[string]int{}
	for _, a := range sn.Affected {
		reported[a.Region] += a.Count
	}
	var diffs []string
	for _, region := range sortedKeys(mergeKeys(reported, byJurisdiction)) {
		if reported[region] != byJurisdiction[region] {
			diffs = append(diffs, fmt.Sprintf("%s: %d held, %d reported", region, byJurisdiction[region], reported[region]))
		}
	}
	if len(diffs) > 0 {
		return "its counts by jurisdiction differ (" + strings.Join(diffs, "; ") + ")"
	}
	return ""
}

func mergeKeys(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k := range a {
		out[k] = 0
	}
	for k := range b {
		out[k] = 0
	}
	return out
}

func unusable(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeSnapshotUnusable, nil)
}

func orUnknown(s, unknown string) string {
	if strings.TrimSpace(s) == "" {
		return unknown
	}
	return s
}

// StoreName names a store by its address, without a password, for
// messages: "sqlite:/var/lib/breachctl/breachctl.db",
// "postgres://breachctl@db:5432/breachctl".
func StoreName(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		// Two relative paths read alike from two directories.
		if abs, err := filepath.Abs(path); err == nil && !strings.HasPrefix(path, "file:") && path != ":memory:" {
			return "sqlite:" + abs
		}
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// A key=value DSN: leave out the password.
		var kept []string
		for _, f := range strings.Fields(dsn) {
			if !strings.HasPrefix(strings.ToLower(f), "password=") {
				kept = append(kept, f)
			}
		}
		return strings.Join(kept, " ")
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
