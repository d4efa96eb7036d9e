package templates

import (
	"errors"
	"flag"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

var update = flag.Bool("update", false, "rewrite the golden files of the notice tests")

// golden compares got with testdata/name, or rewrites it with -update. A
// notice is a legal artefact: every change of wording shows in review as a
// change of these files. Rewrite them with go test ./templates -update and
// read the diff.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./templates -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run go test ./templates -update and read the diff):\n%s", path, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + wl + "\ngot:  " + gl
		}
	}
	return ""
}

func render(t *testing.T, kind Kind, locale string, d NoticeData) Rendered {
	t.Helper()
	r, err := Render(kind, locale, d)
	if err != nil {
		t.Fatalf("Render(%s, %s): %v", kind, locale, err)
	}
	return r
}

func TestGolden(t *testing.T) {
	for _, kind := range Kinds() {
		for _, lang := range Languages() {
			t.Run(string(kind)+"/"+lang, func(t *testing.T) {
				r := render(t, kind, lang, fixture(kind, lang))
				if r.Lang != lang {
					t.Errorf("Lang = %q, want %q", r.Lang, lang)
				}
				golden(t, string(kind)+"/"+lang+".txt", "Subject: "+r.Subject+"\n\n"+r.Text)
				golden(t, string(kind)+"/"+lang+".html", r.HTML)
			})
		}
	}
	for _, lang := range Languages() {
		t.Run("authority-late/"+lang, func(t *testing.T) {
			r := render(t, Authority, lang, lateFixture(lang))
			golden(t, "authority-late/"+lang+".txt", "Subject: "+r.Subject+"\n\n"+r.Text)
			golden(t, "authority-late/"+lang+".html", r.HTML)
		})
		t.Run("document/"+lang, func(t *testing.T) {
			doc, err := Document(lang, fixture(Authority, lang))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "document/"+lang+".md", doc)
		})
		t.Run("document-late/"+lang, func(t *testing.T) {
			doc, err := Document(lang, lateFixture(lang))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "document-late/"+lang+".md", doc)
		})
	}
}

var (
	reHeading = regexp.MustCompile(`<(h[12])\b[^>]*>(.*?)</h[12]>`)
	reTag     = regexp.MustCompile(`<[^>]*>`)
	reTagName = regexp.MustCompile(`</?([a-zA-Z0-9!]+)`)
)

// htmlHeadings lists the h1 and h2 of an HTML notice, in order, as text.
func htmlHeadings(s string) (out []string) {
	for _, m := range reHeading.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+" "+html.UnescapeString(m[2]))
	}
	return out
}

// textHeadings lists the headings of a text notice: the lines underlined
// with = (h1) or - (h2).
func textHeadings(s string) (out []string) {
	lines := strings.Split(s, "\n")
	for i := 0; i+1 < len(lines); i++ {
		u := lines[i+1]
		if lines[i] == "" || len([]rune(u)) != len([]rune(lines[i])) {
			continue
		}
		switch {
		case strings.Trim(u, "=") == "":
			out = append(out, "h1 "+lines[i])
		case strings.Trim(u, "-") == "":
			out = append(out, "h2 "+lines[i])
		}
	}
	return out
}

// markdownHeadings lists the ATX headings of a Markdown document outside its
// fenced blocks.
func markdownHeadings(s string) (out []string) {
	fence := ""
	for line := range strings.SplitSeq(s, "\n") {
		switch {
		case fence != "":
			if line == fence {
				fence = ""
			}
		case strings.HasPrefix(line, "```"):
			fence = strings.TrimRight(line, "abcdefghijklmnopqrstuvwxyz")
		case strings.HasPrefix(line, "# "):
			out = append(out, "h1 "+line[2:])
		case strings.HasPrefix(line, "## "):
			out = append(out, "h2 "+line[3:])
		}
	}
	return out
}

