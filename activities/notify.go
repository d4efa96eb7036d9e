package activities

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/templates"
)

// Registered names of the notification activities; they never change.
const (
	PrepareNoticeName  = "PrepareNotice"
	SendNoticePageName = "SendNoticePage"
	SendOrgNoticeName  = "SendOrgNotice"
	TallyNoticeName    = "TallyNotice"
)

// Application error types of the notification activities.
const (
	// ErrTypeNoticeInvalid: the notice cannot be rendered or sent as
	// approved (a required field is missing, no recipient is configured).
	// Retrying cannot help; the people on the incident must fix it.
	ErrTypeNoticeInvalid = "NoticeInvalid"
	ErrTypeRateLimited   = "RateLimited"
	ErrTypeAmbiguous     = "Ambiguous"
	// ErrTypeWorkerStopping: the worker stopped taking batches (a deploy);
	// another worker takes the page up at once.
	ErrTypeWorkerStopping = "WorkerStopping"
)

// Audiences of the ledger (store.NoticeRecord.Audience).
const (
	// AudienceIndividuals is shared by every notice to people in an
	// incident: whoever one notice reached, another does not mail again.
	AudienceIndividuals = "individuals"
)

// NoticeSpec is an approved notice: what the workflow decided, stored in the
// ledger as the notice's content so that every page renders the same text
// even if the configuration changes while it is being sent.
type NoticeSpec struct {
	ID       string   `json:"id"`
	Incident string   `json:"incident"`
	Rules    []string `json:"rules"`
	Notify   string   `json:"notify"`
	// Jurisdiction is the first rule's, to find the organisations to notify.
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// Residents are the scopes of the rules (EU, US-CA, BR): a person in any
	// of them is notified.
	Residents  []string             `json:"residents,omitempty"`
	SnapshotID string               `json:"snapshot_id,omitempty"`
	Data       templates.NoticeData `json:"data"` // the organisation is filled in from configuration
	// Translations are the free texts in other languages, by language tag
	// (de, fr, es, pt-BR); a language without one uses Data's.
	Translations map[string]NoticeTexts `json:"translations,omitempty"`
	ApprovedBy   string                 `json:"approved_by"`
	ApprovedAt   time.Time              `json:"approved_at"`
	// OwnNotice: the notice answers a law that wants its own notice; it
	// has an audience of its own.
	OwnNotice bool `json:"own_notice,omitempty"`
	// Recipients are the organisations an organisation notice goes to, as
	// configured when it was prepared.
	Recipients []OrgRecipient `json:"recipients,omitempty"`
	// Rendered is the rendering hash of the draft approved (PreviewNotice);
	// the notice is refused if it no longer renders the same.
	Rendered string `json:"rendered,omitempty"`
	// Laws are the notice's rules with whom each covers: a person's notice
	// cites only the laws of where they live, each as their language
	// names it. Empty in notices approved before, which cite Data.Citation.
	Laws []NoticeLaw `json:"laws,omitempty"`
	// Fallback is what people whose language has no texts get
	// (FallbackTemplate when empty, or FallbackEnglish).
	Fallback string `json:"fallback,omitempty"`
}

// NoticeTexts are the parts of a notice a person writes.
type NoticeTexts struct {
	WhatHappened       string `json:"what_happened,omitempty" yaml:"what_happened"`
	LikelyConsequences string `json:"likely_consequences,omitempty" yaml:"likely_consequences"`
	MeasuresTaken      string `json:"measures_taken,omitempty" yaml:"measures_taken"`
	WhatYouCanDo       string `json:"what_you_can_do,omitempty" yaml:"what_you_can_do"`
	IdentityTheftOffer string `json:"identity_theft_offer,omitempty" yaml:"identity_theft_offer"`
}

// Apply puts the texts that are set into d.
func (t NoticeTexts) Apply(d templates.NoticeData) templates.NoticeData {
	set := func(dst *string, v string) {
		if strings.TrimSpace(v) != "" {
			*dst = v
		}
	}
	set(&d.WhatHappened, t.WhatHappened)
	set(&d.LikelyConsequences, t.LikelyConsequences)
	set(&d.MeasuresTaken, t.MeasuresTaken)
	set(&d.WhatYouCanDo, t.WhatYouCanDo)
	set(&d.IdentityTheftOffer, t.IdentityTheftOffer)
	return d
}

// Over returns base with the texts set in t replacing base's.
func (t NoticeTexts) Over(base NoticeTexts) NoticeTexts {
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&base.WhatHappened, t.WhatHappened}, {&base.LikelyConsequences, t.LikelyConsequences},
		{&base.MeasuresTaken, t.MeasuresTaken}, {&base.WhatYouCanDo, t.WhatYouCanDo},
		{&base.IdentityTheftOffer, t.IdentityTheftOffer},
	} {
		if strings.TrimSpace(f.v) != "" {
			*f.dst = f.v
		}
	}
	return base
}

// Audience is the ledger audience of the notice.
func (s NoticeSpec) Audience() string {
	if s.Notify == "individuals" {
		if s.OwnNotice {
			return AudienceIndividuals + ":" + s.Rules[0]
		}
		return AudienceIndividuals
	}
	return "org:" + s.ID // each notice to organisations stands alone
}

