package notifyconfig

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/internal/yamlfile"
	"github.com/breachctl/breachctl/templates"
)

const full = `organisation:
  name: Pixelsmith Ltd
  contact_name: Data Protection Officer
  contact_email: privacy@pixelsmith.example
  contact_phone: "+49 30 1234567"
  website: https://pixelsmith.example
  address: |
    Pixelsmith Ltd
    Torstraße 1, 10119 Berlin
from: {email: privacy@pixelsmith.example, name: Pixelsmith Privacy Team}
reply_to: {email: dpo@pixelsmith.example, name: Data Protection Officer}
sending:
  concurrency: 16
  rate: 2.5
  page_size: 5000
  partitions: 2
  sandbox: true
recipients:
  - rule: eu-gdpr-art33
    name: Data Protection Commission
    email: breaches@dataprotection.ie
    locale: en
  - notify: authority
    jurisdiction: br
    name: ANPD
    portal: https://www.gov.br/anpd/cis
    locale: pt-br
  - notify: controller
    name: Acme Corp security team
    email: [security@acme.example, dpo@acme.example]
    portal: https://acme.example/security/report
`

func TestParse(t *testing.T) {
	minimal := "organisation: {name: Pixelsmith Ltd, contact_name: DPO}\nfrom: {email: privacy@pixelsmith.example}\n"
	cases := []struct {
		name string
		yaml string
		want *Config
	}{
		{"every field", full, &Config{
			File: "notify.yaml",
			Organisation: templates.Organisation{
				Name: "Pixelsmith Ltd", ContactName: "Data Protection Officer", ContactEmail: "privacy@pixelsmith.example",
				ContactPhone: "+49 30 1234567", Website: "https://pixelsmith.example",
				Address: "Pixelsmith Ltd\nTorstraße 1, 10119 Berlin",
			},
			From:    Address{Email: "privacy@pixelsmith.example", Name: "Pixelsmith Privacy Team"},
			ReplyTo: &Address{Email: "dpo@pixelsmith.example", Name: "Data Protection Officer"},
			Sending: Sending{Concurrency: 16, Rate: 2.5, PageSize: 5000, Partitions: 2, Sandbox: true, Unconfirmed: DefaultSending().Unconfirmed},
			Recipients: []Entry{
				{Rule: "eu-gdpr-art33", Line: 19, Recipient: Recipient{
					Name: "Data Protection Commission", Emails: []string{"breaches@dataprotection.ie"}, Locale: "en"}},
				{Notify: "authority", Jurisdiction: "BR", Line: 23, Recipient: Recipient{
					Name: "ANPD", Portal: "https://www.gov.br/anpd/cis", Locale: "pt-BR"}},
				{Notify: "controller", Line: 28, Recipient: Recipient{
					Name: "Acme Corp security team", Emails: []string{"security@acme.example", "dpo@acme.example"},
					Portal: "https://acme.example/security/report", Locale: "en"}},
			},
		}},
		{"defaults", minimal, &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending:      Sending{Concurrency: 8, Rate: 0, PageSize: 10000, Partitions: 4, Unconfirmed: DefaultSending().Unconfirmed},
		}},
		{"empty sections are absent", minimal + "reply_to:\nsending:\nrecipients:\n", &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending:      DefaultSending(),
		}},
		{"unconfirmed", minimal + "sending:\n  unconfirmed: {wait: 10m, then: hold, email_activity: true}\n", &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending: Sending{Concurrency: 8, PageSize: 10000, Partitions: 4,
				Unconfirmed: Unconfirmed{Wait: 10 * time.Minute, Then: UnconfirmedHold, EmailActivity: true}},
		}},
		{"some sending fields", minimal + "sending: {rate: 10, sandbox: false}\n", &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending:      Sending{Concurrency: 8, Rate: 10, PageSize: 10000, Partitions: 4, Unconfirmed: DefaultSending().Unconfirmed},
		}},
		{"bounds are inclusive", minimal + "sending: {concurrency: 64, page_size: 1000, partitions: 16}\n", &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending:      Sending{Concurrency: 64, PageSize: 1000, Partitions: 16, Unconfirmed: DefaultSending().Unconfirmed},
		}},
		{"locales in canonical form", minimal + `recipients:
  - {notify: media, name: A, email: a@example.org, locale: DE-at}
  - {notify: media, name: B, email: b@example.org, locale: zh-hant-tw}
  - {notify: media, name: C, email: c@example.org, locale: ""}
`, &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			Sending:      DefaultSending(),
			Recipients: []Entry{
				{Notify: "media", Line: 4, Recipient: Recipient{Name: "A", Emails: []string{"a@example.org"}, Locale: "de-AT"}},
				{Notify: "media", Line: 5, Recipient: Recipient{Name: "B", Emails: []string{"b@example.org"}, Locale: "zh-Hant-TW"}},
				{Notify: "media", Line: 6, Recipient: Recipient{Name: "C", Emails: []string{"c@example.org"}, Locale: "en"}},
			},
		}},
		{"anchors and aliases", `organisation: &org {name: Pixelsmith Ltd, contact_name: DPO}
from: &from {email: privacy@pixelsmith.example}
reply_to: *from
`, &Config{
			File:         "notify.yaml",
			Organisation: templates.Organisation{Name: "Pixelsmith Ltd", ContactName: "DPO"},
			From:         Address{Email: "privacy@pixelsmith.example"},
			ReplyTo:      &Address{Email: "privacy@pixelsmith.example"},
			Sending:      DefaultSending(),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.yaml), "notify.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, c.want)
				if !reflect.DeepEqual(got.Recipients, c.want.Recipients) {
					t.Errorf("recipients =\n%+v\nwant\n%+v", got.Recipients, c.want.Recipients)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const org = "organisation: {name: P, contact_name: DPO}\nfrom: {email: p@example.org}\n"
	cases := []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{"empty file", "", []string{`notify.yaml:1: the file is empty: it needs organisation and from`}},
		{"only a comment", "# nothing yet\n", []string{`notify.yaml:1: the file is empty: it needs organisation and from`}},
		{"syntax: flow sequence", "organisation:\n  name: [P\n", []string{"notify.yaml:2: did not find expected ',' or ']'"}},
		{"syntax: unclosed on line 1, found at the end", "organisation: {name: P", []string{"notify.yaml:2: did not find expected ',' or '}'"}},
		{"syntax: nested flow", "organisation: {name: P}\n\nfrom:\n  email: [a, b,\n c\n\nsending: {}\n", []string{"notify.yaml:4: did not find expected ',' or ']'"}},
		{"syntax: tag handle", "organisation: !x!y {}\n", []string{"notify.yaml:1: found undefined tag handle"}},
		{"syntax: sequence in a mapping", "organisation: {}\n- from\n", []string{"notify.yaml:2: did not find expected key"}},
		{"syntax: tab", "organisation:\n\tname: P\n", []string{"notify.yaml:2: found character that cannot start any token"}},
		{"syntax: unknown anchor", "organisation: {}\nfrom: *sender\n", []string{"notify.yaml:2: unknown anchor 'sender' referenced"}},
		{"not a mapping", "- a\n- b\n", []string{"notify.yaml:1: the file must be a mapping (organisation, from, reply_to, sending, recipients)"}},
		{"required sections", "sending: {}\n", []string{
			`notify.yaml:1: organisation: required: who gives the notices (name, contact_name, contact_email, ...)`,
			`notify.yaml:1: from: required: the sender of every notice (email, name)`,
		}},
		{"null sections", "organisation:\nfrom: ~\n", []string{
			`notify.yaml:1: organisation: required: who gives the notices (name, contact_name, contact_email, ...)`,
			`notify.yaml:2: from: required: the sender of every notice (email, name)`,
		}},
		{"text fields", org + "recipients:\n  - {notify: media, name: [a], email: {a: b}, locale: [en], portal: 7, notify: owner}\n", []string{
			`notify.yaml:4: recipients[0].notify: already given at line 4`,
			`notify.yaml:4: recipients[0].name: must be text`,
			`notify.yaml:4: recipients[0].email: must be an address or a list of addresses`,
			`notify.yaml:4: recipients[0].portal: "7" is not an http or https URL`,
			`notify.yaml:4: recipients[0].locale: must be text`,
		}},
		{"required fields", "organisation:\n  name: \"\"\n  website: ftp://x\nfrom: {name: P}\nreply_to: {email: \"\"}\n", []string{
			`notify.yaml:2: organisation.name: required: the organisation that gives the notices`,
			`notify.yaml:2: organisation.contact_name: required: the data protection officer or other contact point`,
			`notify.yaml:3: organisation.website: "ftp://x" is not an http or https URL`,
			`notify.yaml:4: from.email: required`,
			`notify.yaml:5: reply_to.email: required`,
		}},
		{"bad addresses", "organisation: {name: P, contact_name: DPO, contact_email: dpo}\nfrom:\n  email: Privacy <p@example.org>\nreply_to: {email: x@localhost}\n", []string{
			`notify.yaml:1: organisation.contact_email: "dpo" is not an email address`,
			`notify.yaml:3: from.email: "Privacy <p@example.org>" is not an email address`,
			`notify.yaml:4: reply_to.email: "x@localhost" is not an email address`,
		}},
		{"unknown and repeated fields", "organisation: {name: P, contact_name: DPO, phone: 1}\nfrom: {email: p@example.org}\nfrom: {email: q@example.org}\nsender: x\n", []string{
			`notify.yaml:1: organisation.phone: unknown field (known: name, contact_name, contact_email, contact_phone, website, address)`,
			`notify.yaml:3: from: already given at line 2`,
			`notify.yaml:4: sender: unknown field (known: organisation, from, reply_to, sending, recipients)`,
		}},
		{"wrong shapes", "organisation: Pixelsmith\nfrom: [p@example.org]\nsending: fast\nrecipients: {rule: x}\n", []string{
			`notify.yaml:1: organisation must be a mapping (name, contact_name, contact_email, contact_phone, website, address)`,
			`notify.yaml:2: from must be a mapping (email, name)`,
			`notify.yaml:3: sending must be a mapping (concurrency, rate, page_size, partitions, sandbox, unconfirmed)`,
			`notify.yaml:4: recipients: must be a list of recipients`,
		}},
		{"sending bounds", org + "sending:\n  concurrency: 0\n  rate: -1\n  page_size: 999\n  partitions: 17\n  sandbox: maybe\n", []string{
			`notify.yaml:4: sending.concurrency: 0 is out of range: 1 to 64`,
			`notify.yaml:5: sending.rate: -1 is negative: 0 means no limit`,
			`notify.yaml:6: sending.page_size: 999 is out of range: 1000 to 50000`,
			`notify.yaml:7: sending.partitions: 17 is out of range: 1 to 16`,
			`notify.yaml:8: sending.sandbox: "maybe" is not true or false`,
		}},
		{"unconfirmed", org + "sending:\n  unconfirmed: {wait: 0.5s, then: drop, email_activity: yes, after: 1}\n", []string{
			`notify.yaml:4: sending.unconfirmed.after: unknown field (known: wait, then, email_activity)`,
			`notify.yaml:4: sending.unconfirmed.wait: 0.5s is out of range: 1s to 24h0m0s`,
			`notify.yaml:4: sending.unconfirmed.then: "drop" is neither resend nor hold`,
			`notify.yaml:4: sending.unconfirmed.email_activity: "yes" is not true or false`,
		}},
		{"unconfirmed values", org + "sending:\n  unconfirmed:\n    wait: 500ms\n    then: drop\n    email_activity: yes\n", []string{
			`notify.yaml:5: sending.unconfirmed.wait: 500ms is out of range: 1s to 24h0m0s`,
			`notify.yaml:6: sending.unconfirmed.then: "drop" is neither resend nor hold`,
			`notify.yaml:7: sending.unconfirmed.email_activity: "yes" is not true or false`,
		}},
		{"sending types", org + "sending: {concurrency: eight, rate: .nan, page_size: 1.5e4, partitions: \"4\"}\n", []string{
			`notify.yaml:3: sending.concurrency: "eight" is not a whole number`,
			`notify.yaml:3: sending.rate: ".nan" is not a number of requests per second`,
			`notify.yaml:3: sending.page_size: "1.5e4" is not a whole number`,
			`notify.yaml:3: sending.partitions: "4" is not a whole number`,
		}},
		{"recipient errors", org + `recipients:
  - rule: eu-gdpr-art33
    notify: authority
    name: DPC
    email: x@
  - name: Nobody
    email: a@example.org
  - notify: regulator
    name: R
    email: r@example.org
  - notify: individuals
    name: I
    email: i@example.org
  - rule: eu gdpr
    jurisdiction: EU
    name: E
    portal: not a url
  - notify: authority
    jurisdiction: Brazil
    email: [a@example.org, b@example.org, A@example.org, ""]
    locale: pt_BR_x
  - notify: controller
    name: Acme
    locale: english
  - notify: controller
    name: Acme
    email: []
  - - nested
`, []string{
			`notify.yaml:4: recipients[0]: give rule or notify, not both`,
			`notify.yaml:7: recipients[0].email: "x@" is not an email address`,
			`notify.yaml:8: recipients[1]: needs rule (a rule ID) or notify (authority, controller, attorney_general, owner, covered_entity, consumer_reporting_agencies, media, other_organizations)`,
			`notify.yaml:10: recipients[2].notify: "regulator" is not one of authority, controller, attorney_general, owner, covered_entity, consumer_reporting_agencies, media, other_organizations`,
			`notify.yaml:13: recipients[3].notify: "individuals" are not notified through recipients: notices to people go to the addresses in the scoped snapshot`,
			`notify.yaml:16: recipients[4].rule: "eu gdpr" is not a rule ID (eu-gdpr-art33)`,
			`notify.yaml:17: recipients[4].jurisdiction: only with notify: a rule has its own jurisdiction`,
			`notify.yaml:19: recipients[4].portal: "not a url" is not an http or https URL`,
			`notify.yaml:20: recipients[5].name: required: who the notice is addressed to`,
			`notify.yaml:21: recipients[5].jurisdiction: "Brazil" is not a jurisdiction code (BR, EU, US-CA)`,
			`notify.yaml:22: recipients[5].email[2]: "A@example.org" is already in the list`,
			`notify.yaml:22: recipients[5].email[3]: is empty`,
			`notify.yaml:23: recipients[5].locale: "pt_BR_x" is not a BCP 47 language tag (write pt-BR-x)`,
			`notify.yaml:24: recipients[6]: needs email or portal (or both): how the notice reaches Acme`,
			`notify.yaml:26: recipients[6].locale: "english" is not a BCP 47 language tag`,
			`notify.yaml:27: recipients[7]: same recipient for the same obligations as recipients[6] (line 24): it would be notified twice`,
			`notify.yaml:29: recipients[7].email: is an empty list: give an address or leave email out`,
			`notify.yaml:30: recipients[8] must be a mapping (rule, notify, jurisdiction, name, email, portal, locale)`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.yaml), "notify.yaml")
			if err == nil {
				t.Fatalf("no error; parsed %+v", cfg)
			}
			if cfg != nil {
				t.Error("a config and an error")
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("kind %s, want invalid", apperr.KindOf(err))
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, c.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestRecipientsFor(t *testing.T) {
	cfg, err := Parse([]byte(`organisation: {name: P, contact_name: DPO}
from: {email: p@example.org}
recipients:
  - {rule: eu-gdpr-art33, name: DPC, email: dpc@example.org}
  - {rule: eu-gdpr-art33, name: Counsel, email: counsel@example.org}
  - {notify: authority, jurisdiction: BR, name: ANPD, portal: https://anpd.example}
  - {notify: authority, name: Any authority, email: any@example.org}
  - {notify: authority, name: Counsel, email: counsel@example.org}
  - {notify: controller, jurisdiction: EU, name: Acme EU, email: eu@acme.example}
  - {notify: controller, name: Acme, email: [a@acme.example, b@acme.example]}
  - {notify: controller, name: Globex, email: g@globex.example}
  - {notify: media, jurisdiction: US-CA, name: LA Times, email: news@latimes.example}
`), "notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                       string
		rule, notify, jurisdiction string
		want                       []string
	}{
		{"by rule, every entry", "eu-gdpr-art33", "authority", "EU", []string{"DPC", "Counsel"}},
		{"rule beats jurisdiction", "eu-gdpr-art33", "authority", "BR", []string{"DPC", "Counsel"}},
		{"jurisdiction beats none", "br-lgpd-art48-anpd", "authority", "BR", []string{"ANPD"}},
		{"jurisdiction case", "br-lgpd-art48-anpd", "authority", " br", []string{"ANPD"}},
		{"no jurisdiction entry", "jp-appi-art26", "authority", "JP", []string{"Any authority", "Counsel"}},
		{"empty jurisdiction", "x", "authority", "", []string{"Any authority", "Counsel"}},
		{"controller in EU", "eu-gdpr-art33-2-processor", "controller", "EU", []string{"Acme EU"}},
		{"controller elsewhere", "ch-fadp-art24-3-processor", "controller", "CH", []string{"Acme", "Globex"}},
		{"no general entry", "us-x", "media", "US-NY", nil},
		{"no broader match", "us-x", "media", "US", nil},
		{"subdivision", "us-x", "media", "US-CA", []string{"LA Times"}},
		{"nothing for the kind", "x", "owner", "US-CA", nil},
		{"no notify", "x", "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range cfg.RecipientsFor(c.rule, c.notify, c.jurisdiction) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("RecipientsFor(%q, %q, %q) = %q, want %q", c.rule, c.notify, c.jurisdiction, got, c.want)
			}
		})
	}

	t.Run("a copy", func(t *testing.T) {
		rs := cfg.RecipientsFor("y", "controller", "")
		rs[0].Emails[0] = "changed@example.org"
		if again := cfg.RecipientsFor("y", "controller", ""); again[0].Emails[0] != "a@acme.example" {
			t.Error("changing a returned recipient changed the config")
		}
	})
	t.Run("nil config", func(t *testing.T) {
		var c *Config
		if got := c.RecipientsFor("eu-gdpr-art33", "authority", "EU"); got != nil {
			t.Errorf("%v", got)
		}
	})
}

func TestDefault(t *testing.T) {
	c := Default()
	if !c.Placeholder || c.File != "" {
		t.Errorf("Placeholder %v, File %q", c.Placeholder, c.File)
	}
	for _, s := range []string{c.Organisation.Name, c.Organisation.ContactName} {
		if !strings.Contains(s, "not configured") || !strings.Contains(s, "BREACHCTL_NOTIFY") {
			t.Errorf("%q does not say it is a placeholder", s)
		}
	}
	if !yamlfile.PlausibleEmail(c.From.Email) || !strings.HasSuffix(c.From.Email, ".invalid") {
		t.Errorf("from %q: want an address that can be sent from in dev and never delivered to", c.From.Email)
	}
	if c.Sending != DefaultSending() {
		t.Errorf("sending %+v", c.Sending)
	}
	if got := c.RecipientsFor("eu-gdpr-art33", "authority", "EU"); got != nil {
		t.Errorf("the default config addresses an authority: %v", got)
	}
	if Default() == c || Default().Organisation != c.Organisation {
		t.Error("Default must return a fresh, equal config each time")
	}
}

func TestLoad(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "notify.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !apperr.Is(err, apperr.NotFound) {
		t.Errorf("missing file: %v (kind %s)", err, apperr.KindOf(err))
	}
	_, err = Load(t.TempDir()) // a directory
	if err == nil || errors.Is(err, fs.ErrNotExist) || !apperr.Is(err, apperr.Invalid) {
		t.Errorf("directory: %v (kind %s)", err, apperr.KindOf(err))
	}
}

