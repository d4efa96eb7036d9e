// Package notifyconfig reads who notices come from and whom they go to,
// apart from the affected people themselves: the organisation that gives the
// notices, the sender address, how fast to send, and the authorities,
// business customers and others notified by email or through a portal.
//
// The file is YAML (examples/notify.yaml shows every field). The composition
// root finds it (BREACHCTL_NOTIFY, else notify.yaml in the data directory)
// and calls Load; nothing here reads the environment.
//
// # A missing file
//
// Load's error wraps fs.ErrNotExist when the file is not there. When
// BREACHCTL_NOTIFY names a file, that is a mistake to stop on. When only the
// default path is missing, the caller can go on with Default(): its
// organisation, contact and sender are placeholders that say "not
// configured" (so a notice rendered with them shows it on its face, in the
// outbox of `breachctl dev`), and it has no recipients, so notices to people
// can still be tried out but nothing can be addressed to an authority or a
// business customer: RecipientsFor finds nobody, and the caller must say so
// rather than send. Placeholder tells the two apart; a caller should not send
// through SendGrid with a placeholder config.
//
// # Errors
//
// Parse reports every problem it finds, not only the first, joined with
// errors.Join. Each is an *apperr.Error of kind Invalid whose text names the
// file, the line and the field:
//
//	notify.yaml:14: recipients[1].email: "x@" is not an email address
package notifyconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/templates"
)

// Config is a notify file, parsed, checked and with defaults applied.
type Config struct {
	// File is the name the config was parsed under; empty for Default.
	File string
	// Placeholder is true for Default(): nothing was configured.
	Placeholder bool

	Organisation templates.Organisation
	From         Address
	ReplyTo      *Address // nil when not given
	Sending      Sending
	// Recipients are the recipient entries in file order; RecipientsFor
	// picks the ones an obligation goes to.
	Recipients []Entry
}

// Address is an email address with an optional display name. It has the
// fields of mailer.Address, so mailer.Address(a) converts it.
type Address struct {
	Email string
	Name  string
}

// Sending says how fast notices to people go out, per worker process.
type Sending struct {
	Concurrency int     // Mail Send requests in flight (1..64)
	Rate        float64 // requests per second; 0 means no limit
	PageSize    int     // people read from the snapshot per activity (1,000..50,000)
	Partitions  int     // key ranges of a snapshot sent in parallel per notice (1..16)
	Sandbox     bool    // SendGrid sandbox mode: validated, not delivered
	Unconfirmed Unconfirmed
}

// Unconfirmed says what becomes of a batch whose Mail Send answer was lost
// (a worker killed mid-request, a connection cut after the request left):
// SendGrid may or may not have mailed its people. It is never resent at
// once: breachctl first waits for SendGrid's word (its Event Webhook, and
// its Email Activity API where the account has it).
type Unconfirmed struct {
	// Wait is how long, from the lost attempt, breachctl waits for
	// SendGrid to confirm it before Then applies.
	Wait time.Duration
	// Then is "resend" (the default: a notice is owed by law, so people
	// who may not have been mailed are mailed again, counted as a resend)
	// or "hold" (keep waiting for SendGrid's word; never resend).
	Then string
	// EmailActivity: ask SendGrid's Email Activity API whether it has the
	// attempt (an add-on on SendGrid accounts; off unless said).
	EmailActivity bool
}

// What Unconfirmed.Then may say.
const (
	UnconfirmedResend = "resend"
	UnconfirmedHold   = "hold"
	// DefaultUnconfirmedWait: SendGrid's events usually arrive within a
	// minute, its Email Activity within a few.
	DefaultUnconfirmedWait = 5 * time.Minute
	MaxUnconfirmedWait     = 24 * time.Hour
)

// Defaults and bounds of Sending.
const (
	DefaultConcurrency = 8
	DefaultPageSize    = 10_000
	DefaultPartitions  = 4

	MinConcurrency, MaxConcurrency = 1, 64
	MinPageSize, MaxPageSize       = 1_000, 50_000
	MinPartitions, MaxPartitions   = 1, 16
)

// DefaultSending is Sending with every default.
func DefaultSending() Sending {
	return Sending{Concurrency: DefaultConcurrency, PageSize: DefaultPageSize, Partitions: DefaultPartitions,
		Unconfirmed: Unconfirmed{Wait: DefaultUnconfirmedWait, Then: UnconfirmedResend}}
}

// Recipient is someone a notice goes to by email, through a portal, or both.
type Recipient struct {
	Name   string
	Emails []string // empty when the notice goes through the portal only
	// Locale is the BCP 47 tag of the notice's language, in canonical form
	// (pt-BR); "en" when the file gives none. templates.Match picks the
	// notice language from it.
	Locale string
	Portal string // the URL of the recipient's reporting form, if any
}

