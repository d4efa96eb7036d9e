package incident

import (
	"slices"
	"time"
)

// Obligation is one duty to notify someone by a deadline, as the rules work it
// out from the facts. It carries everything needed to run its clock.
type Obligation struct {
	// Rule is the stable ID of the rule that creates the obligation
	// ("eu-gdpr-art33"); one clock per rule in an incident.
	Rule         string `json:"rule"`
	Title        string `json:"title"`
	Jurisdiction string `json:"jurisdiction"`
	// Residents is where the people the obligation is about live (EU, US,
	// US-CA, BR, ANY): a notice to individuals goes to those in it.
	Residents string `json:"residents,omitempty"`
	// Notify is who must be told: authority, individuals, controller, ...
	Notify    string `json:"notify"`
	Recipient string `json:"recipient,omitempty"`
	Citation  string `json:"citation"`
	// ClockStart names the event the deadline runs from: awareness,
	// discovery, determination, assessment, or the rule of another
	// obligation whose notice starts this one's clock.
	ClockStart string `json:"clock_start"`
	// StartsAt is when the clock started; nil while it waits on another
	// obligation's notice.
	StartsAt *time.Time `json:"starts_at"`
	// Due is the deadline; nil when the law sets none (notice without undue
	// delay and no outer limit) or the clock has not started.
	Due *time.Time `json:"due"`
	// ASAP marks a law that asks for notice without undue delay; Due, if
	// any, is then the outer limit.
	ASAP bool `json:"asap"`
	// Stage names a step of a staged report (NIS2: early warning, ...).
	Stage   string   `json:"stage"`
	Content []string `json:"content"`
	// Late says what a notice after the deadline must carry.
	Late string `json:"late,omitempty"`
	// OwnNotice: the law's notice to individuals stands on its own.
	OwnNotice  bool   `json:"own_notice,omitempty"`
	Confidence string `json:"confidence,omitempty"`
	// Reminders are how long before Due people are reminded.
	Reminders []Duration `json:"reminders,omitempty"`
	Why       []string   `json:"why"`
}

// DueTime returns the deadline, or the zero time when there is none.
func (o Obligation) DueTime() time.Time {
	if o.Due == nil {
		return time.Time{}
	}
	return *o.Due
}

// waitsFor is the rule whose notice starts the obligation's clock, if it has
// not started yet.
func waitsFor(ob Obligation) string {
	if ob.StartsAt == nil {
		return ob.ClockStart
	}
	return ""
}

// CompareDeadlines orders deadlines earliest first, with no deadline last.
func CompareDeadlines(a, b *time.Time) int {
	switch {
	case a != nil && b != nil:
		return a.Compare(*b)
	case a != nil:
		return -1
	case b != nil:
		return 1
	}
	return 0
}

