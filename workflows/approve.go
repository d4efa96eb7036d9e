package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/escalation"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/templates"
)

// MaxNoticeTextLength bounds each text of a notice.
const MaxNoticeTextLength = 20_000

const (
	entryNoticeApproved incident.EntryKind = "notice_approved"
	entryNoticeFiled    incident.EntryKind = "notice_filed"
)

func (r *run) validateApprove(req ApproveRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if len(req.Rules) == 0 {
		return invalid("rules: name the obligation(s) the notice answers")
	}
	notify := ""
	for i, rule := range req.Rules {
		if slices.Index(req.Rules, rule) != i {
			return invalid("rules: %s is named twice", rule)
		}
		ci := r.clockIndex(rule)
		if ci < 0 {
			return invalid("rules: incident %s has no obligation %q", r.status.ID, rule)
		}
		c := r.status.Clocks[ci]
		if !c.State.Open() {
			return conflict("%s is %s: there is nothing to notify under it", rule, c.State)
		}
		if n := r.notice(c.NoticeID); n != nil && n.State != incident.NoticeFailed && n.State != incident.NoticeIncomplete &&
			!(n.State == incident.NoticeAwaitingFiling && n.Error != "") {
			return conflict("%s is already answered by notice %s (%s)", rule, n.ID, n.State)
		}
		if c.NeedsDelayReasons() {
			return invalid("rules: %s is overdue and a late notice must give %s: record them first with `breachctl delay %s %s \"...\"`",
				rule, c.Late, r.status.ID, rule)
		}
		if c.OwnNotice && len(req.Rules) > 1 {
			return invalid("rules: %s wants a notice of its own: approve it alone", rule)
		}
		switch {
		case notify == "":
			notify = c.Notify
		case c.Notify != notify:
			return invalid("rules: %s notifies %s and %s notifies %s: approve them as separate notices", req.Rules[0], notify, rule, c.Notify)
		}
	}
	if notify == "individuals" {
		if len(r.status.Snapshots) == 0 {
			return invalid("rules: a notice to individuals goes to the people found by scoping: run `breachctl scope %s` first", r.status.ID)
		}
		for _, n := range r.status.Notices {
			if n.Notify == "individuals" && n.State == incident.NoticeSending {
				return conflict("notice %s to individuals is still being sent: approve the next one when it is done, so nobody is mailed twice", n.ID)
			}
		}
	}
	if strings.TrimSpace(req.Texts.WhatHappened) == "" && strings.TrimSpace(r.status.Facts.Description) == "" {
		return invalid("texts.what_happened: say what happened (the incident has no description to use)")
	}
	// The notice must say what its law requires: refuse now, not after
	// the approval, naming the text that is missing.
	probe := r.noticeSpec(req, r.status.OpenedAt)
	probe.Data.Organisation = templates.Organisation{Name: "-", ContactName: "-", ContactEmail: "-"}
	kind := templates.Individuals
	switch notify {
	case "individuals":
	case "controller", "owner", "covered_entity":
		kind = templates.Controller
	default:
		kind = templates.Authority
	}
	kinds := []templates.Kind{kind}
	if kind == templates.Individuals && slices.ContainsFunc(probe.Residents, func(scope string) bool { return rules.InScope("US-CA", scope) }) {
		kinds = append(kinds, templates.California) // Californians get California's notice
	}
	for _, k := range kinds {
		if err := templates.Validate(k, probe.Data); err != nil {
			return invalid("the notice cannot go out as approved: %s (give the texts in --file or with the flags of approve)", err.Error())
		}
	}
	check := func(field string, t activities.NoticeTexts) error {
		for name, v := range map[string]string{
			"what_happened": t.WhatHappened, "likely_consequences": t.LikelyConsequences, "measures_taken": t.MeasuresTaken,
			"what_you_can_do": t.WhatYouCanDo, "identity_theft_offer": t.IdentityTheftOffer,
		} {
			if len(v) > MaxNoticeTextLength {
				return invalid("%s.%s: at most %d characters; this one is %d", field, name, MaxNoticeTextLength, len(v))
			}
		}
		return nil
	}
	if err := check("texts", req.Texts); err != nil {
		return err
	}
	if req.Fallback != "" && !slices.Contains(activities.Fallbacks(), req.Fallback) {
		return invalid("fallback: %q is not one of %s", req.Fallback, strings.Join(activities.Fallbacks(), ", "))
	}
	for lang, t := range req.Translations {
		if !slices.Contains(templates.Languages(), lang) {
			return invalid("translations: %q is not a notice language (%s)", lang, strings.Join(templates.Languages(), ", "))
		}
		if err := check("translations."+lang, t); err != nil {
			return err
		}
	}
	return nil
}

