package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/mailer"
	"github.com/breachctl/breachctl/internal/sendgridtest"
)

// TestARefusedNoticeMeetsNoClock: met means given, against a loopback that
// answers as SendGrid answers a misconfigured account. The authority's
// email refused 403 (an unverified sender), the people's notice refused 401
// (a revoked key) and then partly 400: no clock is met, each notice says
// why, `approve --watch` exits 7, and `deliveries` does not advise a
// substitute notice for an authority. Once the account is fixed, approving
// again gives each notice and meets its clock, mailing each person once.
func TestARefusedNoticeMeetsNoClock(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dev")
	}
	dir := t.TempDir()
	// partial: one batch's recipient refused 400, the others taken.
	var (
		mu           sync.Mutex
		partial      bool
		refusedBatch string
	)
	sg := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.e2e-key", CheckSchema: true, RefuseIf: func(m *sendgridtest.Mail) sendgridtest.Refusal {
		mu.Lock()
		defer mu.Unlock()
		if key := m.CustomArgs[mailer.ArgBatch]; partial && (refusedBatch == "" || refusedBatch == key) {
			refusedBatch = key
			return sendgridtest.RefuseInvalid
		}
		return sendgridtest.RefuseNone // the server's Refusal decides
	}})
	defer sg.Close()
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SENDGRID_API_KEY": "SG.e2e-key", "SENDGRID_BASE_URL": sg.URL(), "BREACHCTL_NOTIFY": notifyPath,
		"BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db")}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := devCLI(t, dev, env)
	people := faultPeople(2500)
	id := openScopedIncident(t, c, dir, people)
	texts := append([]string{"--watch", "--interval", "200ms"}, faultNoticeTexts...)
	approve := func(rule string, extra ...string) (int, string, string) {
		return c.run(append(append([]string{"approve", id, rule}, extra...), texts...)...)
	}
	openClock := func(rule string) {
		t.Helper()
		var st incident.Status
		c.ok(&st, "show", id)
		if cl := clockOf(st, rule); cl == nil || !cl.State.Open() {
			t.Errorf("%s after a notice not given: %+v; want it open", rule, cl)
		}
		if hasEntry(st, "clock_met", rule) {
			t.Errorf("the timeline has %s met", rule)
		}
	}

	// The authority: SendGrid refuses the sender.
	sg.SetRefusal(sendgridtest.RefuseUnverifiedSender)
	code, out, errOut := approve("eu-gdpr-art33", "--subject-categories", "customers")
	if code != cli.ExitNotGiven || !strings.Contains(errOut, "verified Sender Identity") {
		t.Fatalf("approve eu-gdpr-art33 with an unverified sender: exit %d\n%s\n%s", code, out, errOut)
	}
	openClock("eu-gdpr-art33")
	if code, out, _ := c.run("deliveries", id); code != 0 || strings.Contains(out, "substitute") {
		t.Errorf("deliveries for a refused authority email: exit %d\n%s", code, out)
	}

	// The people: the key is revoked (401), every batch refused.
	sg.SetRefusal(sendgridtest.RefuseBadKey)
	if code, out, errOut := approve("eu-gdpr-art34"); code != cli.ExitNotGiven || !strings.Contains(errOut, "2500 refused") {
		t.Fatalf("approve eu-gdpr-art34 with a revoked key: exit %d\n%s\n%s", code, out, errOut)
	}
	openClock("eu-gdpr-art34")

	// Approved again with the key fixed, but one batch's recipient refused
	// (400): a partial failure, still not given.
	sg.SetRefusal(sendgridtest.RefuseNone)
	mu.Lock()
	partial = true
	mu.Unlock()
	code, out, errOut = approve("eu-gdpr-art34")
	var st incident.Status
	c.ok(&st, "show", id)
	second := noticeOf(st, incident.NoticeID(id, "eu-gdpr-art34")+"-2")
	if code != cli.ExitNotGiven || second == nil || second.State != incident.NoticeIncomplete || second.Counts.Failed == 0 ||
		second.Counts.Accepted == 0 || second.Counts.Accepted+second.Counts.Failed != len(people) {
		t.Fatalf("a partly refused notice: exit %d, %+v\n%s\n%s", code, second, out, errOut)
	}
	openClock("eu-gdpr-art34")

	// Everything fixed: approved again, each notice is given.
	mu.Lock()
	partial = false
	mu.Unlock()
	if code, out, errOut := approve("eu-gdpr-art34"); code != 0 {
		t.Fatalf("approve eu-gdpr-art34 once fixed: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := approve("eu-gdpr-art33", "--subject-categories", "customers"); code != 0 {
		t.Fatalf("approve eu-gdpr-art33 once fixed: exit %d\n%s\n%s", code, out, errOut)
	}
	c.ok(&st, "show", id)
	for _, rule := range []string{"eu-gdpr-art33", "eu-gdpr-art34"} {
		if cl := clockOf(st, rule); cl == nil || cl.State != incident.ClockMet || !strings.HasSuffix(cl.NoticeID, "-2") && !strings.HasSuffix(cl.NoticeID, "-3") {
			t.Errorf("%s once its notice was given: %+v", rule, cl)
		}
	}
	for _, p := range people {
		if n := sg.RecipientCount(p.email); n != 1 {
			t.Fatalf("%s was mailed %d times", p.id, n)
		}
	}
	if v := sg.SchemaViolations(); len(v) != 0 {
		t.Errorf("requests outside SendGrid's published schema: %v", v)
	}
}