// OrgRecipient is an organisation a notice goes to: by email, through a
// portal, or both.
type OrgRecipient struct {
	Name   string   `json:"name"`
	Emails []string `json:"emails,omitempty"`
	Locale string   `json:"locale,omitempty"`
	Portal string   `json:"portal,omitempty"`
}

// Sending are the settings of sending, from configuration.
type Sending struct {
	From         mailer.Address
	ReplyTo      *mailer.Address
	Organisation templates.Organisation
	// Recipients finds the organisations configured for an obligation.
	Recipients func(rule, notify, jurisdiction string) []OrgRecipient
	// Concurrency is how many Mail Send requests one worker has in flight;
	// Rate caps them per second (0: no cap).
	Concurrency int
	Rate        float64
	PageSize    int // people per page activity
	Partitions  int // key ranges sent in parallel per notice
	Sandbox     bool
	// UnconfirmedWait is how long a batch whose answer was lost waits, from
	// the attempt, for SendGrid's word (an Event Webhook event, the Email
	// Activity API) before it is resent; HoldUnconfirmed never resends it.
	UnconfirmedWait time.Duration
	HoldUnconfirmed bool
	// Activity asks SendGrid's Email Activity API whether it took a lost
	// attempt; nil when the account has no access (then only events tell).
	Activity mailer.ActivityLookup
	// StoreName names the store the worker reads (StoreName), for the
	// refusal of a snapshot that is not in it.
	StoreName string
}

// Ledger is the part of the store the notifier uses (an interface so a
// test can break it at the worst moment).
type Ledger interface {
	CreateNotice(ctx context.Context, n store.NoticeRecord) (store.NoticeRecord, error)
	Notice(ctx context.Context, id string) (store.NoticeRecord, error)
	Snapshot(ctx context.Context, id string) (store.SnapshotInfo, error)
	ReadSnapshot(ctx context.Context, id string, after [16]byte, limit int) ([]store.Subject, error)
	ClaimedBetween(ctx context.Context, incidentID, audience string, from, through [16]byte) (map[[16]byte]string, error)
	Claim(ctx context.Context, noticeID string, batches []store.BatchClaim, unreachable []store.Unreachable) ([]store.BatchStatus, error)
	BeginAttempt(ctx context.Context, key, resend string, at time.Time) (store.BatchStatus, error)
	FinishAttempt(ctx context.Context, key string, n int, outcome store.AttemptOutcome, messageID, errText string, at time.Time) error
	ReconcileAttempt(ctx context.Context, key string, n int, outcome store.AttemptOutcome, by, messageID string, at time.Time) error
	Batch(ctx context.Context, key string) (store.BatchStatus, error)
	NoticeProgress(ctx context.Context, noticeID string) (store.NoticeProgress, error)
}

var _ Ledger = (*store.Store)(nil)

// Notifier sends approved notices. One per worker: its concurrency and rate
// limits hold across every notice the worker sends.
type Notifier struct {
	ledger  Ledger
	mail    mailer.Mailer
	sending Sending
	sem     chan struct{}
	limiter *rate.Limiter
	now     func() time.Time

	mu      sync.Mutex
	notices map[string]*preparedNotice // by notice ID; small (one per approved notice)
}

// NewNotifier returns a notifier sending through m and recording in l.
func NewNotifier(l Ledger, m mailer.Mailer, s Sending) *Notifier {
	s.Concurrency = cmp.Or(max(s.Concurrency, 0), 8)
	s.PageSize = cmp.Or(max(s.PageSize, 0), 10_000)
	s.Partitions = cmp.Or(max(s.Partitions, 0), 4)
	s.UnconfirmedWait = cmp.Or(max(s.UnconfirmedWait, 0), DefaultUnconfirmedWait)
	limiter := rate.NewLimiter(rate.Inf, 1)
	if s.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(s.Rate), max(1, int(s.Rate)))
	}
	return &Notifier{
		ledger: l, mail: m, sending: s,
		sem:     make(chan struct{}, s.Concurrency),
		limiter: limiter,
		now:     func() time.Time { return time.Now().UTC() },
		notices: map[string]*preparedNotice{},
	}
}

// DefaultUnconfirmedWait is how long a batch whose answer was lost waits
// for SendGrid's word when the configuration does not say.
const DefaultUnconfirmedWait = 5 * time.Minute

// PrepareResult is what sending a notice needs to know up front.
type PrepareResult struct {
	Expected   int            `json:"expected"` // people in scope in the snapshot
	PageSize   int            `json:"page_size"`
	Partitions int            `json:"partitions"`
	Recipients []OrgRecipient `json:"recipients,omitempty"`
}