// approve records the approval and starts the notice's workflow.
func (r *run) approve(ctx workflow.Context, req ApproveRequest) (incident.Status, error) {
	now := workflow.Now(ctx).UTC()
	spec := r.noticeSpec(req, now)
	n := incident.Notice{
		ID: spec.ID, Rules: slices.Clone(req.Rules), Notify: spec.Notify, State: incident.NoticeSending,
		ApprovedBy: req.Actor, ApprovedAt: now, SnapshotID: spec.SnapshotID,
	}
	r.status.Notices = append(r.status.Notices, n)
	for _, rule := range req.Rules {
		r.status.Clocks[r.clockIndex(rule)].NoticeID = n.ID
	}
	to := "to the organisations configured for it"
	if spec.Notify == "individuals" {
		to = fmt.Sprintf("to the people in scope in snapshot %s", spec.SnapshotID)
		if len(spec.Laws) > 0 {
			to += ": " + r.reachText(spec)
		}
	}
	r.status.Timeline.Append(now, entryNoticeApproved, req.Actor, req.Rules[0],
		fmt.Sprintf("Notice %s approved under %s: sending %s", n.ID, strings.Join(req.Rules, ", "), to))
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, noticeChildOptions(n.ID)), NoticeWorkflowName,
		NoticeInput{Spec: spec, Parent: workflow.GetInfo(ctx).WorkflowExecution.ID})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		r.noticeDone(ctx, NoticeResult{Notice: n.ID, State: incident.NoticeFailed, At: workflow.Now(ctx).UTC(), Error: "could not start sending: " + errorMessage(err)})
	}
	return r.snapshot(), nil
}

// noticeSpec is the notice as approved: the texts people wrote and what the
// incident knows, which every rendering of it shares.
func (r *run) noticeSpec(req ApproveRequest, now time.Time) activities.NoticeSpec {
	f := r.status.Facts
	first := r.status.Clocks[r.clockIndex(req.Rules[0])]
	id := incident.NoticeID(r.status.ID, req.Rules[0])
	for i := 2; r.notice(id) != nil; i++ { // approved again after a failure
		id = fmt.Sprintf("%s-%d", incident.NoticeID(r.status.ID, req.Rules[0]), i)
	}
	d := templates.NoticeData{
		IncidentID:        r.status.ID,
		NoticeDate:        now,
		OccurredFrom:      f.OccurredAt,
		DiscoveredAt:      f.AwareAt,
		WhatHappened:      f.Description,
		DataCategories:    slices.Clone(f.DataCategories),
		SubjectCategories: slices.Clone(req.SubjectCategories),
		Recipient:         first.Recipient,
	}
	d = req.Texts.Apply(d)
	if len(f.Affected) > 0 {
		d.AffectedByJurisdiction = map[string]int{}
		for _, a := range f.Affected {
			d.AffectedCount += a.Count
			d.AffectedByJurisdiction[a.Region] += a.Count
		}
	}
	var citations, residents, reasons []string
	for _, rule := range req.Rules {
		c := r.status.Clocks[r.clockIndex(rule)]
		citations = append(citations, c.Citation)
		if c.Residents != "" && !slices.Contains(residents, c.Residents) {
			residents = append(residents, c.Residents)
		}
		if c.State == incident.ClockOverdue {
			d.Late = true
			if c.DelayReasons != "" && !slices.Contains(reasons, c.DelayReasons) {
				reasons = append(reasons, c.DelayReasons)
			}
		}
	}
	if len(residents) == 0 {
		residents = []string{first.Jurisdiction}
	}
	var laws []activities.NoticeLaw
	if r.lawsOn && first.Notify == "individuals" {
		laws = r.noticeLaws(req.Rules)
	}
	d.Citation = strings.Join(citations, "; ")
	d.ReasonsForDelay = strings.Join(reasons, "\n\n")
	spec := activities.NoticeSpec{
		ID: id, Incident: r.status.ID, Rules: slices.Clone(req.Rules), Notify: first.Notify,
		Jurisdiction: first.Jurisdiction, Residents: residents, Data: d, Translations: req.Translations, OwnNotice: first.OwnNotice,
		ApprovedBy: req.Actor, ApprovedAt: now, Rendered: req.rendered, Laws: laws, Fallback: req.Fallback,
	}
	if first.Notify == "individuals" {
		spec.SnapshotID = r.status.Snapshots[len(r.status.Snapshots)-1].ID
	}
	return spec
}

// lawsPerPersonVersion marks the runs whose notices to people carry
// their laws (NoticeSpec.Laws): each person's notice cites the laws of
// where they live, and the draft counts whom each law covers.
const lawsPerPersonVersion = "laws-per-person"

