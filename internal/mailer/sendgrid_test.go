package mailer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/sendgridtest"
)

const testKey = "SG.test-key"

func newSink(t *testing.T, opts sendgridtest.Options) *sendgridtest.Server {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	s := sendgridtest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

func testBatch(n int) Batch {
	b := Batch{
		Key:        "INC-20261120-7K3QX/eu-gdpr-art34/page-0003/part-2",
		From:       Address{Email: "privacy@example.com", Name: "Example Privacy"},
		ReplyTo:    &Address{Email: "dpo@example.com", Name: "Data Protection Officer"},
		Subject:    "A personal data breach, {{recipient_name}}",
		Text:       "Dear {{recipient_name}}, reference {{case_ref}}.",
		HTML:       "<p>Dear {{recipient_name}}, reference {{case_ref}}.</p>",
		CustomArgs: map[string]string{"incident": "INC-20261120-7K3QX", "rule": "eu-gdpr-art34"},
		Categories: []string{"breach-notice"},
	}
	for i := range n {
		b.Recipients = append(b.Recipients, Recipient{
			Email:         fmt.Sprintf("person-%d@example.org", i),
			Name:          fmt.Sprintf("Person %d", i),
			ID:            fmt.Sprintf("subj-%04d", i),
			Substitutions: map[string]string{"case_ref": fmt.Sprintf("R-%d", i)},
		})
	}
	return b
}

func TestSendAcceptedAndRecorded(t *testing.T) {
	var mu sync.Mutex
	var seen []sendgridtest.Mail
	sink := newSink(t, sendgridtest.Options{Inspect: func(m *sendgridtest.Mail) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, *m)
	}})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	b := testBatch(3)
	b.Recipients[2].Name = `Eve <script>alert("x")</script> & co`

	res, err := m.Send(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.MessageID == "" {
		t.Fatalf("Result = %+v", res)
	}

	got := sink.Accepted()
	if len(got) != 3 {
		t.Fatalf("sink accepted %d recipients, want 3", len(got))
	}
	for i, d := range got {
		if d.Email != b.Recipients[i].Email || d.MessageID != res.MessageID {
			t.Errorf("delivery %d = %+v", i, d)
		}
		if d.CustomArgs[ArgBatch] != b.Key || d.CustomArgs["incident"] != "INC-20261120-7K3QX" || d.CustomArgs["rule"] != "eu-gdpr-art34" {
			t.Errorf("delivery %d custom args = %v", i, d.CustomArgs)
		}
	}

	if len(seen) != 1 {
		t.Fatalf("inspected %d requests", len(seen))
	}
	req := seen[0]
	if req.From.Email != "privacy@example.com" || req.ReplyTo == nil || req.ReplyTo.Email != "dpo@example.com" ||
		req.Subject != b.Subject || len(req.Categories) != 1 || req.MailSettings != nil {
		t.Errorf("request fields: %+v", req)
	}
	if len(req.Content) != 2 || req.Content[0].Type != "text/plain" || req.Content[0].Value != b.Text || req.Content[1].Type != "text/html" {
		t.Fatalf("content: %+v", req.Content)
	}
	for i, p := range req.Personalizations {
		r := b.Recipients[i]
		if len(p.To) != 1 || p.To[0].Email != r.Email || p.To[0].Name != r.Name {
			t.Errorf("personalization %d to = %+v", i, p.To)
		}
		if p.Substitutions["{{recipient_name}}"] != r.Name || p.Substitutions["{{case_ref}}"] != r.Substitutions["case_ref"] {
			t.Errorf("personalization %d substitutions = %v", i, p.Substitutions)
		}
		if p.CustomArgs[ArgSubject] != r.ID {
			t.Errorf("personalization %d custom args = %v", i, p.CustomArgs)
		}
	}
	// A name with markup in it: the text gets it as it is, the HTML gets it
	// escaped, through its own tag.
	html := req.Content[1].Value
	if !strings.Contains(html, "{{recipient_name.html}}") || strings.Contains(html, "{{recipient_name}}") ||
		!strings.Contains(html, "{{case_ref}}") {
		t.Errorf("HTML tags: %s", html)
	}
	esc := req.Personalizations[2].Substitutions["{{recipient_name.html}}"]
	if esc != "Eve &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" {
		t.Errorf("escaped name = %q", esc)
	}
	if req.Personalizations[0].Substitutions["{{recipient_name.html}}"] != "Person 0" {
		t.Errorf("plain names need their HTML variant too: %v", req.Personalizations[0].Substitutions)
	}
}

