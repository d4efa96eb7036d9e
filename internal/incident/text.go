package incident

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/apperr"
)

// Text that people type reaches terminals, Slack, emails and the breach
// register. A control character in it (an escape sequence that clears a
// screen, writes the clipboard or hides a link; a carriage return that
// overwrites a line; a bidirectional override that reorders it) is never
// part of a fact, so it is refused where the fact comes in, naming the
// field, whichever way it came (CLI, Slack, intake).

// ForbiddenRune reports whether r may not appear in text a person gave:
// the C0 and C1 controls and DEL (all but tab and newline when multiline),
// and the Unicode bidirectional marks, embeddings, overrides and isolates.
func ForbiddenRune(r rune, multiline bool) bool {
	switch {
	case r == '\n' || r == '\t':
		return !multiline
	case unicode.IsControl(r): // C0, DEL, C1
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// CheckLine refuses a single-line value (a title, a name) that is not
// valid UTF-8 or holds a control character, a tab or a newline included.
func CheckLine(field, s string) error { return checkText(field, s, false) }

// CheckText refuses a multi-line value (a description, a note, a reason)
// that is not valid UTF-8 or holds a control character other than a tab
// or a newline.
func CheckText(field, s string) error { return checkText(field, s, true) }

func checkText(field, s string, multiline bool) error {
	if !utf8.ValidString(s) {
		return apperr.Invalidf(field, "is not valid UTF-8")
	}
	for i, r := range s {
		if ForbiddenRune(r, multiline) {
			return apperr.Invalidf(field, "holds the control character %s at byte %d: only printable text is taken", runeName(r), i)
		}
	}
	return nil
}

func runeName(r rune) string {
	switch r {
	case '\n':
		return "newline (U+000A)"
	case '\t':
		return "tab (U+0009)"
	case '\r':
		return "carriage return (U+000D)"
	case 0x1b:
		return "escape (U+001B)"
	}
	return fmt.Sprintf("U+%04X", r)
}

// oneLine turns the line breaks and tabs of a pasted single-line value into
// spaces, so a title copied across two lines is taken, not refused. Other
// control characters stay, for Validate to refuse.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)), " ")
}
