package register

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// WriteJSON writes the register as indented JSON: everything, for scripts
// and archives.
func WriteJSON(w io.Writer, reg Register) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reg)
}

// CSVHeader names the CSV columns: the incident's, then the obligation's,
// then the notice that answered it.
var CSVHeader = []string{
	"incident_id", "title", "state", "outcome", "severity",
	"opened_at", "opened_by", "aware_at", "detected_at", "occurred_at", "closed_at", "close_reason",
	"reporter", "description", "systems", "data_categories", "regions", "affected", "affected_total", "scoped_people",
	"encrypted", "role", "risk_level", "risk_reasons", "outcome_reasons", "rules_not_triggered", "decisions", "ruleset_version",
	"rule", "obligation", "jurisdiction", "notify", "recipient", "citation", "clock_start", "starts_at", "due_at", "asap",
	"obligation_state", "overdue_at", "done_at", "late_by", "delay_reasons", "why",
	"notice_id", "notice_state", "approved_by", "approved_at", "sent_at",
	"accepted", "failed", "unreachable", "already_notified", "message_ids", "filing_references",
	// Added with the ledger's attempts: columns are only ever appended.
	"requests", "resent_batches", "resent_people", "mailed_twice", "maybe_twice", "resends", "notice_error",
}

// WriteCSV writes one row per obligation, the incident's columns repeated on
// each, and one row with the obligation columns empty for an incident that
// has none. That is the shape a DPO can load into a spreadsheet and filter:
// an incident has any number of obligations, which cannot be columns; with a
// row each, "every notice to an authority", "everything overdue" or "every
// GDPR Art. 33 deadline this year" is one filter, and every row still says
// which breach it is about. An incident with no obligation keeps its row, so
// breaches that were not notified are in the register too, with why.
// Lists inside a cell are joined with "; ", sentences with new lines.
func WriteCSV(w io.Writer, reg Register) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range reg.Incidents {
		inc := incidentCells(r)
		if len(r.Obligations) == 0 {
			if err := cw.Write(safeCells(append(inc, make([]string, len(CSVHeader)-len(inc))...))); err != nil {
				return err
			}
			continue
		}
		for _, o := range r.Obligations {
			row := append(append([]string{}, inc...), obligationCells(o)...)
			row = append(row, noticeCells(noticeFor(r, o))...)
			if err := cw.Write(safeCells(row)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func incidentCells(r Record) []string {
	f := r.Facts
	scoped := ""
	if f.Scoped != nil {
		scoped = strconv.Itoa(f.Scoped.People)
	}
	riskLevel, riskReasons := "", ""
	if r.Risk != nil {
		riskLevel, riskReasons = string(r.Risk.Level), lines(r.Risk.Reasons)
	}
	relevant, elsewhere := Relevant(r.NotTriggered)
	var nt []string
	for _, n := range relevant {
		nt = append(nt, n.Rule+": "+n.Why)
	}
	if elsewhere > 0 {
		nt = append(nt, moreRules(elsewhere)+": no affected residents in their jurisdiction")
	}
	var decisions []string
	for _, d := range r.Decisions {
		decisions = append(decisions, decisionLine(d))
	}
	return []string{
		r.ID, r.Title, string(r.State), string(r.Outcome), string(r.Severity),
		tsv(r.OpenedAt), r.OpenedBy, tsv(r.AwareAt), tsv(r.DetectedAt), tsp(r.OccurredAt), tsp(r.ClosedAt), r.CloseReason,
		f.Reporter, f.Description, semi(f.Systems), semi(f.DataCategories), semi(f.Regions), residents(f.Affected),
		strconv.Itoa(f.AffectedTotal), scoped,
		strconv.FormatBool(f.Encrypted), f.Role, riskLevel, riskReasons, lines(r.Reasons), lines(nt), lines(decisions), r.RulesetVersion,
	}
}

func obligationCells(o Obligation) []string {
	asap := ""
	if o.ASAP {
		asap = "true"
	}
	return []string{
		o.Rule, o.Title, o.Jurisdiction, o.Notify, o.Recipient, o.Citation, o.ClockStart, tsp(o.StartsAt), tsp(o.Due), asap,
		string(o.State), tsp(o.OverdueAt), tsp(o.DoneAt), o.Late, o.DelayReasons, lines(o.Why),
	}
}

func noticeCells(n *Notice) []string {
	if n == nil {
		return make([]string, 18)
	}
	var ids, refs []string
	for _, d := range n.Deliveries {
		if d.MessageID != "" {
			ids = append(ids, d.Recipient+": "+d.MessageID)
		}
	}
	for _, f := range n.Filings {
		if f.Reference != "" {
			refs = append(refs, f.Recipient+": "+f.Reference)
		}
	}
	var resends []string
	for _, r := range n.Resends {
		resends = append(resends, ResendLine(r))
	}
	c := n.Counts
	return []string{
		n.ID, string(n.State), n.ApprovedBy, tsv(n.ApprovedAt), tsp(n.SentAt),
		strconv.Itoa(c.Accepted), strconv.Itoa(c.Failed), strconv.Itoa(c.Unreachable), strconv.Itoa(c.Covered), semi(ids), semi(refs),
		strconv.Itoa(c.Requests), strconv.Itoa(c.Retried), strconv.Itoa(c.ResentRecipients), strconv.Itoa(c.Twice), strconv.Itoa(c.MaybeTwice),
		lines(resends), n.Error,
	}
}

// ResendLine is a batch sent more than once, in one line: its people, what
// became of them, and each attempt.
func ResendLine(r Resend) string {
	return fmt.Sprintf("batch %s (%d people) sent %d times, %s: %s", r.Batch, r.Recipients, r.Attempts, r.Verdict(), strings.Join(r.Why, "; "))
}

// Verdict says what the batch's attempts did to its people.
func (r Resend) Verdict() string {
	switch {
	case r.Taken > 1:
		return "mailed twice"
	case r.Taken == 1 && r.Unknown > 0:
		return "maybe mailed twice"
	case r.Taken == 1:
		return "mailed once"
	case r.Unknown > 0:
		return "fate unknown"
	}
	return "not mailed"
}

// noticeFor is the notice that answered an obligation: the one the clock
// names, else the latest under its rule (a failed one, say).
func noticeFor(r Record, o Obligation) *Notice {
	for i := range r.Notices {
		if o.NoticeID != "" && r.Notices[i].ID == o.NoticeID {
			return &r.Notices[i]
		}
	}
	for i := len(r.Notices) - 1; i >= 0; i-- {
		for _, rule := range r.Notices[i].Rules {
			if rule == o.Rule {
				return &r.Notices[i]
			}
		}
	}
	return nil
}

// safeCells defuses cells a spreadsheet would run as a formula (CSV
// injection): a title or description can come from an alerting system or a
// Slack form, and a leading apostrophe makes the cell plain text.
func safeCells(row []string) []string {
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}

func decisionLine(d Decision) string {
	s := tsv(d.At) + " " + d.By + " " + d.Kind
	if d.Rule != "" {
		s += " (" + d.Rule + ")"
	}
	return s + ": " + d.Text
}

func tsv(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func tsp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return tsv(*t)
}

func moreRules(n int) string {
	if n == 1 {
		return "1 more rule"
	}
	return fmt.Sprintf("%d more rules", n)
}

func semi(s []string) string  { return strings.Join(s, "; ") }
func lines(s []string) string { return strings.Join(s, "\n") }

func residents(rs []incident.Residents) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s %d", r.Region, r.Count)
	}
	return strings.Join(parts, "; ")
}
