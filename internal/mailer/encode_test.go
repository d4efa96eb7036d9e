package mailer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/sendgridtest"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// helperBody builds the request body with sendgrid-go's helpers/mail, the
// reference for the shape appendMailSend writes.
func helperBody(b *Batch) []byte {
	p := planBatch(b)
	m := mail.NewV3Mail()
	m.SetFrom(mail.NewEmail(b.From.Name, b.From.Email))
	if b.ReplyTo != nil {
		m.SetReplyTo(mail.NewEmail(b.ReplyTo.Name, b.ReplyTo.Email))
	}
	m.Subject = b.Subject
	if b.Text != "" {
		m.AddContent(mail.NewContent("text/plain", b.Text))
	}
	if p.html != "" {
		m.AddContent(mail.NewContent("text/html", p.html))
	}
	ps := make([]*mail.Personalization, len(b.Recipients))
	var keys []string
	for i := range b.Recipients {
		r := &b.Recipients[i]
		pz := mail.NewPersonalization()
		pz.AddTos(mail.NewEmail(r.Name, r.Email))
		keys = p.substitutions(r, keys, func(name string, htmlVariant bool, value string) {
			if htmlVariant {
				pz.SetSubstitution(htmlTag(name), value)
			} else {
				pz.SetSubstitution(tag(name), value)
			}
		})
		pz.SetCustomArg(ArgSubject, r.ID)
		ps[i] = pz
	}
	m.AddPersonalizations(ps...)
	m.AddCategories(b.Categories...)
	for k, v := range b.CustomArgs {
		m.SetCustomArg(k, v)
	}
	m.SetCustomArg(ArgBatch, b.Key)
	if b.Attempt > 0 {
		m.SetCustomArg(ArgAttempt, fmt.Sprint(b.Attempt))
	}
	if b.SandboxMode {
		m.SetMailSettings(mail.NewMailSettings().SetSandboxMode(mail.NewSetting(true)))
	}
	return mail.GetRequestBody(m)
}

// Our own structs with encoding/json: the middle way, measured in
// BenchmarkEncode.
type jsonMail struct {
	From             jsonAddr          `json:"from"`
	Subject          string            `json:"subject"`
	Personalizations []jsonPers        `json:"personalizations"`
	Content          []jsonContent     `json:"content"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args"`
	ReplyTo          *jsonAddr         `json:"reply_to,omitempty"`
	MailSettings     *struct {
		SandboxMode struct {
			Enable bool `json:"enable"`
		} `json:"sandbox_mode"`
	} `json:"mail_settings,omitempty"`
}
type jsonAddr struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}
type jsonPers struct {
	To            [1]jsonAddr       `json:"to"`
	Substitutions map[string]string `json:"substitutions"`
	CustomArgs    map[string]string `json:"custom_args"`
}
type jsonContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func structBody(b *Batch) []byte {
	p := planBatch(b)
	m := jsonMail{From: jsonAddr{b.From.Name, b.From.Email}, Subject: b.Subject, Categories: b.Categories,
		CustomArgs: map[string]string{ArgBatch: b.Key}}
	for k, v := range b.CustomArgs {
		m.CustomArgs[k] = v
	}
	if b.Attempt > 0 {
		m.CustomArgs[ArgAttempt] = fmt.Sprint(b.Attempt)
	}
	if b.ReplyTo != nil {
		m.ReplyTo = &jsonAddr{b.ReplyTo.Name, b.ReplyTo.Email}
	}
	if b.SandboxMode {
		m.MailSettings = &struct {
			SandboxMode struct {
				Enable bool `json:"enable"`
			} `json:"sandbox_mode"`
		}{}
		m.MailSettings.SandboxMode.Enable = true
	}
	if b.Text != "" {
		m.Content = append(m.Content, jsonContent{"text/plain", b.Text})
	}
	if p.html != "" {
		m.Content = append(m.Content, jsonContent{"text/html", p.html})
	}
	m.Personalizations = make([]jsonPers, len(b.Recipients))
	var keys []string
	for i := range b.Recipients {
		r := &b.Recipients[i]
		pz := &m.Personalizations[i]
		pz.To[0] = jsonAddr{r.Name, r.Email}
		pz.Substitutions = make(map[string]string, 1+len(r.Substitutions))
		keys = p.substitutions(r, keys, func(name string, htmlVariant bool, value string) {
			if htmlVariant {
				pz.Substitutions[htmlTag(name)] = value
			} else {
				pz.Substitutions[tag(name)] = value
			}
		})
		pz.CustomArgs = map[string]string{ArgSubject: r.ID}
	}
	out, err := json.Marshal(&m)
	if err != nil {
		panic(err)
	}
	return out
}

