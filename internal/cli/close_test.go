package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

func runWithStdin(t *testing.T, svc Incidents, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{
		Stdout: &out, Stderr: &errb, Stdin: stdin, Now: func() time.Time { return now },
		Getenv: func(string) string { return "" },
		Connect: func(context.Context, config.Config, *slog.Logger) (Incidents, func(), error) {
			return svc, func() {}, nil
		},
	}
	return Run(context.Background(), e, args), out.String(), errb.String()
}

// "Notified; contained" while nothing was notified and the Art. 33 clock
// is overdue: the CLI lists what the close leaves open and asks; a script
// without --yes is refused; the answer reaches the workflow as
// AcknowledgeOpen.
func TestCloseAsksBeforeLeavingObligationsOpen(t *testing.T) {
	overdue := statusFor(incident.Facts{Title: "t", AwareAt: now.Add(-80 * time.Hour)})
	overdue.Clocks[0].State = incident.ClockOverdue
	var got []workflows.CloseRequest
	svc := &fakeIncidents{
		show: func(string) (incident.Status, error) { return overdue, nil },
		closeReq: func(_ string, req workflows.CloseRequest) (incident.Status, error) {
			got = append(got, req)
			st := overdue
			st.State, st.ClosedAt, st.CloseReason = incident.StateClosed, &now, req.Reason
			return st, nil
		},
	}
	args := []string{"close", overdue.ID, "--reason", "Notified; contained"}
	for name, stdin := range map[string]io.Reader{"no terminal": nil, "answered no": strings.NewReader("n\n"), "no answer": strings.NewReader("")} {
		code, _, errOut := runWithStdin(t, svc, stdin, args...)
		if code != ExitConflict || !strings.Contains(errOut, "eu-gdpr-art33 (notify authority, GDPR Art. 33(1)): overdue, due 2026-11-21T04:00:00Z, overdue 8h") ||
			!strings.Contains(errOut, "--yes") {
			t.Errorf("%s: exit %d: %s", name, code, errOut)
		}
	}
	if len(got) != 0 {
		t.Fatalf("closed without confirmation: %+v", got)
	}
	code, out, errOut := runWithStdin(t, svc, strings.NewReader("yes\n"), args...)
	if code != 0 || !strings.Contains(errOut, "Close anyway? [y/N]") || !strings.Contains(out, "Closed "+overdue.ID) || len(got) != 1 || !got[0].AcknowledgeOpen {
		t.Fatalf("confirmed: exit %d, %+v\n%s%s", code, got, out, errOut)
	}
	if code, _, errOut := runWithStdin(t, svc, nil, append(args, "--yes")...); code != 0 || len(got) != 2 || !got[1].AcknowledgeOpen {
		t.Fatalf("--yes: exit %d, %+v: %s", code, got, errOut)
	}

	// Nothing open: no question, and nothing acknowledged.
	met := overdue
	met.Clocks = []incident.Clock{overdue.Clocks[0]}
	met.Clocks[0].State = incident.ClockMet
	svc.show = func(string) (incident.Status, error) { return met, nil }
	if code, _, errOut := runWithStdin(t, svc, nil, args...); code != 0 || len(got) != 3 || got[2].AcknowledgeOpen || strings.Contains(errOut, "[y/N]") {
		t.Fatalf("nothing open: exit %d, %+v: %s", code, got, errOut)
	}
}
