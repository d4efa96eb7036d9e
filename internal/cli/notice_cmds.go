package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/breachctl/breachctl/activities"
	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/workflows"
)

// noticeFile is what `approve --file` reads: the texts of the notice, in its
// main language and in others.
type noticeFile struct {
	activities.NoticeTexts `yaml:",inline"`
	SubjectCategories      []string                          `yaml:"subject_categories"`
	Translations           map[string]activities.NoticeTexts `yaml:"translations"`
}

// noticeTextFlags are the flags that give a notice's texts, shared by
// draft and approve.
type noticeTextFlags struct {
	file     string
	texts    activities.NoticeTexts
	subjects []string
	fallback string
}

func (n *noticeTextFlags) bind(f *pflag.FlagSet) {
	f.StringVar(&n.file, "file", "", "YAML file with the notice's texts and translations")
	f.StringVar(&n.texts.WhatHappened, "what-happened", "", "what happened (default: the incident's description)")
	f.StringVar(&n.texts.LikelyConsequences, "consequences", "", "the likely consequences for the people affected")
	f.StringVar(&n.texts.MeasuresTaken, "measures", "", "the measures taken or proposed")
	f.StringVar(&n.texts.WhatYouCanDo, "what-you-can-do", "", "what people can do to protect themselves")
	f.StringVar(&n.texts.IdentityTheftOffer, "identity-theft-offer", "", "the identity theft protection offered, and how to take it up")
	f.StringSliceVar(&n.subjects, "subject-categories", nil, "kinds of people concerned, for authorities (customers,employees)")
	f.StringVar(&n.fallback, "fallback", "", "for languages without texts of their own (draft lists them): "+
		strings.Join(activities.Fallbacks(), " or ")+" (default "+activities.Fallbacks()[0]+")")
}

// given reports whether any text was given.
func (n *noticeTextFlags) given() bool {
	return n.file != "" || n.texts != (activities.NoticeTexts{}) || len(n.subjects) > 0
}

// request builds the request for rules from the flags.
func (n *noticeTextFlags) request(rules []string) (workflows.ApproveRequest, error) {
	req := workflows.ApproveRequest{Rules: rules, SubjectCategories: n.subjects, Fallback: n.fallback}
	if n.file != "" {
		nf, err := readNoticeFile(n.file)
		if err != nil {
			return req, err
		}
		req.Texts, req.Translations = nf.NoticeTexts, nf.Translations
		if len(req.SubjectCategories) == 0 {
			req.SubjectCategories = nf.SubjectCategories
		}
	}
	req.Texts = n.texts.Over(req.Texts)
	return req, nil
}