func decodeMail(t testing.TB, body []byte) sendgridtest.Mail {
	t.Helper()
	var m sendgridtest.Mail
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

func TestEncodeMatchesHelpers(t *testing.T) {
	tricky := []string{
		"plain", `quote " and backslash \ `, "ctrl \x00\x01\x1f\t\r\n", "bad utf8 \xff\xfe", "line sep \u2028 \u2029",
		"Zoë Ångström 東京", "<b>bold</b> & 'single'", "",
	}
	for i, s := range tricky {
		b := Batch{
			Key:        "INC-1/rule/page-0001/part-" + fmt.Sprint(i),
			From:       Address{Email: "privacy@example.com", Name: "Example " + s},
			ReplyTo:    &Address{Email: "dpo@example.com", Name: s},
			Subject:    "Notice " + s + " {{recipient_name}}",
			Text:       "Dear {{recipient_name}}, ref {{case_ref}} " + s,
			HTML:       "<p>Dear {{recipient_name}}, ref {{case_ref}}</p>" + s,
			CustomArgs: map[string]string{"incident": "INC-1", "rule": s},
			Categories: []string{"breach-notice", s},
			Recipients: []Recipient{
				{Email: "a@example.org", Name: "Ann " + s, ID: "subj-1", Substitutions: map[string]string{"case_ref": "R-1" + s, "z": s}},
				{Email: "b@example.org", ID: "subj-2" + s},
			},
			SandboxMode: i%2 == 0,
			Attempt:     i % 3, // 0 sends no attempt arg
		}
		p := planBatch(&b)
		got, _ := appendMailSend(nil, &b, &p, nil)
		if !json.Valid(got) {
			t.Fatalf("case %d: not valid JSON: %s", i, got)
		}
		want := helperBody(&b)
		if g, w := decodeMail(t, got), decodeMail(t, want); !reflect.DeepEqual(g, w) {
			t.Errorf("case %d: decoded bodies differ\nours:    %s\nhelpers: %s", i, got, want)
		}
		if g, w := decodeMail(t, got), decodeMail(t, structBody(&b)); !reflect.DeepEqual(g, w) {
			t.Errorf("case %d: differs from encoding/json", i)
		}
	}
}

func TestAttemptArg(t *testing.T) {
	rootArgs := func(b Batch) map[string]string {
		t.Helper()
		p := planBatch(&b)
		body, _ := appendMailSend(nil, &b, &p, nil)
		return decodeMail(t, body).CustomArgs
	}
	b := testBatch(2)
	if got := rootArgs(b); len(got) != 3 || got[ArgBatch] != b.Key {
		t.Errorf("attempt 0: custom_args %v, want the batch key and the batch's own, no %s", got, ArgAttempt)
	}
	b.Attempt = 12
	if got := rootArgs(b); len(got) != 4 || got[ArgAttempt] != "12" || got[ArgBatch] != b.Key || got["incident"] == "" {
		t.Errorf("attempt 12: custom_args %v, want %s \"12\" beside the batch key", got, ArgAttempt)
	}

	// The batch may not set it itself, nor be negative.
	b.CustomArgs = map[string]string{ArgAttempt: "1"}
	if err := validate(&b); err == nil || !strings.Contains(err.Error(), ArgAttempt) {
		t.Errorf("custom args setting %s: %v", ArgAttempt, err)
	}
	b = testBatch(1)
	b.Attempt = -1
	if err := validate(&b); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("attempt -1: %v", err)
	}

	// The attempt counts towards the request's custom_args size: a batch
	// just under the limit without it is over with it.
	b = testBatch(1)
	b.CustomArgs = map[string]string{"pad": ""}
	base := max(argsSize(b.CustomArgs), 2) + len(ArgBatch) + len(b.Key) + 6 + len(ArgSubject) + len(b.Recipients[0].ID) + 6
	b.CustomArgs["pad"] = strings.Repeat("x", MaxCustomArgsBytes-1-base)
	if err := validate(&b); err != nil {
		t.Fatalf("at the limit without an attempt: %v", err)
	}
	b.Attempt = 1
	if err := validate(&b); err == nil || !strings.Contains(err.Error(), "custom args") {
		t.Errorf("over the limit with the attempt: %v", err)
	}
}

// FuzzAppendString checks our JSON string escaping against encoding/json's
// (without HTML escaping, which SendGrid does not need).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x1f\x7f", "\xff", "é", "\u2028", "<&>", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("appendString(%q) = %s, encoding/json %s", s, got, want.Bytes())
		}
	})
}

// BenchmarkEncode builds and encodes one 1,000-recipient request three ways.
//
//	go test ./internal/mailer/ -run '^$' -bench BenchmarkEncode -benchmem
func BenchmarkEncode(b *testing.B) {
	batch := benchBatch(0, MaxRecipients)
	b.Run("helpers", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			helperBody(&batch)
		}
	})
	b.Run("structs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			structBody(&batch)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		keys := make([]string, 0, 8)
		for b.Loop() {
			p := planBatch(&batch)
			buf, keys = appendMailSend(buf[:0], &batch, &p, keys)
		}
		b.SetBytes(int64(len(buf)))
	})
}
