package slackin

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a Slack user may do with breachctl.
type Role string

const (
	RoleReporter  Role = "reporter"  // open, status, list, help
	RoleResponder Role = "responder" // + note, ack, scope, preview
	RoleCommander Role = "commander" // responder + close, assign
	RoleApprover  Role = "approver"  // reporter + preview, approve, reject (privacy or legal)
	RoleAdmin     Role = "admin"     // everything
)

// KnownRoles lists the roles, in the order a refusal names them.
var KnownRoles = []Role{RoleReporter, RoleResponder, RoleCommander, RoleApprover, RoleAdmin}

// Action is something a person asks for from Slack.
type Action string

const (
	ActionHelp    Action = "help"
	ActionOpen    Action = "open"
	ActionStatus  Action = "status"
	ActionList    Action = "list"
	ActionNote    Action = "note"
	ActionAck     Action = "ack"
	ActionScope   Action = "scope"
	ActionClose   Action = "close"
	ActionApprove Action = "approve"
	ActionAssign  Action = "assign"
	ActionPreview Action = "preview" // a draft's renderings
	ActionReject  Action = "reject"  // a draft
)

// grants says which actions each role allows, itself included (no
// inheritance to follow at run time: what a role allows reads off one line).
var grants = map[Role][]Action{
	RoleReporter:  {ActionHelp, ActionOpen, ActionStatus, ActionList},
	RoleResponder: {ActionHelp, ActionOpen, ActionStatus, ActionList, ActionNote, ActionAck, ActionScope, ActionPreview},
	RoleCommander: {ActionHelp, ActionOpen, ActionStatus, ActionList, ActionNote, ActionAck, ActionScope, ActionPreview, ActionClose, ActionAssign},
	RoleApprover:  {ActionHelp, ActionOpen, ActionStatus, ActionList, ActionPreview, ActionApprove, ActionReject},
	RoleAdmin: {ActionHelp, ActionOpen, ActionStatus, ActionList, ActionNote, ActionAck, ActionScope, ActionPreview, ActionClose, ActionAssign,
		ActionApprove, ActionReject},
}

// Roles says who holds which roles. The zero value gives nobody any role:
// everyone may ask for help and nothing else.
type Roles struct {
	// Users maps a Slack user ID (U0123ABCD) to its roles.
	Users map[string][]Role
	// Default is the role of a user not in Users; empty means none.
	Default Role
}

// WithResponders gives each of users the responder role, besides any the
// roles file gives them: the people breachctl invites to every incident
// channel and pages (BREACHCTL_SLACK_RESPONDERS, the Slack users of the
// escalation file) are told to acknowledge, so they may, with or without
// a roles file.
func (r Roles) WithResponders(users []string) Roles {
	out := Roles{Users: make(map[string][]Role, len(r.Users)+len(users)), Default: r.Default}
	for u, roles := range r.Users {
		out.Users[u] = slices.Clone(roles)
	}
	for _, u := range users {
		if u == "" {
			continue
		}
		roles, named := out.Users[u]
		if !named && r.Default != "" {
			roles = []Role{r.Default} // naming them must not take the default away
		}
		if !slices.Contains(roles, RoleResponder) {
			roles = append(roles, RoleResponder)
		}
		out.Users[u] = roles
	}
	return out
}

// Of returns the roles of a Slack user.
func (r Roles) Of(userID string) []Role {
	if roles, ok := r.Users[userID]; ok {
		return roles
	}
	if r.Default != "" {
		return []Role{r.Default}
	}
	return nil
}

// Allows reports whether a user may take an action. Help is for everyone.
func (r Roles) Allows(userID string, a Action) bool {
	if a == ActionHelp {
		return true
	}
	for _, role := range r.Of(userID) {
		if slices.Contains(grants[role], a) {
			return true
		}
	}
	return false
}

// NeededFor names the least role that allows an action.
func NeededFor(a Action) Role {
	for _, role := range KnownRoles {
		if slices.Contains(grants[role], a) {
			return role
		}
	}
	return RoleAdmin
}

func parseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	return r, slices.Contains(KnownRoles, r)
}

// ParseRoles reads the roles file, a small YAML subset:
//
//	# who may do what from Slack
//	default_role: reporter
//	users:
//	  U0123ABCD: [responder, commander]
//	  U0456EFGH: approver
//	  W0789IJKL:
//	    - admin
//
// Errors name the file (name) and the line. Unknown keys are errors, so a
// typo never silently leaves someone without a role or with too many.
func ParseRoles(name string, data []byte) (Roles, error) {
	p := rolesParser{name: name, roles: Roles{Users: map[string][]Role{}}}
	return p.parse(string(data))
}

