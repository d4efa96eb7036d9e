package rules

import (
	"strings"
	"testing"
)

func TestLocalCitation(t *testing.T) {
	for _, c := range []struct{ citation, lang, want string }{
		{"GDPR Art. 34(1)-(3)", "de", "DSGVO Art. 34(1)-(3)"},
		{"GDPR Art. 34(1)-(3)", "fr", "RGPD Art. 34(1)-(3)"},
		{"GDPR Art. 34(1)-(3)", "es", "RGPD Art. 34(1)-(3)"},
		{"GDPR Art. 34(1)-(3)", "en", "GDPR Art. 34(1)-(3)"},
		{"LGPD Art. 48; Res. CD/ANPD 15/2024 Art. 9", "pt-BR", "LGPD Art. 48; Res. CD/ANPD 15/2024 Art. 9"},
		{"UK GDPR Art. 34(1)-(3)", "de", "UK GDPR Art. 34(1)-(3)"},
		{"GDPRX Art. 1", "de", "GDPRX Art. 1"},
		{"", "de", ""},
	} {
		if got := LocalCitation(c.citation, c.lang); got != c.want {
			t.Errorf("LocalCitation(%q, %s) = %q, want %q", c.citation, c.lang, got, c.want)
		}
	}
}

// FuzzLocalCitation: a citation from a rules file (--rules DIR) is never
// lost or garbled: only the law's name changes.
func FuzzLocalCitation(f *testing.F) {
	f.Add("GDPR Art. 34(1)-(3)", "de")
	f.Add("UK GDPR Art. 33", "fr")
	f.Add("\xffGDPR\x00", "es")
	f.Fuzz(func(t *testing.T, citation, lang string) {
		if got := LocalCitation(citation, "en"); got != citation {
			t.Fatalf("English changed %q to %q", citation, got)
		}
		if strings.Contains(citation, "DSGVO") {
			return
		}
		// Naming the law back gives the citation again: nothing else moved.
		if got := LocalCitation(citation, "de"); strings.ReplaceAll(got, "DSGVO", "GDPR") != citation {
			t.Fatalf("%q became %q in German", citation, got)
		}
		_ = LocalCitation(citation, lang)
	})
}
