package mailer

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutboxWritesParseableMessages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := NewOutbox(dir)
	b := testBatch(3)
	b.Attempt = 2
	b.Subject = "Violation de données personnelles — {{recipient_name}}"
	b.Recipients[1].Name = "Zoë Ångström"
	b.Recipients[2].Name = `Eve <b>bold</b> & "quoted"`

	res, err := o.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || !strings.HasPrefix(res.MessageID, "outbox-") {
		t.Fatalf("Result = %+v", res)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d files, want 3", len(entries))
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "@") || strings.Contains(e.Name(), "person-") {
			t.Errorf("file name %q carries the address", e.Name())
		}
	}

	dec := new(mime.WordDecoder)
	for i, r := range b.Recipients {
		path := filepath.Join(dir, FileName(b.Key, r.ID))
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("recipient %d: %v", i, err)
		}
		msg, err := mail.ReadMessage(f)
		if err != nil {
			t.Fatalf("recipient %d: net/mail cannot read it: %v", i, err)
		}
		from, err := msg.Header.AddressList("From")
		if err != nil || len(from) != 1 || from[0].Address != b.From.Email || from[0].Name != b.From.Name {
			t.Errorf("recipient %d From: %v %v", i, from, err)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != r.Email || to[0].Name != r.Name {
			t.Errorf("recipient %d To: %v %v", i, to, err)
		}
		subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
		if want := "Violation de données personnelles — " + r.Name; err != nil || subject != want {
			t.Errorf("recipient %d Subject = %q (%v), want %q", i, subject, err, want)
		}
		if raw := msg.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?q?") {
			t.Errorf("non-ASCII subject not RFC 2047 encoded: %q", raw)
		}
		if _, err := msg.Header.Date(); err != nil {
			t.Errorf("recipient %d Date: %v", i, err)
		}
		if msg.Header.Get("Message-Id") == "" || msg.Header.Get("X-Breachctl-Batch") != b.Key || msg.Header.Get("X-Breachctl-Attempt") != "2" {
			t.Errorf("recipient %d headers: %v", i, msg.Header)
		}

		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Fatalf("recipient %d Content-Type %q: %v", i, mt, err)
		}
		parts := map[string]string{}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if cp["charset"] != "UTF-8" {
				t.Errorf("part %s charset %q", ct, cp["charset"])
			}
			// multipart.Reader decodes quoted-printable itself and drops the header.
			body, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			parts[ct] = string(body)
		}
		wantText := "Dear " + r.Name + ", reference " + r.Substitutions["case_ref"] + "."
		if parts["text/plain"] != wantText {
			t.Errorf("recipient %d text = %q, want %q", i, parts["text/plain"], wantText)
		}
		wantHTML := "<p>Dear " + htmlEscape(r.Name) + ", reference " + r.Substitutions["case_ref"] + ".</p>"
		if parts["text/html"] != wantHTML {
			t.Errorf("recipient %d html = %q, want %q", i, parts["text/html"], wantHTML)
		}
		f.Close()
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestOutboxIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	o := NewOutbox(dir)
	b := testBatch(4)
	first, err := o.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	before := names(t, dir)
	b.Text = "Second attempt: {{recipient_name}}"
	second, err := o.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	after := names(t, dir)
	if first.MessageID != second.MessageID {
		t.Errorf("message IDs %q then %q", first.MessageID, second.MessageID)
	}
	if strings.Join(before, ",") != strings.Join(after, ",") || len(after) != 4 {
		t.Fatalf("files %v then %v: a resend must rewrite the same four", before, after)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName(b.Key, b.Recipients[0].ID)))
	if err != nil || !strings.Contains(string(data), "Second attempt") {
		t.Errorf("file not rewritten: %v", err)
	}

	// Another batch key writes other files.
	b.Key += "-other"
	if _, err := o.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if n := len(names(t, dir)); n != 8 {
		t.Errorf("%d files after a second batch, want 8", n)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestFileName(t *testing.T) {
	a := FileName("INC-1/rule/page-1", "s-1")
	if strings.ContainsAny(a, "/\\") || !strings.HasSuffix(a, ".eml") || !strings.HasPrefix(a, "INC-1_rule_page-1--s-1--") {
		t.Errorf("FileName = %q", a)
	}
	// Keys that differ only where the name is made safe do not collide.
	if FileName("INC-1/rule", "s") == FileName("INC-1_rule", "s") || FileName("a", "b/c") == FileName("a", "b_c") {
		t.Error("collision")
	}
	if n := FileName(strings.Repeat("k", 1000), strings.Repeat("i", 1000)); len(n) > 255 {
		t.Errorf("name of %d bytes", len(n))
	}
	if strings.HasPrefix(FileName("../../etc", "x"), ".") {
		t.Error("name starts with a dot")
	}
}

func TestOutboxRefusesAnInvalidBatch(t *testing.T) {
	dir := t.TempDir()
	b := testBatch(2)
	b.Recipients[1].ID = ""
	if _, err := NewOutbox(dir).Send(context.Background(), b); err == nil {
		t.Fatal("no error")
	}
	if len(names(t, dir)) != 0 {
		t.Error("files written for an invalid batch")
	}
}