func TestSendSandbox(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	b := testBatch(2)
	b.SandboxMode = true
	res, err := m.Send(context.Background(), b)
	if err != nil || res.Accepted != 2 {
		t.Fatalf("sandbox: %+v, %v", res, err)
	}
	if sink.Recipients() != 0 || sink.Stats().Sandbox != 1 {
		t.Errorf("sandbox send was delivered: %+v", sink.Stats())
	}
}

func TestSendRateLimited(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	clock := func() time.Time { return now }
	t.Run("reset header", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{RateLimited: 1, RateLimitReset: 42 * time.Second, Now: clock})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL(), Now: clock})
		_, err := m.Send(context.Background(), testBatch(2))
		var rl *RateLimitedError
		if !errors.As(err, &rl) {
			t.Fatalf("err = %v, want *RateLimitedError", err)
		}
		if want := now.Add(42 * time.Second); !rl.RetryAt.Equal(want) {
			t.Errorf("RetryAt = %v, want %v", rl.RetryAt, want)
		}
		if sink.Recipients() != 0 {
			t.Error("rate-limited batch was recorded")
		}
	})
	t.Run("no headers: one second", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{RateLimited: 1, OmitRateLimitHeaders: true})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL(), Now: clock})
		_, err := m.Send(context.Background(), testBatch(2))
		var rl *RateLimitedError
		if !errors.As(err, &rl) || !rl.RetryAt.Equal(now.Add(time.Second)) {
			t.Fatalf("err = %v, want *RateLimitedError at now+1s", err)
		}
	})
}

func TestSendServerError(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{ServerError: 1})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	for range 6 { // both 500 and 503 come up
		_, err := m.Send(context.Background(), testBatch(2))
		var te *TemporaryError
		if !errors.As(err, &te) || (te.Status != 500 && te.Status != 503) {
			t.Fatalf("err = %#v, want *TemporaryError with 500 or 503", err)
		}
	}
	if sink.Recipients() != 0 {
		t.Error("failed batch was recorded")
	}
}

func TestSendDroppedAfterAcceptIsAmbiguous(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{DropAfterAccept: 1})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	_, err := m.Send(context.Background(), testBatch(2))
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("err = %v, want *AmbiguousError", err)
	}
	// And it was in fact accepted: that is why the caller must not resend blindly.
	if sink.RecipientCount("person-0@example.org") != 1 {
		t.Error("sink did not accept the dropped request")
	}
}

func TestSendTimeoutAfterWritingIsAmbiguous(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{Latency: 2 * time.Second})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL(), HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
	_, err := m.Send(context.Background(), testBatch(2))
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("err = %v, want *AmbiguousError", err)
	}
}

func TestSendCancelledWhileWaitingIsAmbiguous(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{Latency: 2 * time.Second})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := m.Send(ctx, testBatch(2))
	var amb *AmbiguousError
	if !errors.As(err, &amb) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want *AmbiguousError wrapping the deadline", err)
	}
}

func TestSendNotSentIsTemporary(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: "http://" + addr})
		_, err = m.Send(context.Background(), testBatch(2))
		var te *TemporaryError
		if !errors.As(err, &te) || te.Status != 0 {
			t.Fatalf("err = %v, want *TemporaryError without status", err)
		}
	})
	t.Run("cancelled before sending", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := m.Send(ctx, testBatch(2))
		var te *TemporaryError
		if !errors.As(err, &te) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want *TemporaryError wrapping context.Canceled", err)
		}
		if sink.Requests() != 0 {
			t.Error("a cancelled send reached the server")
		}
	})
}

