package mailer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/sendgridtest"
)

// Our Mail Send bodies judged by SendGrid's own published description of
// POST /v3/mail/send rather than by our loopback: the request-body schema of
// sendgrid/sendgrid-oai (testdata/sendgrid-mail-send.schema.json, its
// source and licence in its $comment), checked with a JSON Schema 2020-12
// validator with formats asserted (every address is checked as "email").

const schemaFile = "testdata/sendgrid-mail-send.schema.json"

// knownDefects are the places where the published schema contradicts what
// SendGrid takes and documents; failures there are skipped, and each must
// still occur (TestSchemaDefectsAreReal), so that a fixed spec shows here.
var knownDefects = []sendgridtest.SchemaDefect{{
	// The request-level custom_args is typed "string"; its own description
	// speaks of key/value pairs that must be strings, the personalization's
	// custom_args beside it is an object, and sendgrid-go's helpers/mail
	// (the shape TestEncodeMatchesHelpers holds us to) sends an object. A
	// string there is refused by SendGrid.
	Location: "/custom_args", Keyword: "type",
	Why: "request-level custom_args typed as a string",
}}

func schemaBatches() map[string]Batch {
	tricky := testBatch(4)
	tricky.Key = `INC-1/rule "quoted" \ back/page-0001/part-1`
	tricky.From.Name = `Example "Privacy" \ Team <privacy>`
	tricky.ReplyTo = &Address{Email: "dpo@example.com", Name: "Zoë Ångström 東京 \u2028"}
	tricky.Subject = "Notice for {{recipient_name}} \t\"{{case_ref}}\""
	tricky.Recipients[0].Name = `Eve <script>alert("x")</script> & co`
	tricky.Recipients[1].Name = "ctrl \x00\x01\x1f\r\n bad utf8 \xff"
	tricky.Recipients[2].Name = ""
	tricky.Recipients[3].Substitutions = map[string]string{"case_ref": `R-3 <b>&'"`, "extra_field": "x"}
	tricky.Categories = []string{"breach-notice", "eu-gdpr-art34", `cat "quoted"`}
	tricky.CustomArgs = map[string]string{"incident": "INC-1", "rule": `a "rule" \ `}
	tricky.Attempt = 7

	textOnly := testBatch(1)
	textOnly.HTML, textOnly.ReplyTo, textOnly.Categories, textOnly.CustomArgs = "", nil, nil, nil
	htmlOnly := testBatch(2)
	htmlOnly.Text = ""
	htmlOnly.From.Name = ""
	sandbox := testBatch(3)
	sandbox.SandboxMode = true
	sandbox.Attempt = 1
	full := benchBatch(12, MaxRecipients)
	full.Attempt = 2
	full.ReplyTo = &Address{Email: "dpo@example.com"}
	ten := testBatch(1)
	ten.Categories = nil
	for i := range MaxCategories {
		ten.Categories = append(ten.Categories, fmt.Sprintf("c%d-%s", i, strings.Repeat("x", MaxCategoryLen-4)))
	}
	return map[string]Batch{"escapes": tricky, "text only": textOnly, "HTML only": htmlOnly, "sandbox": sandbox,
		"1,000 recipients": full, "ten longest categories": ten, "plain": testBatch(5)}
}

func encodeForSchema(t *testing.T, b Batch) []byte {
	t.Helper()
	if err := validate(&b); err != nil {
		t.Fatalf("our own validation refuses it: %v", err)
	}
	p := planBatch(&b)
	body, _ := appendMailSend(nil, &b, &p, nil)
	return body
}

func TestBodiesMatchPublishedSchema(t *testing.T) {
	sch, err := sendgridtest.LoadMailSendSchema(schemaFile, knownDefects)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range schemaBatches() {
		t.Run(name, func(t *testing.T) {
			errs, err := sch.Validate(encodeForSchema(t, b))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				if e.Defect == nil {
					t.Errorf("%s", e)
				}
			}
		})
	}
}

