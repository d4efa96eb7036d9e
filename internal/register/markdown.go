package register

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the register for people: a table of every incident,
// then each incident with its facts, conclusion, obligations, notices,
// decisions and the rules that could have applied and did not.
func WriteMarkdown(w io.Writer, reg Register) error {
	b := &strings.Builder{}
	counts := map[Outcome]int{}
	for _, r := range reg.Incidents {
		counts[r.Outcome]++
	}
	fmt.Fprintf(b, "# Breach register\n\nGenerated %s: %d incidents, %d notified, %d not notified, %d open.\n",
		tsv(reg.GeneratedAt), len(reg.Incidents), counts[OutcomeNotified], counts[OutcomeNotNotified], counts[OutcomeOpen])
	if len(reg.Incidents) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n| Incident | Aware | Title | Severity | Outcome | Obligations |\n|---|---|---|---|---|---|\n")
	for _, r := range reg.Incidents {
		var obs []string
		for _, o := range r.Obligations {
			obs = append(obs, o.Rule+" "+string(o.State))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, tsv(r.AwareAt), md(r.Title), r.Severity, outcomeText(r.Outcome),
			md(orNone(strings.Join(obs, ", "))))
	}
	for _, r := range reg.Incidents {
		writeRecord(b, r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRecord(b *strings.Builder, r Record) {
	f := r.Facts
	fmt.Fprintf(b, "\n## %s: %s\n\n", r.ID, md(r.Title))
	fmt.Fprintf(b, "- **Outcome:** %s (%s, severity %s)\n", outcomeText(r.Outcome), r.State, r.Severity)
	fmt.Fprintf(b, "- **Opened:** %s by %s; **aware:** %s; **detected:** %s", tsv(r.OpenedAt), md(orNone(r.OpenedBy)), tsv(r.AwareAt), tsv(r.DetectedAt))
	if r.OccurredAt != nil {
		fmt.Fprintf(b, "; **occurred:** %s", tsp(r.OccurredAt))
	}
	b.WriteString("\n")
	if r.ClosedAt != nil {
		fmt.Fprintf(b, "- **Closed:** %s: %s\n", tsp(r.ClosedAt), md(r.CloseReason))
	}
	if f.Description != "" {
		fmt.Fprintf(b, "- **What happened:** %s\n", md(f.Description))
	}
	fmt.Fprintf(b, "- **Systems:** %s; **data:** %s; **regions:** %s\n", md(orNone(comma(f.Systems))), md(orNone(comma(f.DataCategories))), md(orNone(comma(f.Regions))))
	people := "not counted"
	if len(f.Affected) > 0 {
		people = fmt.Sprintf("%d (%s)", f.AffectedTotal, strings.ReplaceAll(residents(f.Affected), ";", ","))
	}
	if f.Scoped != nil {
		people += fmt.Sprintf("; scoped %d people in %s at %s (%d rows rejected)", f.Scoped.People, f.Scoped.Snapshot, tsv(f.Scoped.At), f.Scoped.Rejected)
	}
	fmt.Fprintf(b, "- **People affected:** %s\n", md(people))
	fmt.Fprintf(b, "- **Role:** %s; **encrypted:** %t", f.Role, f.Encrypted)
	if f.Reporter != "" {
		fmt.Fprintf(b, "; **reported by:** %s", md(f.Reporter))
	}
	b.WriteString("\n")
	if r.Risk != nil {
		fmt.Fprintf(b, "- **Risk:** %s (%s, score %.2f)\n", r.Risk.Level, md(r.Risk.Method), r.Risk.Score)
		for _, s := range r.Risk.Reasons {
			fmt.Fprintf(b, "  - %s\n", md(s))
		}
	}
	if r.RulesetVersion != "" {
		fmt.Fprintf(b, "- **Ruleset:** %s\n", md(r.RulesetVersion))
	}

	if len(r.Reasons) > 0 {
		b.WriteString("\n**Why:**\n\n")
		for _, s := range r.Reasons {
			fmt.Fprintf(b, "- %s\n", md(s))
		}
	}

	b.WriteString("\n### Obligations\n\n")
	if len(r.Obligations) == 0 {
		b.WriteString("None: no notification obligation was triggered by the facts.\n")
	} else {
		b.WriteString("| Rule | Notify | Citation | Due | State | Done | Late | Notice |\n|---|---|---|---|---|---|---|---|\n")
		for _, o := range r.Obligations {
			due := tsp(o.Due)
			switch {
			case o.Due == nil && o.ASAP:
				due = "without undue delay"
			case o.Due == nil && o.StartsAt == nil:
				due = "after " + o.ClockStart
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", o.Rule, md(o.Notify), md(o.Citation), md(orNone(due)), o.State,
				orNone(tsp(o.DoneAt)), orNone(o.Late), md(orNone(o.NoticeID)))
		}
		for _, o := range r.Obligations {
			if o.DelayReasons != "" {
				fmt.Fprintf(b, "\n%s, reasons for the delay: %s\n", o.Rule, md(o.DelayReasons))
			}
		}
	}

	if len(r.Notices) > 0 {
		b.WriteString("\n### Notices\n\n| Notice | State | Approved | Sent | Accepted | Requests | Resent | Mailed twice | Maybe twice | Failed | Unreachable | Already notified | Message IDs / references |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, n := range r.Notices {
			var refs []string
			for _, d := range n.Deliveries {
				if d.Error != "" {
					refs = append(refs, d.Recipient+": failed: "+d.Error)
				} else {
					refs = append(refs, d.Recipient+": "+d.MessageID)
				}
			}
			for _, f := range n.Filings {
				refs = append(refs, f.Recipient+": "+orText(f.Reference, "to file at "+f.Portal))
			}
			c := n.Counts
			resent := fmt.Sprintf("%d", c.Retried)
			if c.Retried > 0 {
				resent += fmt.Sprintf(" (%d people)", c.ResentRecipients)
			}
			fmt.Fprintf(b, "| %s | %s | %s by %s | %s | %d | %d | %s | %d | %d | %d | %d | %d | %s |\n", md(n.ID), n.State, tsv(n.ApprovedAt), md(n.ApprovedBy),
				orNone(tsp(n.SentAt)), c.Accepted, c.Requests, resent, c.Twice, c.MaybeTwice, c.Failed, c.Unreachable, c.Covered, md(orNone(semi(refs))))
		}
		for _, n := range r.Notices {
			if n.Error != "" {
				fmt.Fprintf(b, "\n%s %s: %s\n", md(n.ID), n.State, md(n.Error))
			}
			if len(n.Resends) > 0 {
				fmt.Fprintf(b, "\n%s, batches sent more than once:\n\n", md(n.ID))
				for _, rs := range n.Resends {
					fmt.Fprintf(b, "- %s\n", md(ResendLine(rs)))
				}
			}
		}
	}

	b.WriteString("\n### Decisions\n\n")
	if len(r.Decisions) == 0 {
		b.WriteString("None recorded.\n")
	} else {
		b.WriteString("| When | Who | What | Rule | Record |\n|---|---|---|---|---|\n")
		for _, d := range r.Decisions {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", tsv(d.At), md(d.By), md(d.Kind), md(orNone(d.Rule)), md(d.Text))
		}
	}

	relevant, elsewhere := Relevant(r.NotTriggered)
	if len(relevant)+elsewhere > 0 {
		b.WriteString("\n### Rules considered and not triggered\n\n")
		for _, n := range relevant {
			fmt.Fprintf(b, "- %s (%s): %s\n", n.Rule, md(n.Jurisdiction), md(n.Why))
		}
		if elsewhere > 0 {
			fmt.Fprintf(b, "- %s: no affected residents in their jurisdiction (-o json lists them)\n", moreRules(elsewhere))
		}
	}
}

func comma(s []string) string { return strings.Join(s, ", ") }

func outcomeText(o Outcome) string { return strings.ReplaceAll(string(o), "_", " ") }

func orNone(s string) string { return orText(s, "-") }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// mdEscaper keeps text from people (titles, reasons, notes) from breaking a
// table or turning into markup or HTML when the register is rendered.
var mdEscaper = strings.NewReplacer(
	"\r\n", " ", "\n", " ", "\r", " ",
	`\`, `\\`, "|", `\|`, "*", `\*`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;",
)

func md(s string) string { return mdEscaper.Replace(s) }
