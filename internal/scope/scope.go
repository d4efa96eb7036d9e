// Package scope works out who and what a breach touched: it streams the
// affected people from their sources, validates them, merges the same person
// found twice, drops the data categories that retention had already deleted
// before the exposure began, keeps the people in a store snapshot, and
// reports counts per jurisdiction and category. The people never leave the
// store: the report holds counts and row numbers only.
package scope

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/datamap"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/sources"
	"github.com/breachctl/breachctl/internal/store"
)

// Window is the time during which the data was exposed.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ParseWindow reads an ISO 8601 interval of two RFC 3339 times: start/end.
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Window{}, apperr.Invalidf("--window", "%q is not START/END like 2026-11-19T22:00:00Z/2026-11-20T03:00:00Z", s)
	}
	start, err1 := time.Parse(time.RFC3339, a)
	end, err2 := time.Parse(time.RFC3339, b)
	if err1 != nil || err2 != nil {
		return Window{}, apperr.Invalidf("--window", "%q: both ends must be RFC 3339 times", s)
	}
	if end.Before(start) {
		return Window{}, apperr.Invalidf("--window", "ends before it starts")
	}
	return Window{Start: start.UTC(), End: end.UTC()}, nil
}

func (w Window) String() string {
	return w.Start.Format(time.RFC3339) + "/" + w.End.Format(time.RFC3339)
}

// Request is one scoping run.
type Request struct {
	Map        *datamap.Map
	Systems    []string // the systems exposed; their categories are what a person lost
	Window     Window
	Sources    []sources.Source
	IncidentID string // "" offline
}

// MaxListedRejections caps the rejections listed in a report; all are
// counted, and all are passed to Request's OnReject when set.
const MaxListedRejections = 1000

// Report is what scoping found, without any person's data.
type Report struct {
	SnapshotID string   `json:"snapshot_id,omitempty"`
	Window     Window   `json:"window"`
	Systems    []string `json:"systems"`
	People     int      `json:"people"`
	Duplicates int      `json:"duplicates"` // rows merged into a person already counted
	// NotExposed counts valid rows none of whose data in the exposed systems
	// still existed when the window began.
	NotExposed     int                 `json:"not_exposed"`
	ByJurisdiction map[string]int      `json:"by_jurisdiction"`
	ByCategory     map[string]int      `json:"by_category"`
	Sources        []SourceSummary     `json:"sources"`
	Rejected       int                 `json:"rejected"`
	RejectedBy     map[string]int      `json:"rejected_by_reason"`
	Rejections     []sources.Rejection `json:"rejections"`
	OutOfScope     []Exclusion         `json:"out_of_scope"`
}

// SourceSummary counts the rows of one source.
type SourceSummary struct {
	Name     string `json:"name"`
	Rows     int    `json:"rows"`
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
}

// Exclusion is a data category that could not have been exposed for some or
// all people, because the system's retention had deleted it before the
// window began.
type Exclusion struct {
	System    string `json:"system"`
	Category  string `json:"category"`
	Retention string `json:"retention"`
	People    int    `json:"people"` // people for whom it was excluded
	All       bool   `json:"all"`    // excluded for everyone in the system: out of scope
	Why       string `json:"why"`
}

// CategoryBit is the bit of a data category in a subject's bitmask.
func CategoryBit(category string) int { return slices.Index(incident.DataCategories, category) }