func newApproveCmd(g *globals) *cobra.Command {
	var (
		text   noticeTextFlags
		draft  string
		follow bool
		watch  watchOptions
	)
	cmd := &cobra.Command{
		Use:   "approve INC-ID RULE...",
		Short: "Approve the notice under one or more obligations and send it",
		Long: `Approves the notice that answers the named obligations and starts sending it.

A notice to individuals goes to every person in scope in the incident's latest
scoping snapshot, in their language, each email saying which of their data was
involved; naming several rules sends one notice that satisfies all of them, and
a person another notice already reached is not mailed again. A notice to an
authority or a business customer goes to the recipients in the notify
configuration (BREACHCTL_NOTIFY); for an authority that takes reports only
through its portal, the report is prepared for filing (record the reference with
'breachctl filed').

The texts come from --file (YAML: what_happened, likely_consequences,
measures_taken, what_you_can_do, identity_theft_offer, subject_categories, and
translations by language: de, fr, es, pt-BR) or the flags; what happened
defaults to the incident's description.

With --draft HASH it approves a draft made with 'breachctl draft' exactly as
drafted: refused if the facts or the templates changed since (the draft is then
void), and sent only once it has all its approvals (two different people for
the kinds of notice the escalation file's sign_off.two_person names; those
cannot be approved without a draft).`,
		Example: `  breachctl approve INC-20261120-7K3QX eu-gdpr-art34 --file notice.yaml --watch
  breachctl approve INC-20261120-7K3QX eu-gdpr-art33 --draft 3f9a1c0e7b2d
  breachctl approve INC-20261120-7K3QX eu-gdpr-art33 --what-happened "..." --measures "..."`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			if draft != "" && text.given() {
				return apperr.Invalidf("--draft", "approves the draft as it was drafted: give texts to `breachctl draft` instead")
			}
			req, err := text.request(args[1:])
			if err != nil {
				return err
			}
			req.Draft = strings.TrimSpace(draft)
			if err := watch.validate(); err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req.Actor = actor
				st, err := svc.Approve(ctx, id, req)
				if err != nil {
					return err
				}
				if d := draftOf(st, req.Draft); d != nil && d.State == incident.DraftPending {
					if g.json() {
						return writeJSON(g.env.Stdout, st)
					}
					fmt.Fprintf(g.env.Stdout, "Approved draft %s (%d of %d approvals): it needs another approver before it is sent\n",
						d.Hash, len(d.Approvals), d.Required)
					return nil
				}
				n := latestNotice(st, req.Rules[0])
				if !follow {
					if g.json() {
						return writeJSON(g.env.Stdout, st)
					}
					fmt.Fprintf(g.env.Stdout, "Approved notice %s under %s: %s.\nFollow it: breachctl watch %s\n",
						n.ID, strings.Join(req.Rules, ", "), n.State, id)
					return nil
				}
				return watchNotices(ctx, g, svc, cfg, id, []string{n.ID}, watch)
			})
		},
	}
	f := cmd.Flags()
	text.bind(f)
	f.StringVar(&draft, "draft", "", "approve this draft exactly as drafted: its hash, as breachctl draft prints it")
	f.BoolVar(&follow, "watch", false, "follow the sending until it is done; exit 7 if the notice was not given to everyone it owes")
	watch.bind(f, "how often --watch refreshes")
	return cmd
}

func readNoticeFile(path string) (noticeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return noticeFile{}, apperr.Wrap(apperr.Invalid, err, "--file")
	}
	var nf noticeFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&nf); err != nil && err != io.EOF {
		return noticeFile{}, apperr.Invalidf("--file", "%s: %v", path, err)
	}
	return nf, nil
}

// latestNotice is the newest notice answering rule.
func latestNotice(st incident.Status, rule string) incident.Notice {
	for i := len(st.Notices) - 1; i >= 0; i-- {
		for _, r := range st.Notices[i].Rules {
			if r == rule {
				return st.Notices[i]
			}
		}
	}
	return incident.Notice{ID: incident.NoticeID(st.ID, rule), State: incident.NoticeSending}
}

func newFiledCmd(g *globals) *cobra.Command {
	var recipient string
	cmd := &cobra.Command{
		Use:   "filed INC-ID RULE REFERENCE",
		Short: "Record that a report was filed through an authority's portal",
		Long: `Some authorities take breach reports only through a web portal. For those,
'approve' prepares the report ('show -o json' holds it under the notice's
filings) and the obligation waits until someone files it and records the
reference the portal gave. That meets the obligation.`,
		Example: `  breachctl filed INC-20261120-7K3QX br-lgpd-art48 CIS-2026-004512`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			req := workflows.FiledRequest{Rule: strings.TrimSpace(args[1]), Reference: strings.TrimSpace(args[2]), Recipient: recipient}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req.Actor = actor
				st, err := svc.Filed(ctx, id, req)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				fmt.Fprintf(g.env.Stdout, "Recorded the filing under %s on %s, reference %s\n", req.Rule, id, req.Reference)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&recipient, "recipient", "", "which authority, when the notice has several reports")
	return cmd
}