// Entry is one entry of recipients: a Recipient and which obligations it
// receives, by rule ID or by what the obligation notifies. Exactly one of
// Rule and Notify is set.
type Entry struct {
	Rule   string // a rule ID (eu-gdpr-art33)
	Notify string // authority, controller, ... (see NotifyKinds)
	// Jurisdiction limits a Notify entry to obligations under one
	// jurisdiction (BR, EU, US-CA), in upper case; empty for any.
	Jurisdiction string
	Recipient
	Line int // where the entry starts in its file
}

// notifyKinds are the values of a rule's notify that go to an organisation
// rather than to the affected people ("individuals") or the public.
var notifyKinds = []string{"authority", "controller", "attorney_general", "owner", "covered_entity",
	"consumer_reporting_agencies", "media", "other_organizations"}

// NotifyKinds lists the values an entry's notify may take.
func NotifyKinds() []string { return slices.Clone(notifyKinds) }

// Placeholder texts of Default.
const (
	PlaceholderOrganisation = "(organisation not configured: set BREACHCTL_NOTIFY)"
	PlaceholderContact      = "(contact not configured: set BREACHCTL_NOTIFY)"
	// PlaceholderFrom is in the .invalid domain (RFC 2606): it can never
	// be delivered to, and SendGrid refuses it as an unverified sender.
	PlaceholderFrom = "breachctl@not-configured.invalid"
)

// Default is the config to run with when there is no notify file (see the
// package documentation): placeholders that say they are, default sending
// settings and no recipients.
func Default() *Config {
	return &Config{
		Placeholder: true,
		Organisation: templates.Organisation{
			Name:        PlaceholderOrganisation,
			ContactName: PlaceholderContact,
			// A notice must give a contact address; this one says it is a
			// placeholder and can never be delivered to.
			ContactEmail: PlaceholderFrom,
		},
		From:    Address{Email: PlaceholderFrom, Name: "breachctl (sender not configured)"},
		Sending: DefaultSending(),
	}
}

// Load reads and parses a notify file. A file that is not there is an error
// of kind NotFound that wraps fs.ErrNotExist.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		kind := apperr.Invalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = apperr.NotFound
		}
		return nil, apperr.Wrap(kind, err, "notify config")
	}
	return Parse(data, path)
}

// RecipientsFor returns whom an obligation's notice goes to: every entry for
// the rule ID; if there is none, the entries for what it notifies in its
// jurisdiction; if there is none, the entries for what it notifies in any
// jurisdiction. Only the most specific level that matches is returned, in
// file order. Nil means nobody is configured: the notice cannot be
// addressed. Jurisdictions compare without regard to case, and must be
// equal: an entry for US does not match an obligation under US-CA.
func (c *Config) RecipientsFor(rule, notify, jurisdiction string) []Recipient {
	if c == nil {
		return nil
	}
	var byRule, byJurisdiction, byNotify []Recipient
	jurisdiction = strings.ToUpper(strings.TrimSpace(jurisdiction))
	for _, e := range c.Recipients {
		switch {
		case e.Rule != "":
			if e.Rule == rule {
				byRule = append(byRule, e.Recipient.clone())
			}
		case e.Notify == "" || e.Notify != notify:
		case e.Jurisdiction == "":
			byNotify = append(byNotify, e.Recipient.clone())
		case e.Jurisdiction == jurisdiction:
			byJurisdiction = append(byJurisdiction, e.Recipient.clone())
		}
	}
	switch {
	case byRule != nil:
		return byRule
	case byJurisdiction != nil:
		return byJurisdiction
	}
	return byNotify
}

func (r Recipient) clone() Recipient {
	r.Emails = slices.Clone(r.Emails)
	return r
}

// CheckRules reports the entries whose rule is not known, one error per
// entry, each naming the file and line: a misspelt rule ID would otherwise
// route nothing and go unnoticed until a deadline. known is the ruleset's
// lookup; the ruleset is not read here because it can be extended
// (BREACHCTL_RULES_DIR).
func (c *Config) CheckRules(known func(id string) bool) error {
	if c == nil {
		return nil
	}
	var errs []error
	for i, e := range c.Recipients {
		if e.Rule != "" && !known(e.Rule) {
			errs = append(errs, apperr.Invalidf(fmt.Sprintf("%s:%d", c.File, e.Line),
				"recipients[%d].rule: %q is not a rule of the ruleset", i, e.Rule))
		}
	}
	return errors.Join(errs...)
}
