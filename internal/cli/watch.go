package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/register"
	"github.com/breachctl/breachctl/workflows"
)

// watchOptions are the flags of `watch` and `approve --watch`.
type watchOptions struct {
	tick time.Duration
	// reconnectTimeout is how long a watch rides out Temporal or the
	// worker not answering before it gives up (exit 5).
	reconnectTimeout time.Duration
	store            string
}

// defaultReconnectTimeout outlasts a rolling restart of a cluster or a
// worker's redeploy.
const defaultReconnectTimeout = 5 * time.Minute

// maxBackoff is the longest wait between two tries while reconnecting.
const maxBackoff = 30 * time.Second

func (o *watchOptions) bind(f *pflag.FlagSet, interval string) {
	f.DurationVar(&o.tick, "interval", time.Second, interval)
	f.DurationVar(&o.reconnectTimeout, "reconnect-timeout", defaultReconnectTimeout,
		"how long to keep reconnecting while Temporal or the worker does not answer, before giving up (exit 5)")
	f.StringVar(&o.store, "store", "", "the store holding the ledger, the source of the counts (default $BREACHCTL_STORE, or the data directory's if it exists)")
}

func (o *watchOptions) validate() error {
	if o.reconnectTimeout <= 0 {
		return apperr.Invalidf("--reconnect-timeout", "must be more than 0 (it is how long to keep reconnecting)")
	}
	return nil
}

// watchResult is one notice in `watch -o json`: its progress as its
// workflow reports it (counted by the ledger where the CLI has one), the
// batches sent more than once, and whether it was given.
type watchResult struct {
	workflows.NoticeProgress
	Resends  []register.Resend `json:"resends,omitempty"`
	Given    bool              `json:"given"`
	NotGiven string            `json:"not_given,omitempty"`
}

// watcher follows notices until they stop sending, riding out outages of
// Temporal and the worker.
type watcher struct {
	g      *globals
	svc    Incidents
	ledger Ledger
	opts   watchOptions
	tty    bool

	drawn     int      // lines of the last block drawn, to go back over on a terminal
	lastBlock []string // the progress lines last drawn
	lastPrint time.Time
	// While requests fail: since when, why, and how many tries.
	downSince time.Time
	downWhy   error
	retries   int
	// ledgerWarned: a failing ledger read was said once.
	ledgerWarned bool
}

// transient reports whether err is Temporal or the worker not answering
// (unreachable, a deadline passed, overloaded): worth waiting out.
func transient(err error) bool {
	return apperr.Is(err, apperr.Unavailable) || errors.Is(err, context.DeadlineExceeded)
}