func TestSendPermanent(t *testing.T) {
	t.Run("refused by the server", func(t *testing.T) {
		// An address SendGrid's own check refuses though ours let it by.
		sink := newSink(t, sendgridtest.Options{Refusal: sendgridtest.RefuseInvalid})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
		_, err := m.Send(context.Background(), testBatch(2))
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 400 {
			t.Fatalf("err = %v, want *PermanentError 400", err)
		}
		if len(pe.Messages) != 1 || pe.Messages[0] != sendgridtest.MsgInvalidAddress || pe.Fields[0] != "personalizations.0.to.0.email" {
			t.Errorf("messages %q fields %q", pe.Messages, pe.Fields)
		}
		if sink.Recipients() != 0 {
			t.Error("a refused batch was taken")
		}
	})
	t.Run("unverified sender", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{VerifiedSenders: []string{"someone-else@example.com"}})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
		_, err := m.Send(context.Background(), testBatch(2))
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 403 {
			t.Fatalf("err = %v, want *PermanentError 403", err)
		}
		if len(pe.Messages) != 1 || pe.Messages[0] != sendgridtest.MsgUnverifiedSender || pe.Fields[0] != "from" ||
			!strings.Contains(err.Error(), "from: The from address does not match a verified Sender Identity") {
			t.Errorf("err %v: messages %q fields %q", err, pe.Messages, pe.Fields)
		}
	})
	t.Run("key revoked", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{Refusal: sendgridtest.RefuseBadKey})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
		_, err := m.Send(context.Background(), testBatch(2))
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 401 || len(pe.Messages) != 1 || pe.Messages[0] != sendgridtest.MsgBadKey || pe.Fields[0] != "" {
			t.Fatalf("err = %v, want *PermanentError 401 with SendGrid's message and no field", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{})
		m := NewSendGrid("SG.wrong", SendGridOptions{BaseURL: sink.URL()})
		_, err := m.Send(context.Background(), testBatch(2))
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 401 {
			t.Fatalf("err = %v, want *PermanentError 401", err)
		}
	})
	t.Run("addresses in SendGrid's messages are not repeated", func(t *testing.T) {
		// SendGrid's duplicate-address message quotes the address; the batch
		// validation catches duplicates first, so answer it from a stub.
		stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":[{"message":"Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [Person-1@Example.org] in the personalizations.1.to field.","field":"personalizations.1.to","help":"http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"},{"message":"bad <person-0@example.org>","field":null,"help":null}]}`)
		}))
		defer stub.Close()
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: stub.URL})
		_, err := m.Send(context.Background(), testBatch(2))
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 400 || len(pe.Messages) != 2 {
			t.Fatalf("err = %v, want *PermanentError 400 with two messages", err)
		}
		text := err.Error() + strings.Join(pe.Messages, " ")
		if strings.Contains(strings.ToLower(text), "@example.org") {
			t.Errorf("an address leaked: %s", text)
		}
		if !strings.Contains(err.Error(), "personalizations.1.to: Each email address") || !strings.Contains(err.Error(), "[[address]]") {
			t.Errorf("Error() = %s", err)
		}
	})
	t.Run("refused before sending", func(t *testing.T) {
		sink := newSink(t, sendgridtest.Options{})
		m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
		b := testBatch(3)
		b.Recipients[2].Email = "PERSON-0@example.org"
		_, err := m.Send(context.Background(), b)
		var pe *PermanentError
		if !errors.As(err, &pe) || pe.Status != 0 {
			t.Fatalf("err = %v, want *PermanentError before sending", err)
		}
		if !strings.Contains(err.Error(), "recipient 2: same address as recipient 0") || strings.Contains(err.Error(), "@") {
			t.Errorf("Error() = %s", err)
		}
		if sink.Requests() != 0 {
			t.Error("an invalid batch was sent")
		}
	})
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Batch)
		want string
	}{
		{"ok", func(*Batch) {}, ""},
		{"no key", func(b *Batch) { b.Key = "" }, "batch key is empty"},
		{"no recipients", func(b *Batch) { b.Recipients = nil }, "no recipients"},
		{"1001 recipients", func(b *Batch) { *b = testBatch(1001) }, "1001 recipients, more than 1000"},
		{"bad from", func(b *Batch) { b.From.Email = "nobody" }, "from address"},
		{"no bodies", func(b *Batch) { b.Text, b.HTML = "", "" }, "both text and HTML"},
		{"no subject", func(b *Batch) { b.Subject = "" }, "subject is empty"},
		{"bad address", func(b *Batch) { b.Recipients[1].Email = "a b@example.org" }, "recipient 1: address"},
		{"header injection", func(b *Batch) { b.Recipients[1].Email = "a@example.org\r\nBcc: x@y" }, "recipient 1: address"},
		{"no ID", func(b *Batch) { b.Recipients[0].ID = "" }, "recipient 0: ID is empty"},
		{"same ID", func(b *Batch) { b.Recipients[1].ID = b.Recipients[0].ID }, "recipient 1: same ID as recipient 0"},
		{"tag name", func(b *Batch) { b.Recipients[0].Substitutions["a b"] = "x" }, `substitution name "a b"`},
		{"name tag", func(b *Batch) { b.Recipients[0].Substitutions[NameTag] = "x" }, "is set from Name"},
		{"reserved arg", func(b *Batch) { b.CustomArgs[ArgBatch] = "x" }, "may not set breachctl_batch"},
		{"args too big", func(b *Batch) { b.CustomArgs["pad"] = strings.Repeat("x", 9900) }, "reach 10000 bytes"},
		{"substitutions too big", func(b *Batch) { b.Recipients[0].Substitutions["pad"] = strings.Repeat("x", 10000) }, "substitutions reach"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := testBatch(3)
			c.edit(&b)
			err := validate(&b)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "@example.org") {
				t.Errorf("address in %v", err)
			}
		})
	}
}