// PrepareNotice records the approved notice in the ledger, with the
// organisation and recipients from configuration, and checks that it
// renders. It is idempotent: a retry finds the notice recorded.
func (n *Notifier) PrepareNotice(ctx context.Context, spec NoticeSpec) (PrepareResult, error) {
	defer keepAlive(ctx)()
	spec = n.complete(spec)
	if spec.Rendered != "" {
		// An approved draft: it must still read as approved (the
		// organisation's configuration or a worker's templates may have
		// changed since).
		if res, err := n.PreviewNotice(ctx, spec); err != nil {
			return PrepareResult{}, err
		} else if res.Rendered != spec.Rendered {
			return PrepareResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"notice %s no longer reads as the draft approved (rendered %s, approved %s): the notify configuration or the templates changed since; draft it again",
				spec.ID, res.Rendered, spec.Rendered), ErrTypeNoticeInvalid, nil)
		}
	}
	content, err := json.Marshal(spec)
	if err != nil {
		return PrepareResult{}, err
	}
	rec, err := n.ledger.CreateNotice(ctx, store.NoticeRecord{
		ID: spec.ID, IncidentID: spec.Incident, Rule: spec.Rules[0], Audience: spec.Audience(),
		SnapshotID: spec.SnapshotID, Content: content, ApprovedBy: spec.ApprovedBy, ApprovedAt: spec.ApprovedAt,
	})
	if err != nil {
		return PrepareResult{}, fmt.Errorf("record notice %s: %w", spec.ID, err)
	}
	p, err := n.prepared(ctx, rec.ID)
	if err != nil {
		return PrepareResult{}, err
	}
	res := PrepareResult{PageSize: n.sending.PageSize, Partitions: n.sending.Partitions, Recipients: p.spec.Recipients}
	if p.spec.Notify != "individuals" {
		if len(p.spec.Recipients) == 0 {
			return PrepareResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"no recipient configured for %s (notify %s): add one under recipients in the notify configuration (BREACHCTL_NOTIFY), "+
					"restart the workers (each reads the file when it starts) and approve again",
				strings.Join(p.spec.Rules, ", "), p.spec.Notify), ErrTypeNoticeInvalid, nil)
		}
		for _, r := range p.spec.Recipients {
			if _, err := templates.Render(orgKind(p.spec.Notify), r.Locale, p.spec.Data); err != nil {
				return PrepareResult{}, invalidNotice(err)
			}
		}
		return res, nil
	}
	// Check the notice renders before anyone is mailed: a missing field
	// fails the approval, not the 400th page.
	kinds := []templates.Kind{templates.Individuals}
	if p.inScope("US-CA") {
		kinds = append(kinds, templates.California)
	}
	for _, kind := range kinds {
		if _, err := templates.Render(kind, "en", p.spec.Data); err != nil {
			return PrepareResult{}, invalidNotice(err)
		}
	}
	info, err := n.ledger.Snapshot(ctx, p.spec.SnapshotID)
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return PrepareResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoticeInvalid, nil)
		}
		return PrepareResult{}, err
	}
	for region, people := range info.ByJurisdiction {
		if p.inScope(region) {
			res.Expected += people
		}
	}
	return res, nil
}

func invalidNotice(err error) error {
	return temporal.NewNonRetryableApplicationError("notice cannot be rendered: "+err.Error(), ErrTypeNoticeInvalid, nil)
}

// preparedNotice is a notice loaded from the ledger, with its renderings.
type preparedNotice struct {
	spec NoticeSpec

	mu       sync.Mutex
	rendered map[renderKey]templates.Rendered
}

type renderKey struct {
	kind       templates.Kind
	lang       string
	categories uint64
	anonymous  bool   // no name to greet the person by
	laws       uint64 // the laws of the notice that cover them (NoticeSpec.Laws)
}

func (p *preparedNotice) inScope(region string) bool {
	return slices.ContainsFunc(p.spec.Residents, func(scope string) bool { return rules.InScope(region, scope) })
}

// render renders the notice for one group of people: a template, a language
// and the data categories they lost (so nobody is told of data that was not
// theirs). A notice has few groups; each is rendered once per worker.
func (p *preparedNotice) render(k renderKey) (templates.Rendered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.rendered[k]; ok {
		return r, nil
	}
	d := p.spec.Data
	if t, ok := p.spec.Translations[k.lang]; ok {
		d = t.Apply(d)
	}
	d.Citation = p.spec.citation(k.lang, k.laws)
	if k.categories != 0 {
		d.DataCategories = nil
		for set := k.categories; set != 0; set &= set - 1 {
			if i := bits.TrailingZeros64(set); i < len(incident.DataCategories) {
				d.DataCategories = append(d.DataCategories, incident.DataCategories[i])
			}
		}
	}
	d.Anonymous = k.anonymous
	r, err := templates.Render(k.kind, k.lang, d)
	if err != nil {
		return templates.Rendered{}, invalidNotice(err)
	}
	p.rendered[k] = r
	return r, nil
}

func (n *Notifier) prepared(ctx context.Context, id string) (*preparedNotice, error) {
	n.mu.Lock()
	p, ok := n.notices[id]
	n.mu.Unlock()
	if ok {
		return p, nil
	}
	rec, err := n.ledger.Notice(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load notice %s: %w", id, err)
	}
	p = &preparedNotice{rendered: map[renderKey]templates.Rendered{}}
	if err := json.Unmarshal(rec.Content, &p.spec); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("notice %s in the ledger: %v", id, err), ErrTypeNoticeInvalid, nil)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if q, ok := n.notices[id]; ok {
		return q, nil
	}
	n.notices[id] = p
	return p, nil
}

