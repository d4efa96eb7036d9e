package sources

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// refObject reads a JSONL line the slow way, with encoding/json's decoder,
// key by key in order as parseObject does (the last of repeated keys
// counts, and a refused value refuses the line wherever it is). ok is false
// when the line must be refused.
func refObject(data []byte, keys map[string]int) (r row, ok bool) {
	if !json.Valid(data) || data[0] != '{' {
		return r, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return r, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, false
		}
		slot, want := keys[tok.(string)]
		if !want {
			continue
		}
		switch c := raw[0]; {
		case c == '"':
			_ = json.Unmarshal(raw, &r.v[slot])
			if slot == colCategories {
				r.catList, r.cats = false, nil
			}
		case c == 'n':
			r.v[slot] = ""
			if slot == colCategories {
				r.catList, r.cats = false, nil // null is absent
			}
		case c == '-' || '0' <= c && c <= '9':
			r.v[slot] = string(raw)
			if slot == colCategories {
				r.catList, r.cats = false, nil
			}
		case c == '[' && slot == colCategories:
			var items []json.RawMessage
			_ = json.Unmarshal(raw, &items)
			r.catList, r.cats = true, []string{}
			for _, it := range items {
				var s string
				if it[0] != '"' || json.Unmarshal(it, &s) != nil {
					return r, false
				}
				r.cats = append(r.cats, s)
			}
		default:
			return r, false
		}
	}
	return r, true
}

// FuzzJSONLObject checks the hand-written JSON scanner of the JSONL source
// against encoding/json: it refuses a line exactly when the reference does,
// and otherwise reads every wanted field (strings unescaped, numbers as
// their text, null as absent, categories as a list or a string) the same.
func FuzzJSONLObject(f *testing.F) {
	for _, l := range strings.Split(mixedJSONL, "\n") {
		f.Add(l)
	}
	for _, l := range []string{
		`{"id":"\ud83d\ude00","country":"DE","x":[{"a":"]"},"\\"]}`,
		"{\"id\":\"a\xffb\",\"country\":\"DE\"}",
		`{"id":1e400,"country":"DE"}`,
		`{"categories":["email"],"categories":null,"id":"x"}`,
		`{"categories":["email"],"categories":5,"id":"x"}`,
		`{"categories":"email","categories":["name"],"id":"x"}`,
		`{"id":true,"id":"x"}`,
		`{"\u0069d":"x","email" : "a@b.c" , "seen_at":"2026-03-01T09:00:00Z"}`,
		`{"id":"x","categories":["a",1]}`,
		`{"id":"x","categories":[],"name":{"a":[1,2,{"b":null}]},"region":-0.5e-3}`,
		`{}`, `[]`, `"x"`, `{"id":"x"`, `{"id":"x"} {}`,
	} {
		f.Add(l)
	}
	keys := map[string]int{}
	for slot, name := range (Fields{}).names() {
		keys[name] = slot
	}
	f.Fuzz(func(t *testing.T, line string) {
		data := trimSpace([]byte(line))
		if len(data) == 0 {
			return // a blank line: Read skips it before parseObject
		}
		var got row
		reason := parseObject(data, keys, &got)
		want, ok := refObject(data, keys)
		if (reason == "") != ok {
			t.Fatalf("%q: parseObject says %q, encoding/json says ok = %v", line, reason, ok)
		}
		if !ok {
			return
		}
		if got.v != want.v {
			t.Fatalf("%q: read %q, encoding/json reads %q", line, got.v, want.v)
		}
		if got.catList != want.catList || got.catList && !slices.Equal(got.cats, want.cats) {
			t.Fatalf("%q: categories %v %q, encoding/json reads %v %q", line, got.catList, got.cats, want.catList, want.cats)
		}
	})
}