// The example is what people copy: it must parse, and name real rules.
func TestExample(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "notify.yaml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	kinds := map[string]bool{}
	for _, r := range rs.Rules {
		known[r.ID] = true
		kinds[r.Notify] = true
	}
	if err := cfg.CheckRules(func(id string) bool { return known[id] }); err != nil {
		t.Error(err)
	}
	for _, k := range NotifyKinds() {
		if !kinds[k] {
			t.Errorf("notify kind %q is in no built-in rule", k)
		}
	}
	if cfg.Placeholder || cfg.Organisation.Name == "" || len(cfg.Recipients) == 0 {
		t.Errorf("example: %+v", cfg)
	}
	if got := cfg.RecipientsFor("br-lgpd-art48-anpd", "authority", "BR"); len(got) != 1 || got[0].Locale != "pt-BR" || got[0].Portal == "" {
		t.Errorf("ANPD: %+v", got)
	}
}

func TestCheckRules(t *testing.T) {
	cfg, err := Parse([]byte(`organisation: {name: P, contact_name: DPO}
from: {email: p@example.org}
recipients:
  - {rule: eu-gdpr-art33, name: DPC, email: dpc@example.org}
  - {rule: eu-gdpr-art-33, name: DPC, email: dpc@example.org}
  - {notify: authority, name: Any, email: any@example.org}
  - {rule: gb-ukgdpr-art33x, name: ICO, portal: https://ico.example}
`), "notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckRules(func(id string) bool { return id == "eu-gdpr-art33" })
	want := `notify.yaml:5: recipients[1].rule: "eu-gdpr-art-33" is not a rule of the ruleset` + "\n" +
		`notify.yaml:7: recipients[3].rule: "gb-ukgdpr-art33x" is not a rule of the ruleset`
	if err == nil || err.Error() != want {
		t.Errorf("CheckRules = %v, want\n%s", err, want)
	}
	if err := Default().CheckRules(func(string) bool { return false }); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("organisation: {name: P, contact_name: DPO}\nfrom: {email: p@example.org}\n"))
	f.Add([]byte("recipients: [{rule: x, notify: y}, [a], {email: [1, {a: b}]}]\nsending: {rate: .inf}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("- !!binary AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.yaml")
		if err != nil {
			if cfg != nil {
				t.Fatal("a config and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		if cfg.Organisation.Name == "" || cfg.Organisation.ContactName == "" || !yamlfile.PlausibleEmail(cfg.From.Email) {
			t.Fatalf("parsed without what is required: %+v", cfg)
		}
		for _, e := range cfg.Recipients {
			if (e.Rule == "") == (e.Notify == "") || e.Name == "" || (len(e.Emails) == 0 && e.Portal == "") || e.Locale == "" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
