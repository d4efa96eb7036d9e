package templates

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/text/language"
)

// languages are the languages notices are written in, English first: it is
// the fallback.
var languages = []string{"en", "de", "fr", "es", "pt-BR"}

var matcher = func() language.Matcher {
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = language.MustParse(l)
	}
	return language.NewMatcher(tags)
}()

// Languages lists the languages notices are written in: en, de, fr, es, pt-BR.
func Languages() []string { return slices.Clone(languages) }

// Match returns the language a notice for locale is written in:
//
//   - the closest of Languages by the CLDR's notion of mutual
//     intelligibility: de-AT and de-CH get German, es-MX Spanish, fr-CA
//     French, gsw (Swiss German) German; pt, pt-BR, and also pt-PT and the
//     other Portuguese locales get Brazilian Portuguese, which a reader in
//     Portugal understands far better than the English fallback;
//   - else, when the locale names a country, that country's main language if
//     we have it: ca-ES and eu-ES get Spanish, br-FR French, rm-CH German;
//   - else English: zh, ja, an empty or a malformed locale.
//
// POSIX spellings (pt_BR.UTF-8) are accepted.
func Match(locale string) string {
	// A notice matches the locale of every person it goes to, and people
	// share a few dozen locales: remember the answers.
	if lang, ok := matched.Load(locale); ok {
		return lang.(string)
	}
	lang := match(locale)
	if matchedCount.Load() < maxMatched {
		matchedCount.Add(1)
		matched.Store(locale, lang)
	}
	return lang
}

var (
	matched      sync.Map // locale -> language
	matchedCount atomic.Int64
)

// maxMatched bounds the memory of Match: past it (a list of garbage
// locales), answers are computed each time.
const maxMatched = 4096

func match(locale string) string {
	locale = strings.TrimSpace(locale)
	if i := strings.IndexAny(locale, ".@"); i >= 0 {
		locale = locale[:i] // pt_BR.UTF-8, de_DE@euro
	}
	locale = strings.ReplaceAll(locale, "_", "-")
	tag, err := language.Parse(locale)
	if err != nil {
		return languages[0]
	}
	if _, i, conf := matcher.Match(tag); conf != language.No {
		return languages[i]
	}
	if region, conf := tag.Region(); conf == language.Exact && region.IsCountry() {
		if country, err := language.Compose(region); err == nil {
			if base, _ := country.Base(); base.String() != "und" {
				if _, i, conf := matcher.Match(language.Make(base.String())); conf == language.Exact || conf == language.High {
					return languages[i]
				}
			}
		}
	}
	return languages[0]
}
