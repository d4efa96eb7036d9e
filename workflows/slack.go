package workflows

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
)

// slackVersion marks, in a history, the runs that keep a Slack channel:
// histories from before it replay without one.
const slackVersion = "slack-channel"

// slackEarlyVersion marks the runs that queue posts while the channel is
// still being made, so a Slack outage at the opening delays the reminders
// and deadlines that fall due meanwhile instead of losing them.
const slackEarlyVersion = "slack-early-posts"

// oneDirectVersion marks the runs that send a person one direct message
// about one thing: a responder who is also a target of the deadline's page
// was told twice before it (see queueDirect).
const oneDirectVersion = "one-direct-message"

// slackOptions: Slack may be slow or down; its activities run on their own
// coroutine so a deadline never waits for Slack, and retry for a while
// before a message is given up (a Slack error that will not change, such as
// a channel archived by hand, gives up at once).
var slackOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		MaximumAttempts:        30,
		NonRetryableErrorTypes: []string{activities.ErrTypeSlackPermanent},
	},
}

// startSlack gives the incident its channel and pinned summary and keeps
// them current, on a coroutine of its own. Runs recorded before Slack
// existed replay without it.
func (r *run) startSlack(ctx workflow.Context) {
	if workflow.GetVersion(ctx, slackVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	r.slackOn = true
	ctx = workflow.WithActivityOptions(ctx, slackOptions)
	opening := r.status.Slack == nil || r.status.Slack.Opening
	if opening && r.status.Slack == nil &&
		workflow.GetVersion(ctx, slackEarlyVersion, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		r.status.Slack = &incident.SlackChannel{Opening: true}
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		if opening {
			var ch activities.ChannelRef
			err := workflow.ExecuteActivity(ctx, activities.SlackOpenChannelName, activities.OpenChannelInput{
				Incident: r.status.ID, Title: r.status.Facts.Title,
			}).Get(ctx, &ch)
			var early []incident.SlackPost
			if r.status.Slack != nil {
				early = r.status.Slack.Pending
			}
			if err != nil {
				workflow.GetLogger(ctx).Warn("no Slack channel", "incident", r.status.ID, "error", err, "posts_dropped", len(early))
				r.status.Slack = &incident.SlackChannel{Off: true}
				return
			}
			r.status.Slack = &incident.SlackChannel{ID: ch.ID, Name: ch.Name, Off: ch.ID == "", Responders: ch.Responders}
			if ch.ID != "" {
				r.status.Timeline.Append(workflow.Now(ctx).UTC(), incident.EntryKind("slack_channel"), incident.SystemActor, "",
					"Slack channel #"+ch.Name+" opened for the incident")
				r.status.Slack.Pending = r.expandEarlyPosts(early)
			}
		}
		for !r.status.Slack.Off {
			if err := workflow.Await(ctx, func() bool { return r.slackDirty() || len(r.status.Slack.Pending) > 0 }); err != nil {
				return
			}
			r.slackBusy = true
			r.syncSlack(ctx)
			r.slackBusy = false
		}
	})
}

// expandEarlyPosts turns the posts queued while the channel was being made
// into posts the open channel can send: one direct message per responder
// where a post was meant for them all.
func (r *run) expandEarlyPosts(early []incident.SlackPost) []incident.SlackPost {
	sl := r.status.Slack
	var out []incident.SlackPost
	for _, p := range early {
		if !p.ToResponders {
			out = append(out, p)
			continue
		}
		topic := r.topics[p.Key]
		for _, u := range sl.Responders {
			if r.oneDirectOn && topic != "" && slices.ContainsFunc(early, func(q incident.SlackPost) bool {
				return q.User == u && r.topics[q.Key] == topic
			}) {
				continue // a page tells them already
			}
			out = append(out, incident.SlackPost{Key: p.Key + "/" + u, Text: p.Text + " (#" + sl.Name + ")", User: u})
		}
	}
	return out
}

// overdueTopic is what the direct messages of a deadline passing are
// about: the responders' message and the top of the chain's page alike.
func overdueTopic(rule string, at time.Time) string {
	return fmt.Sprintf("overdue/%s/%d", rule, at.Unix())
}

// queueDirect queues a direct message (or one for every responder, while
// the channel is being made) about topic. Since oneDirectVersion a person
// who is both a responder and a target of the page is sent it once: a
// message about a topic that one waiting to be sent to them is about
// replaces that one's text (the later, a page's, says how to stop it)
// instead of being queued too.
func (r *run) queueDirect(sl *incident.SlackChannel, p incident.SlackPost, topic string) {
	if r.oneDirectOn && topic != "" && p.User != "" {
		for i, q := range sl.Pending {
			if q.User == p.User && r.topics[q.Key] == topic {
				sl.Pending[i].Text = p.Text
				return
			}
		}
	}
	if topic != "" {
		if r.topics == nil {
			r.topics = map[string]string{}
		}
		r.topics[p.Key] = topic
	}
	sl.Pending = append(sl.Pending, p)
}

