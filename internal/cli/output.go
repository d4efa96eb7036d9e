package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

func asAppErr(err error, target **apperr.Error) bool { return errors.As(err, target) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func tsPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

// timeLeft says how long until a deadline, or how far past it.
func timeLeft(due, now time.Time) string {
	d := due.Sub(now)
	if d < 0 {
		return "overdue " + incident.FormatDuration(-d)
	}
	return incident.FormatDuration(d)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// printStatus writes the human view of one incident.
func printStatus(w io.Writer, s incident.Status, now time.Time) { printStatusWith(w, s, nil, now) }

// printStatusWith writes the human view of one incident, with what the
// ledger adds to its notices.
func printStatusWith(w io.Writer, s incident.Status, views map[string]noticeView, now time.Time) {
	f := s.Facts
	fmt.Fprintf(w, "%s  %s\n", s.ID, f.Title)
	t := newTable(w)
	fmt.Fprintf(t, "State:\t%s\tSeverity:\t%s\n", s.State, f.Severity)
	fmt.Fprintf(t, "Opened:\t%s by %s\tAware at:\t%s\n", ts(s.OpenedAt), orDash(s.OpenedBy), ts(f.AwareAt))
	fmt.Fprintf(t, "Detected:\t%s\tOccurred:\t%s\n", ts(f.Detected()), tsPtr(f.OccurredAt))
	fmt.Fprintf(t, "Systems:\t%s\tRegions:\t%s\n", list(f.Systems), list(f.Regions))
	fmt.Fprintf(t, "Data:\t%s\tReporter:\t%s\n", list(f.DataCategories), orDash(f.Reporter))
	if len(f.Affected) > 0 || f.Role != "" || len(f.Sectors) > 0 {
		fmt.Fprintf(t, "Affected:\t%s\tRole:\t%s\n", affectedText(f.Affected), roleText(f.Role, f.Sectors))
	}
	if s.Risk != nil {
		fmt.Fprintf(t, "Risk:\t%s (%s)\tEncrypted:\t%v\n", s.Risk.Level, s.Risk.Method, f.Encrypted)
	}
	if s.ClosedAt != nil {
		fmt.Fprintf(t, "Closed:\t%s\tReason:\t%s\n", ts(*s.ClosedAt), s.CloseReason)
	}
	t.Flush()
	if f.Description != "" {
		fmt.Fprintf(w, "\n%s\n", f.Description)
	}

	if len(s.Roles) > 0 {
		fmt.Fprintln(w, "\nROLES")
		t = newTable(w)
		for _, r := range incident.RoleOrder(s.Roles) {
			fmt.Fprintf(t, "  %s\t%s\t(%s)\n", r, s.Roles[r], incident.RoleTitle(r))
		}
		t.Flush()
	}

	fmt.Fprintln(w, "\nCLOCKS")
	if len(s.Clocks) == 0 {
		fmt.Fprintln(w, "  none: no notification obligation is triggered by the facts so far (regions, categories)")
	} else {
		t = newTable(w)
		fmt.Fprintln(t, "  \tRULE\tNOTIFY\tDUE\tLEFT\tSTATE\tREMINDERS")
		for _, c := range s.Clocks {
			mark := ""
			if c.Rule == s.BindingRule {
				mark = "*"
			}
			left := "-"
			if c.State.Open() && c.Due != nil {
				left = timeLeft(*c.Due, now)
			}
			fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, c.Rule, c.Notify, dueText(c.Obligation), left, c.State, reminderSummary(c))
		}
		t.Flush()
		for _, c := range s.Clocks {
			fmt.Fprintf(w, "  %s: %s. %s", c.Rule, c.Title, c.Citation)
			switch {
			case c.ASAP && c.Due != nil:
				fmt.Fprint(w, "; without undue delay, at the latest by the due time")
			case c.ASAP:
				fmt.Fprint(w, "; without undue delay (no fixed deadline)")
			}
			fmt.Fprintln(w)
		}
		for _, c := range s.Clocks {
			switch {
			case c.NeedsDelayReasons():
				fmt.Fprintf(w, "  ! %s is overdue: the late notice must give %s. Record them: breachctl delay %s %s \"...\"\n", c.Rule, c.Late, s.ID, c.Rule)
			case c.DelayReasons != "":
				fmt.Fprintf(w, "  %s: reasons for the delay: %s\n", c.Rule, c.DelayReasons)
			}
		}
		if s.BindingRule != "" {
			fmt.Fprintln(w, "  * the binding (earliest) deadline")
		}
	}
	if len(s.NotTriggered) > 0 {
		fmt.Fprintf(w, "  %d more rules considered and not triggered (-o json lists them with why)\n", len(s.NotTriggered))
	}

	if len(s.Notices) > 0 {
		fmt.Fprintln(w, "\nNOTICES")
		t = newTable(w)
		fmt.Fprintln(t, "  NOTICE\tRULES\tSTATE\tAPPROVED\tSENT\tACCEPTED\tREQUESTS\tRESENT\tTWICE\tMAYBE TWICE\tFAILED\tUNREACHABLE\tALREADY NOTIFIED")
		for _, n := range s.Notices {
			c := n.Counts
			resent := fmt.Sprintf("%d", c.Retried)
			if c.Retried > 0 {
				resent += " (" + nPeople(c.ResentRecipients) + ")"
			}
			fmt.Fprintf(t, "  %s\t%s\t%s\t%s by %s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n", n.ID, list(n.Rules), n.State, ts(n.ApprovedAt), n.ApprovedBy,
				tsPtr(n.SentAt), c.Accepted, c.Requests, resent, c.Twice, c.MaybeTwice, c.Failed, c.Unreachable, c.Covered)
		}
		t.Flush()
		for _, n := range s.Notices {
			if v, ok := views[n.ID]; ok && v.From != "incident" {
				fmt.Fprintf(w, "  %s: counted from the %s\n", n.ID, v.From)
			}
			switch n.State {
			case incident.NoticeFailed:
				fmt.Fprintf(w, "  ! %s failed, its clocks stay open: %s\n", n.ID, orText(n.Error, "no reason recorded"))
			case incident.NoticeIncomplete:
				fmt.Fprintf(w, "  ! %s incomplete, its clocks stay open: %s in scope not given it (%d refused, %d without a usable address)",
					n.ID, nPeople(n.Counts.Shortfall()), n.Counts.Failed, n.Counts.Unreachable)
				if n.Error != "" {
					fmt.Fprintf(w, ": %s", n.Error)
				}
				fmt.Fprintln(w)
			}
			refused := false
			for _, d := range n.Deliveries {
				if d.Error != "" {
					refused = true
					fmt.Fprintf(w, "  ! %s: email to %s not accepted: %s\n", n.ID, d.Recipient, d.Error)
				} else {
					fmt.Fprintf(w, "  %s: emailed %s at %s, message %s\n", n.ID, d.Recipient, ts(d.SentAt), d.MessageID)
				}
			}
			if refused || (n.State == incident.NoticeFailed && n.Notify != "individuals") {
				fmt.Fprintf(w, "  ! %s: %s\n", n.ID, orgAdvice(s.ID, n))
			}
			for _, f := range n.Filings {
				if f.Reference != "" {
					fmt.Fprintf(w, "  %s: filed with %s at %s, reference %s\n", n.ID, f.Recipient, tsPtr(f.FiledAt), f.Reference)
				} else {
					fmt.Fprintf(w, "  ! %s: file the report with %s at %s (the report: show -o json), then: breachctl filed %s %s REFERENCE\n",
						n.ID, f.Recipient, f.Portal, s.ID, n.Rules[0])
				}
			}
			if text := twiceText(n.Counts); text != "" {
				fmt.Fprintf(w, "  %s: %s\n", n.ID, text)
			}
			printResends(w, n.ID, views[n.ID].Resends)
			if k := n.Counts.SubstituteNeeded(); k > 0 && n.Notify == "individuals" && n.State != incident.NoticeSending {
				fmt.Fprintf(w, "  ! %s: %s not reached by email: consider a substitute notice (GDPR Art. 34(3)(c) public communication; US substitute notice)\n", n.ID, nPeople(k))
			}
		}
	}

	fmt.Fprintln(w, "\nTIMELINE")
	t = newTable(w)
	for _, e := range s.Timeline {
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\n", ts(e.At), e.Kind, orDash(e.Rule), orDash(e.Actor), e.Text)
	}
	t.Flush()
	if s.RulesetVersion != "" {
		fmt.Fprintf(w, "\nRuleset %s\n", s.RulesetVersion)
	}
}

// dueText is the deadline, or what stands in for one.
func dueText(o incident.Obligation) string {
	switch {
	case o.Due != nil:
		return ts(*o.Due)
	case o.StartsAt == nil:
		return "after " + o.ClockStart
	case o.ASAP:
		return "asap"
	}
	return "-"
}

func affectedText(rs []incident.Residents) string {
	if len(rs) == 0 {
		return "not counted yet"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s %d", r.Region, r.Count)
	}
	return strings.Join(parts, ", ")
}

func roleText(role string, sectors []string) string {
	if role == "" {
		role = "controller"
	}
	if len(sectors) > 0 {
		role += " (" + strings.Join(sectors, ", ") + ")"
	}
	return role
}

func reminderSummary(c incident.Clock) string {
	if c.Due == nil {
		return "-"
	}
	fired, skipped := 0, 0
	var next *incident.Reminder
	for i, r := range c.Schedule {
		switch {
		case r.FiredAt != nil:
			fired++
		case r.Skipped:
			skipped++
		case next == nil:
			next = &c.Schedule[i]
		}
	}
	out := fmt.Sprintf("%d/%d fired", fired, len(c.Schedule))
	if skipped > 0 {
		out += fmt.Sprintf(", %d skipped", skipped)
	}
	if next != nil && c.State.Open() {
		out += ", next " + ts(next.At)
	}
	return out
}

func printSummaries(w io.Writer, rows []incident.Summary, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No incidents.")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "ID\tSTATE\tSEVERITY\tNEXT DEADLINE\tLEFT\tOPENED\tTITLE")
	for _, r := range rows {
		left := "-"
		if r.NextDeadline != nil && r.ClosedAt == nil {
			left = timeLeft(*r.NextDeadline, now)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, orDash(string(r.Severity)), tsPtr(r.NextDeadline), left, ts(r.OpenedAt), r.Title)
	}
	t.Flush()
}
