package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
)

// hostile is text an intake sender or a Slack user could plant (before
// validation refused it, or through a path that does not validate): clear
// the screen, write the clipboard (OSC 52), a hidden link (OSC 8), a line
// overwritten by a carriage return, an 8-bit CSI, a bidi override, a byte
// that is not UTF-8.
const hostile = "A\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ paid\rrefund \u009b31m \u202egnp.exe \xff"

// noControl fails if out holds anything a terminal would obey.
func noControl(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not valid UTF-8: %q", what, out)
	}
	for i, r := range out {
		if r == '\r' && strings.HasPrefix(out[i:], "\r\n") {
			continue
		}
		if incident.ForbiddenRune(r, true) {
			t.Errorf("%s: control character U+%04X at %d: %q", what, r, i, out)
			return
		}
	}
}

func TestEveryOutputEscapesControlCharacters(t *testing.T) {
	st := statusFor(incident.Facts{Title: hostile, AwareAt: now.Add(-time.Hour), Description: hostile, Reporter: hostile})
	st.OpenedBy = hostile
	st.Timeline = append(st.Timeline, incident.Entry{Seq: 2, At: now, Kind: incident.EntryNote, Actor: hostile, Text: hostile})
	closed := st
	closedAt := now
	closed.State, closed.ClosedAt, closed.CloseReason = incident.StateClosed, &closedAt, hostile
	svc := &fakeIncidents{
		list: func(orchestrator.ListFilter) ([]incident.Summary, error) {
			return []incident.Summary{{ID: st.ID, State: incident.StateOpen, Title: hostile, OpenedAt: now}}, nil
		},
		show:  func(string) (incident.Status, error) { return st, nil },
		close: func(string, string) (incident.Status, error) { return closed, nil },
		note: func(string, string, string) (incident.Entry, error) {
			return incident.Entry{}, apperr.New(apperr.Conflict, "refused: %s", hostile)
		},
	}
	for _, args := range [][]string{
		{"list"}, {"show", st.ID}, {"close", st.ID, "--reason", "x"},
		{"list", "-o", "json"}, {"show", st.ID, "-o", "json"}, {"note", st.ID, "x"},
	} {
		code, out, errOut := run(t, svc, nil, args...)
		name := strings.Join(args, " ")
		noControl(t, name+" stdout", out)
		noControl(t, name+" stderr", errOut)
		if out == "" && errOut == "" {
			t.Errorf("%s: printed nothing (exit %d)", name, code)
		}
		if strings.Contains(name, "json") {
			// Escaped, the JSON still reads back as the same text.
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("%s: not JSON any more: %v", name, err)
			}
			if !strings.Contains(out, `\u001b[2J`) {
				t.Errorf("%s: %s", name, out)
			}
		}
	}
	_, out, _ := run(t, svc, nil, "show", st.ID)
	if !strings.Contains(out, `A\u001b[2J\u001b]52;c;`) || !strings.Contains(out, `paid\u000drefund`) {
		t.Errorf("show does not show what was escaped:\n%s", out)
	}
}

func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain text\n\tindented":     "plain text\n\tindented",
		"Grüße, 東京":                  "Grüße, 東京",
		"a\x1b[2Jb":                  `a\u001b[2Jb`,
		"line\r\nnext\rover":         "line\r\nnext\\u000dover",
		"\u009b31m":                  `\u009b31m`,
		"abc\u202edcba\u2066":        `abc\u202edcba\u2066`,
		"bad \xff\xfe byte\x7f":      `bad \xff\xfe byte\u007f`,
		"bell\a nul\x00 tab\t end\n": "bell\\u0007 nul\\u0000 tab\t end\n",
	} {
		if got := TerminalSafe(in); got != want {
			t.Errorf("TerminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzTerminalSafe: whatever the text, and however it is cut into writes,
// what reaches the terminal is valid UTF-8 with no character it would obey
// (a carriage return only before a newline), it is the same as the text
// escaped whole, text that was safe passes unchanged, and escaping twice
// changes nothing more than escaping once did, only the backslashes.
func FuzzTerminalSafe(f *testing.F) {
	for _, s := range []string{hostile, "", "plain", "a\r", "\r\n", "é", "\xc3", "\xe6\x9d", "東京\r\n\x1b", "\u009b", "\xf0\x9f\x98"} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, s string, cut uint8) {
		whole := TerminalSafe(s)
		noControl(t, "TerminalSafe", whole)
		if terminalSafeAlready(s) && whole != s {
			t.Fatalf("safe text changed: %q -> %q", s, whole)
		}
		if TerminalSafe(whole) != whole {
			t.Fatalf("escaped text is not safe: %q -> %q", whole, TerminalSafe(whole))
		}
		// Cut into writes of cut+1 bytes.
		var buf bytes.Buffer
		w := newSafeWriter(&buf)
		step := int(cut)%7 + 1
		for i := 0; i < len(s); i += step {
			end := min(i+step, len(s))
			if n, err := w.Write([]byte(s[i:end])); err != nil || n != end-i {
				t.Fatalf("write: %d, %v", n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != whole {
			t.Fatalf("in writes of %d: %q, whole: %q", step, buf.String(), whole)
		}
	})
}
