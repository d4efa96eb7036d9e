package templates

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// view is what a template sees: the notice data, with dates, numbers,
// categories and regions already written out in the notice's language. The
// template sources hold the sentences; this holds no words of any language.
type view struct {
	Lang, Subject string
	Placeholder   string
	Anonymous     bool // greet without a name (NoticeData.Anonymous)
	Org           Organisation
	IncidentID    string
	Citation      string
	Recipient     string
	NoticeDate    string
	// When the breach took place: a range (OccurredFrom and OccurredTo),
	// one day (OccurredOn), no later than a day (OccurredBy), or unknown
	// (all empty).
	OccurredFrom, OccurredTo, OccurredOn, OccurredBy string
	// Discovered is the day the organisation became aware; DiscoveredAt
	// adds the time. Aware is the one the notice gives: the day for people,
	// the time too for an authority or a controller, whose deadlines run in
	// hours from it.
	Discovered, DiscoveredAt, Aware string

	WhatHappened, LikelyConsequences, MeasuresTaken, WhatYouCanDo string
	ReasonsForDelay, IdentityTheftOffer                           string

	Categories        []string // localised labels
	SubjectCategories []string
	AffectedCount     string // "" when not yet known
	RecordCount       string // "" when not yet known
	Jurisdictions     []string
	Contact           []string // labelled lines

	Late, LawEnforcementDelay bool
	// CreditBureaus are the major credit reporting agencies, one line each,
	// when a California notice must list them.
	CreditBureaus []string
	// Incomplete says some information the law asks for "where possible" is
	// not known yet and will follow (GDPR Art. 33(4)).
	Incomplete bool
}

// view builds what the templates see from data Validate accepted.
func (b *bundle) view(kind Kind, lang string, d NoticeData) *view {
	lb := b.labels[lang]
	o := d.Organisation
	v := &view{
		Lang:                lang,
		Placeholder:         NamePlaceholder,
		Anonymous:           d.Anonymous,
		Org:                 o,
		IncidentID:          strings.TrimSpace(d.IncidentID),
		Citation:            strings.TrimSpace(d.Citation),
		Recipient:           strings.TrimSpace(d.Recipient),
		NoticeDate:          lb.date(d.NoticeDate),
		Discovered:          lb.date(d.DiscoveredAt),
		DiscoveredAt:        lb.dateTime(d.DiscoveredAt),
		WhatHappened:        d.WhatHappened,
		LikelyConsequences:  strings.TrimSpace(d.LikelyConsequences),
		MeasuresTaken:       strings.TrimSpace(d.MeasuresTaken),
		WhatYouCanDo:        strings.TrimSpace(d.WhatYouCanDo),
		ReasonsForDelay:     strings.TrimSpace(d.ReasonsForDelay),
		IdentityTheftOffer:  strings.TrimSpace(d.IdentityTheftOffer),
		Late:                d.Late,
		LawEnforcementDelay: d.LawEnforcementDelay,
	}
	v.Aware = v.Discovered
	if kind == Authority || kind == Controller {
		v.Aware = v.DiscoveredAt
	}
	from, to := d.OccurredFrom, d.OccurredTo
	switch {
	case from != nil && to != nil && !sameDay(*from, *to):
		v.OccurredFrom, v.OccurredTo = lb.date(*from), lb.date(*to)
	case from != nil:
		v.OccurredOn = lb.date(*from)
	case to != nil:
		v.OccurredBy = lb.date(*to)
	}

	for _, c := range canonicalCategories(d.DataCategories) {
		v.Categories = append(v.Categories, lb.Categories[c])
	}
	for _, s := range d.SubjectCategories {
		if s = strings.TrimSpace(s); s != "" {
			v.SubjectCategories = append(v.SubjectCategories, s)
		}
	}
	if d.AffectedCount > 0 {
		v.AffectedCount = lb.number(d.AffectedCount)
	}
	if d.RecordCount > 0 {
		v.RecordCount = lb.number(d.RecordCount)
	}
	for _, region := range sortedKeys(d.AffectedByJurisdiction) {
		n := lb.UnknownCount
		if c := d.AffectedByJurisdiction[region]; c > 0 {
			n = lb.number(c)
		}
		v.Jurisdictions = append(v.Jurisdictions, lb.regionName(region)+lb.Colon+n)
	}

	v.Contact = []string{o.ContactName}
	add := func(label, value string) {
		if value = strings.TrimSpace(value); value != "" {
			v.Contact = append(v.Contact, label+lb.Colon+strings.Join(nonEmptyLines(value), ", "))
		}
	}
	add(lb.Contact.Email, o.ContactEmail)
	add(lb.Contact.Phone, o.ContactPhone)
	add(lb.Contact.Address, o.Address)
	add(lb.Contact.Website, o.Website)

	if kind == California && hasAny(d.DataCategories, creditBureauCategories) {
		v.CreditBureaus = b.creditBureaus
	}
	if kind == Authority || kind == Controller {
		v.Incomplete = len(v.SubjectCategories) == 0 || d.AffectedCount == 0 ||
			len(v.Categories) == 0 || d.RecordCount == 0 ||
			v.LikelyConsequences == "" || v.MeasuresTaken == ""
	}
	return v
}

