package workflows_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

// fakeSlack records what the workflow asks of Slack, at virtual time.
type fakeSlack struct {
	mu        sync.Mutex
	now       func() time.Time
	opened    int
	summaries []activities.SummaryInput
	posts     map[string]time.Time // key -> when
	texts     map[string]string    // key -> text
	direct    []string             // user@offset
	downUntil time.Time            // channels cannot be made before
}

func (f *fakeSlack) register(h *harness) {
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.OpenChannelInput) (activities.ChannelRef, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.now().Before(f.downUntil) {
			return activities.ChannelRef{}, errors.New("slack: 503 Service Unavailable")
		}
		f.opened++
		return activities.ChannelRef{ID: "C1", Name: "inc-" + strings.ToLower(strings.TrimPrefix(in.Incident, "INC-")), Responders: []string{"U0DPO"}}, nil
	}, activity.RegisterOptions{Name: activities.SlackOpenChannelName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.SummaryInput) (activities.SummaryRef, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.summaries = append(f.summaries, in)
		return activities.SummaryRef{TS: "1.0001"}, nil
	}, activity.RegisterOptions{Name: activities.SlackSummaryName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.PostInput) (activities.PostRef, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, dup := f.posts[in.Key]; dup {
			panic("the workflow asked to post " + in.Key + " twice")
		}
		f.posts[in.Key] = f.now()
		if f.texts != nil {
			f.texts[in.Key] = in.Text
		}
		return activities.PostRef{TS: "2.0001"}, nil
	}, activity.RegisterOptions{Name: activities.SlackPostName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.DirectInput) (activities.PostRef, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.direct = append(f.direct, in.User+"@"+f.now().Sub(start).String())
		return activities.PostRef{}, nil
	}, activity.RegisterOptions{Name: activities.SlackDirectName})
}

// TestSlackChannelFollowsTheClock: the channel is opened once, the summary
// is written at once and edited as the clock moves, and each reminder and
// the deadline are posted once, at their virtual instants.
func TestSlackChannelFollowsTheClock(t *testing.T) {
	h := newHarness(t)
	f := &fakeSlack{now: func() time.Time { return h.env.Now() }, posts: map[string]time.Time{}}
	f.register(h)
	h.at(80*time.Hour, func() { h.close("Notified; contained") })
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(start, "EU")))
	final := h.result()

	if f.opened != 1 || final.Slack == nil || final.Slack.ID != "C1" || final.Slack.SummaryTS != "1.0001" {
		t.Fatalf("channel opened %d times; incident's Slack: %+v", f.opened, final.Slack)
	}
	if len(f.summaries) == 0 || f.summaries[0].TS != "" || f.summaries[len(f.summaries)-1].TS != "1.0001" {
		t.Fatalf("summaries: %d, first TS %q", len(f.summaries), f.summaries[0].TS)
	}
	if last := f.summaries[len(f.summaries)-1].View; last.State != "closed" {
		t.Errorf("the last summary shows %q, want closed", last.State)
	}
	want := map[time.Duration]string{24 * time.Hour: "reminder", 48 * time.Hour: "reminder", 66 * time.Hour: "reminder", 71 * time.Hour: "reminder", 72 * time.Hour: "overdue"}
	if len(f.posts) != len(want) {
		t.Fatalf("posts: %v", f.posts)
	}
	for key, at := range f.posts {
		kind, ok := want[at.Sub(start)]
		if !ok || !strings.Contains(key, "/eu-gdpr-art33/"+kind+"/") {
			t.Errorf("posted %s at +%s", key, at.Sub(start))
		}
	}
	if len(f.direct) != 1 || f.direct[0] != "U0DPO@72h0m0s" {
		t.Errorf("direct messages: %v, want the responder told at the deadline", f.direct)
	}
	// Each post also edited the summary, so its time left was current.
	if len(f.summaries) < len(want)+1 {
		t.Errorf("%d summary writes for %d clock events", len(f.summaries), len(want))
	}
}

// TestSlackDownAtTheOpening: Slack cannot make the channel for the first
// ten minutes, while the deadline passes; once it can, the deadline is
// posted in the channel and told to the responder, once each.
func TestSlackDownAtTheOpening(t *testing.T) {
	h := newHarness(t)
	f := &fakeSlack{now: func() time.Time { return h.env.Now() }, posts: map[string]time.Time{}, downUntil: start.Add(10 * time.Minute)}
	f.register(h)
	var during incident.Status
	h.at(9*time.Minute, func() { during = h.status() })
	h.at(30*time.Minute, func() { h.close("Notified; contained") })
	due := start.Add(8 * time.Minute)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, h.input(facts(due.Add(-72*time.Hour), "EU")))
	final := h.result()

	if during.Slack == nil || !during.Slack.Opening || len(during.Slack.Pending) != 2 {
		t.Fatalf("while Slack was down, after the deadline: %+v; want the channel opening with its posts queued", during.Slack)
	}
	if f.opened != 1 || final.Slack == nil || final.Slack.ID != "C1" || final.Slack.Opening || len(final.Slack.Pending) != 0 {
		t.Fatalf("channel opened %d times; incident's Slack: %+v", f.opened, final.Slack)
	}
	if len(f.posts) != 1 {
		t.Fatalf("posts: %v, want the deadline", f.posts)
	}
	for key, at := range f.posts {
		if !strings.Contains(key, "/eu-gdpr-art33/overdue/") || at.Before(f.downUntil) || at.After(f.downUntil.Add(2*time.Minute)) {
			t.Errorf("posted %s at +%s; want the deadline, once Slack was back at +10m", key, at.Sub(start))
		}
	}
	if len(f.direct) != 1 || !strings.HasPrefix(f.direct[0], "U0DPO@") {
		t.Errorf("direct messages: %v, want the responder told once", f.direct)
	}
}