func newWatchCmd(g *globals) *cobra.Command {
	var (
		rule string
		opts watchOptions
	)
	cmd := &cobra.Command{
		Use:   "watch INC-ID",
		Short: "Follow the notices of an incident as they are sent",
		Long: `Shows, for each notice being sent, a progress bar with the people sent to,
failed, remaining and the rate, until every notice is done; then how each
went: accepted, the Mail Send requests SendGrid took, the batches sent more
than once with why, and the people mailed twice or maybe twice. The counts
come from the notification ledger where this machine has the store
(--store, BREACHCTL_STORE, or dev's data directory), else from Temporal.
With -o json, prints the final progress of each notice.

While Temporal or the worker does not answer (a restart, a deploy), it says
"reconnecting" and tries again, backing off, for up to --reconnect-timeout;
then it exits with 5. It exits with 7 when a notice ended without being given
to everyone it owes (failed, incomplete, an email to an organisation
refused, a report still to file): its clocks stay open.`,
		Example: `  breachctl watch INC-20261120-7K3QX`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			if err := opts.validate(); err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
				w := &watcher{g: g, svc: svc, opts: opts, tty: isTerminal(g.env.Stdout)}
				var st incident.Status
				if err := w.call(ctx, func(ctx context.Context) error {
					var err error
					st, err = svc.Show(ctx, id)
					return err
				}); err != nil {
					return err
				}
				var ids []string
				for _, n := range st.Notices {
					if rule == "" || containsString(n.Rules, rule) {
						if n.State == incident.NoticeSending || rule != "" {
							ids = append(ids, n.ID)
						}
					}
				}
				if len(ids) == 0 && rule == "" && len(st.Notices) > 0 {
					ids = append(ids, st.Notices[len(st.Notices)-1].ID) // show how the last one went
				}
				if len(ids) == 0 {
					return apperr.New(apperr.NotFound, "incident %s has no notice%s yet: approve one with `breachctl approve`", id, forRule(rule))
				}
				ledger, closeLedger := g.viewLedger(ctx, cfg, opts.store)
				defer closeLedger()
				w.ledger = ledger
				return w.run(ctx, id, ids)
			})
		},
	}
	cmd.Flags().StringVar(&rule, "rule", "", "only the notice under this obligation")
	opts.bind(cmd.Flags(), "how often to refresh")
	return cmd
}

