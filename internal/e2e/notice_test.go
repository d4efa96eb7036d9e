package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/app"
	"github.com/breachctl/breachctl/internal/cli"
	"github.com/breachctl/breachctl/internal/config"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/sendgridtest"
	"github.com/breachctl/breachctl/internal/store"
	"github.com/breachctl/breachctl/internal/subjects"
	"github.com/breachctl/breachctl/workflows"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// startDevEnv starts `dev` in-process with extra environment.
func startDevEnv(t testing.TB, dir string, env map[string]string) *app.Dev {
	t.Helper()
	all := map[string]string{}
	for k, v := range shortClockEnv {
		all[k] = v
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dev, err := app.StartDev(context.Background(), cfg, config.Dev{
		DataDir: dir, IP: "127.0.0.1", Port: 0, UIPort: -1, HTTPAddr: "127.0.0.1:0", Retention: cfg.Retention,
	}, logger)
	if err != nil {
		t.Fatalf("start dev: %v", err)
	}
	return dev
}

const notifyYAML = `organisation:
  name: Pixelcrunch GmbH
  contact_name: Data Protection Officer
  contact_email: privacy@pixelcrunch.example
  website: https://pixelcrunch.example
from: {email: privacy@pixelcrunch.example, name: Pixelcrunch Privacy}
recipients:
  - rule: eu-gdpr-art33
    name: Berliner Beauftragte für Datenschutz
    email: breaches@dpa.example
    locale: de
  - rule: br-lgpd-art48-anpd
    name: ANPD
    portal: https://www.gov.br/anpd/cis
    locale: pt-BR
`

// person is one row of the affected-people CSV.
type person struct{ id, email, name, locale, country, region string }

// affectedPeople makes n people across the notice languages and laws, with
// a few who cannot be mailed.
func affectedPeople(n int) []person {
	places := []struct{ country, region, locale string }{
		{"DE", "", "de-DE"}, {"FR", "", "fr-FR"}, {"ES", "", "es-ES"}, {"BR", "", "pt-BR"}, {"US", "CA", "en-US"}, {"IE", "", "en-IE"}, {"JP", "", "ja-JP"},
	}
	out := make([]person, n)
	for i := range out {
		p := places[i%len(places)]
		email := fmt.Sprintf("user%05d@mail%d.example", i, i%13)
		switch {
		case i%401 == 7:
			email = "" // no address on file
		case i%509 == 11:
			email = "not-an-address"
		}
		out[i] = person{id: fmt.Sprintf("u%05d", i), email: email, name: fmt.Sprintf("Person %d", i), locale: p.locale, country: p.country, region: p.region}
	}
	return out
}

func writePeopleCSV(t testing.TB, path string, people []person, seen time.Time) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,email,name,locale,country,region,updated_at\n")
	for _, p := range people {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", p.id, p.email, p.name, p.locale, p.country, p.region, seen.Format(time.RFC3339))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// subjectKey is the person's key in the incident's ledger: keyed with the
// store's secret (docs/adr/0006-keyed-subject-keys.md).
func subjectKey(t testing.TB, st *store.Store, incidentID string, p person) [16]byte {
	t.Helper()
	k, err := st.SubjectKeyer(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	return k.Key(subjects.Person{ID: p.id, Email: p.email}.Key())
}

func noticeOf(st incident.Status, id string) *incident.Notice {
	for i := range st.Notices {
		if st.Notices[i].ID == id {
			return &st.Notices[i]
		}
	}
	return nil
}

// TestNoticesReachEveryoneOnce runs notices end to end on the embedded
// server against a loopback SendGrid that rate-limits and fails some
// requests: every person in scope is mailed exactly once, in their
// language, across two notices whose laws overlap; the authority gets its
// email and the portal-only authority its report to file.
func TestNoticesReachEveryoneOnce(t *testing.T) {
	dir := t.TempDir()
	sg := sendgridtest.NewServer(sendgridtest.Options{APIKey: "SG.e2e-key", RateLimited: 0.15, ServerError: 0.15, Seed: 5})
	defer sg.Close()
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	rulesDir, _ := filepath.Abs(filepath.Join("..", "..", "examples", "rules"))
	webhookKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&webhookKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SENDGRID_WEBHOOK_PUBLIC_KEY": base64.StdEncoding.EncodeToString(pub),
		"SENDGRID_API_KEY":            "SG.e2e-key", "SENDGRID_BASE_URL": sg.URL(), "BREACHCTL_NOTIFY": notifyPath,
		"BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db"), "BREACHCTL_RULES_DIR": rulesDir,
	}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := devCLI(t, dev, env)

	aware := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var st incident.Status
	c.ok(&st, "open", "--title", "Account database copied", "--aware-at", aware.Format(time.RFC3339),
		"--system", "accounts", "--region", "EU", "--category", "name,email,password_hash,api_key",
		"--risk", "high", "--risk-justification", "API keys allow access to customers' images")
	people := affectedPeople(2100)
	csvPath := filepath.Join(dir, "affected.csv")
	writePeopleCSV(t, csvPath, people, aware.Add(-time.Hour))
	var scoped struct {
		Incident incident.Status `json:"incident"`
	}
	c.ok(&scoped, "scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"),
		"--source", "accounts="+csvPath)
	clocks := map[string]incident.ClockState{}
	for _, cl := range scoped.Incident.Clocks {
		clocks[cl.Rule] = cl.State
	}
	for _, rule := range []string{"eu-gdpr-art34", "eu-gdpr-art33", "acme-privacy-policy-users", "br-lgpd-art48-anpd"} {
		if clocks[rule] != incident.ClockRunning {
			t.Fatalf("clock %s is %q after scoping; clocks: %v", rule, clocks[rule], clocks)
		}
	}

	// An obligation that is not there, or a mix of kinds, is refused by name.
	if code, _, errOut := c.run("approve", st.ID, "eu-gdpr-art34", "eu-gdpr-art33"); code != 2 || !strings.Contains(errOut, "separate notices") {
		t.Fatalf("approving a mix of kinds: exit %d: %s", code, errOut)
	}

	// First the GDPR notice to the people in the EU; then the company's own
	// promise, which covers everyone: the EU people are not mailed again.
	noticeFile := filepath.Join(dir, "notice.yaml")
	if err := os.WriteFile(noticeFile, []byte(`what_happened: |
  On 20 November an attacker copied part of our account database.
likely_consequences: Your API key could be used to compress images on your account.
measures_taken: We revoked every API key and reset passwords.
what_you_can_do: Create a new API key in your dashboard.
translations:
  de:
    what_happened: Am 20. November hat ein Angreifer einen Teil unserer Kontodatenbank kopiert.
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok(nil, "approve", st.ID, "eu-gdpr-art34", "--file", noticeFile)
	gdprNotice := incident.NoticeID(st.ID, "eu-gdpr-art34")
	waitNotice := func(id string, want incident.NoticeState) incident.Notice {
		t.Helper()
		var n *incident.Notice
		eventually(t, 3*time.Minute, "notice "+id+" "+string(want), func() bool {
			var s incident.Status
			c.ok(&s, "show", st.ID)
			n = noticeOf(s, id)
			return n != nil && n.State != incident.NoticeSending
		})
		if n.State != want {
			t.Fatalf("notice %s is %s (%s), want %s", id, n.State, n.Error, want)
		}
		return *n
	}
	// Met means given: people without an address were not given the
	// notice, so it is incomplete and its clock stays open (until the
	// addresses are fixed and it is approved again, below).
	gdpr := waitNotice(gdprNotice, incident.NoticeIncomplete)
	c.ok(nil, "approve", st.ID, "acme-privacy-policy-users", "--file", noticeFile)
	promise := waitNotice(incident.NoticeID(st.ID, "acme-privacy-policy-users"), incident.NoticeIncomplete)
	{
		var s incident.Status
		c.ok(&s, "show", st.ID)
		for _, rule := range []string{"eu-gdpr-art34", "acme-privacy-policy-users"} {
			if cl := clockOf(s, rule); cl == nil || !cl.State.Open() {
				t.Errorf("clock %s after a notice that left people unreached: %+v; want it open", rule, cl)
			}
		}
		if !hasEntry(s, "notice_incomplete", "without a usable address") {
			t.Error("the timeline does not say why the notice was not given")
		}
	}

	// Scoping rejected the rows with an invalid address (reported, not
	// dropped); the people without one are in the snapshot, unreachable.
	var eu, mailable, unreachable, rejected int
	for _, p := range people {
		if p.email != "" && !strings.Contains(p.email, "@") {
			rejected++
			continue
		}
		if incident.InGDPRArea(p.country) {
			eu++
		}
		if p.email == "" {
			unreachable++
			continue
		}
		mailable++
		if got := sg.RecipientCount(p.email); got != 1 {
			t.Errorf("%s was mailed %d times", p.id, got)
		}
	}
	if got := scoped.Incident.Snapshots[0].Rejected; got != rejected {
		t.Errorf("scoping rejected %d rows, want %d", got, rejected)
	}
	if gdpr.Counts.Read != eu || gdpr.Counts.Covered != 0 || gdpr.Counts.Expected != eu {
		t.Errorf("GDPR notice counts %+v; %d people in the EU", gdpr.Counts, eu)
	}
	// The promise covers whom the GDPR notice reached; the people it left
	// unreached are the promise's to reach (and it cannot either).
	if promise.Counts.Covered != gdpr.Counts.Accepted || promise.Counts.Read != len(people)-rejected {
		t.Errorf("promise notice counts %+v after the GDPR notice %+v", promise.Counts, gdpr.Counts)
	}
	if total := gdpr.Counts.Accepted + promise.Counts.Accepted; total != mailable || sg.Recipients() != mailable {
		t.Errorf("accepted %d, the sink has %d recipients; %d people can be mailed", total, sg.Recipients(), mailable)
	}
	if promise.Counts.Unreachable != unreachable || gdpr.Counts.Unreachable == 0 {
		t.Errorf("unreachable: %d under the promise, %d under the GDPR notice; want %d", promise.Counts.Unreachable, gdpr.Counts.Unreachable, unreachable)
	}
	if s := sg.Stats(); s.RateLimited+s.ServerError == 0 {
		t.Errorf("the sink injected no faults: %+v", s)
	}

	// Each person got the notice in their language, with their name, and
	// only the data categories the incident names.
	for _, d := range sg.Accepted() {
		if d.CustomArgs["breachctl_batch"] == "" || d.CustomArgs["incident"] != st.ID {
			t.Fatalf("a message lacks breachctl's custom args: %v", d.CustomArgs)
		}
	}

	// The ledger has every mailable person once, accepted with a message ID.
	ledger, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "breachctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	for _, p := range people {
		if p.email != "" && !strings.Contains(p.email, "@") {
			continue // rejected by scoping
		}
		rec, err := ledger.Recipient(context.Background(), st.ID, "individuals", subjectKey(t, ledger, st.ID, p))
		if err != nil {
			t.Fatalf("%s is not in the ledger: %v", p.id, err)
		}
		switch {
		case p.email == "":
			if rec.State != "unreachable" {
				t.Errorf("%s (no usable address) is %s in the ledger", p.id, rec.State)
			}
		case rec.State != "accepted" || rec.MessageID == "":
			t.Errorf("%s is %s (message %q) in the ledger", p.id, rec.State, rec.MessageID)
		}
	}

	// SendGrid's Event Webhook reports a delivery, a bounce and a drop; the
	// ledger records each against its person, and those not reached count
	// toward a substitute notice.
	batchOf := map[string]string{}
	for _, d := range sg.Accepted() {
		batchOf[d.Email] = d.CustomArgs["breachctl_batch"]
	}
	var events []map[string]any
	var reached []person
	for _, p := range people {
		if p.email == "" || !strings.Contains(p.email, "@") || !incident.InGDPRArea(p.country) {
			continue
		}
		reached = append(reached, p)
		if len(reached) == 3 {
			break
		}
	}
	for i, ev := range []string{"delivered", "bounce", "dropped"} {
		p := reached[i]
		key := subjectKey(t, ledger, st.ID, p)
		events = append(events, map[string]any{"email": p.email, "event": ev, "timestamp": time.Now().Unix(), "sg_event_id": fmt.Sprintf("ev-%d", i),
			"reason": "550 mailbox unavailable", "breachctl_batch": batchOf[p.email], "breachctl_subject": hex.EncodeToString(key[:])})
	}
	events = append(events, map[string]any{"email": "someone@else.example", "event": "delivered", "timestamp": time.Now().Unix()})
	code, answer, err := postEvents(webhookKey, "http://"+dev.HTTPAddr+"/sendgrid/events", events)
	if err != nil || code != http.StatusOK || !strings.Contains(answer, `"skipped":1`) {
		t.Fatalf("event webhook: %d %s %v", code, answer, err)
	}
	for i, want := range []string{"delivered", "bounced", "dropped"} {
		rec, err := ledger.Recipient(context.Background(), st.ID, "individuals", subjectKey(t, ledger, st.ID, reached[i]))
		if err != nil || rec.State != want {
			t.Errorf("%s after a %s event: %+v %v", reached[i].id, want, rec, err)
		}
	}
	var deliveries []struct {
		Notice     string `json:"Notice"`
		Bounced    int    `json:"Bounced"`
		Dropped    int    `json:"Dropped"`
		Delivered  int    `json:"Delivered"`
		NotReached int    `json:"not_reached"`
	}
	c.ok(&deliveries, "deliveries", st.ID)
	// The people without an address count under the promise now, the
	// notice that took them over; the bounce and the drop under the GDPR one.
	if len(deliveries) != 2 || deliveries[0].Bounced != 1 || deliveries[0].Dropped != 1 || deliveries[0].Delivered != 1 ||
		deliveries[0].NotReached != 2 || deliveries[1].NotReached != promise.Counts.Unreachable {
		t.Errorf("deliveries: %+v", deliveries)
	}

	// The authority by email; the Brazilian one through its portal.
	c.ok(nil, "approve", st.ID, "eu-gdpr-art33", "--subject-categories", "customers", "--file", noticeFile)
	dpa := waitNotice(incident.NoticeID(st.ID, "eu-gdpr-art33"), incident.NoticeSent)
	if len(dpa.Deliveries) != 1 || dpa.Deliveries[0].MessageID == "" || sg.RecipientCount("breaches@dpa.example") != 1 {
		t.Fatalf("authority notice: %+v", dpa)
	}
	c.ok(nil, "approve", st.ID, "br-lgpd-art48-anpd", "--file", noticeFile)
	anpd := waitNotice(incident.NoticeID(st.ID, "br-lgpd-art48-anpd"), incident.NoticeAwaitingFiling)
	if len(anpd.Filings) != 1 || !strings.Contains(anpd.Filings[0].Document, "Pixelcrunch") {
		t.Fatalf("portal filing: %+v", anpd.Filings)
	}
	c.ok(&st, "filed", st.ID, "br-lgpd-art48-anpd", "CIS-2026-0042")

	// The addresses are found: scoped again, both notices approved again
	// reach exactly the people they had not, and meet their clocks.
	fixed := slices.Clone(people)
	var found []person
	for i := range fixed {
		if fixed[i].email == "" {
			fixed[i].email = fmt.Sprintf("found%05d@mail.example", i)
			found = append(found, fixed[i])
		}
	}
	writePeopleCSV(t, csvPath, fixed, aware.Add(-time.Hour))
	c.ok(nil, "scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"), "--source", "accounts="+csvPath)
	before := sg.Recipients()
	c.ok(nil, "approve", st.ID, "eu-gdpr-art34", "--file", noticeFile)
	gdpr2 := waitNotice(gdprNotice+"-2", incident.NoticeSent)
	c.ok(nil, "approve", st.ID, "acme-privacy-policy-users", "--file", noticeFile)
	promise2 := waitNotice(incident.NoticeID(st.ID, "acme-privacy-policy-users")+"-2", incident.NoticeSent)
	if got := sg.Recipients() - before; got != len(found) || gdpr2.Counts.Accepted+promise2.Counts.Accepted != len(found) {
		t.Errorf("approved again: %d more recipients, %d + %d accepted; want the %d people found", got, gdpr2.Counts.Accepted, promise2.Counts.Accepted, len(found))
	}
	for _, p := range found {
		if got := sg.RecipientCount(p.email); got != 1 {
			t.Errorf("%s, found, was mailed %d times", p.id, got)
		}
	}
	for _, p := range people {
		if p.email != "" && strings.Contains(p.email, "@") && sg.RecipientCount(p.email) != 1 {
			t.Errorf("%s was mailed %d times", p.id, sg.RecipientCount(p.email))
		}
	}
	c.ok(&st, "show", st.ID)
	for _, rule := range []string{"eu-gdpr-art34", "eu-gdpr-art33", "acme-privacy-policy-users", "br-lgpd-art48-anpd"} {
		if cl := clockOf(st, rule); cl == nil || cl.State != incident.ClockMet || cl.NoticeID == "" {
			t.Errorf("clock %s after its notice: %+v", rule, cl)
		}
	}
	if !hasEntry(st, "clock_met", "before the deadline") {
		t.Error("the timeline does not record an obligation met")
	}
	// `watch` on a finished incident prints how the last notice went.
	if code, out, errOut := c.run("watch", st.ID, "--rule", "eu-gdpr-art34"); code != 0 || !strings.Contains(out, "accepted for delivery") {
		t.Errorf("watch: exit %d: %s %s", code, out, errOut)
	}
	// The notice's own history holds keys and counts, never a person.
	raw := readableHistory(t, workflowHistory(t, dev, workflows.NoticeWorkflowID(gdprNotice)))
	for _, p := range people[:50] {
		if p.email != "" && strings.Contains(raw, p.email) || strings.Contains(raw, p.name+"\"") {
			t.Errorf("the notice's history holds %s's address or name", p.id)
		}
	}
	captureWorkflowHistories(t, dev, incident.WorkflowID(st.ID), workflows.NoticeWorkflowID(gdprNotice), workflows.NoticeWorkflowID(incident.NoticeID(st.ID, "br-lgpd-art48-anpd")))
	if slices.ContainsFunc(st.Timeline, func(e incident.Entry) bool { return strings.Contains(e.Text, "@mail") }) {
		t.Error("an address reached the timeline")
	}
}

// TestOutboxHoldsReadableNoticesInEachLanguage runs `dev` with no SendGrid
// key: every notice lands in the outbox as an .eml file a mail client can
// open, in the person's language, with their name, addressed to them.
func TestOutboxHoldsReadableNoticesInEachLanguage(t *testing.T) {
	dir := t.TempDir()
	notifyPath := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(notifyPath, []byte(notifyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BREACHCTL_NOTIFY": notifyPath, "BREACHCTL_STORE": "sqlite:" + filepath.Join(dir, "breachctl.db")}
	dev := startDevEnv(t, dir, env)
	defer dev.Stop()
	c := devCLI(t, dev, env)
	aware := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var st incident.Status
	c.ok(&st, "open", "--title", "Account database copied", "--aware-at", aware.Format(time.RFC3339),
		"--system", "accounts", "--region", "EU", "--category", "name,email,password_hash,api_key",
		"--description", "An attacker copied part of our account database.",
		"--risk", "high", "--risk-justification", "API keys allow access to customers' images")
	people := affectedPeople(14)
	csvPath := filepath.Join(dir, "affected.csv")
	writePeopleCSV(t, csvPath, people, aware.Add(-time.Hour))
	c.ok(nil, "scope", st.ID, "--datamap", filepath.Join("..", "..", "examples", "datamaps", "image-compression.yaml"), "--source", "accounts="+csvPath)
	var scoped incident.Status
	c.ok(&scoped, "show", st.ID)
	var individuals, scopes []string
	for _, cl := range scoped.Clocks {
		if cl.Notify == "individuals" && cl.State.Open() {
			individuals = append(individuals, cl.Rule)
			scopes = append(scopes, cl.Residents)
		}
	}
	if !slices.Contains(individuals, "eu-gdpr-art34") || !slices.Contains(individuals, "br-lgpd-art48-titulares") {
		t.Fatalf("notices to people after scoping: %v", individuals)
	}
	// One notice for every law that asks for one: each person gets one email.
	code, out, errOut := c.run(append([]string{"approve", st.ID}, individuals...)...)
	if code != 2 || !strings.Contains(errOut, "likely_consequences") {
		t.Fatalf("approving a notice that lacks what the law asks: exit %d: %s", code, errOut)
	}
	code, out, errOut = c.run(append([]string{"approve", st.ID}, append(individuals, "--watch", "--interval", "200ms",
		"--consequences", "Someone could sign in to your account.", "--measures", "We reset every password.",
		"--what-you-can-do", "Choose a new password.")...)...)
	// One of the people has no address: the notice is not given to
	// everyone, and --watch says so with its exit code.
	if code != cli.ExitNotGiven || !strings.Contains(out, "accepted for delivery") || !strings.Contains(errOut, "without a usable address") {
		t.Fatalf("approve --watch: exit %d\n%s\n%s", code, out, errOut)
	}

	files, err := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // country -> words of the subject in the person's language
		"DE": "Wichtige Informationen", "FR": "Information importante", "ES": "Información importante",
		"BR": "Informação importante", "US": "Notice of Data Breach", "IE": "Important information",
	}
	byAddress := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("%s is not a readable message: %v", filepath.Base(f), err)
		}
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil {
			t.Fatalf("%s: To: %v", filepath.Base(f), err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := byAddress[to.Address]; dup {
			t.Errorf("%s has two messages in the outbox", to.Address)
		}
		byAddress[to.Address] = subject
		body, _ := io.ReadAll(m.Body)
		if strings.Contains(string(body), "{{") {
			t.Errorf("%s: a tag was left unreplaced", filepath.Base(f))
		}
		if !strings.Contains(string(raw), "Pixelcrunch GmbH") {
			t.Errorf("%s does not name the organisation", filepath.Base(f))
		}
	}
	mailable := 0
	for _, p := range people {
		region := p.country
		if p.region != "" {
			region += "-" + p.region
		}
		covered := slices.ContainsFunc(scopes, func(scope string) bool { return rules.InScope(region, scope) })
		if p.email == "" || !strings.Contains(p.email, "@") || !covered {
			continue
		}
		mailable++
		subject, ok := byAddress[p.email]
		switch {
		case !ok:
			t.Errorf("no message for %s (%s)", p.id, p.country)
		case !strings.Contains(subject, want[p.country]):
			t.Errorf("%s (%s, %s) got the subject %q", p.id, p.country, p.locale, subject)
		}
	}
	if len(files) != mailable {
		t.Errorf("%d messages in the outbox for %d people with an address in scope of %v: %v", len(files), mailable, scopes, byAddress)
	}
}

// devCLI runs the CLI against dev, with env added to its environment.
func devCLI(t *testing.T, dev *app.Dev, env map[string]string) cliRunner {
	cliEnv := map[string]string{"BREACHCTL_ACTOR": "cli:e2e", "BREACHCTL_LOG_LEVEL": "warn"}
	for k, v := range env {
		cliEnv[k] = v
	}
	return cliRunner{t: t, address: dev.Server.FrontendAddress(), env: cliEnv}
}

// workflowHistory reads a workflow's whole history from dev.
func workflowHistory(t *testing.T, dev *app.Dev, workflowID string) *historypb.History {
	t.Helper()
	cl, err := orchestrator.Dial(context.Background(), config.Temporal{Address: dev.Server.FrontendAddress(), Namespace: dev.Server.Namespace()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var h historypb.History
	iter := cl.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	return &h
}
