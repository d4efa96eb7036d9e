package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/rules"
	"github.com/breachctl/breachctl/templates"
)

// PreviewNoticeName is the registered name of Notifier.PreviewNotice.
const PreviewNoticeName = "PreviewNotice"

// PreviewResult is a drafted notice as it will read.
type PreviewResult struct {
	Previews []incident.NoticePreview `json:"previews"`
	// Rendered is a hash of every rendering, with the notice date fixed,
	// so the same notice approved on another day hashes the same.
	Rendered string `json:"rendered"`
}

// PreviewNotice renders a drafted notice the way it will be sent, with the
// configured organisation and recipients: what the approver signs off.
// It has no side effect.
func (n *Notifier) PreviewNotice(_ context.Context, spec NoticeSpec) (PreviewResult, error) {
	spec = n.complete(spec)
	shown, err := previews(spec)
	if err != nil {
		return PreviewResult{}, invalidNotice(err)
	}
	fixed := spec
	fixed.Data.NoticeDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	hashed, err := previews(fixed)
	if err != nil {
		return PreviewResult{}, invalidNotice(err)
	}
	return PreviewResult{Previews: shown, Rendered: renderedHash(hashed)}, nil
}

// DrillOrganisation stands for the organisation where none is configured
// (drills, tests): drafts still render for the approver to read.
var DrillOrganisation = templates.Organisation{Name: "Example Ltd (drill)", ContactName: "Data Protection Officer", ContactEmail: "dpo@example.com"}

// NewPreviewer is a notifier that only previews, for a worker with no
// mailer.
func NewPreviewer(org templates.Organisation) *Notifier {
	return &Notifier{sending: Sending{Organisation: org}}
}

// complete fills in what configuration adds to an approved notice: the
// organisation, and the organisations to notify when the rule names none.
func (n *Notifier) complete(spec NoticeSpec) NoticeSpec {
	spec.Data.Organisation = n.sending.Organisation
	if spec.Notify != "individuals" && len(spec.Recipients) == 0 && n.sending.Recipients != nil {
		for _, rule := range spec.Rules {
			spec.Recipients = append(spec.Recipients, n.sending.Recipients(rule, spec.Notify, spec.Jurisdiction)...)
		}
	}
	return spec
}

// previews renders a notice for each organisation it goes to, or, to
// people, in each language it has texts for (English always), in each
// language that falls back to the English texts in its own template
// (notices with Laws), and in the California form when Californians are in
// scope. A notice to people cites every law of it here, each person only
// the ones where they live.
func previews(spec NoticeSpec) ([]incident.NoticePreview, error) {
	var out []incident.NoticePreview
	if spec.Notify != "individuals" {
		kind := orgKind(spec.Notify)
		recipients := spec.Recipients
		if len(recipients) == 0 {
			// Shown as the rule names its recipient; sending will refuse
			// until one is configured, and the preview says so.
			recipients = []OrgRecipient{{Name: spec.Data.Recipient}}
		}
		for _, r := range recipients {
			d := spec.Data
			d.Recipient = r.Name
			if t, ok := spec.Translations[templates.Match(r.Locale)]; ok {
				d = t.Apply(d)
			}
			rd, err := templates.Render(kind, r.Locale, d)
			if err != nil {
				return nil, err
			}
			name := r.Name
			if len(spec.Recipients) == 0 {
				name = "none configured (add one under recipients in BREACHCTL_NOTIFY and restart the workers before approving)"
			}
			out = append(out, incident.NoticePreview{Template: string(kind), Lang: rd.Lang, Recipient: name, Subject: rd.Subject, Text: rd.Text})
		}
		return out, nil
	}
	langs := []string{"en"}
	for _, l := range sortedKeys(spec.Translations) {
		if l != "en" {
			langs = append(langs, l)
		}
	}
	if len(spec.Laws) > 0 && spec.FallbackChoice() == FallbackTemplate {
		// The approver reads what people in a language without texts get:
		// its template around the English texts.
		langs = append(langs, spec.FallbackLanguages()...)
	}
	kinds := []templates.Kind{templates.Individuals}
	if slices.ContainsFunc(spec.Residents, func(scope string) bool { return rules.InScope("US-CA", scope) }) {
		kinds = append(kinds, templates.California)
	}
	for _, kind := range kinds {
		for _, lang := range langs {
			d := spec.Data
			if t, ok := spec.Translations[lang]; ok {
				d = t.Apply(d)
			}
			laws := uint64(allLaws)
			if kind == templates.California && len(spec.Laws) > 0 {
				laws = spec.lawsFor("US-CA") // only Californians get it
			}
			d.Citation = spec.citation(lang, laws)
			rd, err := templates.Render(kind, lang, d)
			if err != nil {
				return nil, err
			}
			out = append(out, incident.NoticePreview{Template: string(kind), Lang: rd.Lang, Subject: rd.Subject, Text: rd.Text})
			if kind == templates.California {
				break // the California notice is in English
			}
		}
	}
	return out, nil
}

func renderedHash(p []incident.NoticePreview) string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
