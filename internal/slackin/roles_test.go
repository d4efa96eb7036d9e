package slackin

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseRoles(t *testing.T) {
	good := `# who may do what from Slack
default_role: reporter
users:
  U0123ABCD: [responder, commander]   # on call
  U0456EFGH: approver
  "W0789IJKL":
    - admin
    - responder
  U0999ZZZZ: []
`
	got, err := ParseRoles("roles.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := Roles{Default: RoleReporter, Users: map[string][]Role{
		"U0123ABCD": {RoleResponder, RoleCommander},
		"U0456EFGH": {RoleApprover},
		"W0789IJKL": {RoleAdmin, RoleResponder},
		"U0999ZZZZ": {},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	bad := []struct{ text, want string }{
		{"default_role: boss\n", "roles.yaml:1: default_role: \"boss\" is not a role"},
		{"users:\n  U1AAAA: [responder, chef]\n", "roles.yaml:2: user U1AAAA: \"chef\" is not a role"},
		{"\n\nadmins:\n", "roles.yaml:3: unknown key \"admins\""},
		{"users:\n  alice: admin\n", "roles.yaml:2: \"alice\" is not a Slack user ID"},
		{"users:\n  U1AAAA: admin\n  U1AAAA: reporter\n", "roles.yaml:3: user U1AAAA is given twice"},
		{"users:\n  U1AAAA: [admin\n", "roles.yaml:2: user U1AAAA: a list opened with ["},
		{"users:\n\tU1AAAA: admin\n", "roles.yaml:2: use spaces"},
		{"users:\n  U1AAAA: admin\n    U2BBBB: admin\n", "roles.yaml:3: user keys must line up"},
		{"users:\n  - admin\n", "roles.yaml:2: a \"- role\" item must follow a user key"},
		{"  default_role: admin\n", "roles.yaml:1: unexpected indentation"},
		{"default_role reporter\n", "roles.yaml:1: expected \"key: value\""},
	}
	for _, tt := range bad {
		_, err := ParseRoles("roles.yaml", []byte(tt.text))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestPermissions(t *testing.T) {
	roles := Roles{Default: RoleReporter, Users: map[string][]Role{
		"URESP": {RoleResponder}, "UCMDR": {RoleCommander}, "UAPPR": {RoleApprover},
		"UADMIN": {RoleAdmin}, "UBOTH": {RoleResponder, RoleApprover}, "UNONE": {},
	}}
	all := []Action{ActionHelp, ActionOpen, ActionStatus, ActionList, ActionNote, ActionAck, ActionScope, ActionPreview, ActionClose, ActionAssign, ActionApprove, ActionReject}
	allowed := map[string]string{ // user: the actions allowed
		"UREP":   "help open status list",
		"URESP":  "help open status list note ack scope preview",
		"UCMDR":  "help open status list note ack scope preview close assign",
		"UAPPR":  "help open status list preview approve reject",
		"UBOTH":  "help open status list note ack scope preview approve reject",
		"UADMIN": "help open status list note ack scope preview close assign approve reject",
		"UNONE":  "help",
	}
	for user, want := range allowed {
		var got []string
		for _, a := range all {
			if roles.Allows(user, a) {
				got = append(got, string(a))
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s may %v, want %s", user, got, want)
		}
	}
	if (Roles{}).Allows("UANY", ActionOpen) {
		t.Error("no default role, yet open is allowed")
	}
	for a, want := range map[Action]Role{ActionOpen: RoleReporter, ActionAck: RoleResponder, ActionClose: RoleCommander, ActionAssign: RoleCommander, ActionApprove: RoleApprover,
		ActionPreview: RoleResponder, ActionReject: RoleApprover} {
		if got := NeededFor(a); got != want {
			t.Errorf("NeededFor(%s) = %s, want %s", a, got, want)
		}
	}
}

func FuzzParseRoles(f *testing.F) {
	f.Add("default_role: reporter\nusers:\n  U1AAAA: [admin]\n  U2BBBB:\n    - approver\n")
	f.Add("users:\n  U1: x # c\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRoles("f", []byte(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Errorf("error without a line: %v", err)
			}
			return
		}
		for user, roles := range r.Users {
			if !validUserID(user) {
				t.Errorf("accepted user %q", user)
			}
			for _, role := range roles {
				if _, ok := parseRole(string(role)); !ok {
					t.Errorf("accepted role %q", role)
				}
			}
		}
	})
}

// TestWithResponders: without a roles file, the people breachctl pages
// may acknowledge (and note, and scope), and nothing more; with one, they
// keep what it gives them and the default, and others are unchanged.
func TestWithResponders(t *testing.T) {
	none := Roles{}.WithResponders([]string{"UPAGED"})
	for _, a := range []Action{ActionAck, ActionNote, ActionScope, ActionStatus} {
		if !none.Allows("UPAGED", a) {
			t.Errorf("a paged responder may not %s", a)
		}
	}
	for _, a := range []Action{ActionClose, ActionApprove, ActionAssign} {
		if none.Allows("UPAGED", a) {
			t.Errorf("a paged responder may %s", a)
		}
	}
	if none.Allows("UOTHER", ActionAck) {
		t.Error("someone not paged may ack")
	}

	file := Roles{Users: map[string][]Role{"UAPPR": {RoleApprover}}, Default: RoleReporter}
	got := file.WithResponders([]string{"UAPPR", "UPAGED"})
	if !got.Allows("UAPPR", ActionApprove) || !got.Allows("UAPPR", ActionAck) {
		t.Errorf("an approver who is paged: roles %v", got.Of("UAPPR"))
	}
	if r := got.Of("UPAGED"); !slices.Equal(r, []Role{RoleReporter, RoleResponder}) {
		t.Errorf("a paged person not in the file: roles %v, want the default and responder", r)
	}
	if r := got.Of("UOTHER"); !slices.Equal(r, []Role{RoleReporter}) {
		t.Errorf("someone else: %v", r)
	}
	if r := file.Of("UAPPR"); !slices.Equal(r, []Role{RoleApprover}) {
		t.Errorf("WithResponders changed the roles it was given: %v", r)
	}
}
