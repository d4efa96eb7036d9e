package activities

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeRecipient reads the email, name and locale of a person's payload
// (the JSON object scoping stores). It is on the path of every person
// notified, so it reads the three fields it needs in one pass instead of
// decoding the whole object with reflection; anything it does not expect
// (escapes, duplicate keys, invalid JSON) goes to encoding/json, so the
// answer is always encoding/json's.
func decodeRecipient(payload []byte) (recipientPayload, error) {
	if r, ok := scanRecipient(payload); ok {
		return r, nil
	}
	var r recipientPayload
	err := json.Unmarshal(payload, &r)
	return r, err
}

// scanRecipient is the fast path; ok is false when the payload needs
// encoding/json.
func scanRecipient(p []byte) (r recipientPayload, ok bool) {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return r, false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return r, skipSpace(p, i+1) == len(p)
	}
	var seen [3]bool
	for {
		key, next, ok := plainString(p, i)
		if !ok {
			return r, false
		}
		i = skipSpace(p, next)
		if i >= len(p) || p[i] != ':' {
			return r, false
		}
		i = skipSpace(p, i+1)
		var dst *string
		var slot int
		switch key {
		case "email":
			dst, slot = &r.Email, 0
		case "name":
			dst, slot = &r.Name, 1
		case "locale":
			dst, slot = &r.Locale, 2
		default:
			// encoding/json matches keys without regard to case.
			if strings.EqualFold(key, "email") || strings.EqualFold(key, "name") || strings.EqualFold(key, "locale") {
				return r, false
			}
		}
		if dst != nil {
			if seen[slot] {
				return r, false // a repeated key: let encoding/json decide
			}
			seen[slot] = true
			if i < len(p) && p[i] == 'n' { // null leaves the field empty, as encoding/json does
				if len(p) < i+4 || string(p[i:i+4]) != "null" {
					return r, false
				}
				i += 4
			} else {
				v, next, ok := plainString(p, i)
				if !ok {
					return r, false
				}
				*dst, i = v, next
			}
		} else if i, ok = skipValue(p, i); !ok {
			return r, false
		}
		i = skipSpace(p, i)
		if i >= len(p) {
			return r, false
		}
		switch p[i] {
		case ',':
			i = skipSpace(p, i+1)
		case '}':
			return r, skipSpace(p, i+1) == len(p)
		default:
			return r, false
		}
	}
}

// plainString reads a JSON string at p[i] that has no escapes and is valid
// UTF-8 without control characters.
func plainString(p []byte, i int) (string, int, bool) {
	if i >= len(p) || p[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			s := p[i+1 : j]
			if !utf8.Valid(s) {
				return "", i, false
			}
			return string(s), j + 1, true
		case c == '\\' || c < 0x20:
			return "", i, false
		}
	}
	return "", i, false
}

// skipValue steps over a value it does not need: strings without escapes,
// arrays of them, numbers, true, false, null.
func skipValue(p []byte, i int) (int, bool) {
	if i >= len(p) {
		return i, false
	}
	switch c := p[i]; {
	case c == '"':
		_, next, ok := plainString(p, i)
		return next, ok
	case c == '[':
		i = skipSpace(p, i+1)
		if i < len(p) && p[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValue(p, i); !ok {
				return i, false
			}
			i = skipSpace(p, i)
			if i >= len(p) {
				return i, false
			}
			if p[i] == ']' {
				return i + 1, true
			}
			if p[i] != ',' {
				return i, false
			}
			i = skipSpace(p, i+1)
		}
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(p, i)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if len(p) >= i+len(lit) && string(p[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false // objects and anything else: encoding/json
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipNumber steps over a JSON number, as strictly as the grammar has it.
func skipNumber(p []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(p) && '0' <= p[i] && p[i] <= '9' {
			i++
		}
		return i
	}
	if p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && '1' <= p[i] && p[i] <= '9':
		i = digits(i)
	default:
		return i, false
	}
	if i < len(p) && p[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}
