package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/incident"
)

// What the CLI prints holds text that others typed: titles, notes, close
// reasons, actors, messages from Slack and intake senders, error texts that
// quote them. A terminal obeys the control characters in it (clear the
// screen, write the clipboard with OSC 52, hide a link behind OSC 8 text,
// overwrite a line with a carriage return), so every byte the CLI writes,
// on stdout and stderr, in every format, passes through TerminalSafe.

// TerminalSafe returns s with every control character escaped as \uXXXX
// (and every byte that is not UTF-8 as \xNN), so a terminal shows it
// instead of obeying it. Newlines, tabs and a carriage return that ends a
// line (CRLF, as emails have) stay. The escapes are JSON escapes too: in
// the CLI's JSON, where raw control characters occur only inside strings,
// the result is still valid JSON with the same meaning.
func TerminalSafe(s string) string {
	if terminalSafeAlready(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteByte('\r')
		case incident.ForbiddenRune(r, true):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// terminalSafeAlready is the fast path: printable ASCII, tabs and newlines.
func terminalSafeAlready(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// safeWriter passes everything written through TerminalSafe. A write that
// ends inside a UTF-8 sequence, or on a carriage return, keeps that tail
// for the next write, so text split across writes reads as it would whole;
// Flush writes what is left.
type safeWriter struct {
	w    io.Writer
	tail []byte
}

func newSafeWriter(w io.Writer) *safeWriter { return &safeWriter{w: w} }

func (s *safeWriter) Write(p []byte) (int, error) {
	buf := append(s.tail, p...)
	s.tail = nil
	cut := len(buf) - incompleteTail(buf)
	if cut < len(buf) {
		s.tail = append([]byte(nil), buf[cut:]...)
	}
	if cut > 0 {
		if _, err := io.WriteString(s.w, TerminalSafe(string(buf[:cut]))); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes the kept tail, escaped as it stands.
func (s *safeWriter) Flush() error {
	if len(s.tail) == 0 {
		return nil
	}
	t := string(s.tail)
	s.tail = nil
	_, err := io.WriteString(s.w, TerminalSafe(t))
	return err
}

// incompleteTail is how many bytes at the end of b could still become a
// whole rune, or a CRLF, with what comes next.
func incompleteTail(b []byte) int {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return 1
	}
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// rawWriter is the writer under w's escaping, for the CLI's own control
// sequences (redrawing a block in place on a terminal): what goes through
// it must be escaped by the caller (TerminalSafe) where it is not the
// CLI's own.
func rawWriter(w io.Writer) io.Writer {
	if s, ok := w.(*safeWriter); ok {
		_ = s.Flush()
		return s.w
	}
	return w
}
