package intake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// fakeIncidents keeps incidents in memory, the way the workflow would
// answer: a closed incident refuses notes. The function fields, when set,
// answer instead.
type fakeIncidents struct {
	mu        sync.Mutex
	seq       int
	incidents map[string]*incident.Status
	openDelay time.Duration

	OpenFunc func(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error)
	ShowFunc func(ctx context.Context, id string) (incident.Status, error)
}

var _ Incidents = (*fakeIncidents)(nil)

func newFakeIncidents() *fakeIncidents {
	return &fakeIncidents{incidents: map[string]*incident.Status{}}
}

func (f *fakeIncidents) Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error) {
	if f.OpenFunc != nil {
		return f.OpenFunc(ctx, facts, actor)
	}
	time.Sleep(f.openDelay) // lets concurrent requests pile up behind the first
	facts = facts.Normalize()
	if err := facts.Validate(); err != nil {
		return incident.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("INC-20261123-%05d", f.seq)
	st := &incident.Status{ID: id, State: incident.StateOpen, Facts: facts, OpenedBy: actor}
	st.Timeline.Append(time.Now(), incident.EntryOpened, actor, "", "Incident opened")
	f.incidents[id] = st
	return *st, nil
}

func (f *fakeIncidents) Note(_ context.Context, id, text, actor string) (incident.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.incidents[id]
	switch {
	case !ok:
		return incident.Entry{}, apperr.New(apperr.NotFound, "no incident %s", id)
	case st.State == incident.StateClosed:
		return incident.Entry{}, apperr.New(apperr.Conflict, "incident %s is closed", id)
	}
	return st.Timeline.Append(time.Now(), incident.EntryNote, actor, "", text), nil
}

func (f *fakeIncidents) Show(ctx context.Context, id string) (incident.Status, error) {
	if f.ShowFunc != nil {
		return f.ShowFunc(ctx, id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.incidents[id]
	if !ok {
		return incident.Status{}, apperr.New(apperr.NotFound, "no incident %s", id)
	}
	return *st, nil
}

func (f *fakeIncidents) close(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.incidents[id].State = incident.StateClosed
}

func (f *fakeIncidents) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.incidents)
}

func (f *fakeIncidents) get(id string) incident.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.incidents[id]; ok {
		return *st
	}
	return incident.Status{}
}

// notes returns the texts of an incident's notes.
func (f *fakeIncidents) notes(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	if st, ok := f.incidents[id]; ok {
		for _, e := range st.Timeline {
			if e.Kind == incident.EntryNote {
				out = append(out, e.Text)
			}
		}
	}
	return out
}
