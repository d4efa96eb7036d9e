package rules

import (
	"strings"
	"unicode"
)

// lawNames are the names a law goes by in the notice languages where they
// differ from the abbreviation the rules cite it by (in English): a German
// reader knows the GDPR as the DSGVO, a French or Spanish one as the RGPD.
// Abbreviations not listed here (LGPD, NIS2, POPIA, UK GDPR) read the same
// in every language.
var lawNames = map[string]map[string]string{
	"GDPR": {"de": "DSGVO", "fr": "RGPD", "es": "RGPD", "pt-BR": "RGPD"},
}

// LocalCitation writes a rule's citation ("GDPR Art. 34(1)-(3)") with the
// law named as readers of the notice language know it ("DSGVO Art.
// 34(1)-(3)" in German). Only whole words are replaced, and a law that
// another's name qualifies keeps its own: "UK GDPR" stays "UK GDPR".
func LocalCitation(citation, lang string) string {
	var b strings.Builder
	words := splitWords(citation)
	for i, w := range words {
		name, ok := lawNames[w][lang]
		if ok && !(i >= 2 && words[i-2] == "UK" && words[i-1] == " ") {
			b.WriteString(name)
			continue
		}
		b.WriteString(w)
	}
	return b.String()
}

// splitWords cuts s into runs of letters and digits and the runs of other
// characters between them, which joined give s again.
func splitWords(s string) []string {
	var out []string
	start := 0
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	var prev bool
	for i, r := range s {
		w := isWord(r)
		if i > 0 && w != prev {
			out = append(out, s[start:i])
			start = i
		}
		prev = w
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