// PageInput is one page of a notice to individuals: up to PageSize people
// after the key After, within the partition that ends at Through.
type PageInput struct {
	Notice    string `json:"notice"`
	Partition int    `json:"partition"`
	Page      int    `json:"page"`
	After     string `json:"after"`   // hex key; the partition's start on its first page
	Through   string `json:"through"` // hex key, inclusive
	PageSize  int    `json:"page_size"`
}

// PageResult counts what a page did. Counts are of the whole page, the same
// on every attempt: a retried page recounts what earlier attempts did.
type PageResult struct {
	Last string `json:"last"` // hex key of the last person read; the next page's After
	Done bool   `json:"done"` // the partition is finished
	incident.NoticeCounts
}

// recipientPayload is what the notifier reads of a person's payload.
type recipientPayload struct {
	Email  string `json:"email"`
	Name   string `json:"name"`
	Locale string `json:"locale"`
}

// pageBatch is one batch of a page with the people it mails.
type pageBatch struct {
	claim store.BatchClaim
	key   renderKey
	to    []mailer.Recipient
}

// SendNoticePage sends one page of a notice to individuals: it reads the
// people, leaves out whoever another notice already reached, claims the
// rest in the ledger in batches of up to 1,000, and sends every batch the
// ledger does not already have as accepted.
func (n *Notifier) SendNoticePage(ctx context.Context, in PageInput) (PageResult, error) {
	defer keepAlive(ctx)()
	p, err := n.prepared(ctx, in.Notice)
	if err != nil {
		return PageResult{}, err
	}
	after, err1 := parseKey(in.After)
	through, err2 := parseKey(in.Through)
	if err := errors.Join(err1, err2); err != nil {
		return PageResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoticeInvalid, nil)
	}
	people, err := n.ledger.ReadSnapshot(ctx, p.spec.SnapshotID, after, in.PageSize)
	if err != nil {
		return PageResult{}, err
	}
	res := PageResult{Done: len(people) < in.PageSize}
	if end := slices.IndexFunc(people, func(s store.Subject) bool { return bytes.Compare(s.Key[:], through[:]) > 0 }); end >= 0 {
		people, res.Done = people[:end], true
	}
	if len(people) == 0 {
		res.Done = true
		return res, nil
	}
	res.Last = hex.EncodeToString(people[len(people)-1].Key[:])

	batches, unreachable, err := n.planPage(ctx, p, in, people, &res)
	if err != nil {
		return PageResult{}, err
	}
	claims := make([]store.BatchClaim, len(batches))
	for i, b := range batches {
		claims[i] = b.claim
	}
	statuses, err := n.ledger.Claim(ctx, p.spec.ID, claims, unreachable)
	if err != nil {
		return PageResult{}, fmt.Errorf("claim page %d of partition %d: %w", in.Page, in.Partition, err)
	}
	res.Batches = len(batches)
	var pending []pendingBatch
	for i, st := range statuses {
		if st.Recipients != len(batches[i].claim.Subjects) {
			// Another notice claimed some of these people between the
			// look-up and the claim: notices to people run one at a time,
			// so this is a bug, and sending would mail someone twice.
			return PageResult{}, fmt.Errorf("batch %s: the ledger holds %d of its %d people", st.Key, st.Recipients, len(batches[i].claim.Subjects))
		}
		switch st.State {
		case store.BatchAccepted:
			res.Accepted += st.Recipients
		case store.BatchFailed:
			res.Failed += st.Recipients
		default:
			pending = append(pending, pendingBatch{batch: &batches[i], status: st})
		}
	}
	sent, err := n.sendBatches(ctx, p, pending)
	res.Accepted += sent.Accepted
	res.Failed += sent.Failed
	res.Retried += sent.Resent
	return res, err
}

// pendingBatch is a batch of a page the ledger has not settled, with its
// status as the claim found it.
type pendingBatch struct {
	batch  *pageBatch
	status store.BatchStatus
}

