package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
)

// escalationVersion marks the runs that page people along escalation
// chains; histories from before replay without paging.
const escalationVersion = "escalation"

const entryEscalated incident.EntryKind = "escalated"

// startPage begins paging for a reminder or a deadline passed: a reminder
// climbs the obligation's chain from its first step, an overdue clock hits
// the top at once. A new page replaces the obligation's earlier one, even
// an acknowledged one: acknowledging stops the paging, never the clock.
func (r *run) startPage(e incident.ClockEvent) {
	if !r.escalateOn || (e.Kind != incident.EventReminder && e.Kind != incident.EventOverdue) {
		return
	}
	pol, ok := r.policies[e.Rule]
	if !ok {
		pol = escalation.DefaultPolicy()
	}
	before := time.Duration(0)
	if e.Kind == incident.EventReminder {
		before = e.Left
	}
	if r.pages == nil {
		r.pages = map[string]escalation.Page{}
	}
	r.pages[e.Rule] = escalation.NewPage(string(e.Kind), e.Rule, before, pol, e.At)
}

// nextPage is the earliest instant a page needs to fire.
func (r *run) nextPage(now time.Time) (time.Time, bool) {
	var next time.Time
	found := false
	for _, rule := range slices.Sorted(maps.Keys(r.pages)) {
		if t, ok := escalation.NextAt(r.pages[rule], now); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	return next, found
}

// firePages sends what is due on every page, in rule order, and drops the
// pages of clocks that are no longer open.
func (r *run) firePages(ctx workflow.Context) {
	if !r.escalateOn || len(r.pages) == 0 {
		return
	}
	now := workflow.Now(ctx).UTC()
	for _, rule := range slices.Sorted(maps.Keys(r.pages)) {
		p := r.pages[rule]
		if i := r.clockIndex(rule); i < 0 || !r.status.Clocks[i].State.Open() {
			delete(r.pages, rule)
			continue
		}
		fs := escalation.Due(p, now)
		if len(fs) == 0 {
			continue
		}
		last := fs[len(fs)-1]
		targets := escalation.Targets(fs)
		var names []string
		for _, t := range targets {
			names = append(names, t.String())
		}
		what := "reminder"
		if p.Top {
			what = "deadline passed, top of the chain"
		}
		r.status.Timeline.Append(now, entryEscalated, incident.SystemActor, rule, fmt.Sprintf(
			"Escalation %q (%s), step %d of %d, round %d: paged %s", p.Policy.Name, what, last.Step+1, len(p.Policy.Steps), last.Round+1,
			strings.Join(names, ", ")))
		topic := ""
		if p.Top && last.Round == 0 {
			topic = overdueTopic(rule, p.StartedAt)
		}
		r.slackPage(r.status.ID+"/"+p.Key(last), r.pageText(p, last), targets, topic)
		r.emailPage(r.status.ID+"/"+p.Key(last), p, last, targets)
		p.Record(fs...)
		r.pages[rule] = p
	}
}

// ackPages acknowledges the open pages of rule (all when empty) and says
// how many it stopped.
func (r *run) ackPages(rule, actor string, now time.Time) int {
	n := 0
	for _, k := range slices.Sorted(maps.Keys(r.pages)) {
		if rule != "" && k != rule {
			continue
		}
		p := r.pages[k]
		if _, more := escalation.NextAt(p, now); more && p.Ack(actor, now) {
			n++
		}
		r.pages[k] = p
	}
	return n
}

// slackPage queues a page's Slack messages: direct messages to people, a
// post in a named channel, a mention of a group or a post in the incident
// channel. Email targets are on the timeline; they are not mailed yet.
// topic names what the page is about where someone else may be telling a
// person the same (queueDirect); empty otherwise.
func (r *run) slackPage(key, text string, targets []escalation.Target, topic string) {
	sl := r.status.Slack
	if !r.slackOn || sl == nil || sl.Off {
		return
	}
	var mentions []string
	inChannel := false
	for _, t := range targets {
		switch t.Kind {
		case escalation.SlackUser:
			r.queueDirect(sl, incident.SlackPost{Key: key + "/" + t.ID, Text: text, User: t.ID}, topic)
		case escalation.SlackChannel:
			sl.Pending = append(sl.Pending, incident.SlackPost{Key: key + "/" + t.ID, Text: text, Channel: t.ID})
		case escalation.SlackGroup:
			mentions = append(mentions, "<!subteam^"+t.ID+">")
			inChannel = true
		case escalation.IncidentChannel:
			inChannel = true
		}
	}
	if inChannel {
		sl.Pending = append(sl.Pending, incident.SlackPost{Key: key, Text: strings.TrimSpace(strings.Join(mentions, " ") + " " + text)})
	}
}

// pageText says what a page is about, for Slack: the reminder or the
// deadline passed, the step of the chain, and how to stop it.
func (r *run) pageText(p escalation.Page, f escalation.Firing) string {
	due := "no fixed deadline"
	if i := r.clockIndex(p.Rule); i >= 0 && r.status.Clocks[i].Due != nil {
		due = r.status.Clocks[i].Due.UTC().Format(time.RFC3339)
	}
	text := fmt.Sprintf(":alarm_clock: *%s* %s: Reminder: %s left until the deadline at %s", r.status.ID, p.Rule, incident.FormatDuration(time.Duration(p.Before)), due)
	switch {
	case p.Top:
		text = fmt.Sprintf(":rotating_light: *%s* %s: Deadline %s passed with no notice: overdue", r.status.ID, p.Rule, due)
	case p.Reason == escalation.ReasonNoticeNotGiven:
		why := "the notice was not given"
		if i := r.clockIndex(p.Rule); i >= 0 {
			if n := r.notice(r.status.Clocks[i].NoticeID); n != nil {
				why = n.Summary()
			}
		}
		text = fmt.Sprintf(":x: *%s* %s: %s. The deadline at %s still runs", r.status.ID, p.Rule, why, due)
	}
	if f.Step > 0 || f.Round > 0 {
		text += fmt.Sprintf(" (escalation %q, step %d, round %d: nobody has acknowledged)", p.Policy.Name, f.Step+1, f.Round+1)
	}
	return text + fmt.Sprintf(". Acknowledge with the button in the incident channel, `/breach ack %s` or `breachctl ack %s`.", r.status.ID, r.status.ID)
}

// pageEmailVersion marks the runs that email a page's email targets.
const pageEmailVersion = "page-email"

// emailPage queues a page's email targets, when this run emails pages.
func (r *run) emailPage(key string, p escalation.Page, f escalation.Firing, targets []escalation.Target) {
	if !r.emailPagesOn {
		return
	}
	var to []string
	for _, t := range targets {
		if t.Kind == escalation.Email {
			to = append(to, t.ID)
		}
	}
	if len(to) == 0 {
		return
	}
	subject := fmt.Sprintf("[breachctl] %s: %s needs someone", r.status.ID, p.Rule)
	switch {
	case p.Top:
		subject = fmt.Sprintf("[breachctl] %s: %s is overdue", r.status.ID, p.Rule)
	case p.Reason == escalation.ReasonNoticeNotGiven:
		subject = fmt.Sprintf("[breachctl] %s: the notice under %s was not given", r.status.ID, p.Rule)
	}
	text := strings.NewReplacer(":alarm_clock: ", "", ":rotating_light: ", "", ":x: ", "", "*", "", "`", "").Replace(r.pageText(p, f))
	r.status.PageEmails = append(r.status.PageEmails, incident.PageEmail{Key: key, To: to, Subject: subject, Text: text})
}

// startEmailPages sends queued page emails on a coroutine of its own, so
// a slow mailer never holds up a deadline.
func (r *run) startEmailPages(ctx workflow.Context) {
	if !r.escalateOn || workflow.GetVersion(ctx, pageEmailVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	r.emailPagesOn = true
	ctx = workflow.WithActivityOptions(ctx, slackOptions)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return len(r.status.PageEmails) > 0 }); err != nil {
				return
			}
			e := r.status.PageEmails[0]
			in := activities.PageEmailInput{Key: e.Key, To: e.To, Subject: e.Subject, Text: e.Text}
			if err := workflow.ExecuteActivity(ctx, activities.SendPageEmailName, in).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("page email not sent", "incident", r.status.ID, "key", e.Key, "error", err)
			}
			r.status.PageEmails = r.status.PageEmails[1:]
		}
	})
}