// Run scopes the breach into a new snapshot of st and returns the report.
func Run(ctx context.Context, st *store.Store, req Request, onReject func(sources.Rejection)) (Report, error) {
	systems, err := req.Map.Systems(req.Systems)
	if err != nil {
		return Report{}, apperr.Wrap(apperr.Invalid, err, "--systems")
	}
	if len(req.Sources) == 0 {
		return Report{}, apperr.Invalidf("--source", "give at least one source of affected people")
	}
	owner := req.IncidentID
	if owner == "" {
		owner = "offline" // a scoping with no incident, in a throwaway store
	}
	w, err := st.NewSnapshot(ctx, owner, fmt.Sprintf("systems %s, window %s", strings.Join(req.Systems, ","), req.Window))
	if err != nil {
		return Report{}, err
	}
	committed := false
	defer func() {
		if !committed {
			_ = w.Abort(context.WithoutCancel(ctx))
		}
	}()
	r := newRun(req, systems)
	// The store keys each person's identity with its secret (HMAC), so
	// its key columns hold no email and no testable hash of one.
	r.keyer = w.Keyer()
	r.report.Rejections = []sources.Rejection{}
	// Reading and writing overlap: full batches go to a writer goroutine
	// while the next ones are read and validated. Run alone stops it: on
	// an early return the deferred stop cancels a write under way and
	// waits for the goroutine to end.
	wctx, cancelWrite := context.WithCancel(ctx)
	wr := startWriter(wctx, w)
	defer func() {
		cancelWrite()
		_, _ = wr.stop()
	}()
	for _, src := range req.Sources {
		sum := SourceSummary{Name: src.Name()}
		err := src.Read(ctx, func(rec sources.Record) error {
			sum.Rows++
			sum.Accepted++
			sub, ok := r.subject(rec)
			if !ok {
				return nil
			}
			r.batch = append(r.batch, sub)
			if len(r.batch) == cap(r.batch) {
				return r.flush(ctx, wr)
			}
			return nil
		}, func(rej sources.Rejection) {
			sum.Rows++
			sum.Rejected++
			r.reject(rej, onReject)
		})
		if err != nil {
			return Report{}, fmt.Errorf("read %s: %w", src.Name(), err)
		}
		r.report.Sources = append(r.report.Sources, sum)
	}
	if err := r.flush(ctx, wr); err != nil {
		return Report{}, err
	}
	merged, err := wr.stop()
	if err != nil {
		return Report{}, err
	}
	r.report.Duplicates += merged
	info, err := w.Commit(ctx)
	if err != nil {
		return Report{}, err
	}
	committed = true
	return r.finish(info), nil
}

// run is the state of one scoping run.
type run struct {
	req     Request
	systems []datamap.System
	batch   []store.Subject
	report  Report
	keyer   *store.SubjectKeyer

	excluded map[[2]string]int // (system, category) -> people whose data retention deleted before the window
	after    map[[2]string]int // (system, category) -> people whose data was written after the window
	held     map[string]int    // system -> people whose data it held
}

func newRun(req Request, systems []datamap.System) *run {
	return &run{
		req: req, systems: systems,
		batch:    make([]store.Subject, 0, batchSize),
		excluded: map[[2]string]int{},
		after:    map[[2]string]int{},
		held:     map[string]int{},
		report: Report{
			Window: req.Window, Systems: slices.Clone(req.Systems),
			RejectedBy: map[string]int{},
		},
	}
}

func (r *run) reject(rej sources.Rejection, onReject func(sources.Rejection)) {
	r.report.Rejected++
	r.report.RejectedBy[rej.Reason]++
	if len(r.report.Rejections) < MaxListedRejections {
		r.report.Rejections = append(r.report.Rejections, rej)
	}
	if onReject != nil {
		onReject(rej)
	}
}

// subject turns a record into a store subject: its categories are those the
// exposed systems held about it, less what retention had deleted before the
// window began. A person none of whose data was exposed is not a subject.
func (r *run) subject(rec sources.Record) (store.Subject, bool) {
	var bits uint64
	set := func(c string) {
		if b := CategoryBit(c); b >= 0 {
			bits |= 1 << b
		}
	}
	for _, sys := range r.systems {
		if rec.System != "" && rec.System != sys.ID {
			continue
		}
		r.held[sys.ID]++
		cats := sys.Categories
		if len(rec.Person.Categories) > 0 {
			cats = intersect(rec.Person.Categories, sys.Categories)
		}
		gone := r.goneBefore(sys, rec.SeenAt)
		late := !rec.SeenAt.IsZero() && !rec.SeenAt.Before(r.req.Window.End)
		for _, c := range cats {
			switch {
			case gone:
				r.excluded[[2]string{sys.ID, c}]++
			case late:
				r.after[[2]string{sys.ID, c}]++
			default:
				set(c)
			}
		}
	}
	if rec.System == "" && len(rec.Person.Categories) > 0 && len(r.systems) == 0 {
		for _, c := range rec.Person.Categories {
			set(c)
		}
	}
	if bits == 0 {
		r.report.NotExposed++
		return store.Subject{}, false
	}
	payload, _ := json.Marshal(rec.Person)
	return store.Subject{
		Key: r.keyer.Key(rec.Person.Key()), Jurisdiction: rec.Person.Jurisdiction(),
		Categories: bits, Locale: rec.Person.Locale, Payload: payload,
	}, true
}