// planPage sorts a page's people into batches by what they are sent
// (template, language, data categories), in a fixed order, so a retried
// page makes the same batches with the same keys.
func (n *Notifier) planPage(ctx context.Context, p *preparedNotice, in PageInput, people []store.Subject, res *PageResult) ([]pageBatch, []store.Unreachable, error) {
	audience := p.spec.Audience()
	claimed, err := n.ledger.ClaimedBetween(ctx, p.spec.Incident, audience, people[0].Key, people[len(people)-1].Key)
	if err != nil {
		return nil, nil, err
	}
	type member struct {
		key  [16]byte
		to   mailer.Recipient
		sort renderKey
	}
	var (
		members     []member
		unreachable []store.Unreachable
	)
	for i := range people {
		s := &people[i]
		if !p.inScope(s.Jurisdiction) {
			continue
		}
		res.Read++
		if owner, ok := claimed[s.Key]; ok && owner != p.spec.ID {
			res.Covered++
			continue
		}
		who, err := decodeRecipient(s.Payload)
		if err != nil {
			// The payload is written by scoping; unreadable means a bug or
			// a wrong key, not a person to skip silently.
			return nil, nil, fmt.Errorf("read person %d of page %d: %w", i, in.Page, err)
		}
		switch email := strings.TrimSpace(who.Email); {
		case email == "":
			unreachable = append(unreachable, store.Unreachable{Key: s.Key, Reason: "no_address"})
			continue
		case !mailer.PlausibleAddress(email):
			unreachable = append(unreachable, store.Unreachable{Key: s.Key, Reason: "invalid_address"})
			continue
		}
		kind := templates.Individuals
		if s.Jurisdiction == "US-CA" {
			kind = templates.California
		}
		locale := cmp.Or(who.Locale, s.Locale)
		members = append(members, member{
			key: s.Key,
			to:  mailer.Recipient{Email: strings.TrimSpace(who.Email), Name: who.Name, ID: hex.EncodeToString(s.Key[:])},
			sort: renderKey{kind: kind, lang: p.spec.language(templates.Match(locale)), categories: s.Categories,
				anonymous: strings.TrimSpace(who.Name) == "", laws: p.spec.lawsFor(s.Jurisdiction)},
		})
	}
	res.Unreachable = len(unreachable)
	// Stable: within a group, people stay in key order.
	slices.SortStableFunc(members, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.sort.kind, b.sort.kind), cmp.Compare(a.sort.lang, b.sort.lang), cmp.Compare(a.sort.categories, b.sort.categories),
			boolCompare(a.sort.anonymous, b.sort.anonymous), cmp.Compare(a.sort.laws, b.sort.laws))
	})
	var batches []pageBatch
	for i := 0; i < len(members); {
		j := i
		for j < len(members) && j-i < mailer.MaxRecipients && members[j].sort == members[i].sort {
			j++
		}
		b := pageBatch{key: members[i].sort}
		b.claim.Key = fmt.Sprintf("%s/p%02d-%05d-%02d", p.spec.ID, in.Partition, in.Page, len(batches))
		for _, m := range members[i:j] {
			b.claim.Subjects = append(b.claim.Subjects, m.key)
			b.to = append(b.to, m.to)
		}
		batches = append(batches, b)
		i = j
	}
	return batches, unreachable, nil
}

// KeepAliveEvery is how often a notice activity tells the server its
// worker is alive, whatever it is waiting on (a rate limit, the ledger, a
// slow SendGrid answer). The workflow's heartbeat timeout, a few times
// this, is then how soon a page held by a killed worker is taken up again.
const KeepAliveEvery = 4 * time.Second