// noticeLaws are the laws of rules, with whom each covers.
func (r *run) noticeLaws(rules []string) []activities.NoticeLaw {
	var out []activities.NoticeLaw
	for _, rule := range rules {
		c := r.status.Clocks[r.clockIndex(rule)]
		out = append(out, activities.NoticeLaw{Rule: rule, Residents: cmp.Or(c.Residents, c.Jurisdiction), Citation: c.Citation})
	}
	return out
}

// coverage counts the people of the notice's snapshot by its laws, naming
// the incident's other open obligations to people for those it misses.
func (r *run) coverage(spec activities.NoticeSpec) *incident.NoticeCoverage {
	if len(spec.Laws) == 0 || len(r.status.Snapshots) == 0 {
		return nil
	}
	var others []string
	for _, c := range r.status.Clocks {
		if c.Notify == "individuals" && c.State.Open() && !slices.Contains(spec.Rules, c.Rule) {
			others = append(others, c.Rule)
		}
	}
	sn := r.status.Snapshots[len(r.status.Snapshots)-1]
	cov := activities.Coverage(sn.ID, sn.Affected, spec.Laws, r.noticeLaws(others))
	return &cov
}

// reachText says whom a notice to people reaches, and in which languages
// people get the English texts.
func (r *run) reachText(spec activities.NoticeSpec) string {
	var parts []string
	if cov := r.coverage(spec); cov != nil {
		parts = append(parts, cov.Summary())
	}
	if fb := spec.FallbackLanguages(); len(fb) > 0 {
		what := "their language's template around the English texts"
		if spec.FallbackChoice() == activities.FallbackEnglish {
			what = "the notice in English"
		}
		parts = append(parts, fmt.Sprintf("no texts in %s: people who read %s get %s", strings.Join(fb, ", "), plural(len(fb), "it", "them"), what))
	}
	return strings.Join(parts, "; ")
}

func (r *run) notice(id string) *incident.Notice {
	if id == "" {
		return nil
	}
	for i := range r.status.Notices {
		if r.status.Notices[i].ID == id {
			return &r.status.Notices[i]
		}
	}
	return nil
}

// receiveNotices applies what notice workflows report, for as long as the
// run lives.
func (r *run) receiveNotices(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalNoticeDone)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var res NoticeResult
			ch.Receive(ctx, &res)
			r.applying++
			r.noticeDone(ctx, res)
			r.applying--
		}
	})
}

// noticeDone records how a notice went; a notice given meets the clocks it
// answers, and may start clocks that run from it.
func (r *run) noticeDone(ctx workflow.Context, res NoticeResult) {
	n := r.notice(res.Notice)
	if n == nil {
		workflow.GetLogger(ctx).Warn("report of an unknown notice", "incident", r.status.ID, "notice", res.Notice)
		return
	}
	n.State, n.Counts, n.Error = res.State, res.Counts, res.Error
	n.Deliveries, n.Filings = res.Deliveries, res.Filings
	var given bool
	if workflow.GetVersion(ctx, metMeansGivenVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		// Before met-means-given: a notice attempted met its clocks.
		given = res.State == incident.NoticeSent
		for _, d := range res.Deliveries {
			given = given || d.Error == ""
		}
	} else {
		given = n.Given()
	}
	if given {
		at := res.At
		n.SentAt = &at
	}
	r.status.Timeline.Append(res.At, incident.EntryKind("notice_"+string(res.State)), incident.SystemActor, n.Rules[0], n.Summary())
	if given {
		r.meet(ctx, n, res.At)
	} else if n.State == incident.NoticeFailed || n.State == incident.NoticeIncomplete {
		r.notGiven(n, res.At)
	}
	r.wake++
	r.upsertSearch(ctx)
}

// notGiven tells the people on the incident that a notice failed or left
// people unreached, so its clocks run on: the timeline has it already; the
// channel hears it, and each clock's escalation chain is paged as for a
// clock at risk.
func (r *run) notGiven(n *incident.Notice, at time.Time) {
	text := fmt.Sprintf(":x: *%s* %s: %s. The obligation is not met and its deadline still runs: fix the cause and approve again (`breachctl approve %s %s`).",
		r.status.ID, n.Rules[0], n.Summary(), r.status.ID, strings.Join(n.Rules, " "))
	if r.slackOn && r.status.Slack != nil && !r.status.Slack.Off {
		r.status.Slack.Pending = append(r.status.Slack.Pending, incident.SlackPost{Key: fmt.Sprintf("%s/not-given/%s/%d", r.status.ID, n.ID, at.Unix()), Text: text})
		r.status.Slack.Shown = ""
	}
	if !r.escalateOn {
		return
	}
	for _, rule := range n.Rules {
		if i := r.clockIndex(rule); i < 0 || !r.status.Clocks[i].State.Open() {
			continue
		}
		pol, ok := r.policies[rule]
		if !ok {
			pol = escalation.DefaultPolicy()
		}
		if r.pages == nil {
			r.pages = map[string]escalation.Page{}
		}
		r.pages[rule] = escalation.NewPage(escalation.ReasonNoticeNotGiven, rule, 0, pol, at)
	}
}

