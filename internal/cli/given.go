package cli

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/internal/incident"
)

// NotGivenError is the end of a watch in which a notice was not given to
// everyone it owes: its clocks stay open. It exits with ExitNotGiven.
type NotGivenError struct {
	// Notices are each notice not given, with why.
	Notices []string
}

func (e *NotGivenError) Error() string {
	what := "a notice was not given"
	if len(e.Notices) > 1 {
		what = fmt.Sprintf("%d notices were not given", len(e.Notices))
	}
	return what + ", its clocks stay open: " + strings.Join(e.Notices, "; ")
}

// notGiven says why a notice that stopped sending was not given, or ""
// when it was, as the incident decides whether it meets its clocks: to
// people, sending ended with everyone in scope accepted for delivery (or
// notified under another notice); to organisations, every one reached, its
// email accepted or its report filed.
func notGiven(n incident.Notice) string {
	if n.State == incident.NoticeSending {
		return n.ID + " is still sending"
	}
	if n.Given() { // the incident's own test: what meets the clocks decides
		return ""
	}
	var why []string
	c := n.Counts
	switch n.State {
	case incident.NoticeFailed:
		why = append(why, "failed: "+orText(n.Error, "no reason recorded"))
	case incident.NoticeIncomplete:
		why = append(why, "incomplete"+prefixed(": ", n.Error))
	}
	if n.Notify == "individuals" {
		switch {
		case c.Shortfall() > 0:
			why = append(why, fmt.Sprintf("%s in scope not given it (%d refused, %d without a usable address)", nPeople(c.Shortfall()), c.Failed, c.Unreachable))
		case len(why) == 0:
			why = append(why, "ended "+string(n.State))
		}
		return joinWhy(n.ID, why)
	}
	// To organisations: each must be reached.
	var order []string
	reached, errs, pending := map[string]bool{}, map[string][]string{}, map[string]string{}
	for _, d := range n.Deliveries {
		if _, seen := reached[d.Recipient]; !seen {
			order = append(order, d.Recipient)
		}
		reached[d.Recipient] = reached[d.Recipient] || d.Error == ""
		if d.Error != "" {
			errs[d.Recipient] = append(errs[d.Recipient], d.Error)
		}
	}
	for _, f := range n.Filings {
		if _, seen := reached[f.Recipient]; !seen {
			order = append(order, f.Recipient)
		}
		reached[f.Recipient] = reached[f.Recipient] || f.Reference != ""
		if f.Reference == "" {
			pending[f.Recipient] = f.Portal
		}
	}
	for _, r := range order {
		if reached[r] {
			continue
		}
		if len(errs[r]) > 0 {
			why = append(why, fmt.Sprintf("the email to %s was not accepted: %s", r, strings.Join(errs[r], "; ")))
		}
		if portal, ok := pending[r]; ok {
			why = append(why, fmt.Sprintf("the report to %s is still to file at %s (then `breachctl filed`)", r, portal))
		}
	}
	if len(order) == 0 && n.State != incident.NoticeFailed {
		why = append(why, "no organisation was reached")
	}
	if len(why) == 0 {
		why = append(why, "ended "+string(n.State))
	}
	return joinWhy(n.ID, why)
}

func joinWhy(id string, why []string) string {
	if len(why) == 0 {
		return ""
	}
	return id + " " + strings.Join(why, "; ")
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// orgAdvice is what to do about an email to an organisation (an authority,
// a business customer) that SendGrid did not accept: not a substitute
// notice, which is for people.
func orgAdvice(id string, n incident.Notice) string {
	return fmt.Sprintf("fix the sender (from: in the notify file, BREACHCTL_NOTIFY, must be a sender SendGrid has verified) or the recipient's address there, then approve again: breachctl approve %s %s",
		id, strings.Join(n.Rules, " "))
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