func forRule(rule string) string {
	if rule == "" {
		return ""
	}
	return " under " + rule
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// progressLine is one notice's progress: a bar, sent, failed, remaining and
// the rate.
func progressLine(p workflows.NoticeProgress, perSecond float64, bar bool) string {
	c := p.Counts
	expected := max(c.Expected, c.Done())
	remaining := max(expected-c.Done(), 0)
	frac := 1.0
	if expected > 0 {
		frac = float64(c.Done()) / float64(expected)
	}
	var b strings.Builder
	if p.State == incident.NoticeSending && c.Expected == 0 && c.Done() == 0 {
		// Not prepared yet: nothing to measure against.
		fmt.Fprintf(&b, "%s preparing", p.Notice)
		return b.String()
	}
	if bar {
		const width = 30
		filled := int(frac * width)
		b.WriteString("[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] ")
	}
	fmt.Fprintf(&b, "%s %3.0f%%  sent %d", p.Notice, frac*100, c.Accepted)
	// Next to those accepted, what the ledger counts of requests and
	// resends, when it counts them.
	if c.Requests > 0 {
		fmt.Fprintf(&b, "  requests %d", c.Requests)
	}
	if c.Retried > 0 {
		fmt.Fprintf(&b, "  resent %d (%s)", c.Retried, nPeople(c.ResentRecipients))
	}
	if c.Twice > 0 {
		fmt.Fprintf(&b, "  twice %d", c.Twice)
	}
	if c.MaybeTwice > 0 {
		fmt.Fprintf(&b, "  maybe twice %d", c.MaybeTwice)
	}
	fmt.Fprintf(&b, "  failed %d  unreachable %d  already notified %d  remaining %d  %.0f/s  %s",
		c.Failed, c.Unreachable, c.Covered, remaining, perSecond, p.State)
	return b.String()
}

// rateMeter turns successive counts into a rate over the last ten seconds.
type rateMeter struct {
	at     []time.Time
	counts []int
}

func (m *rateMeter) add(at time.Time, count int) {
	m.at, m.counts = append(m.at, at), append(m.counts, count)
	for len(m.at) > 2 && at.Sub(m.at[0]) > 10*time.Second {
		m.at, m.counts = m.at[1:], m.counts[1:]
	}
}

func (m *rateMeter) perSecond() float64 {
	if len(m.at) < 2 {
		return 0
	}
	d := m.at[len(m.at)-1].Sub(m.at[0]).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(m.counts[len(m.counts)-1]-m.counts[0]) / d
}

// isTerminal reports whether w is a terminal, for redrawing in place.
func isTerminal(w io.Writer) bool {
	f, ok := rawWriter(w).(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// deliveryReport is one notice's delivery, as the ledger has it.
type deliveryReport struct {
	store.NoticeProgress
	// Notify and State are the notice's, from the incident.
	Notify string               `json:"notify"`
	State  incident.NoticeState `json:"state"`
	// Recorded is false for a notice the ledger does not have (it failed
	// before anything was recorded): its counts are zero.
	Recorded bool `json:"recorded"`
	// NotReached counts toward a substitute notice, for a notice to
	// people: refused, bounced, dropped, or without a usable address.
	NotReached int `json:"not_reached"`
	// Resends are the batches sent more than once, with why.
	Resends []register.Resend `json:"resends"`
	// Advice is what to do about people or organisations not reached.
	Advice string `json:"advice,omitempty"`
	// Warning is what could not be read from the ledger.
	Warning string `json:"warning,omitempty"`
}

func newDeliveriesCmd(g *globals) *cobra.Command {
	var dsn string
	cmd := &cobra.Command{
		Use:   "deliveries INC-ID",
		Short: "How each notice of an incident was delivered, from the ledger",
		Long: `Reads the notification ledger (BREACHCTL_STORE) for each notice of the incident:
accepted by SendGrid, the Mail Send requests it took, the batches sent more than
once (after an attempt whose answer was lost) with why, the people mailed twice
(SendGrid took their batch twice) and maybe twice (resent, the first attempt's
fate unknown), then delivered, bounced, dropped or deferred as SendGrid's Event
Webhook reported, and the people without a usable address. People not reached
count toward a substitute notice (GDPR Art. 34(3)(c) public communication; the
US states' substitute notice); an email to an authority or a business customer
that was not accepted is fixed at its sender or recipient and approved again.`,
		Example: `  breachctl deliveries INC-20261120-7K3QX`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			cfg, err := g.config()
			if err != nil {
				return err
			}
			if dsn == "" {
				dsn = cfg.StoreDSN()
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
				st, err := svc.Show(ctx, id)
				if err != nil {
					return err
				}
				ledger, closeLedger, err := g.openLedger(ctx, dsn, cfg)
				if err != nil {
					return err
				}
				defer closeLedger()
				reports := make([]deliveryReport, 0, len(st.Notices))
				for _, n := range st.Notices {
					r, err := deliveryOf(ctx, ledger, id, n)
					if err != nil {
						return err
					}
					reports = append(reports, r)
				}
				if g.json() {
					return writeJSON(g.env.Stdout, reports)
				}
				printDeliveries(g.env.Stdout, g.env.Stderr, id, reports)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&dsn, "store", "", "the store holding the ledger (default $BREACHCTL_STORE or the data directory's)")
	return cmd
}

// deliveryOf reads one notice from the ledger, with what to do about those
// it did not reach.
func deliveryOf(ctx context.Context, ledger Ledger, incidentID string, n incident.Notice) (deliveryReport, error) {
	r := deliveryReport{Notify: n.Notify, State: n.State, Resends: []register.Resend{}}
	nl, found, resendsErr, err := readNoticeLedger(ctx, ledger, n.ID)
	if err != nil {
		return r, err
	}
	r.Notice, r.Recorded = n.ID, found
	if found {
		r.NoticeProgress, r.Resends = nl.Progress, nl.Resends
		r.Notice = n.ID
	}
	if resendsErr != nil {
		r.Warning = resendsErr.Error()
	}
	if n.Notify == "individuals" {
		r.NotReached = r.Failed + r.Bounced + r.Dropped + r.Unreachable
		if r.NotReached > 0 {
			r.Advice = fmt.Sprintf("%s not reached: consider a substitute notice (GDPR Art. 34(3)(c) public communication; US substitute notice)", nPeople(r.NotReached))
		}
		return r, nil
	}
	// To an organisation: its email not accepted is fixed at the sender or
	// the recipient, and approved again; a substitute notice is for people.
	refusedEmail := slices.ContainsFunc(n.Deliveries, func(d incident.OrgDelivery) bool { return d.Error != "" })
	if refusedEmail || r.Failed+r.Bounced+r.Dropped > 0 || n.State == incident.NoticeFailed {
		r.Advice = "the email to the " + orgKind(n.Notify) + " was not accepted or not delivered: " + orgAdvice(incidentID, n)
	}
	return r, nil
}

func orgKind(notify string) string {
	switch notify {
	case "authority":
		return "authority"
	case "controller":
		return "controller"
	}
	return "organisation"
}

func printDeliveries(w, stderr io.Writer, id string, reports []deliveryReport) {
	if len(reports) == 0 {
		fmt.Fprintf(w, "%s has no notice yet\n", id)
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "NOTICE\tACCEPTED\tREQUESTS\tRESENT\tTWICE\tMAYBE TWICE\tDELIVERED\tBOUNCED\tDROPPED\tDEFERRED\tFAILED\tUNREACHABLE\tNOT REACHED")
	for _, r := range reports {
		if !r.Recorded {
			fmt.Fprintf(t, "%s\t(not in the ledger: %s)\n", r.Notice, r.State)
			continue
		}
		resent := fmt.Sprintf("%d", r.Resent)
		if r.Resent > 0 {
			resent += " (" + nPeople(r.ResentRecipients) + ")"
		}
		fmt.Fprintf(t, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Notice, r.Accepted, r.Requests, resent, r.Twice, r.MaybeTwice,
			r.Delivered, r.Bounced, r.Dropped, r.Deferred, r.Failed, r.Unreachable, r.NotReached)
	}
	t.Flush()
	for _, r := range reports {
		printResends(w, r.Notice, r.Resends)
		if r.Advice != "" {
			fmt.Fprintf(w, "! %s: %s\n", r.Notice, r.Advice)
		}
		if r.Warning != "" {
			fmt.Fprintf(stderr, "warning: %s: %s\n", r.Notice, r.Warning)
		}
	}
}

func draftOf(st incident.Status, hash string) *incident.Draft {
	if hash == "" {
		return nil
	}
	for i := range st.Drafts {
		if st.Drafts[i].Hash == hash {
			return &st.Drafts[i]
		}
	}
	return nil
}

func newDraftCmd(g *globals) *cobra.Command {
	var text noticeTextFlags
	var show string
	cmd := &cobra.Command{
		Use:   "draft INC-ID RULE... | draft INC-ID --show HASH",
		Short: "Draft the notice under one or more obligations, for approval",
		Long: `Records the notice as it would be sent — the texts (as for approve) with what the
incident knows — under a hash of its exact content, and prints it as the worker
renders it with the organisation's configuration (every language it has texts
for, each organisation it goes to). Approvers read that and approve the hash
('breachctl approve INC RULE --draft HASH'); a change to the facts or the
templates changes what would be sent, and voids the draft on the record; a
change to the organisation's configuration stops the approved notice before
anything is sent. --show prints a draft again.`,
		Example: `  breachctl draft INC-20261120-7K3QX eu-gdpr-art33 --file notice.yaml
  breachctl draft INC-20261120-7K3QX --show 3f9a1c0e7b2d`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			if show != "" {
				if len(args) > 1 || text.given() {
					return apperr.Invalidf("--show", "prints an existing draft: give only the incident ID")
				}
				return withService(cmd, g, func(ctx context.Context, svc Incidents, _ string) error {
					st, err := svc.Show(ctx, id)
					if err != nil {
						return err
					}
					d := draftOf(st, strings.TrimSpace(show))
					if d == nil {
						return apperr.New(apperr.NotFound, "incident %s has no draft %q", id, show)
					}
					if g.json() {
						return writeJSON(g.env.Stdout, d)
					}
					printDraft(g.env.Stdout, id, *d)
					return nil
				})
			}
			if len(args) < 2 {
				return apperr.Invalidf("RULE", "name the obligation(s) the notice answers, or --show HASH to print a draft")
			}
			req, err := text.request(args[1:])
			if err != nil {
				return err
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				req.Actor = actor
				st, err := svc.Draft(ctx, id, req)
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				printDraft(g.env.Stdout, id, st.Drafts[len(st.Drafts)-1])
				return nil
			})
		},
	}
	text.bind(cmd.Flags())
	cmd.Flags().StringVar(&show, "show", "", "print this draft (its hash) as it will be sent")
	return cmd
}

// printDraft shows a draft as its approvers read it: its state, then each
// rendering.
func printDraft(w io.Writer, id string, d incident.Draft) {
	fmt.Fprintf(w, "Draft %s under %s, by %s at %s: %s, %d of %d approval(s)\n", d.Hash, strings.Join(d.Rules, ", "),
		d.By, d.At.UTC().Format(time.RFC3339), d.State, len(d.Approvals), d.Required)
	if d.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", d.Reason)
	}
	if d.State == incident.DraftPending {
		fmt.Fprintf(w, "Approve:  breachctl approve %s %s --draft %s\nReject:   breachctl reject %s --draft %s --reason TEXT\n",
			id, strings.Join(d.Rules, " "), d.Hash, id, d.Hash)
	}
	if len(d.Preview) == 0 {
		fmt.Fprintln(w, "(no rendering recorded: drafted before previews)")
		return
	}
	fmt.Fprintf(w, "Renders as (rendering %s):\n", d.Rendered)
	for _, p := range d.Preview {
		to := p.Template + " notice"
		if p.Recipient != "" {
			to += " to " + p.Recipient
		}
		fmt.Fprintf(w, "\n──── %s, %s ────\nSubject: %s\n\n%s\n", to, p.Lang, p.Subject, strings.TrimRight(p.Text, "\n"))
	}
}

func newRejectCmd(g *globals) *cobra.Command {
	var draft, reason string
	cmd := &cobra.Command{
		Use:     "reject INC-ID --draft HASH --reason TEXT",
		Short:   "Reject a draft notice, with why",
		Example: `  breachctl reject INC-20261120-7K3QX --draft 3f9a1c0e7b2d --reason "name the systems involved"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := incidentArg(args)
			if err != nil {
				return err
			}
			if strings.TrimSpace(draft) == "" {
				return apperr.Invalidf("--draft", "name the draft to reject (its hash)")
			}
			return withService(cmd, g, func(ctx context.Context, svc Incidents, actor string) error {
				st, err := svc.Reject(ctx, id, workflows.RejectRequest{Draft: strings.TrimSpace(draft), Reason: reason, Actor: actor})
				if err != nil {
					return err
				}
				if g.json() {
					return writeJSON(g.env.Stdout, st)
				}
				fmt.Fprintf(g.env.Stdout, "Rejected draft %s of %s\n", draft, id)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&draft, "draft", "", "the draft's hash")
	cmd.Flags().StringVar(&reason, "reason", "", "why it is rejected (required)")
	return cmd
}
