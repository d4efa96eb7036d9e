// Package escalation holds escalation policies as data, on GoAlert's model,
// and the pure schedule a workflow follows to page people about a clock.
//
// # Policies
//
// A policy is a chain of steps, each with a delay and targets (Slack
// members, user groups and channels, email addresses, the incident's own
// channel), and a number of repeats. The file (examples/escalation.yaml
// shows every field) lists policies; PolicyFor picks one by the incident's
// severity and what the obligation notifies, the most specific match first.
// Without a file, or when nothing matches, DefaultPolicy posts in the
// incident's channel only. Parse reports every problem it finds, joined
// with errors.Join, each an *apperr.Error of kind Invalid naming the file,
// the line and the field.
//
// # Pages
//
// A Page is one run of a chain. A clock starts one on each reminder before
// its deadline, from the first step; and one when its deadline passes with
// no notice, at the top of the chain: every step's targets at once. Step i
// fires its Delay after its round starts; a repeat round starts RepeatDelay
// after the round before's last step (on a top page, RepeatDelay after the
// round before). Acknowledging a page stops that page, never the legal
// clock: the clock's next reminder, or its deadline passing, starts a new
// page from scratch, whoever acknowledged the last one.
//
// Everything here is deterministic: functions take now and never read the
// clock, so a workflow can call them with workflow.Now. The workflow keeps
// the Page (with the Policy it follows) in its status, and:
//
//   - on a reminder or overdue clock event, replaces the clock's page with
//     NewPage(reason, rule, before, policy, now);
//   - when woken, sends the Targets of Due(page, now), keyed by Page.Key of
//     the last one, and Records them;
//   - sleeps until NextAt(page, now), re-arming the timer when the page
//     changes (acknowledged, replaced, the clock met or stopped);
//   - on an acknowledgement, calls Ack, which ends the page.
package escalation