// settleSlack gives the channel a little while to show the incident's last
// state (closed) before the run ends; Slack being down does not hold the
// close up for longer.
func (r *run) settleSlack(ctx workflow.Context) {
	if !r.slackOn || r.status.Slack == nil {
		return
	}
	_, _ = workflow.AwaitWithTimeout(ctx, 2*time.Minute, func() bool {
		return r.status.Slack.Off || (!r.slackDirty() && len(r.status.Slack.Pending) == 0 && !r.slackBusy)
	})
}

// slackDirty reports whether the summary shows something the pinned one
// does not.
func (r *run) slackDirty() bool {
	return r.status.Slack != nil && !r.status.Slack.Off && r.summaryKey() != r.status.Slack.Shown
}

// summaryKey is a hash of the summary's content without the time it was
// taken: what changed since the pinned one was written.
func (r *run) summaryKey() string {
	v := activities.SummaryViewOf(r.snapshot(), time.Time{})
	b, _ := json.Marshal(v)
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 16)
}

// syncSlack brings the pinned summary up to date and posts what is queued.
func (r *run) syncSlack(ctx workflow.Context) {
	sl := r.status.Slack
	if key := r.summaryKey(); key != sl.Shown {
		var ref activities.SummaryRef
		err := workflow.ExecuteActivity(ctx, activities.SlackSummaryName, activities.SummaryInput{
			Channel: sl.ID, TS: sl.SummaryTS, View: activities.SummaryViewOf(r.snapshot(), workflow.Now(ctx).UTC()),
		}).Get(ctx, &ref)
		if err != nil {
			workflow.GetLogger(ctx).Warn("Slack summary not updated", "incident", r.status.ID, "error", err)
		} else {
			sl.SummaryTS = ref.TS
		}
		sl.Shown = key // given up or shown: try again at the next change, not in a loop
	}
	for len(sl.Pending) > 0 {
		p := sl.Pending[0]
		var send workflow.Future
		if p.User != "" {
			send = workflow.ExecuteActivity(ctx, activities.SlackDirectName, activities.DirectInput{User: p.User, Key: p.Key, Text: p.Text})
		} else {
			send = workflow.ExecuteActivity(ctx, activities.SlackPostName, activities.PostInput{Channel: cmp.Or(p.Channel, sl.ID), Key: p.Key, Text: p.Text})
		}
		if err := send.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("Slack message not posted", "incident", r.status.ID, "key", p.Key, "error", err)
		}
		sl.Pending = sl.Pending[1:]
		delete(r.topics, p.Key)
	}
}

// slackClockEvent queues a message in the channel for a clock event people
// should see there: a reminder, a deadline passed, an obligation met.
func (r *run) slackClockEvent(e incident.ClockEvent) {
	if !r.slackOn || r.status.Slack == nil || r.status.Slack.Off {
		return
	}
	var icon string
	switch e.Kind {
	case incident.EventReminder:
		icon = ":alarm_clock:"
	case incident.EventOverdue:
		icon = ":rotating_light:"
	case incident.EventMet:
		icon = ":white_check_mark:"
	default:
		return
	}
	key := fmt.Sprintf("%s/%s/%s/%d", r.status.ID, e.Kind, e.Rule, e.At.Unix())
	text := fmt.Sprintf("%s *%s* %s: %s", icon, r.status.ID, e.Rule, e.Describe())
	// With escalation, the page posts reminders and deadlines (to whom
	// its chain says); without, the channel hears of them here.
	if !r.escalateOn || e.Kind == incident.EventMet {
		r.status.Slack.Pending = append(r.status.Slack.Pending, incident.SlackPost{Key: key, Text: text})
	}
	if e.Kind == incident.EventOverdue {
		// A deadline passed: tell the responders directly, not only the
		// channel they may not be watching.
		topic := overdueTopic(e.Rule, e.At)
		if r.status.Slack.Opening {
			// Who the responders are is known once the channel is made.
			r.queueDirect(r.status.Slack, incident.SlackPost{Key: key, Text: text, ToResponders: true}, topic)
		}
		for _, u := range r.status.Slack.Responders {
			r.queueDirect(r.status.Slack, incident.SlackPost{Key: key + "/" + u, Text: text + " (#" + r.status.Slack.Name + ")", User: u}, topic)
		}
	}
	// The summary's "time left" is as of its last edit: edit it now too.
	r.status.Slack.Shown = ""
}
