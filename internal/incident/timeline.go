package incident

import (
	"fmt"
	"strings"
	"time"
)

// EntryKind names a kind of timeline entry.
type EntryKind string

const (
	EntryOpened       EntryKind = "opened"
	EntryNote         EntryKind = "note"
	EntryFactsChanged EntryKind = "facts_changed"
	EntryClosed       EntryKind = "closed"
	// Clock entries use the ClockEventKind names.
)

// Entry is one line of an incident's timeline: the record of what happened,
// when, and who did it, kept for the breach register.
type Entry struct {
	Seq   int       `json:"seq"`
	At    time.Time `json:"at"`
	Kind  EntryKind `json:"kind"`
	Actor string    `json:"actor,omitempty"`
	Rule  string    `json:"rule,omitempty"` // the clock it is about, if any
	Text  string    `json:"text"`
}

// SystemActor is the actor of entries that breachctl itself makes.
const SystemActor = "breachctl"

// Describe turns a clock event into timeline text.
func (e ClockEvent) Describe() string {
	due := "no fixed deadline"
	if !e.Due.IsZero() {
		due = e.Due.UTC().Format(time.RFC3339)
	}
	switch e.Kind {
	case EventReminder:
		return fmt.Sprintf("Reminder: %s left until the deadline at %s", FormatDuration(e.Left), due)
	case EventOverdue:
		text := fmt.Sprintf("Deadline %s passed with no notice: overdue", due)
		if e.Late >= time.Minute {
			text += fmt.Sprintf(" (noticed %s after the deadline)", FormatDuration(e.Late))
		}
		if e.LateNeeds != "" {
			text += ". The late notice must give " + e.LateNeeds + ": record them with `breachctl delay`"
		}
		return text
	case EventClockAdded:
		if e.After != "" {
			return "Obligation triggered: its clock starts when the notice under " + e.After + " is sent"
		}
		if e.Due.IsZero() {
			return "Obligation triggered: notice without undue delay, no fixed deadline"
		}
		return fmt.Sprintf("Clock started: due %s", due)
	case EventDeadlineMoved:
		prior := "no fixed deadline"
		if !e.Prior.IsZero() {
			prior = e.Prior.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("Deadline moved from %s to %s", prior, due)
	case EventWithdrawn:
		return fmt.Sprintf("Obligation no longer triggered by the facts: clock withdrawn (was due %s)", due)
	case EventReinstated:
		return fmt.Sprintf("Obligation triggered again: clock restarted, due %s", due)
	case EventMet:
		if e.Late > 0 {
			return fmt.Sprintf("Obligation met: notice given %s after the deadline at %s", FormatDuration(e.Late), due)
		}
		if e.Due.IsZero() {
			return "Obligation met: notice given"
		}
		return fmt.Sprintf("Obligation met: notice given before the deadline at %s", due)
	case EventClockStopped:
		return fmt.Sprintf("Clock stopped at close (was due %s)", due)
	}
	return string(e.Kind)
}

// Timeline is an append-only list of entries.
type Timeline []Entry

// Append adds an entry with the next sequence number and returns it.
func (t *Timeline) Append(at time.Time, kind EntryKind, actor, rule, text string) Entry {
	e := Entry{Seq: len(*t) + 1, At: at, Kind: kind, Actor: actor, Rule: rule, Text: text}
	*t = append(*t, e)
	return e
}

// AppendClockEvent records a clock event, with its cause when one is known.
func (t *Timeline) AppendClockEvent(e ClockEvent, cause string) Entry {
	text := e.Describe()
	if cause != "" {
		text += " (" + cause + ")"
	}
	return t.Append(e.At, EntryKind(e.Kind), SystemActor, e.Rule, text)
}

// ChangeCause explains a change of facts for the timeline, by field name only.
func ChangeCause(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return "changed: " + strings.Join(fields, ", ")
}
