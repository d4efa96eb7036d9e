package mailer

import (
	"context"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxRecipients is the most recipients one Batch may carry: SendGrid's limit
// for one Mail Send request (1,000 personalizations and 1,000 recipients).
const MaxRecipients = 1000

// MaxCustomArgsBytes bounds a recipient's custom_args (the batch's merged
// with the recipient's own) as SendGrid does: they must stay below it.
const MaxCustomArgsBytes = 10_000

// MaxCategories and MaxCategoryLen bound a request's categories as SendGrid
// does.
const (
	MaxCategories  = 10
	MaxCategoryLen = 255
)

// MaxSubstitutionBytes bounds one recipient's substitutions, as SendGrid
// bounds a personalization's.
const MaxSubstitutionBytes = 10_000

// Custom-arg keys breachctl sets itself. SendGrid echoes custom_args in every
// Event Webhook event, so events can be matched to a batch and a subject.
const (
	ArgBatch   = "breachctl_batch"   // Batch.Key, on the request
	ArgSubject = "breachctl_subject" // Recipient.ID, on the recipient's personalization
	ArgAttempt = "breachctl_attempt" // Batch.Attempt, on the request: which attempt an event is of
)

// ActivityLookup asks the provider whether it took an attempt of a batch
// whose answer was lost: SendGrid's Email Activity API, queried by the
// custom args breachctl puts on every request (ArgBatch, ArgAttempt).
// found with err nil means the provider lists a message of that attempt.
type ActivityLookup interface {
	Taken(ctx context.Context, batchKey string, attempt int) (found bool, messageID string, err error)
}

// NameTag is the substitution tag replaced by each recipient's Name.
const NameTag = "recipient_name"

// A Batch is one Mail Send request: up to MaxRecipients recipients sharing a
// subject and a body, each with their own substitutions.
type Batch struct {
	// Key identifies the batch deterministically (e.g.
	// "INC-.../eu-gdpr-art34/page-0003/part-2"). It is sent as custom_args
	// breachctl_batch so events and duplicates can be traced to it, and the
	// Outbox names its files after it. SendGrid itself has no idempotency
	// key: sending a Batch twice mails its recipients twice.
	Key string
	// Attempt is which send attempt of the batch this is (1, 2, ...), sent
	// as custom_args breachctl_attempt; 0 sends none.
	Attempt    int
	From       Address
	ReplyTo    *Address
	Subject    string
	Text, HTML string // "{{name}}" tags are replaced per recipient; see Recipient
	Recipients []Recipient
	CustomArgs map[string]string // merged into the request's custom_args (incident, rule)
	Categories []string
	// SandboxMode asks SendGrid to validate without delivering (it answers
	// 200 instead of 202).
	SandboxMode bool
}

// Address is an email address with an optional display name.
type Address struct{ Email, Name string }

// Recipient is one person of a Batch.
type Recipient struct {
	Email string
	Name  string // replaces "{{recipient_name}}"
	// ID is a stable subject ID (never the address), sent as custom_args
	// breachctl_subject. Required, and unique within a batch.
	ID string
	// Substitutions maps a tag name to its value: "{{case_ref}}" in the
	// subject, the text or the HTML is replaced by Substitutions["case_ref"].
	// Names are letters, digits and underscores. Values are inserted as they
	// are into the subject and the text, and HTML-escaped into the HTML.
	Substitutions map[string]string
}

// Result is what an accepted batch returns.
type Result struct {
	MessageID string // X-Message-Id of the accepted request (synthetic for the Outbox; may be empty in sandbox mode)
	Accepted  int    // recipients accepted
}

// Mailer sends one Batch. Errors are *RateLimitedError, *TemporaryError,
// *AmbiguousError or *PermanentError (see errors.go), possibly wrapped.
type Mailer interface {
	Send(ctx context.Context, b Batch) (Result, error)
}

var (
	_ Mailer = (*SendGrid)(nil)
	_ Mailer = (*Outbox)(nil)
)

// validate checks a batch before anything is sent, so a batch SendGrid
// would refuse is refused here without spending a request. The messages
// name recipients by position, never by address.
func validate(b *Batch) error {
	var msgs []string
	bad := func(format string, args ...any) {
		if len(msgs) < 10 {
			msgs = append(msgs, fmt.Sprintf(format, args...))
		}
	}
	if b.Key == "" {
		bad("batch key is empty")
	}
	if !plausibleAddress(b.From.Email) {
		bad("from address is not valid")
	}
	if b.ReplyTo != nil && !plausibleAddress(b.ReplyTo.Email) {
		bad("reply-to address is not valid")
	}
	if b.Subject == "" {
		bad("subject is empty")
	}
	if b.Text == "" && b.HTML == "" {
		bad("both text and HTML bodies are empty")
	}
	switch n := len(b.Recipients); {
	case n == 0:
		bad("no recipients")
	case n > MaxRecipients:
		bad("%d recipients, more than %d", n, MaxRecipients)
	}
	if _, ok := b.CustomArgs[ArgBatch]; ok {
		bad("custom args may not set %s (it is the batch key)", ArgBatch)
	}
	if _, ok := b.CustomArgs[ArgSubject]; ok {
		bad("custom args may not set %s (it is the recipient ID)", ArgSubject)
	}
	if _, ok := b.CustomArgs[ArgAttempt]; ok {
		bad("custom args may not set %s (it is the attempt)", ArgAttempt)
	}
	if b.Attempt < 0 {
		bad("attempt %d is negative", b.Attempt)
	}
	// Categories as SendGrid takes them: at most 10 per request, each at
	// most 255 characters, none twice (the published schema's uniqueItems).
	if len(b.Categories) > MaxCategories {
		bad("%d categories, more than %d", len(b.Categories), MaxCategories)
	}
	for i, c := range b.Categories {
		if c == "" || utf8.RuneCountInString(c) > MaxCategoryLen {
			bad("category %d is empty or longer than %d characters", i, MaxCategoryLen)
		}
		if slices.Contains(b.Categories[:i], c) {
			bad("category %d is the same as an earlier one", i)
		}
	}
	// custom_args as SendGrid sizes them: the request's (the batch's plus
	// the key and the attempt) merged with each personalization's (the
	// recipient ID).
	rootArgs := max(argsSize(b.CustomArgs), 2) + len(ArgBatch) + len(b.Key) + 6
	if b.Attempt > 0 {
		rootArgs += len(ArgAttempt) + len(strconv.Itoa(b.Attempt)) + 6
	}
	if rootArgs >= MaxCustomArgsBytes {
		bad("custom args and batch key reach %d bytes", MaxCustomArgsBytes)
	}
	emails := make(map[string]int, len(b.Recipients))
	ids := make(map[string]int, len(b.Recipients))
	for i := range b.Recipients {
		r := &b.Recipients[i]
		if !plausibleAddress(r.Email) {
			bad("recipient %d: address is not valid", i)
		} else if j, dup := emails[lowerASCII(r.Email)]; dup {
			bad("recipient %d: same address as recipient %d", i, j)
		} else {
			emails[lowerASCII(r.Email)] = i
		}
		if r.ID == "" {
			bad("recipient %d: ID is empty", i)
		} else if j, dup := ids[r.ID]; dup {
			bad("recipient %d: same ID as recipient %d", i, j)
		} else {
			ids[r.ID] = i
		}
		if rootArgs < MaxCustomArgsBytes && rootArgs+len(ArgSubject)+len(r.ID)+6 >= MaxCustomArgsBytes {
			bad("recipient %d: custom args reach %d bytes", i, MaxCustomArgsBytes)
		}
		size := substitutionSize(NameTag, r.Name)
		for k, v := range r.Substitutions {
			if !validTagName(k) {
				bad("recipient %d: substitution name %q is not letters, digits and underscores", i, k)
			}
			if k == NameTag {
				bad("recipient %d: substitution %q is set from Name", i, k)
			}
			size += substitutionSize(k, v)
		}
		if size >= MaxSubstitutionBytes {
			bad("recipient %d: substitutions reach %d bytes", i, MaxSubstitutionBytes)
		}
	}
	if len(msgs) > 0 {
		return &PermanentError{Messages: msgs}
	}
	return nil
}

// substitutionSize is the JSON size of a substitution, and of its HTML
// variant when its value needs escaping (an upper bound: whether the
// variant is sent depends on the HTML using the tag).
func substitutionSize(name, v string) int {
	n := len(name) + len(v) + 10 // "{{name}}":"v",
	if needsEscape(v) {
		n += len(name) + len(html.EscapeString(v)) + 15
	}
	return n
}

func argsSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	if n > 0 {
		n += 2
	}
	return n
}

