package sendgridtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A request is taken once its body has been read and validated: a client
// that goes away while the answer's latency is spent (a killed worker) has
// still had its mail sent, as with the real SendGrid.
func TestTakenWhenTheClientGoesAway(t *testing.T) {
	s := NewServer(Options{Latency: 30 * time.Second})
	defer s.Close()
	raw, _ := json.Marshal(mailTo("a@example.org", "b@example.org"))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/v3/mail/send", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer SG.k")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Taken before it is answered.
	for s.Recipients() == 0 {
		select {
		case err := <-done:
			t.Fatalf("answered (%v) before it was taken", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel() // the client goes away during the latency
	if err := <-done; err == nil {
		t.Fatal("got an answer, want the request cancelled")
	}
	for s.Stats().Abandoned == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.RecipientCount("a@example.org"); n != 1 {
		t.Errorf("RecipientCount = %d, want 1: an abandoned request was still sent", n)
	}
	if st := s.Stats(); st.Accepted != 1 || st.Abandoned != 1 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 1 accepted, 1 abandoned", st)
	}
}

func TestSetLatency(t *testing.T) {
	s := NewServer(Options{Latency: time.Hour})
	defer s.Close()
	s.SetLatency(0)
	if resp, _, err := post(t, s, "SG.k", mailTo("a@example.org")); err != nil || resp.StatusCode != 202 {
		t.Fatalf("after SetLatency(0): %v %v", resp, err)
	}
}

func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   Options
		status int
		body   string // exact body, when set
		field  string
		msg    string
	}{
		{name: "bad key", opts: Options{Refusal: RefuseBadKey}, status: 401,
			body: `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null,"help":null}]}`},
		{name: "wrong key", opts: Options{APIKey: "SG.other"}, status: 401, msg: MsgBadKey},
		{name: "unverified sender", opts: Options{Refusal: RefuseUnverifiedSender}, status: 403, field: "from",
			body: `{"errors":[{"message":"The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements","field":"from","help":null}]}`},
		{name: "sender not among the verified", opts: Options{VerifiedSenders: []string{"dpo@example.com"}}, status: 403, field: "from", msg: MsgUnverifiedSender},
		{name: "field errors", opts: Options{Refusal: RefuseInvalid}, status: 400, field: "personalizations.0.to.0.email", msg: MsgInvalidAddress},
		{name: "bad key chosen per request", opts: Options{RefuseIf: func(*Mail) Refusal { return RefuseBadKey }}, status: 401, msg: MsgBadKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewServer(c.opts)
			defer s.Close()
			resp, body, err := post(t, s, "SG.k", mailTo("a@example.org"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			if c.body != "" && strings.TrimSpace(string(body)) != c.body {
				t.Errorf("body\n%s\nwant\n%s", body, c.body)
			}
			e := errorsOf(t, body)[0]
			if c.msg != "" && e.Message != c.msg {
				t.Errorf("message %q, want %q", e.Message, c.msg)
			}
			if f := e.Field; (c.field == "") != (f == nil) || f != nil && *f != c.field {
				t.Errorf("field %v, want %q", f, c.field)
			}
			if s.Recipients() != 0 || s.Stats().Accepted != 0 {
				t.Errorf("a refused request was taken: %+v", s.Stats())
			}
			if st := s.Stats(); st.Rejected != 1 || (c.status == 403) != (st.Forbidden == 1) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A partial failure: one batch refused, the other taken; then the refusal
// is lifted while the server runs.
func TestRefuseSomeThenNone(t *testing.T) {
	s := NewServer(Options{VerifiedSenders: []string{"Privacy@Example.com"}, RefuseIf: func(m *Mail) Refusal {
		if m.CustomArgs[ArgBatch] == "bad" {
			return RefuseUnverifiedSender
		}
		return RefuseNone
	}})
	defer s.Close()
	good, bad := mailTo("a@example.org"), mailTo("b@example.org")
	bad.CustomArgs = map[string]string{ArgBatch: "bad"}
	if resp, _, _ := post(t, s, "SG.k", good); resp.StatusCode != 202 {
		t.Errorf("verified sender (other case): status %d, want 202", resp.StatusCode)
	}
	if resp, _, _ := post(t, s, "SG.k", bad); resp.StatusCode != 403 {
		t.Errorf("refused batch: status %d, want 403", resp.StatusCode)
	}
	s.SetRefusal(RefuseInvalid)
	if resp, _, _ := post(t, s, "SG.k", mailTo("c@example.org")); resp.StatusCode != 400 {
		t.Errorf("after SetRefusal(RefuseInvalid): status %d, want 400", resp.StatusCode)
	}
	s.SetRefusal(RefuseNone)
	if resp, _, _ := post(t, s, "SG.k", mailTo("c@example.org")); resp.StatusCode != 202 {
		t.Errorf("after SetRefusal(RefuseNone): status %d, want 202", resp.StatusCode)
	}
	if s.RecipientCount("b@example.org") != 0 || s.Recipients() != 2 {
		t.Errorf("recipients %d, b %d", s.Recipients(), s.RecipientCount("b@example.org"))
	}
}

func TestDuplicates(t *testing.T) {
	s := NewServer(Options{DropAfterAccept: 0})
	defer s.Close()
	one := mailTo("a@example.org", "b@example.org")
	one.CustomArgs = map[string]string{ArgBatch: "K1"}
	two := mailTo("c@example.org")
	two.CustomArgs = map[string]string{ArgBatch: "K2"}
	for _, m := range []*Mail{one, two, one, one} {
		if resp, _, err := post(t, s, "SG.k", m); err != nil || resp.StatusCode != 202 {
			t.Fatal(resp, err)
		}
	}
	// Sent to A@ once more in another batch: a person twice, no batch.
	three := mailTo("A@example.org")
	three.CustomArgs = map[string]string{ArgBatch: "K3"}
	post(t, s, "SG.k", three)
	want := Duplicates{BatchKeys: 1, Requests: 2, People: 2, Extra: 5}
	if got := s.Duplicates(); got != want {
		t.Errorf("Duplicates() = %+v, want %+v", got, want)
	}
	if s.BatchTaken("K1") != 3 || s.BatchTaken("K2") != 1 || s.BatchTaken("nope") != 0 {
		t.Errorf("BatchTaken K1 %d K2 %d", s.BatchTaken("K1"), s.BatchTaken("K2"))
	}
	if s.People() != 3 || s.Recipients() != 8 {
		t.Errorf("People() = %d, Recipients() = %d, want 3 and 8", s.People(), s.Recipients())
	}
}

func TestCheckSchema(t *testing.T) {
	s := NewServer(Options{CheckSchema: true})
	defer s.Close()
	// The request-level custom_args object is what SendGrid takes, though
	// the published schema types it a string: a known defect, skipped.
	if resp, body, err := post(t, s, "SG.k", mailTo("a@example.org")); err != nil || resp.StatusCode != 202 {
		t.Fatalf("valid body: %v %s %v", resp.Status, body, err)
	}
	// Duplicate categories pass our own checks but not the schema's
	// uniqueItems.
	m := mailTo("b@example.org")
	m.Categories = []string{"breach-notice", "breach-notice"}
	resp, body, err := post(t, s, "SG.k", m)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("duplicate categories: %v %s %v, want 400", resp.Status, body, err)
	}
	if e := errorsOf(t, body)[0]; e.Field == nil || *e.Field != "categories" || !strings.Contains(e.Message, "uniqueItems") {
		t.Errorf("error %+v, want field categories, uniqueItems", e)
	}
	if v := s.SchemaViolations(); len(v) != 1 || !strings.HasPrefix(v[0], "request 2: categories: uniqueItems") {
		t.Errorf("SchemaViolations() = %q", v)
	}
	if s.Recipients() != 1 {
		t.Errorf("Recipients() = %d, want 1", s.Recipients())
	}
}

// The schema alone, as published: the request-level custom_args defect is
// there (so skipping it is not hiding something that passes anyway).
func TestPublishedSchemaHasTheDefect(t *testing.T) {
	sch, err := LoadMailSendSchema("", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(mailTo("a@example.org"))
	errs, err := sch.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Location != "/custom_args" || errs[0].Keyword != "type" || errs[0].Defect != nil {
		t.Errorf("errors %v, want only /custom_args: type", errs)
	}
}