type rolesParser struct {
	name  string
	roles Roles
	line  int
}

func (p *rolesParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...))
}

func (p *rolesParser) parse(text string) (Roles, error) {
	var (
		inUsers    bool   // inside users:
		listUser   string // the user whose "- role" items follow
		userIndent = -1   // the indentation of the user keys
		seenUsers  bool
		seenDef    bool
	)
	for i, raw := range strings.Split(text, "\n") {
		p.line = i + 1
		line := stripComment(strings.TrimRight(raw, " \t\r"))
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.ContainsRune(line, '\t') {
			return Roles{}, p.errorf("use spaces, not tabs, to indent")
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		line = strings.TrimSpace(line)

		if indent == 0 {
			inUsers, listUser = false, ""
			key, value, ok := strings.Cut(line, ":")
			if !ok {
				return Roles{}, p.errorf("expected \"key: value\", got %q", line)
			}
			value = unquote(strings.TrimSpace(value))
			switch strings.TrimSpace(key) {
			case "default_role":
				if seenDef {
					return Roles{}, p.errorf("default_role is given twice")
				}
				seenDef = true
				role, ok := parseRole(value)
				if !ok {
					return Roles{}, p.errorf("default_role: %q is not a role; known: %s", value, joinRoles())
				}
				p.roles.Default = role
			case "users":
				if seenUsers {
					return Roles{}, p.errorf("users is given twice")
				}
				seenUsers = true
				if value != "" && value != "{}" {
					return Roles{}, p.errorf("users: put each user on its own line below, indented")
				}
				inUsers = true
			default:
				return Roles{}, p.errorf("unknown key %q; known: default_role, users", key)
			}
			continue
		}

		if !inUsers {
			return Roles{}, p.errorf("unexpected indentation")
		}
		if item, ok := strings.CutPrefix(line, "-"); ok {
			if listUser == "" || indent <= userIndent {
				return Roles{}, p.errorf("a \"- role\" item must follow a user key, indented below it")
			}
			if err := p.addRoles(listUser, []string{item}); err != nil {
				return Roles{}, err
			}
			continue
		}
		if userIndent < 0 {
			userIndent = indent
		}
		if indent != userIndent {
			return Roles{}, p.errorf("user keys must line up (indent %d, this one %d)", userIndent, indent)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return Roles{}, p.errorf("expected \"USER_ID: [role, ...]\", got %q", line)
		}
		user := unquote(strings.TrimSpace(key))
		if !validUserID(user) {
			return Roles{}, p.errorf("%q is not a Slack user ID like U0123ABCD", user)
		}
		if _, dup := p.roles.Users[user]; dup {
			return Roles{}, p.errorf("user %s is given twice", user)
		}
		p.roles.Users[user] = []Role{}
		listUser = ""
		value = strings.TrimSpace(value)
		switch {
		case value == "":
			listUser = user // "- role" lines follow
		case strings.HasPrefix(value, "["):
			inner, ok := strings.CutSuffix(value, "]")
			if !ok {
				return Roles{}, p.errorf("user %s: a list opened with [ must close with ] on the same line", user)
			}
			items := strings.Split(strings.TrimPrefix(inner, "["), ",")
			if strings.TrimSpace(strings.TrimPrefix(inner, "[")) == "" {
				items = nil // [] is no role at all
			}
			if err := p.addRoles(user, items); err != nil {
				return Roles{}, err
			}
		default:
			if err := p.addRoles(user, []string{value}); err != nil {
				return Roles{}, err
			}
		}
	}
	return p.roles, nil
}

func (p *rolesParser) addRoles(user string, items []string) error {
	for _, item := range items {
		s := unquote(strings.TrimSpace(item))
		role, ok := parseRole(s)
		if !ok {
			return p.errorf("user %s: %q is not a role; known: %s", user, s, joinRoles())
		}
		if !slices.Contains(p.roles.Users[user], role) {
			p.roles.Users[user] = append(p.roles.Users[user], role)
		}
	}
	return nil
}

// stripComment drops a # comment that starts a line or follows a space.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ') {
			return strings.TrimRight(s[:i], " ")
		}
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// validUserID accepts Slack user IDs: U or W, then capitals and digits.
func validUserID(s string) bool {
	if len(s) < 3 || len(s) > 24 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func joinRoles() string {
	names := make([]string, len(KnownRoles))
	for i, r := range KnownRoles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