// PlausibleAddress reports whether s looks like an email address SendGrid
// would take, so a caller can set aside one that would fail a whole batch.
func PlausibleAddress(s string) bool { return plausibleAddress(s) }

// plausibleAddress is a cheap shape check (something@something, no
// whitespace or header punctuation), not RFC 5322 validation: SendGrid does
// the real check and the scoping step validated addresses before.
func plausibleAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 320 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ', c == 0x7f, c == '<', c == '>', c == ',', c == ';', c == '"', c == '(', c == ')':
			return false
		}
	}
	return true
}

func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// tag is the text a substitution name replaces: "{{name}}".
func tag(name string) string { return "{{" + name + "}}" }

// htmlTag is the tag the HTML body uses for a name whose values need
// escaping in this batch: SendGrid substitutes the same value into the text
// and the HTML, so the HTML gets its own tag with the escaped value. A dot
// cannot occur in a name, so it cannot collide with another tag.
func htmlTag(name string) string { return "{{" + name + ".html}}" }

// plan is what a batch needs beyond its fields to be encoded: the HTML with
// its escaped-value tags, and which names they are.
type plan struct {
	html        string
	escapeNames []string // sorted; names whose values some recipient needs escaped
}

func needsEscape(s string) bool { return strings.ContainsAny(s, `<>&'"`) }