// The California notice: titled "Notice of Data Breach", then the five
// statutory headings, each present, in this order, and nothing else as a
// heading, in the text and the HTML of every language (the headings stay in
// English in every language; see individuals-us-ca/*.tmpl).
func TestCaliforniaHeadings(t *testing.T) {
	want := []string{
		"h1 Notice of Data Breach",
		"h2 What Happened",
		"h2 What Information Was Involved",
		"h2 What We Are Doing",
		"h2 What You Can Do",
		"h2 For More Information",
	}
	for _, lang := range Languages() {
		r := render(t, California, lang, fixture(California, lang))
		if got := textHeadings(r.Text); !slices.Equal(got, want) {
			t.Errorf("%s text headings:\n got %q\nwant %q", lang, got, want)
		}
		if got := htmlHeadings(r.HTML); !slices.Equal(got, want) {
			t.Errorf("%s HTML headings:\n got %q\nwant %q", lang, got, want)
		}
		// The statute asks for the law-enforcement question to be answered
		// either way, and for the date of the notice.
		if !strings.Contains(r.Text, "6 March 2026") && lang == "en" {
			t.Errorf("%s: no date of notice", lang)
		}
	}
}

// California lists the credit reporting agencies and the identity theft
// offer when an ID number was involved, and not otherwise.
func TestCaliforniaIDNumbers(t *testing.T) {
	d := fixture(California, "en")
	r := render(t, California, "en", d)
	for _, want := range []string{"Equifax", "Experian", "TransUnion", "PIXEL-2026", "not delayed by a law enforcement"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	d.DataCategories = []string{"email", "account_credentials"}
	d.IdentityTheftOffer = ""
	d.LawEnforcementDelay = true
	r = render(t, California, "en", d)
	if strings.Contains(r.Text, "Equifax") {
		t.Error("credit reporting agencies listed without an ID number involved")
	}
	if !strings.Contains(r.Text, "delayed because a law enforcement agency") {
		t.Error("law enforcement delay not stated")
	}
}

// Every GDPR Art. 33(3) field has its numbered section in the Authority
// notice and in the portal document, in every language, in order, with its
// content; the reasons for the delay have a section of their own when late.
func TestAuthorityFields(t *testing.T) {
	// What each section's heading must say, in English; the other languages
	// must number the same sections (their words are in the golden files,
	// their legal terms in TestLegalTerms).
	en := []string{
		"1. Nature of the personal data breach",
		"2. Categories and approximate number of data subjects concerned",
		"3. Categories and approximate number of personal data records concerned",
		"4. Name and contact details of the data protection officer or other contact point",
		"5. Likely consequences of the personal data breach",
		"6. Measures taken or proposed to address the breach, including measures to mitigate its possible adverse effects",
		"7. Reasons for the delay",
	}
	for _, lang := range Languages() {
		d := lateFixture(lang)
		r := render(t, Authority, lang, d)
		doc, err := Document(lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for name, heads := range map[string][]string{
			"text":     textHeadings(r.Text),
			"HTML":     htmlHeadings(r.HTML),
			"document": markdownHeadings(doc),
		} {
			var sections []string
			for _, h := range heads {
				if strings.HasPrefix(h, "h2 ") {
					sections = append(sections, h[3:])
				}
			}
			if len(sections) != len(en) {
				t.Errorf("%s %s: %d sections, want %d: %q", lang, name, len(sections), len(en), sections)
				continue
			}
			for i, s := range sections {
				if !strings.HasPrefix(s, strconv.Itoa(i+1)+". ") {
					t.Errorf("%s %s: section %d is %q", lang, name, i+1, s)
				}
				if lang == "en" && s != en[i] {
					t.Errorf("%s %s: section %d is %q, want %q", lang, name, i+1, s, en[i])
				}
			}
		}
		for name, out := range map[string]string{"text": r.Text, "HTML": html.UnescapeString(r.HTML), "document": doc} {
			for _, want := range []string{
				d.WhatHappened[:40], d.SubjectCategories[0], "12", "25", d.Organisation.ContactName,
				d.Organisation.ContactEmail, d.LikelyConsequences[:40], d.MeasuresTaken[:40], d.ReasonsForDelay[:40],
			} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %s lacks %q", lang, name, want)
				}
			}
		}
	}

	// On time, with nothing to excuse: no section 7.
	r := render(t, Authority, "en", fixture(Authority, "en"))
	if strings.Contains(r.Text, "7. Reasons") {
		t.Error("on-time notice has a section for the reasons for delay")
	}
	// What is not known yet is said to be not known, not left out.
	d := fixture(Authority, "en")
	d.SubjectCategories, d.AffectedCount, d.RecordCount, d.DataCategories = nil, 0, 0, nil
	r = render(t, Authority, "en", d)
	for _, want := range []string{
		"Categories of data subjects: not yet known",
		"Approximate number of data subjects: not yet known",
		"Categories of personal data: not yet known",
		"Approximate number of personal data records: not yet known",
		"in phases without undue further delay",
	} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

// The correct legal terms of each language, where the law has them.
func TestLegalTerms(t *testing.T) {
	terms := map[string]map[Kind][]string{
		"de": {
			Individuals: {"Verletzung des Schutzes personenbezogener Daten", "Datenschutzbeauftragten"},
			Authority:   {"Verletzung des Schutzes personenbezogener Daten", "Datenschutzbeauftragten", "betroffenen Personen", "Verantwortlicher", "Begründung für die Verzögerung"},
			Controller:  {"Auftragsverarbeiter", "Aufsichtsbehörde", "unverzüglich"},
		},
		"fr": {
			Individuals: {"violation de données à caractère personnel", "délégué à la protection des données"},
			Authority:   {"violation de données à caractère personnel", "délégué à la protection des données", "personnes concernées", "responsable du traitement", "Motifs du retard"},
			Controller:  {"sous-traitant", "autorité de contrôle", "dans les meilleurs délais"},
		},
		"es": {
			Individuals: {"violación de la seguridad de los datos personales", "delegado de protección de datos"},
			Authority:   {"violación de la seguridad de los datos personales", "delegado de protección de datos", "interesados", "responsable del tratamiento", "Motivos de la dilación"},
			Controller:  {"encargado del tratamiento", "autoridad de control", "sin dilación indebida"},
		},
		"pt-BR": {
			Individuals: {"incidente de segurança", "encarregado"},
			Authority:   {"incidente de segurança", "encarregado", "titulares", "controlador", "Motivos da demora"},
			Controller:  {"operador", "titulares", "sem demora injustificada"},
		},
	}
	for lang, byKind := range terms {
		for kind, want := range byKind {
			d := fixture(kind, lang)
			if kind == Authority {
				d = lateFixture(lang)
			}
			r := render(t, kind, lang, d)
			for _, w := range want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("%s %s lacks %q", kind, lang, w)
				}
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct{ locale, want string }{
		{"", "en"},
		{"en", "en"},
		{"en-US", "en"},
		{"en-GB", "en"},
		{"de", "de"},
		{"de-AT", "de"},
		{"de-CH", "de"},
		{"de_DE.UTF-8", "de"},
		{"fr", "fr"},
		{"fr-CA", "fr"},
		{"fr-BE", "fr"},
		{"es", "es"},
		{"es-MX", "es"},
		{"es-419", "es"},
		{"pt-BR", "pt-BR"},
		{"pt_BR", "pt-BR"},
		{"pt", "pt-BR"},
		// Decision: Portuguese outside Brazil gets Brazilian Portuguese,
		// which readers understand far better than the English fallback.
		{"pt-PT", "pt-BR"},
		{"pt-AO", "pt-BR"},
		// A language we lack, with a country: the country's main language.
		{"ca-ES", "es"},
		{"eu_ES", "es"},
		{"br-FR", "fr"},
		{"rm-CH", "de"},
		{"qu-PE", "es"},
		{"ca", "en"},
		{"ga-IE", "en"},
		{"nl-BE", "en"},
		{"zh-CN", "en"},
		{"zh", "en"},
		{"zh-Hant-TW", "en"},
		{"ja", "en"},
		{"x-klingon", "en"},
		{"not a locale", "en"},
		{"C", "en"},
	} {
		if got := Match(tc.locale); got != tc.want {
			t.Errorf("Match(%q) = %q, want %q", tc.locale, got, tc.want)
		}
	}
	// Render follows Match.
	if r := render(t, Individuals, "de-AT", fixture(Individuals, "de")); r.Lang != "de" || !strings.Contains(r.Text, "Guten Tag") {
		t.Errorf("de-AT rendered as %s", r.Lang)
	}
}

const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" 'single' </p></td></table><a href="javascript:alert(1)">click</a>`

// All data is escaped in the HTML: a hostile text in any field stays text.
func TestHTMLEscaping(t *testing.T) {
	allowed := []string{"!DOCTYPE", "html", "head", "meta", "title", "body", "table", "tr", "td", "h1", "h2", "p", "ul", "li", "br"}
	for _, kind := range Kinds() {
		d := fixture(kind, "en")
		d.WhatHappened = hostile + "\n\n" + hostile
		d.LikelyConsequences, d.MeasuresTaken, d.WhatYouCanDo, d.ReasonsForDelay = hostile, hostile, hostile, hostile
		d.IdentityTheftOffer, d.Citation, d.Recipient, d.IncidentID = hostile, hostile, hostile, hostile
		d.Organisation = Organisation{Name: hostile, ContactName: hostile, ContactEmail: hostile, ContactPhone: hostile, Website: hostile, Address: hostile}
		d.SubjectCategories = []string{hostile}
		r := render(t, kind, "en", d)
		for _, m := range reTagName.FindAllStringSubmatch(r.HTML, -1) {
			if !slices.Contains(allowed, m[1]) {
				t.Errorf("%s: HTML has a <%s> tag: data was not escaped", kind, m[1])
			}
		}
		if strings.Contains(r.HTML, "<script") || strings.Contains(r.HTML, "<a ") {
			t.Errorf("%s: hostile markup got through", kind)
		}
		if !strings.Contains(r.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: escaped text missing from HTML", kind)
		}
		// The text part is not HTML: it carries the text as written.
		if !strings.Contains(r.Text, hostile) {
			t.Errorf("%s: text part altered the data", kind)
		}
		// The subject is one line, whatever the data holds.
		d.Organisation.Name = "Evil Corp\r\nBcc: victim@example.com"
		r = render(t, kind, "en", d)
		if strings.ContainsAny(r.Subject, "\r\n") {
			t.Errorf("%s: subject spans lines: %q", kind, r.Subject)
		}
	}
}

// In the portal document, what people wrote stands in fences: a line in it
// that looks like a section heading, or a fence of its own, cannot add a
// section.
func TestDocumentFencesText(t *testing.T) {
	d := fixture(Authority, "en")
	d.WhatHappened = "First line.\n## 8. A section of the attacker's\n```\n# Title\n````\n<script>alert(1)</script>"
	doc, err := Document("en", d)
	if err != nil {
		t.Fatal(err)
	}
	heads := markdownHeadings(doc)
	if len(heads) != 7 || heads[0] != "h1 Notification of a personal data breach" || !strings.HasPrefix(heads[6], "h2 6. ") {
		t.Errorf("headings: %q", heads)
	}
	if !strings.Contains(doc, "`````text\n"+d.WhatHappened+"\n`````\n") {
		t.Errorf("text not fenced word for word:\n%s", doc)
	}
}

// The recipient's name placeholder survives html/template unescaped, in the
// text and HTML of every notice to individuals, and only there.
func TestPlaceholder(t *testing.T) {
	for _, kind := range Kinds() {
		for _, lang := range Languages() {
			r := render(t, kind, lang, fixture(kind, lang))
			wantIn := kind == Individuals || kind == California
			for name, s := range map[string]string{"text": r.Text, "HTML": r.HTML} {
				if got := strings.Count(s, NamePlaceholder); (got == 1) != wantIn {
					t.Errorf("%s/%s %s has the placeholder %d times", kind, lang, name, got)
				}
			}
			if strings.Contains(r.Subject, NamePlaceholder) {
				t.Errorf("%s/%s: placeholder in the subject", kind, lang)
			}
		}
	}
}

func TestPersonalize(t *testing.T) {
	r := render(t, Individuals, "en", fixture(Individuals, "en"))
	p := Personalize(r, "Zoë <b>O'Brien</b> & Co")
	if !strings.Contains(p.Text, "Dear Zoë <b>O'Brien</b> & Co,") {
		t.Error("text part: name not put in as written")
	}
	if !strings.Contains(p.HTML, "Dear Zoë &lt;b&gt;O&#39;Brien&lt;/b&gt; &amp; Co,") {
		t.Error("HTML part: name not escaped")
	}
	if strings.Contains(p.Text+p.HTML, NamePlaceholder) {
		t.Error("placeholder left")
	}
}

// The HTML and the text part say the same thing, word for word.
func TestTextAndHTMLSameContent(t *testing.T) {
	reLI := regexp.MustCompile(`<li\b[^>]*>`)
	for _, kind := range Kinds() {
		for _, lang := range Languages() {
			d := fixture(kind, lang)
			if kind == Authority {
				d = lateFixture(lang)
			}
			r := render(t, kind, lang, d)
			body := r.HTML[strings.Index(r.HTML, "<body"):]
			body = reLI.ReplaceAllString(body, "- ")
			fromHTML := strings.Fields(html.UnescapeString(reTag.ReplaceAllString(body, " ")))
			var kept []string
			for line := range strings.SplitSeq(r.Text, "\n") {
				if t := strings.TrimSpace(line); t != "" && strings.Trim(t, "=-") == "" {
					continue // an underline or the rule above the footer
				}
				kept = append(kept, line)
			}
			fromText := strings.Fields(strings.Join(kept, "\n"))
			if !slices.Equal(fromHTML, fromText) {
				t.Errorf("%s/%s: text and HTML differ:\n%s", kind, lang, firstDiff(strings.Join(fromText, "\n"), strings.Join(fromHTML, "\n")))
			}
		}
	}
}

// A notice that lacks what the law requires is refused, naming the field.
func TestMissingRequired(t *testing.T) {
	for _, tc := range []struct {
		kind   Kind
		change func(*NoticeData)
		field  string
	}{
		{Individuals, func(d *NoticeData) { d.WhatHappened = " \n " }, "what_happened"},
		{Individuals, func(d *NoticeData) { d.Organisation.ContactName = "" }, "organisation.contact_name"},
		{Individuals, func(d *NoticeData) { d.Organisation.ContactEmail, d.Organisation.ContactPhone = "", "" }, "organisation.contact_email"},
		{Individuals, func(d *NoticeData) { d.Organisation.Name = "" }, "organisation.name"},
		{Individuals, func(d *NoticeData) { d.LikelyConsequences = "" }, "likely_consequences"},
		{Individuals, func(d *NoticeData) { d.MeasuresTaken = "" }, "measures_taken"},
		{Individuals, func(d *NoticeData) { d.DiscoveredAt = zeroTime }, "discovered_at"},
		{Individuals, func(d *NoticeData) { d.NoticeDate = zeroTime }, "notice_date"},
		{Individuals, func(d *NoticeData) { d.DataCategories = []string{"shoe_size"} }, "data_categories"},
		{Individuals, func(d *NoticeData) { d.OccurredTo = ptr(at("2026-02-01T00:00:00Z")) }, "occurred_to"},
		{Individuals, func(d *NoticeData) { d.WhatYouCanDo = "" }, ""}, // optional under Art. 34
		{California, func(d *NoticeData) { d.DataCategories = nil }, "data_categories"},
		{California, func(d *NoticeData) { d.MeasuresTaken = "" }, "measures_taken"},
		{California, func(d *NoticeData) { d.WhatYouCanDo = "" }, "what_you_can_do"},
		{California, func(d *NoticeData) { d.IdentityTheftOffer = "" }, "identity_theft_offer"},
		{California, func(d *NoticeData) { d.IdentityTheftOffer, d.DataCategories = "", []string{"email"} }, ""},
		{California, func(d *NoticeData) { d.LikelyConsequences = "" }, ""},
		{Authority, func(d *NoticeData) { d.Recipient = "" }, "recipient"},
		{Authority, func(d *NoticeData) { d.LikelyConsequences = "" }, "likely_consequences"},
		{Authority, func(d *NoticeData) { d.MeasuresTaken = "" }, "measures_taken"},
		{Authority, func(d *NoticeData) { d.Late = true }, "reasons_for_delay"},
		{Authority, func(d *NoticeData) { d.AffectedCount = -1 }, "affected_count"},
		{Authority, func(d *NoticeData) { d.AffectedByJurisdiction = map[string]int{"Atlantis": 3} }, "affected_by_jurisdiction"},
		{Authority, func(d *NoticeData) { d.AffectedCount, d.DataCategories = 0, nil }, ""}, // "where possible": said to be unknown
		{Controller, func(d *NoticeData) { d.Recipient = "" }, "recipient"},
		{Controller, func(d *NoticeData) { d.WhatHappened = "" }, "what_happened"},
		{Controller, func(d *NoticeData) { d.LikelyConsequences, d.MeasuresTaken = "", "" }, ""}, // without undue delay: sent with what is known
		{Kind("press"), func(d *NoticeData) {}, "kind"},
	} {
		d := fixture(tc.kind, "en")
		tc.change(&d)
		_, err := Render(tc.kind, "en", d)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.kind, err)
			}
			continue
		}
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.Invalid || e.Field != tc.field {
			t.Errorf("%s: error %v, want an invalid %s", tc.kind, err, tc.field)
		}
		if tc.kind == Authority {
			if _, err := Document("en", d); !errors.As(err, &e) || e.Field != tc.field {
				t.Errorf("Document: error %v, want an invalid %s", err, tc.field)
			}
		}
	}
}

