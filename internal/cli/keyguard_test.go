package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/seal"
)

// A client without the key that meets an encrypted incident says so before
// it sends anything: the close, its reason, never leaves.
func TestNoKeyClientRefusesToWriteToAnEncryptedIncident(t *testing.T) {
	st := statusFor(incident.Facts{Title: "t", AwareAt: now.Add(-time.Hour)})
	var sent []string
	var asked []string
	svc := &fakeIncidents{
		encryption: func(id string) (string, error) {
			asked = append(asked, id)
			return "k20261121", nil
		},
		close: func(id, reason string) (incident.Status, error) {
			sent = append(sent, "close "+reason)
			return st, nil
		},
		note: func(id, text, _ string) (incident.Entry, error) {
			sent = append(sent, "note "+text)
			return incident.Entry{}, nil
		},
		open: func(f incident.Facts, _ string) (incident.Status, error) {
			sent = append(sent, "open "+f.Title)
			return st, nil
		},
		show: func(string) (incident.Status, error) { return st, nil },
	}
	for _, args := range [][]string{
		{"close", st.ID, "--reason", "Contained", "--yes"},
		{"note", st.ID, "Logs pulled"},
		{"open", "--title", "Bucket exposed"},
	} {
		code, _, errOut := run(t, svc, nil, args...)
		if code != ExitInvalid || !strings.Contains(errOut, "this client has no encryption key (BREACHCTL_ENCRYPTION_KEYS)") ||
			!strings.Contains(errOut, `"k20261121"`) || !strings.Contains(errOut, "nothing was sent") {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if len(sent) != 0 {
		t.Fatalf("sent without the key: %v", sent)
	}
	if strings.Join(asked, ",") != st.ID+","+st.ID+"," {
		t.Fatalf("asked about %q", asked)
	}

	// With the key, nothing is asked and the close goes.
	entry, err := seal.NewEntry("k20261121")
	if err != nil {
		t.Fatal(err)
	}
	asked = nil
	if code, _, errOut := run(t, svc, map[string]string{"BREACHCTL_ENCRYPTION_KEYS": entry}, "close", st.ID, "--reason", "Contained", "--yes"); code != 0 || len(asked) != 0 || len(sent) != 1 {
		t.Fatalf("with the key: exit %d, asked %v, sent %v: %s", code, asked, sent, errOut)
	}
	// A plain namespace: the client without keys goes ahead.
	svc.encryption, sent = nil, nil
	if code, _, errOut := run(t, svc, nil, "close", st.ID, "--reason", "Contained", "--yes"); code != 0 || len(sent) != 1 {
		t.Fatalf("plain: exit %d, sent %v: %s", code, sent, errOut)
	}
}