// goneBefore reports whether retention had deleted data written at seenAt
// before the window began. Data with no known write time is assumed there.
func (r *run) goneBefore(sys datamap.System, seenAt time.Time) bool {
	if sys.Indefinite || seenAt.IsZero() {
		return false
	}
	return !seenAt.Add(sys.Retention).After(r.req.Window.Start)
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// batchSize is how many people go to the store at once; tests lower it.
var batchSize = 10000

// writer adds batches to a snapshot in a goroutine of its own. Two batches
// circulate, so memory stays at two batches whatever the input. Its channels
// are made once and never replaced; the goroutine that calls startWriter
// owns it (send, stop) and is the only one to close full.
type writer struct {
	full  chan []store.Subject // batches to write; closed by stop
	empty chan []store.Subject // written batches, emptied, to fill again
	done  chan struct{}        // closed when the goroutine has ended
	// Set by the goroutine before it closes done; read after done.
	err    error
	merged int
	// Owned by the caller.
	stopped bool
}

// startWriter starts the goroutine that adds batches to the snapshot. It
// ends at the first failed write (send and stop then return the error) or
// once stop has closed full and every batch sent is written.
func startWriter(ctx context.Context, w store.SnapshotWriter) *writer {
	wr := &writer{
		full:  make(chan []store.Subject),
		empty: make(chan []store.Subject, 1),
		done:  make(chan struct{}),
	}
	wr.empty <- make([]store.Subject, 0, batchSize)
	go wr.loop(ctx, w)
	return wr
}

func (wr *writer) loop(ctx context.Context, w store.SnapshotWriter) {
	defer close(wr.done)
	for batch := range wr.full {
		_, merged, err := w.Add(ctx, batch)
		if err != nil {
			wr.err = err
			return
		}
		wr.merged += merged
		wr.empty <- batch[:0]
	}
}

// send hands a full batch to the goroutine and returns an empty one to fill.
// It fails fast once the goroutine has failed.
func (wr *writer) send(ctx context.Context, batch []store.Subject) ([]store.Subject, error) {
	select {
	case wr.full <- batch:
	case <-wr.done:
		return nil, wr.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case b := <-wr.empty:
		return b, nil
	case <-wr.done:
		return nil, wr.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop closes the hand-over, waits for the goroutine to end and returns the
// people merged into someone already written and the first write error. It
// is safe to call again; later calls return the same.
func (wr *writer) stop() (merged int, err error) {
	if !wr.stopped {
		wr.stopped = true
		close(wr.full)
	}
	<-wr.done
	return wr.merged, wr.err
}

// flush hands the current batch to the writer and takes an empty one.
func (r *run) flush(ctx context.Context, wr *writer) error {
	if len(r.batch) == 0 {
		return nil
	}
	b, err := wr.send(ctx, r.batch)
	if err != nil {
		return err
	}
	r.batch = b
	return nil
}

func (r *run) finish(info store.SnapshotInfo) Report {
	rep := r.report
	rep.SnapshotID = info.ID
	rep.People = info.People
	rep.ByJurisdiction = info.ByJurisdiction
	rep.ByCategory = map[string]int{}
	for bit, n := range info.ByCategoryBit {
		if bit >= 0 && bit < len(incident.DataCategories) {
			rep.ByCategory[incident.DataCategories[bit]] = n
		}
	}
	rep.OutOfScope = []Exclusion{}
	for _, sys := range r.systems {
		for _, c := range sys.Categories {
			key := [2]string{sys.ID, c}
			if n := r.excluded[key]; n > 0 {
				why := fmt.Sprintf("%s keeps %s for %s: written at or before %s, it was deleted before the window began at %s",
					sys.ID, c, retentionText(sys), r.req.Window.Start.Add(-sys.Retention).Format(time.RFC3339), r.req.Window.Start.Format(time.RFC3339))
				rep.OutOfScope = append(rep.OutOfScope, Exclusion{System: sys.ID, Category: c, Retention: retentionText(sys), People: n, All: n == r.held[sys.ID], Why: why})
			}
			if n := r.after[key]; n > 0 {
				why := fmt.Sprintf("written after the window ended at %s", r.req.Window.End.Format(time.RFC3339))
				rep.OutOfScope = append(rep.OutOfScope, Exclusion{System: sys.ID, Category: c, Retention: retentionText(sys), People: n, All: n == r.held[sys.ID], Why: why})
			}
		}
	}
	return rep
}

func retentionText(sys datamap.System) string { return sys.RetentionText() }

// Residents turns the report's counts into the facts' affected counts.
func (rep Report) Residents() []incident.Residents {
	out := make([]incident.Residents, 0, len(rep.ByJurisdiction))
	for j, n := range rep.ByJurisdiction {
		out = append(out, incident.Residents{Region: j, Count: n})
	}
	slices.SortFunc(out, func(a, b incident.Residents) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// Categories lists the categories found, in the canonical order.
func (rep Report) Categories() []string {
	var out []string
	for _, c := range incident.DataCategories {
		if rep.ByCategory[c] > 0 {
			out = append(out, c)
		}
	}
	return out
}