// keepAlive heartbeats every KeepAliveEvery until the returned stop is
// called; outside an activity (a direct call) it does nothing.
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	activity.RecordHeartbeat(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(KeepAliveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// sent counts what sendBatches got done.
type sent struct{ Accepted, Failed, Resent int }

// errStopping: the worker is stopping (a deploy); the batches not begun are
// left to another worker.
var errStopping = errors.New("the worker is stopping: the batches not begun are left for another worker")

// sendBatches settles the pending batches of a page, as many at once as the
// worker's concurrency allows, and records each outcome in the ledger before
// returning. It returns the error that calls for a retry, if any.
//
// When the worker is told to stop (SIGTERM), no further batch begins, and
// every request in flight finishes and is recorded: nobody is mailed twice
// by a deploy.
func (n *Notifier) sendBatches(ctx context.Context, p *preparedNotice, pending []pendingBatch) (sent, error) {
	var (
		mu    sync.Mutex
		total sent
		errs  []error
		wg    sync.WaitGroup
	)
	stop := workerStop(ctx)
	addErr := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
loop:
	for _, pb := range pending {
		r, err := p.render(pb.batch.key)
		if err != nil {
			wg.Wait()
			return total, err
		}
		batch := mailer.Batch{
			Key: pb.batch.claim.Key, From: n.sending.From, ReplyTo: n.sending.ReplyTo,
			Subject: r.Subject, Text: r.Text, HTML: r.HTML, Recipients: pb.batch.to,
			CustomArgs:  map[string]string{"incident": p.spec.Incident, "notice": p.spec.ID},
			Categories:  []string{"breach-notice"},
			SandboxMode: n.sending.Sandbox,
		}
		if stopped(stop) {
			addErr(errStopping)
			break
		}
		select {
		case n.sem <- struct{}{}:
		case <-stop:
			addErr(errStopping)
			break loop
		case <-ctx.Done():
			wg.Wait()
			return total, ctx.Err()
		}
		wg.Add(1)
		go func(st store.BatchStatus) {
			defer wg.Done()
			defer func() { <-n.sem }()
			o := n.settle(ctx, stop, st, &batch)
			mu.Lock()
			defer mu.Unlock()
			total.Accepted += o.accepted
			total.Failed += o.failed
			if o.resent {
				total.Resent++
			}
			if o.err != nil {
				errs = append(errs, o.err)
			}
			activity.RecordHeartbeat(ctx, total)
		}(pb.status)
	}
	wg.Wait()
	return total, n.retryError(errs)
}

// workerStop is closed when the worker running the activity is stopping;
// outside an activity, never.
func workerStop(ctx context.Context) <-chan struct{} {
	if !activity.IsActivity(ctx) {
		return nil
	}
	return activity.GetWorkerStopChannel(ctx)
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// settledBatch is what became of one batch.
type settledBatch struct {
	accepted, failed int
	resent           bool // sent again although an earlier attempt's fate was unknown
	err              error
}

// sendTimeout bounds one request and the ledger writes around it, which run
// on a context that neither a worker's stop nor the activity's cancellation
// cuts: once a request may leave, its outcome is written. (The SendGrid
// client's own timeout is 30 s a request.)
const sendTimeout = time.Minute

// SendTimeout is the longest one batch takes once begun: a worker's stop
// timeout must be longer, so a deploy lets every request in flight finish.
const SendTimeout = sendTimeout

// settle brings one batch the ledger has not settled to an outcome: a batch
// whose earlier attempt's fate is unknown is reconciled first; one that
// needs sending is marked sending in the ledger before its request leaves
// (write-ahead), and its outcome recorded after.
func (n *Notifier) settle(ctx context.Context, stop <-chan struct{}, st store.BatchStatus, b *mailer.Batch) settledBatch {
	resend := ""
	if st.State == store.BatchSending || st.State == store.BatchAmbiguous {
		o, reason, wait := n.reconcile(ctx, st, len(b.Recipients))
		switch {
		case o != nil:
			return *o
		case wait > 0:
			return settledBatch{err: &unconfirmedError{key: st.Key, wait: wait}}
		}
		resend = reason
	}
	// Wait for the rate limit before the attempt begins: a stop meanwhile
	// leaves the batch as it was.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-waitCtx.Done():
		}
	}()
	if err := n.limiter.Wait(waitCtx); err != nil {
		if stopped(stop) {
			return settledBatch{err: errStopping}
		}
		return settledBatch{err: err}
	}

	// From here on the request may leave: nothing but the timeout cuts it.
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer dcancel()
	begun, err := n.ledger.BeginAttempt(dctx, b.Key, resend, n.now())
	if err != nil {
		return settledBatch{err: fmt.Errorf("record batch %s as sending: %w", b.Key, err)}
	}
	switch begun.State {
	case store.BatchAccepted:
		return settledBatch{accepted: begun.Recipients}
	case store.BatchFailed:
		return settledBatch{failed: begun.Recipients}
	}
	b.Attempt = begun.Attempts
	res, sendErr := n.mail.Send(dctx, *b)
	out := settledBatch{resent: resend != ""}
	var (
		outcome   store.AttemptOutcome
		permanent *mailer.PermanentError
		ambiguous *mailer.AmbiguousError
	)
	switch {
	case sendErr == nil:
		outcome, out.accepted = store.AttemptAccepted, len(b.Recipients)
	case errors.As(sendErr, &permanent):
		outcome, out.failed = store.AttemptRefused, len(b.Recipients)
	case errors.As(sendErr, &ambiguous):
		outcome = store.AttemptAmbiguous
	default:
		outcome = store.AttemptTemporary
	}
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error()
	}
	if err := n.ledger.FinishAttempt(dctx, b.Key, b.Attempt, outcome, res.MessageID, errText, n.now()); err != nil {
		// The attempt stays "sending" in the ledger: the retry reconciles
		// it rather than mail its people again.
		return settledBatch{err: fmt.Errorf("record batch %s attempt %d as %s: %w", b.Key, b.Attempt, outcome, err)}
	}
	if sendErr != nil && outcome != store.AttemptRefused {
		out.err = fmt.Errorf("batch %s: %w", b.Key, sendErr)
		if outcome == store.AttemptAmbiguous {
			out.err = &unconfirmedError{key: b.Key, wait: n.sending.UnconfirmedWait, err: sendErr}
		}
	}
	return out
}

// reconcile decides what to do with a batch whose latest attempt's fate is
// unknown (cut off while sending, or an answer lost): settled if SendGrid is
// found to have it; resend (with why) once the wait since the attempt is
// over and nothing confirmed it; or how much longer to wait.
func (n *Notifier) reconcile(ctx context.Context, st store.BatchStatus, recipients int) (_ *settledBatch, resend string, wait time.Duration) {
	now := n.now()
	elapsed := now.Sub(st.LastAttemptAt)
	if st.LastAttemptAt.IsZero() {
		elapsed = n.sending.UnconfirmedWait // recorded before attempts were: waited long enough
	}
	if n.sending.Activity != nil && st.Attempts > 0 {
		found, messageID, err := n.sending.Activity.Taken(ctx, st.Key, st.Attempts)
		switch {
		case err != nil:
			activity.GetLogger(ctx).Warn("Email Activity look-up failed; waiting for events", "batch", st.Key, "error", err)
		case found:
			if err := n.ledger.ReconcileAttempt(ctx, st.Key, st.Attempts, store.AttemptConfirmed, "activity", messageID, now); err != nil {
				return &settledBatch{err: fmt.Errorf("record batch %s attempt %d as confirmed: %w", st.Key, st.Attempts, err)}, "", 0
			}
			return &settledBatch{accepted: recipients}, "", 0
		case elapsed >= n.sending.UnconfirmedWait:
			// SendGrid lists what it took: not there after the wait, it
			// never had it, and sending it is no resend.
			if err := n.ledger.ReconcileAttempt(ctx, st.Key, st.Attempts, store.AttemptNotTaken, "activity", "", now); err != nil {
				return &settledBatch{err: fmt.Errorf("record batch %s attempt %d as not taken: %w", st.Key, st.Attempts, err)}, "", 0
			}
			return nil, "", 0
		}
	}
	if elapsed < n.sending.UnconfirmedWait {
		return nil, "", n.sending.UnconfirmedWait - elapsed
	}
	if n.sending.HoldUnconfirmed {
		return nil, "", n.sending.UnconfirmedWait
	}
	return nil, fmt.Sprintf("attempt %d not confirmed by SendGrid within %s", st.Attempts, incident.FormatDuration(n.sending.UnconfirmedWait)), 0
}