// call runs fn; while it fails as Temporal or the worker being away, it
// says so ("reconnecting (since 12s: ...)") and tries again with backoff,
// until opts.reconnectTimeout has passed since the first failure.
func (w *watcher) call(ctx context.Context, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil {
			w.reconnected()
			return nil
		}
		if ctx.Err() != nil || !transient(err) {
			return err
		}
		now := w.g.env.Now()
		if w.downSince.IsZero() {
			w.downSince = now
		}
		w.downWhy = err
		w.retries++
		down := now.Sub(w.downSince)
		if down >= w.opts.reconnectTimeout {
			return apperr.Wrap(apperr.Unavailable, err, "gave up reconnecting after %s (--reconnect-timeout %s)",
				incident.FormatDuration(down), w.opts.reconnectTimeout)
		}
		w.say(w.reconnectingLine(now))
		wait := min(w.backoff(), w.opts.reconnectTimeout-down)
		if err := w.g.env.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff doubles the wait from the refresh interval up to maxBackoff.
func (w *watcher) backoff() time.Duration {
	d := max(w.opts.tick, 100*time.Millisecond)
	for i := 1; i < w.retries && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (w *watcher) reconnectingLine(now time.Time) string {
	return fmt.Sprintf("reconnecting (since %s: %v)", incident.FormatDuration(now.Sub(w.downSince).Truncate(time.Second)), w.downWhy)
}

// reconnected ends an outage, saying how long it lasted.
func (w *watcher) reconnected() {
	if w.downSince.IsZero() {
		return
	}
	line := fmt.Sprintf("reconnected after %s", incident.FormatDuration(w.g.env.Now().Sub(w.downSince).Truncate(time.Second)))
	w.downSince, w.downWhy, w.retries = time.Time{}, nil, 0
	if w.tty && !w.g.json() {
		return // the next block is drawn over the reconnecting line
	}
	w.say(line)
}

// say writes a line about the connection: under the progress on a
// terminal (redrawn with it), else on a line of its own; on stderr with -o
// json, whose stdout is for the result.
func (w *watcher) say(line string) {
	switch {
	case w.g.json():
		fmt.Fprintln(w.g.env.Stderr, line)
	case w.tty:
		w.draw(append(w.lastBlock, line))
	default:
		fmt.Fprintln(w.g.env.Stdout, line)
	}
}

// draw writes a block of lines, over the previous block on a terminal.
func (w *watcher) draw(lines []string) {
	out := w.g.env.Stdout
	if w.tty {
		// The cursor moves are the CLI's own; the lines are escaped here.
		out = rawWriter(out)
	}
	if w.tty && w.drawn > 0 {
		fmt.Fprintf(out, "\033[%dA", w.drawn) // back over the previous block
	}
	for _, l := range lines {
		if w.tty {
			l = TerminalSafe(l) + "\033[K" // clear what a longer previous line left
		}
		fmt.Fprintln(out, l)
	}
	if w.tty {
		fmt.Fprint(out, "\033[J") // and the lines a longer block left below
	}
	w.drawn = len(lines)
}

// watchNotices polls each notice's progress until all are done, drawing a
// progress line per notice: redrawn in place on a terminal, every few
// seconds otherwise. It ends with how each went, and a NotGivenError when
// one was not given to everyone it owes.
func watchNotices(ctx context.Context, g *globals, svc Incidents, cfg config.Config, incidentID string, ids []string, opts watchOptions) error {
	ledger, closeLedger := g.viewLedger(ctx, cfg, opts.store)
	defer closeLedger()
	w := &watcher{g: g, svc: svc, ledger: ledger, opts: opts, tty: isTerminal(g.env.Stdout)}
	return w.run(ctx, incidentID, ids)
}

func (w *watcher) run(ctx context.Context, incidentID string, ids []string) error {
	g := w.g
	tick := max(w.opts.tick, 100*time.Millisecond)
	rates := map[string]*rateMeter{}
	last := map[string]workflows.NoticeProgress{}
	for {
		done := true
		for _, id := range ids {
			var p workflows.NoticeProgress
			err := w.call(ctx, func(ctx context.Context) error {
				var err error
				p, err = w.svc.NoticeProgress(ctx, id)
				return err
			})
			if err != nil {
				return err
			}
			p.Counts = w.ledgerCounts(ctx, id, p.Counts)
			last[id] = p
			if rates[id] == nil {
				rates[id] = &rateMeter{}
			}
			rates[id].add(p.At, p.Counts.Accepted)
			if p.State == incident.NoticeSending {
				done = false
			}
		}
		now := g.env.Now()
		if !g.json() && (w.tty || done || now.Sub(w.lastPrint) >= 5*time.Second) {
			lines := make([]string, 0, len(ids))
			for _, id := range ids {
				lines = append(lines, progressLine(last[id], rates[id].perSecond(), w.tty))
			}
			w.lastBlock = lines
			w.draw(lines)
			w.lastPrint = now
		}
		if done {
			break
		}
		if err := g.env.Sleep(ctx, tick); err != nil {
			return err
		}
	}
	return w.finish(ctx, incidentID, ids, last)
}

// ledgerCounts counts a notice from the ledger over its workflow's counts,
// when the CLI has a ledger; a failing read is said once and the workflow's
// counts stand.
func (w *watcher) ledgerCounts(ctx context.Context, id string, c incident.NoticeCounts) incident.NoticeCounts {
	if w.ledger == nil {
		return c
	}
	p, err := w.ledger.NoticeProgress(ctx, id)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return c
	case err != nil:
		if !w.ledgerWarned {
			fmt.Fprintf(w.g.env.Stderr, "warning: counting %s from Temporal: the ledger: %v\n", id, err)
			w.ledgerWarned = true
		}
		return c
	}
	return ledgerCounts(c, p)
}

// finish says how each notice went, from the incident's record counted by
// the ledger, with the batches sent more than once, and fails with a
// NotGivenError when a notice was not given to everyone it owes.
func (w *watcher) finish(ctx context.Context, incidentID string, ids []string, last map[string]workflows.NoticeProgress) error {
	g := w.g
	st, err := w.settled(ctx, incidentID, ids, last)
	if err != nil {
		return err
	}
	views := countNotices(ctx, nil, w.ledger, &st) // nothing is sending any more: no progress to ask
	var notGivenWhy []string
	results := make([]watchResult, 0, len(ids))
	for _, id := range ids {
		res := watchResult{NoticeProgress: last[id]}
		for _, n := range st.Notices {
			if n.ID != id {
				continue
			}
			if n.State != incident.NoticeSending {
				res.State = n.State // the incident's record, once it has heard
			}
			res.Counts = n.Counts
			res.Resends = views[id].Resends
			if later := supersededBy(st, n); later == "" {
				res.NotGiven = notGiven(n)
			}
			if !g.json() {
				w.printOutcome(incidentID, n, views[id])
			}
		}
		res.Given = res.NotGiven == ""
		if !res.Given {
			notGivenWhy = append(notGivenWhy, res.NotGiven)
		}
		results = append(results, res)
	}
	if g.json() {
		warnViews(g.env.Stderr, views, st)
		if err := writeJSON(g.env.Stdout, results); err != nil {
			return err
		}
	}
	if len(notGivenWhy) > 0 {
		return &NotGivenError{Notices: notGivenWhy}
	}
	return nil
}

// supersededBy names the notice approved after n for all of n's rules
// (after it failed or left people unreached), or "": a notice whose clocks
// another answers no longer decides whether they are met.
func supersededBy(st incident.Status, n incident.Notice) string {
	later := ""
	for _, rule := range n.Rules {
		found := false
		for _, c := range st.Clocks {
			if c.Rule == rule && c.NoticeID != "" && c.NoticeID != n.ID {
				later, found = c.NoticeID, true
			}
		}
		if !found {
			return ""
		}
	}
	return later
}

// settleTimeout bounds how long a watch waits for the incident to record
// how a notice ended, after the notice's workflow has said.
const settleTimeout = 30 * time.Second

// settled is the incident's status once it has heard how each watched
// notice ended (the notice's workflow finishes, then tells the incident).
// A notice the incident still has as sending after settleTimeout is judged
// by its workflow's last progress, and said so.
func (w *watcher) settled(ctx context.Context, incidentID string, ids []string, last map[string]workflows.NoticeProgress) (incident.Status, error) {
	deadline := w.g.env.Now().Add(settleTimeout)
	for {
		var st incident.Status
		if err := w.call(ctx, func(ctx context.Context) error {
			var err error
			st, err = w.svc.Show(ctx, incidentID)
			return err
		}); err != nil {
			return st, err
		}
		var pending []int
		for i, n := range st.Notices {
			if p, ok := last[n.ID]; ok && n.State == incident.NoticeSending && p.State != incident.NoticeSending {
				pending = append(pending, i)
			}
		}
		if len(pending) == 0 {
			return st, nil
		}
		if !w.g.env.Now().Before(deadline) {
			for _, i := range pending {
				n := &st.Notices[i]
				p := last[n.ID]
				fmt.Fprintf(w.g.env.Stderr, "warning: %s: the incident has not recorded how the notice ended; judged by its workflow (%s)\n", n.ID, p.State)
				n.State, n.Counts = p.State, p.Counts
			}
			return st, nil
		}
		if err := w.g.env.Sleep(ctx, max(w.opts.tick, 100*time.Millisecond)); err != nil {
			return st, err
		}
	}
}

// printOutcome is how a notice went, in a few lines.
func (w *watcher) printOutcome(incidentID string, n incident.Notice, v noticeView) {
	out := w.g.env.Stdout
	fmt.Fprintln(out, n.Summary())
	c := n.Counts
	if v.From == "ledger" {
		text := twiceText(c)
		if text == "" {
			text = "nobody mailed twice"
		}
		fmt.Fprintf(out, "  %d requests taken by SendGrid; %s (from the ledger)\n", c.Requests, text)
	} else if text := twiceText(c); text != "" {
		fmt.Fprintf(out, "  %s\n", text)
	}
	printResends(out, n.ID, v.Resends)
	if v.Warning != "" {
		fmt.Fprintf(w.g.env.Stderr, "warning: %s: %s\n", n.ID, v.Warning)
	}
	for _, d := range n.Deliveries {
		if d.Error != "" {
			fmt.Fprintf(out, "  ! %s: %s\n", n.ID, orgAdvice(incidentID, n))
			break
		}
	}
}
