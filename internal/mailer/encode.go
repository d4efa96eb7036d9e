package mailer

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendMailSend appends the v3 Mail Send JSON body for b: the same shape
// sendgrid-go's helpers/mail produces (TestEncodeMatchesHelpers checks it
// field by field), written straight into dst. BenchmarkEncode compares it
// with the helpers and with encoding/json over our own structs; this is
// several times faster and allocates almost nothing, which matters when a
// million recipients are encoded (see doc.go).
//
// Map-valued fields are written in sorted key order, so the same batch
// always yields the same bytes.
func appendMailSend(dst []byte, b *Batch, p *plan, keys []string) ([]byte, []string) {
	dst = append(dst, `{"from":`...)
	dst = appendAddress(dst, b.From)
	dst = append(dst, `,"subject":`...)
	dst = appendString(dst, b.Subject)

	dst = append(dst, `,"personalizations":[`...)
	for i := range b.Recipients {
		r := &b.Recipients[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"to":[`...)
		dst = appendAddress(dst, Address{Email: r.Email, Name: r.Name})
		dst = append(dst, `],"substitutions":{`...)
		first := true
		keys = p.substitutions(r, keys, func(name string, htmlVariant bool, value string) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, `"{{`...)
			dst = appendStringBody(dst, name)
			if htmlVariant {
				dst = append(dst, `.html`...)
			}
			dst = append(dst, `}}":`...)
			dst = appendString(dst, value)
		})
		dst = append(dst, `},"custom_args":{"`+ArgSubject+`":`...)
		dst = appendString(dst, r.ID)
		dst = append(dst, `}}`...)
	}
	dst = append(dst, ']')

	dst = append(dst, `,"content":[`...)
	if b.Text != "" {
		dst = append(dst, `{"type":"text/plain","value":`...)
		dst = appendString(dst, b.Text)
		dst = append(dst, '}')
	}
	if p.html != "" {
		if b.Text != "" {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"text/html","value":`...)
		dst = appendString(dst, p.html)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')

	if len(b.Categories) > 0 {
		dst = append(dst, `,"categories":[`...)
		for i, c := range b.Categories {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, c)
		}
		dst = append(dst, ']')
	}

	dst = append(dst, `,"custom_args":{`...)
	keys = keys[:0]
	for k := range b.CustomArgs {
		keys = append(keys, k)
	}
	keys = append(keys, ArgBatch)
	if b.Attempt > 0 {
		keys = append(keys, ArgAttempt)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		switch k {
		case ArgBatch:
			dst = appendString(dst, b.Key)
		case ArgAttempt:
			// A custom arg's value must be a string: SendGrid refuses a
			// number ("Invalid type. Expected: string").
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(b.Attempt), 10)
			dst = append(dst, '"')
		default:
			dst = appendString(dst, b.CustomArgs[k])
		}
	}
	dst = append(dst, '}')

	if b.SandboxMode {
		dst = append(dst, `,"mail_settings":{"sandbox_mode":{"enable":true}}`...)
	}
	if b.ReplyTo != nil {
		dst = append(dst, `,"reply_to":`...)
		dst = appendAddress(dst, *b.ReplyTo)
	}
	dst = append(dst, '}')
	return dst, keys
}

func appendAddress(dst []byte, a Address) []byte {
	dst = append(dst, `{`...)
	if a.Name != "" {
		dst = append(dst, `"name":`...)
		dst = appendString(dst, a.Name)
		dst = append(dst, ',')
	}
	dst = append(dst, `"email":`...)
	dst = appendString(dst, a.Email)
	return append(dst, '}')
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendStringBody appends s escaped for the inside of a JSON string, as
// encoding/json does without HTML escaping: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped for JavaScript's sake.
func appendStringBody(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = strconv.AppendInt(dst, int64(r&0xf), 16)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