// Categories by law: California lists the credit reporting agencies when a
// Social Security, driver's license or state ID card number was involved
// (Civ. Code § 1798.82(d)), and needs the offer of identity theft services
// for those and for passport, taxpayer and other government ID numbers.
var (
	creditBureauCategories  = []string{"ssn", "drivers_license", "government_id"}
	identityTheftCategories = []string{"ssn", "drivers_license", "passport", "government_id", "taxpayer_id"}
)

// canonicalCategories returns the categories given in breachctl's order of
// them (name, email, ... special_category), each once.
func canonicalCategories(codes []string) []string {
	var out []string
	for _, c := range incident.DataCategories {
		if slices.Contains(codes, c) {
			out = append(out, c)
		}
	}
	return out
}

func hasAny(codes, of []string) bool {
	return slices.ContainsFunc(codes, func(c string) bool { return slices.Contains(of, c) })
}

func nonEmptyLines(s string) []string {
	var out []string
	for line := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func sameDay(a, b time.Time) bool {
	b = b.In(a.Location())
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// date writes a day in the language, in the time's own zone: "2 March 2026",
// "2. März 2026", "1er mars 2026", "2 de marzo de 2026", "1º de março de 2026".
func (lb *labels) date(t time.Time) string {
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 && lb.FirstDay != "" {
		day = lb.FirstDay
	}
	return strings.NewReplacer("{day}", day, "{month}", lb.Months[t.Month()-1], "{year}", strconv.Itoa(t.Year())).Replace(lb.Date)
}

// dateTime adds the time of day, to the minute, and the zone as an offset
// from UTC: "2 March 2026 at 09:15 UTC".
func (lb *labels) dateTime(t time.Time) string {
	zone := "UTC"
	if _, off := t.Zone(); off != 0 {
		zone = "UTC" + t.Format("-07:00")
	}
	return strings.NewReplacer("{date}", lb.date(t), "{time}", t.Format("15:04")+" "+zone).Replace(lb.DateTime)
}

// Validate checks that a notice of the kind says everything the law requires
// of it, and names the first field that is missing or wrong. Render and
// Document call it; a sender can call it before queueing anything.
func Validate(kind Kind, d NoticeData) error {
	if !slices.Contains(Kinds(), kind) {
		return apperr.Invalidf("kind", "%q is not one of %s", kind, kindList())
	}
	law := map[Kind]string{
		Individuals: "GDPR Art. 34(2)",
		California:  "Cal. Civ. Code § 1798.82(d)",
		Authority:   "GDPR Art. 33(3)",
		Controller:  "GDPR Art. 33(2)",
	}[kind]
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	o := d.Organisation
	switch {
	case blank(o.Name):
		return apperr.Invalidf("organisation.name", "is required: the notice must say who gives it (%s)", law)
	case blank(o.ContactName):
		return apperr.Invalidf("organisation.contact_name", "is required: the notice must name the data protection officer or other contact point (%s)", law)
	case blank(o.ContactEmail) && blank(o.ContactPhone):
		return apperr.Invalidf("organisation.contact_email", "a contact email address or phone number is required: the notice must give the contact point's contact details (%s)", law)
	case d.NoticeDate.IsZero():
		return apperr.Invalidf("notice_date", "is required: a notice is dated")
	case d.DiscoveredAt.IsZero():
		return apperr.Invalidf("discovered_at", "is required: the notice says when the breach was discovered")
	case blank(d.WhatHappened):
		return apperr.Invalidf("what_happened", "is required: the notice must describe the nature of the breach (%s)", law)
	case d.OccurredFrom != nil && d.OccurredTo != nil && d.OccurredTo.Before(*d.OccurredFrom):
		return apperr.Invalidf("occurred_to", "%s is before occurred_from %s",
			d.OccurredTo.Format(time.RFC3339), d.OccurredFrom.Format(time.RFC3339))
	case d.AffectedCount < 0:
		return apperr.Invalidf("affected_count", "%d is not a count", d.AffectedCount)
	case d.RecordCount < 0:
		return apperr.Invalidf("record_count", "%d is not a count", d.RecordCount)
	}
	for _, c := range d.DataCategories {
		if !incident.IsDataCategory(c) {
			return apperr.Invalidf("data_categories", "unknown category %q; known: %s", c, strings.Join(incident.DataCategories, ", "))
		}
	}
	for _, region := range sortedKeys(d.AffectedByJurisdiction) {
		if n := d.AffectedByJurisdiction[region]; n < 0 {
			return apperr.Invalidf("affected_by_jurisdiction", "%s: %d is not a count", region, n)
		}
		if err := incident.ValidateRegion(region); err != nil {
			return apperr.Invalidf("affected_by_jurisdiction", "%v", err)
		}
	}

	switch kind {
	case Individuals:
		switch {
		case blank(d.LikelyConsequences):
			return apperr.Invalidf("likely_consequences", "is required: the notice must describe the likely consequences of the breach (%s with Art. 33(3)(c))", law)
		case blank(d.MeasuresTaken):
			return apperr.Invalidf("measures_taken", "is required: the notice must describe the measures taken or proposed, including to mitigate possible adverse effects (%s with Art. 33(3)(d))", law)
		}
	case California:
		switch {
		case len(d.DataCategories) == 0:
			return apperr.Invalidf("data_categories", "is required: the notice must list the types of personal information involved, under \"What Information Was Involved\" (%s)", law)
		case blank(d.MeasuresTaken):
			return apperr.Invalidf("measures_taken", "is required: it is what the notice says under \"What We Are Doing\" (%s)", law)
		case blank(d.WhatYouCanDo):
			return apperr.Invalidf("what_you_can_do", "is required: it is what the notice says under \"What You Can Do\" (%s)", law)
		case hasAny(d.DataCategories, identityTheftCategories) && blank(d.IdentityTheftOffer):
			return apperr.Invalidf("identity_theft_offer", "is required when a Social Security, driver's license, passport, taxpayer or other government ID number was involved: "+
				"the notice must offer identity theft prevention and mitigation services at no cost for at least 12 months, with what people need to take the offer up (%s, where the business was the source of the breach)", law)
		}
	case Authority:
		switch {
		case blank(d.Recipient):
			return apperr.Invalidf("recipient", "is required: the supervisory authority the notice is addressed to")
		case blank(d.LikelyConsequences):
			return apperr.Invalidf("likely_consequences", "is required: the notice must describe the likely consequences of the breach (GDPR Art. 33(3)(c))")
		case blank(d.MeasuresTaken):
			return apperr.Invalidf("measures_taken", "is required: the notice must describe the measures taken or proposed, including to mitigate possible adverse effects (GDPR Art. 33(3)(d))")
		case d.Late && blank(d.ReasonsForDelay):
			return apperr.Invalidf("reasons_for_delay", "is required: a notification after the deadline must be accompanied by the reasons for the delay (GDPR Art. 33(1))")
		}
	case Controller:
		if blank(d.Recipient) {
			return apperr.Invalidf("recipient", "is required: the controller the notice is addressed to")
		}
	}
	return nil
}