var zeroTime = at("0001-01-01T00:00:00Z")

// Every data category breachctl knows has a label in every language, and
// the labels know no other.
func TestCategoryLabels(t *testing.T) {
	for _, lang := range Languages() {
		lb, err := labelsFor(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range incident.DataCategories {
			if strings.TrimSpace(lb.Categories[c]) == "" {
				t.Errorf("%s: no label for %s", lang, c)
			}
		}
		if len(lb.Categories) != len(incident.DataCategories) {
			t.Errorf("%s: %d labels for %d categories", lang, len(lb.Categories), len(incident.DataCategories))
		}
		for i, m := range lb.Months {
			if m == "" {
				t.Errorf("%s: month %d has no name", lang, i+1)
			}
		}
		if lb.Date == "" || lb.DateTime == "" || lb.UnknownCount == "" || lb.Colon == "" ||
			lb.Contact.Email == "" || lb.Contact.Phone == "" || lb.Contact.Address == "" || lb.Contact.Website == "" || lb.Regions["EEA"] == "" {
			t.Errorf("%s: a label is missing", lang)
		}
	}
}

func TestDates(t *testing.T) {
	first, second := at("2026-03-01T08:05:00Z"), at("2026-03-02T08:05:00+01:00")
	for _, tc := range []struct{ lang, first, second string }{
		{"en", "1 March 2026 at 08:05 UTC", "2 March 2026 at 08:05 UTC+01:00"},
		{"de", "1. März 2026 um 08:05 UTC", "2. März 2026 um 08:05 UTC+01:00"},
		{"fr", "1er mars 2026 à 08:05 UTC", "2 mars 2026 à 08:05 UTC+01:00"},
		{"es", "1 de marzo de 2026 a las 08:05 UTC", "2 de marzo de 2026 a las 08:05 UTC+01:00"},
		{"pt-BR", "1º de março de 2026 às 08:05 UTC", "2 de março de 2026 às 08:05 UTC+01:00"},
	} {
		lb, err := labelsFor(tc.lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := lb.dateTime(first); got != tc.first {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.first)
		}
		if got := lb.dateTime(second); got != tc.second {
			t.Errorf("%s: %q, want %q", tc.lang, got, tc.second)
		}
	}
}

// The sender renders once per language and group of recipients; a run of
// millions of notices costs this per group, not per person.
func BenchmarkRender(b *testing.B) {
	d := fixture(Individuals, "de")
	for b.Loop() {
		if _, err := Render(Individuals, "de", d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStaysPure keeps the package plain Go: activities and the CLI render
// notices with it, and tests use it alone.
func TestStaysPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.temporal.io/", "github.com/slack-go/", "github.com/sendgrid/", "net/http", "gopkg.in/yaml"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("templates depends on %s", dep)
			}
		}
	}
}