func sameDue(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// ClockState is where a clock stands.
type ClockState string

const (
	ClockRunning   ClockState = "running"   // due in the future
	ClockOverdue   ClockState = "overdue"   // past due with no notice
	ClockMet       ClockState = "met"       // the notice went out
	ClockWithdrawn ClockState = "withdrawn" // the facts no longer trigger the obligation
	ClockStopped   ClockState = "stopped"   // the incident was closed
)

// Open reports whether the clock still counts toward a deadline.
func (s ClockState) Open() bool { return s == ClockRunning || s == ClockOverdue }

// Reminder is one reminder before a clock's deadline.
type Reminder struct {
	Before  Duration   `json:"before"`
	At      time.Time  `json:"at"`
	FiredAt *time.Time `json:"fired_at,omitempty"`
	// Skipped marks a reminder that was already past when the clock started
	// (an incident opened late): it is never fired.
	Skipped bool `json:"skipped,omitempty"`
}

// Pending reports whether the reminder is still to fire.
func (r Reminder) Pending() bool { return r.FiredAt == nil && !r.Skipped }

// Clock is an obligation with its running state.
type Clock struct {
	Obligation
	State     ClockState `json:"state"`
	Schedule  []Reminder `json:"schedule"`
	OverdueAt *time.Time `json:"overdue_at,omitempty"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"` // met, withdrawn or stopped
	// DelayReasons are the reasons for a late notice, as recorded, when the
	// law asks for them (Obligation.Late).
	DelayReasons string `json:"delay_reasons,omitempty"`
	// NoticeID is the approved notice that answers the obligation, once
	// there is one (Status.Notices).
	NoticeID string `json:"notice_id,omitempty"`
}

// NeedsDelayReasons reports whether the clock is overdue under a law that
// asks a late notice for its reasons and none are recorded yet.
func (c *Clock) NeedsDelayReasons() bool {
	return c.State == ClockOverdue && c.Late != "" && c.DelayReasons == ""
}

// NewClock starts a clock for an obligation at now.
func NewClock(ob Obligation, now time.Time) Clock {
	c := Clock{Obligation: ob, State: ClockRunning}
	c.Schedule = buildSchedule(ob, now, nil)
	return c
}

// buildSchedule lays out the reminders of an obligation, earliest first. A
// reminder from an earlier schedule keeps its history when its time is already
// past; one whose new time is still ahead fires again; one past and never
// fired is skipped.
func buildSchedule(ob Obligation, now time.Time, old []Reminder) []Reminder {
	if ob.Due == nil {
		return nil // nothing to count down to
	}
	var out []Reminder
	for _, before := range ob.Reminders {
		r := Reminder{Before: before, At: ob.Due.Add(-time.Duration(before))}
		if ob.StartsAt != nil && !r.At.After(*ob.StartsAt) {
			continue // a reminder before the clock even started means nothing
		}
		if r.At.Before(now) {
			r.Skipped = true
			for _, o := range old {
				if o.Before == before && o.FiredAt != nil {
					r.FiredAt, r.Skipped = o.FiredAt, false
				}
			}
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Reminder) int { return a.At.Compare(b.At) })
	return slices.CompactFunc(out, func(a, b Reminder) bool { return a.Before == b.Before })
}

// NextEvent is the next instant at which the clock needs attention: its next
// pending reminder, or its deadline. ok is false for a clock with nothing
// ahead (no deadline; overdue, met, withdrawn, stopped).
func (c *Clock) NextEvent() (t time.Time, ok bool) {
	if c.State != ClockRunning || c.Due == nil {
		return time.Time{}, false
	}
	for _, r := range c.Schedule {
		if r.Pending() {
			return r.At, true
		}
	}
	return *c.Due, true
}

// ClockEventKind names what happened to a clock.
type ClockEventKind string

const (
	EventReminder      ClockEventKind = "reminder"
	EventOverdue       ClockEventKind = "overdue"
	EventClockAdded    ClockEventKind = "clock_added"
	EventDeadlineMoved ClockEventKind = "deadline_moved"
	EventWithdrawn     ClockEventKind = "clock_withdrawn"
	EventReinstated    ClockEventKind = "clock_reinstated"
	EventClockStopped  ClockEventKind = "clock_stopped"
	EventDelayReasons  ClockEventKind = "delay_reasons"
	EventMet           ClockEventKind = "clock_met"
)

// ClockEvent is something that happened to a clock, for the timeline.
type ClockEvent struct {
	Kind  ClockEventKind
	Rule  string
	At    time.Time // when it happened
	Due   time.Time // the deadline at the time
	Late  time.Duration
	Prior time.Time     // deadline_moved: the deadline before
	Left  time.Duration // reminder: time left to the deadline
	// LateNeeds is what a late notice must carry (overdue).
	LateNeeds string
	// After names the rule whose notice starts this clock, while it waits.
	After string
}

// Advance fires every reminder due at or before now and, once the deadline
// has passed, makes the clock overdue. Reminders that fell due while nothing
// ran (a stopped process) fire now, in order, each marked with now.
func (c *Clock) Advance(now time.Time) []ClockEvent {
	if c.State != ClockRunning || c.Due == nil {
		return nil
	}
	due := *c.Due
	var events []ClockEvent
	for i := range c.Schedule {
		r := &c.Schedule[i]
		if r.Pending() && !r.At.After(now) {
			fired := now
			r.FiredAt = &fired
			// A reminder that fell due while nothing ran and whose deadline
			// has passed too says nothing the overdue entry does not.
			if now.Before(due) {
				events = append(events, ClockEvent{Kind: EventReminder, Rule: c.Rule, At: now, Due: due, Left: due.Sub(now), Late: now.Sub(r.At)})
			}
		}
	}
	if !due.After(now) {
		at := now
		c.State, c.OverdueAt = ClockOverdue, &at
		events = append(events, ClockEvent{Kind: EventOverdue, Rule: c.Rule, At: now, Due: due, Late: now.Sub(due), LateNeeds: c.Late})
	}
	return events
}

// Stop ends a clock that is still open, at the close of its incident.
func (c *Clock) Stop(now time.Time) (ClockEvent, bool) {
	if !c.State.Open() {
		return ClockEvent{}, false
	}
	at := now
	c.State, c.ClosedAt = ClockStopped, &at
	return ClockEvent{Kind: EventClockStopped, Rule: c.Rule, At: now, Due: c.DueTime()}, true
}

// Reconcile brings the clocks in line with a fresh set of obligations worked
// out from changed facts. A clock is matched to its obligation by rule; a new
// obligation starts a clock; a clock whose obligation is gone is withdrawn,
// never deleted. Every change that people could have seen is returned as an
// event, so a deadline never moves silently.
func Reconcile(clocks []Clock, obligations []Obligation, now time.Time) ([]Clock, []ClockEvent) {
	out := slices.Clone(clocks)
	var events []ClockEvent
	seen := map[string]bool{}
	for _, ob := range obligations {
		seen[ob.Rule] = true
		i := slices.IndexFunc(out, func(c Clock) bool { return c.Rule == ob.Rule })
		if i < 0 {
			out = append(out, NewClock(ob, now))
			events = append(events, ClockEvent{Kind: EventClockAdded, Rule: ob.Rule, At: now, Due: ob.DueTime(), After: waitsFor(ob)})
			continue
		}
		c := &out[i]
		switch c.State {
		case ClockMet, ClockStopped:
			continue // history: a notice already given stays given
		case ClockWithdrawn:
			*c = NewClock(ob, now)
			events = append(events, ClockEvent{Kind: EventReinstated, Rule: ob.Rule, At: now, Due: ob.DueTime()})
			continue
		}
		prior := c.DueTime()
		moved := !sameDue(c.Due, ob.Due)
		oldSchedule := c.Schedule
		c.Obligation = ob
		c.Schedule = buildSchedule(ob, now, oldSchedule)
		if moved {
			events = append(events, ClockEvent{Kind: EventDeadlineMoved, Rule: ob.Rule, At: now, Due: ob.DueTime(), Prior: prior})
			if c.State == ClockOverdue && (ob.Due == nil || ob.Due.After(now)) {
				c.State, c.OverdueAt = ClockRunning, nil
			}
		}
	}
	for i := range out {
		c := &out[i]
		if !seen[c.Rule] && c.State.Open() {
			at := now
			c.State, c.ClosedAt = ClockWithdrawn, &at
			events = append(events, ClockEvent{Kind: EventWithdrawn, Rule: c.Rule, At: now, Due: c.DueTime()})
		}
	}
	return out, events
}

// NextEvent is the earliest instant any clock needs attention.
func NextEvent(clocks []Clock) (time.Time, bool) {
	var next time.Time
	found := false
	for i := range clocks {
		if t, ok := clocks[i].NextEvent(); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	return next, found
}

// Binding returns the open clock with the earliest deadline: the one that
// decides how much time is left. ok is false when no open clock has one.
func Binding(clocks []Clock) (Clock, bool) {
	var best Clock
	found := false
	for _, c := range clocks {
		if c.State.Open() && c.Due != nil && (!found || c.Due.Before(*best.Due)) {
			best, found = c, true
		}
	}
	return best, found
}