// Each known defect still occurs for our bodies, so none is skipped for
// nothing, and the loopback skips the same ones.
func TestSchemaDefectsAreReal(t *testing.T) {
	sch, err := sendgridtest.LoadMailSendSchema(schemaFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := sch.Validate(encodeForSchema(t, testBatch(2)))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range knownDefects {
		if !slices.ContainsFunc(errs, func(e sendgridtest.SchemaError) bool { return e.Location == d.Location && e.Keyword == d.Keyword }) {
			t.Errorf("known defect %s %s (%s) no longer occurs: the published schema may be fixed", d.Location, d.Keyword, d.Why)
		}
	}
	if len(errs) != len(knownDefects) {
		t.Errorf("the raw schema finds %v, want only the known defects", errs)
	}
	loc := func(ds []sendgridtest.SchemaDefect) (out []string) {
		for _, d := range ds {
			out = append(out, d.Location+" "+d.Keyword)
		}
		return out
	}
	if a, b := loc(knownDefects), loc(sendgridtest.KnownSchemaDefects); !slices.Equal(a, b) {
		t.Errorf("the loopback skips %v, this test %v", b, a)
	}
}

// The schema is not a formality: bodies SendGrid's description refuses are
// refused by it. Each is written by hand, as our encoder cannot produce it.
func TestPublishedSchemaRefuses(t *testing.T) {
	sch, err := sendgridtest.LoadMailSendSchema(schemaFile, knownDefects)
	if err != nil {
		t.Fatal(err)
	}
	const tail = `"subject":"s","content":[{"type":"text/plain","value":"v"}]`
	for _, c := range []struct{ name, body, where string }{
		{"no personalizations", `{"from":{"email":"f@example.com"},` + tail + `}`, "/: required"},
		{"address not an email", `{"from":{"email":"f@example.com"},"personalizations":[{"to":[{"email":"not an address"}]}],` + tail + `}`, "/personalizations/0/to/0/email: format"},
		{"empty content", `{"from":{"email":"f@example.com"},"personalizations":[{"to":[{"email":"a@example.org"}]}],"subject":"s","content":[{"type":"text/plain","value":""}]}`, "/content/0/value: minLength"},
		{"duplicate categories", `{"from":{"email":"f@example.com"},"personalizations":[{"to":[{"email":"a@example.org"}]}],"categories":["a","a"],` + tail + `}`, "/categories: uniqueItems"},
		{"custom_args in a personalization as a string", `{"from":{"email":"f@example.com"},"personalizations":[{"to":[{"email":"a@example.org"}],"custom_args":"x"}],` + tail + `}`, "/personalizations/0/custom_args: type"},
	} {
		errs, err := sch.Validate([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(errs, func(e sendgridtest.SchemaError) bool { return strings.HasPrefix(e.String(), c.where) }) {
			t.Errorf("%s: errors %v, want one at %s", c.name, errs, c.where)
		}
	}
}

// Our validation refuses before sending what the published schema would:
// categories beyond SendGrid's limits or twice.
func TestValidateCategories(t *testing.T) {
	for _, c := range []struct {
		cats []string
		want string
	}{
		{[]string{"a", "b", "a"}, "category 2 is the same"},
		{[]string{strings.Repeat("é", MaxCategoryLen+1)}, "longer than 255"},
		{[]string{""}, "category 0 is empty"},
		{strings.Split("a b c d e f g h i j k", " "), "11 categories"},
	} {
		b := testBatch(1)
		b.Categories = c.cats
		if err := validate(&b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("categories %.40q: %v, want %q", c.cats, err, c.want)
		}
	}
	b := testBatch(1)
	b.Categories = []string{strings.Repeat("é", MaxCategoryLen)}
	if err := validate(&b); err != nil {
		t.Errorf("255 characters (510 bytes): %v", err)
	}
}

// Every request Send makes passes the loopback's check against the same
// schema, as an e2e run with CheckSchema would see.
func TestSendPassesLoopbackSchemaCheck(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{CheckSchema: true})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	for name, b := range schemaBatches() {
		if _, err := m.Send(context.Background(), b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if v := sink.SchemaViolations(); len(v) > 0 {
		t.Errorf("violations: %q", v)
	}
}
