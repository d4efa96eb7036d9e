package sources

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxLine bounds a JSONL line; a longer one is rejected and skipped, so one
// runaway line cannot take the memory.
const maxLine = 1 << 20

// JSONL reads people from JSON Lines: one JSON object per line, keyed by the
// Fields names (exactly, as JSON keys are). Values are strings; a number is
// read as its text (numeric ids), null as absent. categories is a list of
// strings or a string separated by ';' or '|'. Blank lines are skipped; row
// numbers are line numbers.
func JSONL(name string, r io.Reader, f Fields) Source {
	return &jsonlSource{name: name, r: r, f: f}
}

type jsonlSource struct {
	name string
	r    io.Reader
	f    Fields
}

func (s *jsonlSource) Name() string { return s.name }

func (s *jsonlSource) Read(ctx context.Context, emit func(Record) error, reject func(Rejection)) error {
	br := bufio.NewReaderSize(s.r, 64<<10)
	keys := map[string]int{}
	for slot, name := range s.f.names() {
		if name != "" {
			keys[name] = slot
		}
	}
	b := newBuilder(s.name, s.f)
	var (
		r    row
		long []byte // a line longer than the reader's buffer
	)
	for line := 1; ; line++ {
		if line%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		data, tooLong, err := readLine(br, &long)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: line %d: %w", s.name, line, err)
		}
		eof := err != nil
		data = trimSpace(data)
		switch {
		case tooLong:
			reject(Rejection{Source: s.name, Row: line, Reason: fmt.Sprintf("line %d is longer than %d bytes", line, maxLine)})
		case len(data) == 0:
			// a blank line: nothing to read
		default:
			r.reset()
			if reason := parseObject(data, keys, &r); reason != "" {
				reject(Rejection{Source: s.name, Row: line, Reason: fmt.Sprintf("line %d %s", line, reason)})
				break
			}
			out, reason := b.build(&r, line)
			if reason != "" {
				reject(Rejection{Source: s.name, Row: line, Reason: reason})
				break
			}
			if err := emit(out); err != nil {
				return err
			}
		}
		if eof {
			return nil
		}
	}
}

// readLine returns the next line without its newline, and whether it was
// longer than maxLine (then its text is dropped). The bytes are valid until
// the next call. err is io.EOF at the last line, or an I/O error.
func readLine(br *bufio.Reader, long *[]byte) (line []byte, tooLong bool, err error) {
	chunk, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return chunk, false, err // the common case: the line fits the buffer
	}
	buf := append((*long)[:0], chunk...)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = br.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) > maxLine {
			tooLong, buf = true, buf[:0]
		}
		if !tooLong {
			buf = append(buf, chunk...)
		}
	}
	*long = buf[:0]
	if cap(buf) > maxLine {
		*long = nil // do not keep a huge buffer for the rest of the file
	}
	return buf, tooLong, err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// parseObject reads the fields of one JSON object into r; the reason is ""
// when it could, else what is wrong (after "line N "). It makes one string
// of the line and slices every unescaped value out of it.
func parseObject(data []byte, keys map[string]int, r *row) string {
	if !json.Valid(data) {
		return "is not valid JSON"
	}
	if data[0] != '{' {
		return "is not a JSON object"
	}
	sc := scanner{s: string(data), i: 1}
	for {
		sc.space()
		if sc.peek() == '}' {
			return ""
		}
		key := sc.str()
		sc.space()
		sc.i++ // ':'
		sc.space()
		slot, want := keys[key]
		if !want {
			sc.skip()
		} else if reason := sc.value(slot, key, r); reason != "" {
			return reason
		}
		sc.space()
		if sc.peek() == ',' {
			sc.i++
		}
	}
}

// scanner walks JSON that json.Valid has accepted, so it never meets a
// syntax error.
type scanner struct {
	s string
	i int
}

func (sc *scanner) peek() byte { return sc.s[sc.i] }

func (sc *scanner) space() {
	for sc.i < len(sc.s) && isSpace(sc.s[sc.i]) {
		sc.i++
	}
}

// str reads a string at sc.i. It decodes it as encoding/json would only if
// it has escapes or bytes that may be invalid UTF-8 (which decoding
// replaces); else it is a slice of the line.
func (sc *scanner) str() string {
	start := sc.i
	escaped, nonASCII := false, false
	sc.i++
	for {
		switch c := sc.s[sc.i]; {
		case c == '\\':
			escaped = true
			sc.i += 2
			continue
		case c >= utf8.RuneSelf:
			nonASCII = true
		case c == '"':
			sc.i++
			v := sc.s[start+1 : sc.i-1]
			if !escaped && (!nonASCII || utf8.ValidString(v)) {
				return v
			}
			return decodeString(sc.s[start:sc.i])
		}
		sc.i++
	}
}

// decodeString decodes a JSON string literal; apart from str so that its
// variable, which escapes to encoding/json, is not allocated for every
// plain string.
func decodeString(lit string) string {
	var v string
	_ = json.Unmarshal([]byte(lit), &v) // valid JSON: cannot fail
	return v
}

// skip steps over a value of any kind.
func (sc *scanner) skip() {
	depth := 0
	for {
		switch c := sc.s[sc.i]; c {
		case '"':
			sc.str()
			if depth == 0 {
				return
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				sc.i++
				return
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return
			}
		}
		sc.i++
		if depth == 0 && sc.i < len(sc.s) && strings.IndexByte(",}] \t\r\n", sc.s[sc.i]) >= 0 {
			return // the end of a number, true, false or null
		}
	}
}

// value reads the value of a wanted key into its slot.
func (sc *scanner) value(slot int, key string, r *row) string {
	if slot == colCategories { // the last of repeated keys counts, a list, a string or null
		r.catList, r.cats = false, r.cats[:0]
	}
	switch c := sc.peek(); {
	case c == '"':
		r.v[slot] = sc.str()
	case c == 'n': // null
		sc.i += len("null")
		r.v[slot] = ""
	case c == '-' || '0' <= c && c <= '9':
		start := sc.i
		sc.skip()
		r.v[slot] = sc.s[start:sc.i]
	case c == '[' && slot == colCategories:
		sc.i++
		r.catList, r.cats = true, r.cats[:0]
		for {
			sc.space()
			switch sc.peek() {
			case ']':
				sc.i++
				return ""
			case ',':
				sc.i++
				continue
			case '"':
				r.cats = append(r.cats, sc.str())
			default:
				return fmt.Sprintf("has %s with an item that is not a string", key)
			}
		}
	default:
		kind := "a boolean"
		switch c {
		case '{':
			kind = "an object"
		case '[':
			kind = "a list"
		}
		if slot == colCategories {
			return fmt.Sprintf("has %s as %s; want a list of strings", key, kind)
		}
		return fmt.Sprintf("has %s as %s; want a string", key, kind)
	}
	return ""
}
