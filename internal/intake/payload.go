package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// FieldError is a payload the intake refuses, naming the field at fault in
// the JSON path form the 400 answer gives ("alerts[2].labels.severity").
// Its message may quote a code the sender sent (a region, a category),
// never free text.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// object is one JSON object of a payload, decoded field by field so that an
// error can name the field with its full path: encoding/json's own errors
// lose array indexes and say nothing useful about a bad time.
type object struct {
	path   string
	fields map[string]json.RawMessage
}

// decodeBody reads a request body that must be one JSON object. A name
// given twice in any object of it is refused, as an unknown one is:
// encoding/json would keep the last, so what the sender's tools showed
// (often the first) and what breachctl took could differ.
func decodeBody(body []byte) (object, error) {
	if err := duplicateKey(body); err != nil {
		return object{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return object{}, fieldErr("body", "not valid JSON at byte %d: %v", syn.Offset, syn)
		}
		return object{}, fieldErr("body", "must be a JSON object")
	}
	if fields == nil { // the body was null
		return object{}, fieldErr("body", "must be a JSON object")
	}
	return object{fields: fields}, nil
}

// duplicateKey finds the first name given twice in one object, anywhere in
// body, and names it by its path ("alerts[1].labels.severity"). Malformed
// JSON is left to the decoder, which says where.
func duplicateKey(body []byte) error {
	type frame struct {
		object  bool
		path    string
		keys    map[string]bool
		key     string // the object's field being read
		index   int    // the array's element being read
		wantKey bool
	}
	var stack []*frame
	childPath := func(f *frame) string {
		if f.object {
			if f.path == "" {
				return quoteKey(f.key)
			}
			return f.path + "." + quoteKey(f.key)
		}
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	// valueDone moves the innermost container past a value it read.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed: decoding says
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			k, _ := tok.(string)
			if top.keys[k] {
				top.key = k
				return fieldErr(childPath(top), "given twice; each field may appear once in an object")
			}
			top.keys[k] = true
			top.key, top.wantKey = k, false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				path := ""
				if top != nil {
					path = childPath(top)
				}
				stack = append(stack, &frame{object: d == '{', path: path, keys: map[string]bool{}, wantKey: d == '{'})
				continue
			case ']':
				stack = stack[:len(stack)-1]
			}
		}
		valueDone()
	}
}

func (o object) at(name string) string {
	if o.path == "" {
		return quoteKey(name)
	}
	return o.path + "." + quoteKey(name)
}

// raw returns a field's value, or nil when it is absent or null.
func (o object) raw(name string) json.RawMessage {
	v := o.fields[name]
	if v == nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

// unknown names the first field, in sorted order, that is not known.
func (o object) unknown(known ...string) error {
	var extra []string
	for name := range o.fields {
		if !slices.Contains(known, name) {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	return fieldErr(o.at(extra[0]), "unknown field; known: %s", strings.Join(known, ", "))
}

func (o object) str(name string) (string, error) {
	v := o.raw(name)
	if v == nil {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fieldErr(o.at(name), "must be a string")
	}
	return s, nil
}

// time reads an RFC 3339 time; absent, null or "" is zero. Alertmanager
// writes a zero endsAt as 0001-01-01T00:00:00Z, which is zero too.
func (o object) time(name string) (time.Time, error) {
	s, err := o.str(name)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(o.at(name), "must be an RFC 3339 time like 2026-11-23T10:00:00Z")
	}
	if t.Year() < 1970 {
		return time.Time{}, nil // Alertmanager's "no time", or as good as
	}
	return t, nil
}

// list reads an array of strings, or one comma-separated string, and names
// each item's path (name[i], or name for a string).
func (o object) list(name string) (values, paths []string, err error) {
	v := o.raw(name)
	if v == nil {
		return nil, nil, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		for _, part := range strings.Split(s, ",") {
			values, paths = append(values, part), append(paths, o.at(name))
		}
		return values, paths, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, nil, fieldErr(o.at(name), "must be an array of strings or a comma-separated string")
	}
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", o.at(name), i)
		if err := json.Unmarshal(item, &s); err != nil {
			return nil, nil, fieldErr(p, "must be a string")
		}
		values, paths = append(values, s), append(paths, p)
	}
	return values, paths, nil
}

// strMap reads an object of strings, as labels and annotations are.
func (o object) strMap(name string) (map[string]string, error) {
	v := o.raw(name)
	if v == nil {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return nil, fieldErr(o.at(name), "must be an object of strings")
	}
	out := make(map[string]string, len(fields))
	for _, k := range sortedKeys(fields) {
		var s string
		if err := json.Unmarshal(fields[k], &s); err != nil {
			return nil, fieldErr(o.at(name)+"."+quoteKey(k), "must be a string")
		}
		out[k] = s
	}
	return out, nil
}

// objects reads an array of objects, each with its path name[i].
func (o object) objects(name string) ([]object, error) {
	v := o.raw(name)
	if v == nil {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, fieldErr(o.at(name), "must be an array of objects")
	}
	out := make([]object, len(items))
	for i, item := range items {
		out[i].path = fmt.Sprintf("%s[%d]", o.at(name), i)
		if err := json.Unmarshal(item, &out[i].fields); err != nil || out[i].fields == nil {
			return nil, fieldErr(out[i].path, "must be an object")
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkCodes validates each value of a list of systems, data categories or
// regions with the incident's own rules, so the error can name the item.
func checkCodes(kind string, values, paths []string) error {
	for i, v := range values {
		f := incident.Facts{Title: "x", AwareAt: time.Unix(0, 0)}
		switch kind {
		case "systems":
			f.Systems = []string{v}
		case "categories":
			f.DataCategories = []string{v}
		case "regions":
			f.Regions = []string{v}
		}
		if err := f.Normalize().Validate(); err != nil {
			return fieldErr(paths[i], "%s", messageOf(err))
		}
	}
	return nil
}

// messageOf is an error's message without its field prefix.
func messageOf(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// oneLine folds line breaks and tabs into spaces, for a title.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// quoteKey is how a name appears in a field path: bare when it is a plain
// identifier, quoted otherwise (an empty name included).
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return strconv.Quote(k)
		}
	}
	return k
}