// unconfirmedError: a batch may have been taken by SendGrid and waits for
// its word before anything more is done with it.
type unconfirmedError struct {
	key  string
	wait time.Duration
	err  error
}

func (e *unconfirmedError) Error() string {
	msg := fmt.Sprintf("batch %s: waiting up to %s for SendGrid to confirm an attempt whose answer was lost", e.key, incident.FormatDuration(e.wait))
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *unconfirmedError) Unwrap() error { return e.err }

// retryError picks what the activity returns for its failed batches: a rate
// limit retries at SendGrid's reset (the latest one), anything else with the
// activity's backoff.
func (n *Notifier) retryError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var (
		wait    time.Duration
		limited bool
	)
	for _, err := range errs {
		var rl *mailer.RateLimitedError
		if errors.As(err, &rl) {
			limited = true
			wait = max(wait, time.Until(rl.RetryAt))
		}
	}
	msg := fmt.Sprintf("%d batches not sent: %v", len(errs), errs[0])
	if limited {
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeRateLimited, temporal.ApplicationErrorOptions{
			NextRetryDelay: max(wait, time.Second),
		})
	}
	var (
		unconfirmed bool
		soonest     time.Duration
	)
	for _, err := range errs {
		var u *unconfirmedError
		if errors.As(err, &u) {
			if !unconfirmed || u.wait < soonest {
				soonest = u.wait
			}
			unconfirmed = true
		}
	}
	if unconfirmed {
		// SendGrid may have these batches: ask again when the soonest
		// wait is over (an event naming one marks it accepted meanwhile).
		return temporal.NewApplicationErrorWithOptions(msg, ErrTypeAmbiguous, temporal.ApplicationErrorOptions{
			NextRetryDelay: max(soonest, time.Second),
		})
	}
	for _, err := range errs {
		if errors.Is(err, errStopping) {
			return temporal.NewApplicationErrorWithOptions(msg, ErrTypeWorkerStopping, temporal.ApplicationErrorOptions{
				NextRetryDelay: time.Second,
			})
		}
	}
	return errors.New(msg)
}

// TallyResult is a notice's counts as the ledger has them: the one source
// of what every view shows (the timeline, show, watch, deliveries, Slack,
// the register, the evidence pack).
type TallyResult struct {
	Accepted         int `json:"accepted"`
	Failed           int `json:"failed"`
	Unreachable      int `json:"unreachable"`
	Batches          int `json:"batches"`
	Requests         int `json:"requests"`
	Resent           int `json:"resent"`
	ResentRecipients int `json:"resent_recipients"`
	Twice            int `json:"twice"`
	MaybeTwice       int `json:"maybe_twice"`
}

// Over puts the ledger's counts over c, keeping what only the pages know
// (people read, already notified under another notice, expected).
func (t TallyResult) Over(c incident.NoticeCounts) incident.NoticeCounts {
	c.Accepted, c.Failed, c.Unreachable, c.Batches = t.Accepted, t.Failed, t.Unreachable, t.Batches
	c.Requests, c.Retried, c.ResentRecipients, c.Twice, c.MaybeTwice = t.Requests, t.Resent, t.ResentRecipients, t.Twice, t.MaybeTwice
	return c
}

// TallyFromProgress is a TallyResult from the ledger's progress.
func TallyFromProgress(p store.NoticeProgress) TallyResult {
	return TallyResult{
		Accepted: p.Accepted, Failed: p.Failed, Unreachable: p.Unreachable, Batches: p.Batches,
		Requests: p.Requests, Resent: p.Resent, ResentRecipients: p.ResentRecipients, Twice: p.Twice, MaybeTwice: p.MaybeTwice,
	}
}

// TallyNotice reads a notice's counts from the ledger once its pages are
// done.
func (n *Notifier) TallyNotice(ctx context.Context, id string) (TallyResult, error) {
	p, err := n.ledger.NoticeProgress(ctx, id)
	if err != nil {
		return TallyResult{}, err
	}
	return TallyFromProgress(p), nil
}

// OrgResult is how a notice to organisations went.
type OrgResult struct {
	Deliveries []incident.OrgDelivery `json:"deliveries"`
	Filings    []incident.Filing      `json:"filings"`
}

