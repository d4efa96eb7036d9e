package sendgridtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaPath is where the repository keeps SendGrid's published Mail Send
// request schema, from the module's root.
const SchemaPath = "internal/mailer/testdata/sendgrid-mail-send.schema.json"

// SchemaDefect is a place where SendGrid's published schema contradicts
// what SendGrid's API takes and documents: a failure of Keyword at the
// instance Location ("/custom_args") is skipped.
type SchemaDefect struct {
	Location, Keyword, Why string
}

// KnownSchemaDefects are the defects of the published Mail Send schema that
// CheckSchema skips (internal/mailer's schema test writes down the same).
var KnownSchemaDefects = []SchemaDefect{{
	Location: "/custom_args",
	Keyword:  "type",
	Why: `the request-level custom_args is typed "string", though its own description speaks of key/value pairs ` +
		`that must be strings, the personalization's custom_args beside it is an object, and SendGrid's helper ` +
		`libraries (sendgrid-go's helpers/mail among them) send an object`,
}}

// SchemaError is one failure of a body against the schema: the instance
// location as a JSON pointer, the failing keyword and what failed.
type SchemaError struct {
	Location, Keyword, Message string
	Defect                     *SchemaDefect // the known defect it is, if any
}

func (e SchemaError) String() string {
	loc := e.Location
	if loc == "" {
		loc = "/"
	}
	return loc + ": " + e.Keyword + ": " + e.Message
}

// MailSendSchema is SendGrid's published Mail Send request schema,
// compiled.
type MailSendSchema struct {
	sch     *jsonschema.Schema
	defects []SchemaDefect
}

// LoadMailSendSchema compiles the schema in file (SchemaPath under the
// module's root when empty, found from the working directory up, as a
// test's is) with format assertions on ("email" checked), skipping
// defects.
func LoadMailSendSchema(file string, defects []SchemaDefect) (*MailSendSchema, error) {
	if file == "" {
		var err error
		if file, err = findSchema(); err != nil {
			return nil, err
		}
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "file:///sendgrid-mail-send.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &MailSendSchema{sch: sch, defects: defects}, nil
}

func findSchema() (string, error) {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if _, src, _, ok := runtime.Caller(0); ok {
		dirs = append(dirs, filepath.Dir(src))
	}
	for _, d := range dirs {
		for ; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, filepath.FromSlash(SchemaPath))
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("%s not found above the working directory", SchemaPath)
}

var printer = message.NewPrinter(language.English)

// Validate checks a Mail Send body. It returns every failure, known
// defects included (marked), and an error if body is not JSON.
func (m *MailSendSchema) Validate(body []byte) ([]SchemaError, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	err = m.sch.Validate(v)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	var out []SchemaError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		se := SchemaError{Location: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)}
		if kp := e.ErrorKind.KeywordPath(); len(kp) > 0 {
			se.Keyword = kp[len(kp)-1]
		}
		for i := range m.defects {
			if d := &m.defects[i]; d.Location == se.Location && d.Keyword == se.Keyword {
				se.Defect = d
			}
		}
		out = append(out, se)
	}
	walk(ve)
	slices.SortFunc(out, func(a, b SchemaError) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// pointer is a JSON pointer (RFC 6901) of the path.
func pointer(path []string) string {
	var sb strings.Builder
	for _, p := range path {
		sb.WriteByte('/')
		sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return sb.String()
}

// mailSchema is the check CheckSchema makes.
type mailSchema struct{ m *MailSendSchema }

func loadMailSchema(file string) (*mailSchema, error) {
	m, err := LoadMailSendSchema(file, KnownSchemaDefects)
	if err != nil {
		return nil, err
	}
	return &mailSchema{m: m}, nil
}

// check returns the first failure that is not a known defect, as a field in
// SendGrid's dotted form ("personalizations.0.to.0.email") and a message.
func (s *mailSchema) check(body []byte) (field, msg string) {
	errs, err := s.m.Validate(body)
	if err != nil {
		return "", "not JSON: " + err.Error()
	}
	for _, e := range errs {
		if e.Defect == nil {
			return strings.ReplaceAll(strings.TrimPrefix(e.Location, "/"), "/", "."), e.Keyword + ": " + e.Message
		}
	}
	return "", ""
}