// TestAnonymousGreeting: a notice to people whose name is unknown greets
// without one, in every language, and leaves no placeholder to fill.
func TestAnonymousGreeting(t *testing.T) {
	want := map[string]string{"en": "Hello,", "de": "Guten Tag,", "fr": "Bonjour,", "es": "Estimado/a cliente:", "pt-BR": "Prezado(a) cliente,"}
	for _, kind := range []Kind{Individuals, California} {
		for _, lang := range Languages() {
			d := fixture(kind, lang)
			d.Anonymous = true
			r, err := Render(kind, lang, d)
			if err != nil {
				t.Fatalf("%s/%s: %v", kind, lang, err)
			}
			if strings.Contains(r.Text+r.HTML, NamePlaceholder) {
				t.Errorf("%s/%s: an anonymous notice still carries %s", kind, lang, NamePlaceholder)
			}
			if !strings.Contains(r.Text, "\n"+want[lang]+"\n") || !strings.Contains(r.HTML, ">"+want[lang]+"</p>") {
				t.Errorf("%s/%s: no greeting %q in\n%s", kind, lang, want[lang], r.Text)
			}
		}
	}
}

func TestVersionNamesTheTemplates(t *testing.T) {
	v := Version()
	if len(v) != 16 || v != Version() {
		t.Fatalf("version %q", v)
	}
}
