package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
)

// Kind is the kind of notice: who it goes to and which law shapes it.
type Kind string

const (
	// Individuals is the notice to affected people under GDPR Art. 34, and
	// the default for other laws' notices to individuals.
	Individuals Kind = "individuals"
	// California is the notice to affected people under Cal. Civ. Code
	// § 1798.82(d): titled "Notice of Data Breach", with the five statutory
	// headings in order.
	California Kind = "individuals-us-ca"
	// Authority is the notice to a supervisory authority: every GDPR
	// Art. 33(3) field, numbered, and the reasons for a late notice
	// (Art. 33(1)).
	Authority Kind = "authority"
	// Controller is the notice a processor gives its business customer (the
	// controller) under GDPR Art. 33(2): what the controller needs for its
	// own Art. 33 and 34 duties.
	Controller Kind = "controller"
)

// Kinds lists every kind of notice.
func Kinds() []Kind { return []Kind{Individuals, California, Authority, Controller} }

// NamePlaceholder stands where the recipient's name goes in the Individuals
// and California notices ("Dear {{recipient_name}},"). A notice is rendered
// once per language and group of recipients, and the sender substitutes the
// placeholder per recipient (SendGrid substitutions), so no recipient's name
// passes through this package.
//
// The placeholder appears once in the body, in the HTML's text content, never
// in an attribute or the subject. A substitution service puts the same value
// into the text and the HTML part, verbatim, so the HTML needs the name
// escaped and the text does not: internal/mailer gives the HTML its own tag
// for names that need it; Personalize does the same for a sender that
// substitutes by itself (a preview).
const NamePlaceholder = "{{recipient_name}}"

// Organisation is who gives the notice and where people can ask about it.
type Organisation struct {
	Name string `json:"name"`
	// ContactName is the data protection officer or other contact point
	// (GDPR Art. 33(3)(b)): a person or an office.
	ContactName  string `json:"contact_name"`
	ContactEmail string `json:"contact_email,omitempty"`
	ContactPhone string `json:"contact_phone,omitempty"`
	Website      string `json:"website,omitempty"`
	// Address is the postal address; it may span lines.
	Address string `json:"address,omitempty"`
}

// NoticeData is everything a notice says. No field is personal data of a
// recipient: the recipient's name goes in through NamePlaceholder only.
//
// The free texts (WhatHappened, LikelyConsequences, ...) are written by a
// person in the language of the notice; render each language from its own
// NoticeData. DataCategories are codes, rendered as localised labels; for
// notices to individuals they should be the categories of the people the
// rendering goes to (render once per group of recipients with the same
// categories), so that nobody is told that data was lost which was not theirs.
type NoticeData struct {
	Organisation Organisation `json:"organisation"`
	IncidentID   string       `json:"incident_id"`
	NoticeDate   time.Time    `json:"notice_date"`
	// OccurredFrom and OccurredTo are the breach's date or date range, if
	// known: both for a range, OccurredFrom alone for the day it happened,
	// OccurredTo alone for the day by which it had; neither when unknown.
	OccurredFrom *time.Time `json:"occurred_from,omitempty"`
	OccurredTo   *time.Time `json:"occurred_to,omitempty"`
	// DiscoveredAt is when the organisation became aware of the breach.
	DiscoveredAt time.Time `json:"discovered_at"`
	// WhatHappened describes the nature of the breach in plain language; it
	// can be long, and its line breaks are kept.
	WhatHappened string `json:"what_happened"`
	// DataCategories are breachctl's category codes (name, email,
	// account_credentials, ...).
	DataCategories []string `json:"data_categories,omitempty"`
	// SubjectCategories are the categories of people concerned (customers,
	// employees, ...), in the notice's language: Art. 33(3)(a), for the
	// Authority and Controller notices.
	SubjectCategories []string `json:"subject_categories,omitempty"`
	// AffectedCount is the approximate number of people concerned
	// (Authority, Controller); 0 means not yet known.
	AffectedCount int `json:"affected_count,omitempty"`
	// AffectedByJurisdiction counts them by region code (DE, US-CA, EU);
	// a count of 0 means not yet known.
	AffectedByJurisdiction map[string]int `json:"affected_by_jurisdiction,omitempty"`
	// RecordCount is the approximate number of personal data records
	// concerned (Art. 33(3)(a)); 0 means not yet known.
	RecordCount        int    `json:"record_count,omitempty"`
	LikelyConsequences string `json:"likely_consequences,omitempty"`
	MeasuresTaken      string `json:"measures_taken,omitempty"`
	WhatYouCanDo       string `json:"what_you_can_do,omitempty"`
	// Late says the notice goes out after its deadline; an Authority notice
	// then needs ReasonsForDelay (Art. 33(1)).
	Late bool `json:"late,omitempty"`
	// ReasonsForDelay explains a late notice: the Authority notice gives it
	// its own section, the others mention it when it is set.
	ReasonsForDelay string `json:"reasons_for_delay,omitempty"`
	// LawEnforcementDelay says whether a law enforcement investigation
	// delayed the notice (California states it either way).
	LawEnforcementDelay bool `json:"law_enforcement_delay,omitempty"`
	// IdentityTheftOffer is the offer of identity theft prevention and
	// mitigation services, with what people need to take it up: a
	// California notice needs it when a Social Security, driver's licence,
	// passport, taxpayer or other government ID number was involved
	// (Civ. Code § 1798.82(d)(2)(G)).
	IdentityTheftOffer string `json:"identity_theft_offer,omitempty"`
	// Citation is the law or contract the notice is given under, shown in
	// the footer.
	Citation string `json:"citation,omitempty"`
	// Recipient is who an Authority or Controller notice is addressed to.
	Recipient string `json:"recipient,omitempty"`
	// Anonymous renders a notice to people whose name is not known: it
	// greets without one ("Hello,", "Guten Tag,") and carries no
	// NamePlaceholder.
	Anonymous bool `json:"anonymous,omitempty"`
}