// A sender that retries what was certainly not sent (429, 5xx) and never
// what may have been sent mails everyone exactly once, however the server
// misbehaves.
func TestRetryingTheRetryableMailsEveryoneOnce(t *testing.T) {
	sink := newSink(t, sendgridtest.Options{Seed: 7, RateLimited: 0.3, ServerError: 0.3, RateLimitReset: time.Millisecond})
	m := NewSendGrid(testKey, SendGridOptions{BaseURL: sink.URL()})
	const batches, per = 20, 50
	var wg sync.WaitGroup
	for page := range batches {
		wg.Go(func() {
			b := testBatch(0)
			b.Key = fmt.Sprintf("INC-1/rule/page-%04d", page)
			for i := range per {
				n := page*per + i
				b.Recipients = append(b.Recipients, Recipient{Email: fmt.Sprintf("p%d@example.org", n), ID: fmt.Sprint(n)})
			}
			for attempt := 0; ; attempt++ {
				_, err := m.Send(context.Background(), b)
				var rl *RateLimitedError
				var te *TemporaryError
				switch {
				case err == nil:
					return
				case attempt < 50 && (errors.As(err, &rl) || errors.As(err, &te)):
					continue
				default:
					t.Errorf("page %d: %v", page, err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := sink.Stats()
	if st.RateLimited == 0 || st.ServerError == 0 {
		t.Fatalf("no faults injected: %+v", st)
	}
	for n := range batches * per {
		if c := sink.RecipientCount(fmt.Sprintf("p%d@example.org", n)); c != 1 {
			t.Fatalf("recipient %d mailed %d times", n, c)
		}
	}
}
