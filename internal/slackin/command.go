package slackin

import (
	"fmt"
	"slices"
	"strings"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
)

// command is one parsed `/breach` line.
type command struct {
	Action   Action
	Incident string   // canonical ID, when the subcommand names one
	Text     string   // note text, close reason, or ack's [RULE] [text]
	Rules    []string // approve
	Role     string   // assign: one of incident.TeamRoles
	Person   string   // assign: slack:USERID, an email address or a name
	State    string   // list: open, overdue, closed or all
	// Yes: close confirms leaving obligations overdue with no notice
	// given (`/breach close INC --yes reason`).
	Yes bool
}

// Usage is the help text, one line per subcommand.
const Usage = "*Usage* of `/breach`:\n" +
	"• `/breach open`: report a breach (opens a form)\n" +
	"• `/breach status [INC-ID]`: where an incident stands (without an ID: the open ones)\n" +
	"• `/breach list [open|overdue|closed|all]`: incidents, open ones by default\n" +
	"• `/breach note INC-ID text`: add a note to the timeline\n" +
	"• `/breach ack INC-ID [RULE] [text]`: you are on it: stops the paging (of one obligation with RULE), never a clock\n" +
	"• `/breach scope INC-ID`: how to scope the affected people\n" +
	"• `/breach close INC-ID [--yes] reason`: close an incident (--yes: with obligations overdue and no notice given)\n" +
	"• `/breach assign INC-ID ROLE @person`: give someone a role: commander, dpo, legal or scribe\n" +
	"• `/breach approve INC-ID RULE...`: write the notice's texts and approve it under one or more obligations; " +
	"where two approvers are needed it is recorded as a draft\n" +
	"• Drafts waiting for approval are on the pinned summary and in `/breach status INC-ID`, with *Preview*, " +
	"*Approve draft* (one approval per person; the last one needed sends) and *Reject*\n" +
	"• `/breach help`: this text"

// usageError is malformed command text: the answer says what is wrong, then
// the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseCommand reads the text after `/breach`. Slack escapes &, < and > in
// it; they are given back.
func parseCommand(text string) (command, error) {
	text = unescapeSlack(text)
	name, rest := nextWord(text)
	switch strings.ToLower(name) {
	case "", "help":
		return command{Action: ActionHelp}, nil
	case "open":
		if rest != "" {
			return command{}, usagef("`open` takes nothing after it: the form asks for the facts")
		}
		return command{Action: ActionOpen}, nil
	case "status":
		c := command{Action: ActionStatus}
		if rest == "" {
			return c, nil
		}
		id, extra := nextWord(rest)
		if extra != "" {
			return command{}, usagef("`status` takes one incident ID")
		}
		return withID(c, id)
	case "list":
		c := command{Action: ActionList, State: "open"}
		if rest == "" {
			return c, nil
		}
		state, extra := nextWord(rest)
		state = strings.ToLower(state)
		if extra != "" || !slices.Contains(orchestrator.ListStates, state) {
			return command{}, usagef("`list` takes one of %s", strings.Join(orchestrator.ListStates, ", "))
		}
		c.State = state
		return c, nil
	case "note":
		id, note := nextWord(rest)
		if id == "" || note == "" {
			return command{}, usagef("`note` needs an incident ID and the text of the note")
		}
		return withID(command{Action: ActionNote, Text: note}, id)
	case "ack":
		id, text := nextWord(rest)
		if id == "" {
			return command{}, usagef("`ack` needs an incident ID")
		}
		return withID(command{Action: ActionAck, Text: text}, id)
	case "scope":
		id, extra := nextWord(rest)
		if id == "" || extra != "" {
			return command{}, usagef("`scope` takes one incident ID")
		}
		return withID(command{Action: ActionScope}, id)
	case "close":
		id, reason := nextWord(rest)
		yes := false
		if first, more := nextWord(reason); first == "--yes" {
			yes, reason = true, more
		}
		if id == "" || reason == "" {
			return command{}, usagef("`close` needs an incident ID and the reason, which is kept on the timeline")
		}
		return withID(command{Action: ActionClose, Text: reason, Yes: yes}, id)
	case "assign":
		id, rest := nextWord(rest)
		if id == "" {
			return command{}, usagef("`assign` needs an incident ID, a role and the person")
		}
		c, err := withID(command{Action: ActionAssign}, id)
		if err != nil {
			return command{}, err
		}
		c.Role, c.Person, err = parseAssign(rest)
		if err != nil {
			return command{}, err
		}
		return c, nil
	case "approve":
		id, rules := nextWord(rest)
		if id == "" || rules == "" {
			return command{}, usagef("`approve` needs an incident ID and the rule of at least one obligation")
		}
		return withID(command{Action: ActionApprove, Rules: strings.Fields(rules)}, id)
	}
	return command{}, usagef("%q is not a /breach subcommand", truncate(name, 40))
}

func withID(c command, s string) (command, error) {
	id, err := incident.ParseID(s)
	if err != nil {
		return command{}, usagef("%q is not an incident ID like INC-20261120-7K3QX", truncate(s, 40))
	}
	c.Incident = id
	return c, nil
}

// nextWord splits off the first word and returns the rest trimmed, keeping
// the rest's inner spacing (a note is kept as typed).
func nextWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, isSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' }

var slackUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func unescapeSlack(s string) string { return slackUnescaper.Replace(s) }

// truncate shortens what a person typed before it is quoted back.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