// Rendered is a notice ready to send.
type Rendered struct {
	Lang    string `json:"lang"`
	Subject string `json:"subject"` // one line
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

//go:embed layout common individuals individuals-us-ca authority controller labels
var files embed.FS

// set is one kind in one language, parsed for each output.
type set struct {
	text *texttemplate.Template
	html *htmltemplate.Template
	md   *texttemplate.Template // Authority only: the portal document
}

// bundle is everything read from the embedded files, parsed.
type bundle struct {
	sets   map[string]*set // by kind/lang
	labels map[string]*labels
	// creditBureaus are the lines of individuals-us-ca/credit-bureaus.txt.
	creditBureaus []string
}

// load parses every file once, on first use.
var load = sync.OnceValues(func() (*bundle, error) {
	b := &bundle{sets: map[string]*set{}, labels: map[string]*labels{}}
	for _, lang := range languages {
		lb, err := labelsFor(lang)
		if err != nil {
			return nil, err
		}
		b.labels[lang] = lb
		for _, kind := range Kinds() {
			s, err := parseSet(kind, lang, lb)
			if err != nil {
				return nil, err
			}
			b.sets[string(kind)+"/"+lang] = s
		}
	}
	cb, err := fs.ReadFile(files, "individuals-us-ca/credit-bureaus.txt")
	if err != nil {
		return nil, err
	}
	for _, line := range nonEmptyLines(string(cb)) {
		if !strings.HasPrefix(line, "#") {
			b.creditBureaus = append(b.creditBureaus, line)
		}
	}
	return b, nil
})

func parseSet(kind Kind, lang string, lb *labels) (*set, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(files, name)
		return string(b), err
	}
	common, err := read("common/" + lang + ".tmpl")
	if err != nil {
		return nil, err
	}
	own, err := read(string(kind) + "/" + lang + ".tmpl")
	if err != nil {
		return nil, err
	}
	textLayout, err := read("layout/email.txt.tmpl")
	if err != nil {
		return nil, err
	}
	htmlLayout, err := read("layout/email.html.tmpl")
	if err != nil {
		return nil, err
	}
	name := string(kind) + "/" + lang
	parseText := func(f format, layout string) (*texttemplate.Template, error) {
		t := texttemplate.New(name).Option("missingkey=error").Funcs(texttemplate.FuncMap(funcs(f, lb)))
		for _, src := range []string{layout, common, own} {
			if _, err := t.Parse(src); err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
		}
		return t, nil
	}
	s := &set{}
	if s.text, err = parseText(textPart, textLayout); err != nil {
		return nil, err
	}
	h := htmltemplate.New(name).Option("missingkey=error").Funcs(htmltemplate.FuncMap(funcs(htmlPart, lb)))
	for _, src := range []string{htmlLayout, common, own} {
		if _, err := h.Parse(src); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	s.html = h
	if kind == Authority {
		if s.md, err = parseText(markdownDoc, ""); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Render renders a notice in the language that best matches locale (BCP 47:
// "pt-BR", "de-AT", "fr", ""), falling back to English. It refuses, naming
// the field, a notice that lacks what the law requires it to say.
func Render(kind Kind, locale string, d NoticeData) (Rendered, error) {
	if err := Validate(kind, d); err != nil {
		return Rendered{}, err
	}
	lang := Match(locale)
	b, err := load()
	if err != nil {
		return Rendered{}, apperr.Wrap(apperr.Internal, err, "parse notice templates")
	}
	s := b.sets[string(kind)+"/"+lang]
	v := b.view(kind, lang, d)
	var subject, text, htm bytes.Buffer
	if err := s.text.ExecuteTemplate(&subject, "subject", v); err != nil {
		return Rendered{}, apperr.Wrap(apperr.Internal, err, "render %s/%s subject", kind, lang)
	}
	v.Subject = oneLine(subject.String())
	if err := s.text.ExecuteTemplate(&text, "email", v); err != nil {
		return Rendered{}, apperr.Wrap(apperr.Internal, err, "render %s/%s text", kind, lang)
	}
	if err := s.html.ExecuteTemplate(&htm, "email", v); err != nil {
		return Rendered{}, apperr.Wrap(apperr.Internal, err, "render %s/%s HTML", kind, lang)
	}
	return Rendered{Lang: lang, Subject: v.Subject, Text: tidy(text.String()), HTML: tidy(htm.String())}, nil
}

// Document renders the Authority notice as a standalone Markdown document,
// its sections numbered as the GDPR Art. 33(3) fields are, for pasting into a
// regulator's web portal. The texts people wrote stand in fenced blocks, word
// for word and inert: nothing in them is read as Markdown or HTML.
func Document(locale string, d NoticeData) (string, error) {
	if err := Validate(Authority, d); err != nil {
		return "", err
	}
	lang := Match(locale)
	b, err := load()
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "parse notice templates")
	}
	v := b.view(Authority, lang, d)
	var out bytes.Buffer
	if err := b.sets[string(Authority)+"/"+lang].md.ExecuteTemplate(&out, "document", v); err != nil {
		return "", apperr.Wrap(apperr.Internal, err, "render authority/%s document", lang)
	}
	return tidy(out.String()), nil
}

// Personalize puts a recipient's name in place of NamePlaceholder: escaped
// for HTML in the HTML part, as it is (on one line) in the text part.
func Personalize(r Rendered, name string) Rendered {
	name = oneLine(name)
	r.Text = strings.ReplaceAll(r.Text, NamePlaceholder, name)
	r.HTML = strings.ReplaceAll(r.HTML, NamePlaceholder, htmltemplate.HTMLEscapeString(name))
	return r
}

func kindList() string {
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// oneLine collapses all runs of white space, line breaks included, to one
// space: a subject is a mail header and must not break.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// tidy trims trailing blanks from every line and collapses runs of empty
// lines to one, so the layout of the template sources does not show.
func tidy(s string) string {
	var b strings.Builder
	blank := true // drop leading empty lines
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			if !blank {
				b.WriteByte('\n')
			}
			blank = true
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		blank = false
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Version identifies the templates compiled into this binary: a hash of
// every template and label file. A notice approved as a draft is void when
// it changes.
var Version = sync.OnceValue(func() string {
	h := sha256.New()
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)[:8])
})