// SendOrgNotice emails the notice to each configured organisation and
// prepares the report for those that take reports through a portal.
func (n *Notifier) SendOrgNotice(ctx context.Context, id string) (OrgResult, error) {
	defer keepAlive(ctx)()
	p, err := n.prepared(ctx, id)
	if err != nil {
		return OrgResult{}, err
	}
	var res OrgResult
	for i, r := range p.spec.Recipients {
		d := p.spec.Data
		d.Recipient = r.Name
		if t, ok := p.spec.Translations[templates.Match(r.Locale)]; ok {
			d = t.Apply(d)
		}
		if r.Portal != "" {
			doc, err := templates.Document(r.Locale, d)
			if err != nil {
				return OrgResult{}, invalidNotice(err)
			}
			res.Filings = append(res.Filings, incident.Filing{Recipient: r.Name, Portal: r.Portal, Document: doc})
		}
		if len(r.Emails) == 0 {
			continue
		}
		delivery, err := n.sendOrg(ctx, p, i, r, d)
		if err != nil {
			return OrgResult{}, err
		}
		res.Deliveries = append(res.Deliveries, delivery)
	}
	return res, nil
}

func (n *Notifier) sendOrg(ctx context.Context, p *preparedNotice, i int, r OrgRecipient, d templates.NoticeData) (incident.OrgDelivery, error) {
	rendered, err := templates.Render(orgKind(p.spec.Notify), r.Locale, d)
	if err != nil {
		return incident.OrgDelivery{}, invalidNotice(err)
	}
	key := fmt.Sprintf("%s/org-%02d", p.spec.ID, i)
	claim := store.BatchClaim{Key: key}
	var to []mailer.Recipient
	for _, email := range r.Emails {
		k := orgKey(email)
		claim.Subjects = append(claim.Subjects, k)
		to = append(to, mailer.Recipient{Email: email, Name: r.Name, ID: hex.EncodeToString(k[:])})
	}
	statuses, err := n.ledger.Claim(ctx, p.spec.ID, []store.BatchClaim{claim}, nil)
	if err != nil {
		return incident.OrgDelivery{}, fmt.Errorf("claim %s: %w", key, err)
	}
	delivery := incident.OrgDelivery{Recipient: r.Name, Emails: slices.Clone(r.Emails)}
	st := statuses[0]
	if st.State != store.BatchAccepted && st.State != store.BatchFailed {
		b := mailer.Batch{
			Key: key, From: n.sending.From, ReplyTo: n.sending.ReplyTo,
			Subject: rendered.Subject, Text: rendered.Text, HTML: rendered.HTML, Recipients: to,
			CustomArgs: map[string]string{"incident": p.spec.Incident, "notice": p.spec.ID},
			Categories: []string{"breach-notice"}, SandboxMode: n.sending.Sandbox,
		}
		if o := n.settle(ctx, workerStop(ctx), st, &b); o.err != nil {
			return incident.OrgDelivery{}, n.retryError([]error{o.err})
		}
		if st, err = n.ledger.Batch(ctx, key); err != nil {
			return incident.OrgDelivery{}, err
		}
	}
	switch st.State {
	case store.BatchAccepted:
		delivery.MessageID, delivery.SentAt = st.MessageID, st.SentAt
	case store.BatchFailed:
		delivery.Error, delivery.SentAt = st.Error, st.SentAt
		if delivery.Error == "" {
			delivery.Error = "refused by SendGrid"
		}
	default:
		return incident.OrgDelivery{}, fmt.Errorf("batch %s is %s after sending", key, st.State)
	}
	return delivery, nil
}

// orgKey stands for an organisation's address in the ledger, which keys
// recipients by 16 bytes.
func orgKey(email string) [16]byte {
	sum := sha256.Sum256([]byte("org:" + strings.ToLower(email)))
	return [16]byte(sum[:16])
}

// orgKind is the template for a notice to an organisation.
func orgKind(notify string) templates.Kind {
	switch notify {
	case "controller", "owner", "covered_entity":
		return templates.Controller
	}
	return templates.Authority
}

// Partitions splits the key space into n ranges of equal width, as
// (after, through) hex pairs: keys are hashes, so the ranges hold about as
// many people each. after is exclusive (the zero key for the first range
// reads from the start), through inclusive.
func Partitions(n int) [][2]string {
	n = min(max(n, 1), 256)
	out := make([][2]string, n)
	var prev [16]byte
	for i := range n {
		var through [16]byte
		if i == n-1 {
			for j := range through {
				through[j] = 0xff
			}
		} else {
			// The last key whose first two bytes fall in range i.
			hi := uint16((i + 1) * 65536 / n)
			hi--
			through[0], through[1] = byte(hi>>8), byte(hi)
			for j := 2; j < 16; j++ {
				through[j] = 0xff
			}
		}
		out[i] = [2]string{hex.EncodeToString(prev[:]), hex.EncodeToString(through[:])}
		prev = through
	}
	return out
}

func parseKey(s string) ([16]byte, error) {
	var k [16]byte
	if s == "" {
		return k, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return k, fmt.Errorf("key %q is not 32 hex digits", s)
	}
	return [16]byte(b), nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