// planBatch finds the names whose values would change when HTML-escaped and
// that the HTML uses, and rewrites their tags in the HTML.
func planBatch(b *Batch) plan {
	p := plan{html: b.HTML}
	if b.HTML == "" || !strings.Contains(b.HTML, "{{") {
		return p
	}
	var names map[string]bool
	mark := func(name, v string) {
		if needsEscape(v) {
			if names == nil {
				names = make(map[string]bool)
			}
			names[name] = true
		}
	}
	for i := range b.Recipients {
		r := &b.Recipients[i]
		mark(NameTag, r.Name)
		for k, v := range r.Substitutions {
			mark(k, v)
		}
	}
	for name := range names {
		if strings.Contains(b.HTML, tag(name)) {
			p.escapeNames = append(p.escapeNames, name)
		}
	}
	if len(p.escapeNames) == 0 {
		return p
	}
	slices.Sort(p.escapeNames)
	pairs := make([]string, 0, 2*len(p.escapeNames))
	for _, name := range p.escapeNames {
		pairs = append(pairs, tag(name), htmlTag(name))
	}
	p.html = strings.NewReplacer(pairs...).Replace(b.HTML)
	return p
}

// substitutions calls f for each of a recipient's substitutions in a fixed
// order (recipient_name, then by name, then the HTML-escaped variants the
// plan asks for): f gets the tag name, whether it is the HTML variant, and
// the value. keys is scratch space, returned for reuse.
func (p *plan) substitutions(r *Recipient, keys []string, f func(name string, htmlVariant bool, value string)) []string {
	keys = keys[:0]
	for k := range r.Substitutions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	f(NameTag, false, r.Name)
	for _, k := range keys {
		f(k, false, r.Substitutions[k])
	}
	for _, name := range p.escapeNames {
		v := r.Name
		if name != NameTag {
			v = r.Substitutions[name]
		}
		f(name, true, html.EscapeString(v))
	}
	return keys
}
