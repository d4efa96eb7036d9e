package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/internal/store"
)

// Ledger is the notification ledger as the views read it: the one source
// of a notice's numbers (store.NoticeProgress: accepted, requests taken,
// batches resent, people mailed twice) and of its resent batches with why
// (store.Resends). `deliveries`, `watch`, `show`, the register and the
// evidence pack all read these two, so they cannot disagree.
type Ledger interface {
	NoticeProgress(ctx context.Context, noticeID string) (store.NoticeProgress, error)
	Resends(ctx context.Context, noticeID string) ([]store.BatchAttempts, error)
}

var _ Ledger = (*store.Store)(nil)

// openLedger opens the store at dsn for reading the ledger.
func (g *globals) openLedger(ctx context.Context, dsn string, cfg config.Config) (Ledger, func(), error) {
	if g.env.OpenLedger != nil {
		return g.env.OpenLedger(ctx, dsn, cfg)
	}
	s, err := store.Open(ctx, dsn, store.WithKeys(cfg.Keys))
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.Unavailable, err, "open the store (BREACHCTL_STORE, --store)")
	}
	return s, func() { _ = s.Close() }, nil
}

// viewLedger is the ledger of a view that can do without one (show,
// watch): the store named (--store, BREACHCTL_STORE), or the data
// directory's where it exists (the machine running `breachctl dev`); nil
// where there is none, and the view counts from Temporal. A store named
// that cannot be opened is said on stderr.
func (g *globals) viewLedger(ctx context.Context, cfg config.Config, dsn string) (Ledger, func()) {
	if dsn == "" {
		dsn = cfg.Store
	}
	if dsn == "" {
		if !fileExists(strings.TrimPrefix(cfg.StoreDSN(), "sqlite:")) {
			return nil, func() {}
		}
		dsn = cfg.StoreDSN()
	}
	l, closeFn, err := g.openLedger(ctx, dsn, cfg)
	if err != nil {
		fmt.Fprintf(g.env.Stderr, "warning: counting from Temporal, not the ledger: %v\n", err)
		return nil, func() {}
	}
	return l, closeFn
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// noticeLedger is one notice as the ledger has it.
type noticeLedger struct {
	Progress store.NoticeProgress
	Resends  []register.Resend
}

// readNoticeLedger reads a notice's counts and its resent batches: the one
// ledger query behind every view. found is false when the ledger has no
// such notice (it failed before it was recorded). An error reading the
// resends comes back with the counts read (resendsErr), for the views that
// show what they have; the records (register, evidence) fail on it.
func readNoticeLedger(ctx context.Context, l Ledger, noticeID string) (nl noticeLedger, found bool, resendsErr, err error) {
	p, err := l.NoticeProgress(ctx, noticeID)
	if apperr.Is(err, apperr.NotFound) {
		return nl, false, nil, nil
	}
	if err != nil {
		return nl, false, nil, fmt.Errorf("the ledger's counts of %s: %w", noticeID, err)
	}
	nl.Progress = p
	rs, err := l.Resends(ctx, noticeID)
	if err != nil {
		return nl, true, fmt.Errorf("the ledger's resends of %s: %w", noticeID, err), nil
	}
	nl.Resends = make([]register.Resend, 0, len(rs))
	for _, b := range rs {
		nl.Resends = append(nl.Resends, resendOf(b))
	}
	return nl, true, nil, nil
}

// ledgerCounts are a notice's counts as the ledger has them, over what
// only the notice's workflow knows: the people expected and read from the
// snapshot, and those already notified under another notice.
func ledgerCounts(base incident.NoticeCounts, p store.NoticeProgress) incident.NoticeCounts {
	c := base
	c.Accepted, c.Failed, c.Unreachable, c.Batches = p.Accepted, p.Failed, p.Unreachable, p.Batches
	c.Retried, c.Requests, c.ResentRecipients = p.Resent, p.Requests, p.ResentRecipients
	c.Twice, c.MaybeTwice = p.Twice, p.MaybeTwice
	return c
}

// resendOf is a batch with more than one attempt as every view shows it:
// how many attempts SendGrid took (more than one mailed its people twice),
// how many have a fate nobody knows, and each attempt with why it was made.
func resendOf(b store.BatchAttempts) register.Resend {
	r := register.Resend{Batch: b.Batch, Recipients: b.Recipients, State: string(b.State), Attempts: len(b.Attempts), Why: []string{}}
	for _, a := range b.Attempts {
		switch {
		case a.Taken():
			r.Taken++
		case a.Unknown():
			r.Unknown++
		}
		if a.MessageID != "" {
			r.MessageIDs = append(r.MessageIDs, a.MessageID)
		}
		r.Why = append(r.Why, attemptText(a))
	}
	return r
}

func attemptText(a store.Attempt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d", a.N)
	if !a.StartedAt.IsZero() {
		fmt.Fprintf(&b, " at %s", a.StartedAt.UTC().Format(time.RFC3339))
	}
	if a.Resend != "" {
		fmt.Fprintf(&b, " (resent: %s)", a.Resend)
	}
	fmt.Fprintf(&b, ": %s", a.Outcome)
	if a.ConfirmedBy != "" {
		fmt.Fprintf(&b, " by %s", a.ConfirmedBy)
	}
	if a.MessageID != "" {
		fmt.Fprintf(&b, ", message %s", a.MessageID)
	}
	if a.Error != "" {
		fmt.Fprintf(&b, " (%s)", a.Error)
	}
	return b.String()
}

// printResends writes each batch sent more than once, with why, under a
// view's table.
func printResends(w io.Writer, noticeID string, rs []register.Resend) {
	for _, r := range rs {
		fmt.Fprintf(w, "  %s: %s\n", noticeID, register.ResendLine(r))
	}
}

// twiceText is the people mailed more than once, in words, for a view's
// summary line; empty when the counts name nobody.
func twiceText(c incident.NoticeCounts) string {
	var parts []string
	if c.Retried > 0 {
		batches := "batches"
		if c.Retried == 1 {
			batches = "batch"
		}
		parts = append(parts, fmt.Sprintf("%d %s resent (%s)", c.Retried, batches, nPeople(c.ResentRecipients)))
	}
	if c.Twice > 0 {
		parts = append(parts, nPeople(c.Twice)+" mailed twice")
	}
	if c.MaybeTwice > 0 {
		parts = append(parts, fmt.Sprintf("%d maybe twice (an attempt's fate unknown)", c.MaybeTwice))
	}
	return strings.Join(parts, ", ")
}

// noticeView is where a view's numbers of one notice come from, and what
// the ledger adds to them.
type noticeView struct {
	// From is "ledger", "notice workflow" (a notice still sending, counted
	// live by its workflow where the CLI has no ledger) or "incident" (as
	// the incident recorded it when it finished).
	From    string            `json:"counts_from"`
	Resends []register.Resend `json:"resends,omitempty"`
	// Warning is what could not be read.
	Warning string `json:"warning,omitempty"`
}

// countNotices fills each notice's counts from the one source of them:
// for a notice still sending, its workflow's progress first (the
// incident's record says 0 until it is done), then the ledger over it
// wherever the CLI has one. svc and l may be nil.
func countNotices(ctx context.Context, svc Incidents, l Ledger, st *incident.Status) map[string]noticeView {
	views := make(map[string]noticeView, len(st.Notices))
	for i := range st.Notices {
		n := &st.Notices[i]
		v := noticeView{From: "incident"}
		var warnings []string
		if n.State == incident.NoticeSending && svc != nil {
			switch p, err := svc.NoticeProgress(ctx, n.ID); {
			case apperr.Is(err, apperr.NotFound): // its workflow is starting
			case err != nil:
				warnings = append(warnings, err.Error())
			default:
				n.Counts, v.From = p.Counts, "notice workflow"
			}
		}
		if l != nil {
			nl, found, resendsErr, err := readNoticeLedger(ctx, l, n.ID)
			switch {
			case err != nil:
				warnings = append(warnings, err.Error())
			case found:
				n.Counts = ledgerCounts(n.Counts, nl.Progress)
				v.From, v.Resends = "ledger", nl.Resends
				if resendsErr != nil {
					warnings = append(warnings, resendsErr.Error())
				}
			}
		}
		v.Warning = strings.Join(warnings, "; ")
		views[n.ID] = v
	}
	return views
}

// warnViews says on stderr what a view could not read.
func warnViews(w io.Writer, views map[string]noticeView, st incident.Status) {
	for _, n := range st.Notices {
		if v := views[n.ID]; v.Warning != "" {
			fmt.Fprintf(w, "warning: %s: %s\n", n.ID, v.Warning)
		}
	}
}