// meet marks the clocks a notice answers as met, then reassesses, since a
// notice can start another obligation's clock.
func (r *run) meet(ctx workflow.Context, n *incident.Notice, at time.Time) {
	met := false
	for _, rule := range n.Rules {
		if i := r.clockIndex(rule); i >= 0 {
			if e, ok := r.status.Clocks[i].Meet(at, n.ID); ok {
				r.status.Timeline.AppendClockEvent(e, "")
				r.slackClockEvent(e)
				met = true
			}
		}
	}
	if !met || r.status.State == incident.StateClosed {
		return
	}
	if err := r.facts.Lock(ctx); err != nil {
		return
	}
	defer r.facts.Unlock()
	if err := r.assess(ctx, "notice "+n.ID+" given"); err != nil {
		workflow.GetLogger(ctx).Error("reassess after a notice", "incident", r.status.ID, "notice", n.ID, "error", err)
	}
}

// noticesSent says when each met clock's notice went out, for the rules
// whose clocks run from another notice.
func (r *run) noticesSent() map[string]string {
	var sent map[string]string
	for _, c := range r.status.Clocks {
		if c.State == incident.ClockMet && c.ClosedAt != nil {
			if sent == nil {
				sent = map[string]string{}
			}
			sent[c.Rule] = c.ClosedAt.UTC().Format(time.RFC3339Nano)
		}
	}
	return sent
}

func (r *run) validateFiled(req FiledRequest) error {
	if err := r.validateOpen(); err != nil {
		return err
	}
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	ref := strings.TrimSpace(req.Reference)
	switch {
	case ref == "":
		return invalid("reference: give the reference the portal gave the filing")
	case len(ref) > 200:
		return invalid("reference: at most 200 characters")
	}
	_, _, err := r.filing(req)
	return err
}

// filing finds the filing a FiledRequest is about.
func (r *run) filing(req FiledRequest) (*incident.Notice, int, error) {
	ci := r.clockIndex(req.Rule)
	if ci < 0 {
		return nil, 0, invalid("rule: incident %s has no obligation %q", r.status.ID, req.Rule)
	}
	n := r.notice(r.status.Clocks[ci].NoticeID)
	if n == nil || len(n.Filings) == 0 {
		return nil, 0, conflict("%s has no report waiting to be filed through a portal", req.Rule)
	}
	var open []int
	for i, f := range n.Filings {
		if req.Recipient != "" && !strings.EqualFold(f.Recipient, req.Recipient) {
			continue
		}
		if f.Reference == "" {
			open = append(open, i)
		}
	}
	switch {
	case len(open) == 1:
		return n, open[0], nil
	case len(open) == 0 && req.Recipient != "":
		return nil, 0, invalid("recipient: notice %s has no unfiled report for %q", n.ID, req.Recipient)
	case len(open) == 0:
		return nil, 0, conflict("every report of notice %s is filed already", n.ID)
	}
	var names []string
	for _, i := range open {
		names = append(names, n.Filings[i].Recipient)
	}
	return nil, 0, invalid("recipient: notice %s has reports for %s: say which was filed", n.ID, strings.Join(names, ", "))
}

func (r *run) filed(ctx workflow.Context, req FiledRequest) (incident.Status, error) {
	n, i, err := r.filing(req)
	if err != nil {
		return incident.Status{}, err
	}
	now := workflow.Now(ctx).UTC()
	f := &n.Filings[i]
	f.Reference, f.FiledBy, f.FiledAt = strings.TrimSpace(req.Reference), req.Actor, &now
	r.status.Timeline.Append(now, entryNoticeFiled, req.Actor, req.Rule,
		fmt.Sprintf("Report of notice %s filed with %s at %s, reference %s", n.ID, f.Recipient, f.Portal, f.Reference))
	if !slices.ContainsFunc(n.Filings, func(f incident.Filing) bool { return f.Reference == "" }) {
		n.State = incident.NoticeFiled
		if n.SentAt == nil {
			n.SentAt = &now
		}
	}
	if workflow.GetVersion(ctx, metMeansGivenVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion || n.Given() {
		if n.SentAt == nil {
			n.SentAt = &now
		}
		r.meet(ctx, n, now)
	}
	r.wake++
	r.upsertSearch(ctx)
	return r.snapshot(), nil
}
