package sendgridtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, s *Server, key string, body any) (*http.Response, []byte, error) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest("POST", s.URL()+"/v3/mail/send", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// mailTo is a valid request with one personalization per address.
func mailTo(addrs ...string) *Mail {
	m := &Mail{
		From:       &Address{Email: "privacy@example.com"},
		Subject:    "Notice",
		Content:    []Content{{Type: "text/plain", Value: "Dear {{recipient_name}}"}, {Type: "text/html", Value: "<p>Dear</p>"}},
		CustomArgs: map[string]string{"breachctl_batch": "INC-1/r/page-0"},
	}
	for i, a := range addrs {
		m.Personalizations = append(m.Personalizations, Personalization{
			To:            []Address{{Email: a}},
			Substitutions: map[string]string{"{{recipient_name}}": fmt.Sprint("P", i)},
			CustomArgs:    map[string]string{"breachctl_subject": fmt.Sprint("s-", i)},
		})
	}
	return m
}

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("person-%d@example.org", i)
	}
	return out
}

func errorsOf(t *testing.T, body []byte) []ErrorItem {
	t.Helper()
	var e ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if len(e.Errors) == 0 {
		t.Fatalf("error body %s has no errors", body)
	}
	return e.Errors
}

func TestAcceptsAndRecords(t *testing.T) {
	var inspected int
	s := NewServer(Options{APIKey: "SG.k", Inspect: func(m *Mail) { inspected += len(m.Personalizations) }})
	defer s.Close()

	resp, body, err := post(t, s, "SG.k", mailTo("a@example.org", "B@Example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || len(body) != 0 {
		t.Fatalf("status %d body %q, want 202 and no body", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Message-Id")
	if id == "" {
		t.Fatal("no X-Message-Id")
	}
	got := s.Accepted()
	if len(got) != 2 || got[0].Email != "a@example.org" || got[1].Email != "B@Example.org" || got[0].MessageID != id ||
		got[1].CustomArgs["breachctl_batch"] != "INC-1/r/page-0" {
		t.Fatalf("Accepted() = %+v", got)
	}
	if reqs := s.AcceptedRequests(); len(reqs) != 1 || reqs[0].Count != 2 || reqs[0].MessageID != id {
		t.Fatalf("AcceptedRequests() = %+v", reqs)
	}
	if n := s.RecipientCount("b@example.ORG"); n != 1 {
		t.Errorf("RecipientCount ignoring case = %d, want 1", n)
	}
	if n := s.RecipientCount("c@example.org"); n != 0 {
		t.Errorf("RecipientCount of a stranger = %d", n)
	}
	if s.Requests() != 1 || inspected != 2 {
		t.Errorf("Requests() = %d, inspected %d", s.Requests(), inspected)
	}

	// The same recipient in a second request counts twice.
	if resp, _, err := post(t, s, "SG.k", mailTo("a@example.org")); err != nil || resp.StatusCode != 202 {
		t.Fatal(resp, err)
	}
	if n := s.RecipientCount("a@example.org"); n != 2 {
		t.Errorf("RecipientCount after a second request = %d, want 2", n)
	}
}

func TestAuthorization(t *testing.T) {
	s := NewServer(Options{APIKey: "SG.right"})
	defer s.Close()
	for _, key := range []string{"", "SG.wrong"} {
		resp, body, err := post(t, s, key, mailTo("a@example.org"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("key %q: status %d, want 401", key, resp.StatusCode)
		}
		errorsOf(t, body)
	}
	if s.Recipients() != 0 {
		t.Error("an unauthorised request was recorded")
	}
}

func TestLimits(t *testing.T) {
	tooManyCC := mailTo(addrs(600)...)
	for i := range tooManyCC.Personalizations {
		tooManyCC.Personalizations[i].CC = []Address{{Email: fmt.Sprintf("cc-%d@example.org", i)}}
	}
	bigArgs := mailTo("a@example.org")
	bigArgs.CustomArgs["pad"] = strings.Repeat("x", MaxCustomArgsBytes)
	bigPersArgs := mailTo("a@example.org")
	bigPersArgs.Personalizations[0].CustomArgs["pad"] = strings.Repeat("x", MaxCustomArgsBytes-40)
	noFrom := mailTo("a@example.org")
	noFrom.From = nil
	noSubject := mailTo("a@example.org")
	noSubject.Subject = ""
	htmlFirst := mailTo("a@example.org")
	htmlFirst.Content[0], htmlFirst.Content[1] = htmlFirst.Content[1], htmlFirst.Content[0]
	noTo := mailTo("a@example.org")
	noTo.Personalizations[0].To = nil
	cats := mailTo("a@example.org")
	cats.Categories = strings.Split("a b c d e f g h i j k", " ")

	cases := []struct {
		name  string
		body  any
		field string // a field one of the errors must name
		text  string // a text one of the messages must contain
	}{
		{"1001 personalizations", mailTo(addrs(1001)...), "personalizations", "1000"},
		{"1200 recipients in 600 personalizations", tooManyCC, "personalizations", "total number of recipients"},
		{"duplicate address", mailTo("a@example.org", "x@example.org", "A@example.org"), "personalizations.2.to", "[A@example.org]"},
		{"custom_args number", `{"from":{"email":"f@example.com"},"subject":"s","content":[{"type":"text/plain","value":"v"}],"personalizations":[{"to":[{"email":"a@example.org"}],"custom_args":{"n":1}}]}`, "personalizations.custom_args", "Expected: string"},
		{"root custom_args too big", bigArgs, "custom_args", "10000 bytes"},
		{"personalization custom_args push the merge over", bigPersArgs, "personalizations.0.custom_args", "10000 bytes"},
		{"no from", noFrom, "from.email", "from object"},
		{"no subject", noSubject, "subject", "subject is required"},
		{"html before text", htmlFirst, "content.1.type", "text/plain"},
		{"no to", noTo, "personalizations.0.to", "to array"},
		{"11 categories", cats, "categories", "10 categories"},
		{"not JSON", `{"personalizations":[`, "", "Bad Request"},
		{"no personalizations", `{"from":{"email":"f@example.com"},"subject":"s","content":[{"type":"text/plain","value":"v"}]}`, "personalizations", "at least 1"},
	}
	s := NewServer(Options{})
	defer s.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body, err := post(t, s, "SG.k", c.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (%s)", resp.StatusCode, body)
			}
			found := false
			for _, e := range errorsOf(t, body) {
				f := ""
				if e.Field != nil {
					f = *e.Field
				}
				if f == c.field && strings.Contains(e.Message, c.text) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error with field %q and message containing %q in %s", c.field, c.text, body)
			}
		})
	}
	if s.Recipients() != 0 {
		t.Errorf("%d recipients recorded from refused requests", s.Recipients())
	}

	// At the limits exactly, it is accepted.
	atLimit := mailTo(addrs(500)...)
	for i := range atLimit.Personalizations {
		atLimit.Personalizations[i].BCC = []Address{{Email: fmt.Sprintf("bcc-%d@example.org", i)}}
	}
	if resp, body, err := post(t, s, "SG.k", atLimit); err != nil || resp.StatusCode != 202 {
		t.Fatalf("1000 recipients: %v %s %v", resp.Status, body, err)
	}
	if resp, body, err := post(t, s, "SG.k", mailTo(strings.Split(strings.Join(addrs(2000)[1000:], " "), " ")...)); err != nil || resp.StatusCode != 202 {
		t.Fatalf("1000 personalizations: %v %s %v", resp.Status, body, err)
	}
	if s.Recipients() != 2000 {
		t.Errorf("Recipients() = %d, want 2000", s.Recipients())
	}
}

func TestSandbox(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	m := mailTo("a@example.org")
	on := true
	m.MailSettings = &MailSettings{SandboxMode: &Setting{Enable: &on}}
	resp, _, err := post(t, s, "SG.k", m)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sandbox: %v %v, want 200", resp, err)
	}
	if s.Recipients() != 0 || s.Stats().Sandbox != 1 {
		t.Errorf("sandbox recorded %d recipients, stats %+v", s.Recipients(), s.Stats())
	}
}

func TestRateLimitHeaders(t *testing.T) {
	now := time.Unix(2_000_000_000, 250_000_000)
	s := NewServer(Options{RateLimited: 1, RateLimitReset: 30 * time.Second, Now: func() time.Time { return now }})
	defer s.Close()
	resp, body, err := post(t, s, "SG.k", mailTo("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	errorsOf(t, body)
	// Go's client canonicalises X-RateLimit-Reset to X-Ratelimit-Reset:
	// the map key SendGrid's own retry helper looks up is never there.
	if _, ok := resp.Header["X-RateLimit-Reset"]; ok {
		t.Error("header map has the non-canonical key")
	}
	if got := resp.Header.Get("X-RateLimit-Reset"); got != "2000000031" {
		t.Errorf("X-RateLimit-Reset = %q, want 2000000031 (now + 30 s, rounded up)", got)
	}
	if resp.Header.Get("X-RateLimit-Limit") == "" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("limit headers: %v", resp.Header)
	}
	if s.Recipients() != 0 {
		t.Error("a rate-limited request was recorded")
	}
}

func TestDropAfterAccept(t *testing.T) {
	s := NewServer(Options{DropAfterAccept: 1})
	defer s.Close()
	_, _, err := post(t, s, "SG.k", mailTo("a@example.org"))
	if err == nil {
		t.Fatal("got an answer, want the connection dropped")
	}
	if s.RecipientCount("a@example.org") != 1 {
		t.Error("dropped request was not recorded as accepted")
	}
	if st := s.Stats(); st.Dropped != 1 || st.Accepted != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Which attempt misbehaves depends on the seed, the body and the attempt
// number only.
func TestFaultsAreDeterministic(t *testing.T) {
	run := func(seed uint64) []int {
		s := NewServer(Options{Seed: seed, RateLimited: 0.3, ServerError: 0.3})
		defer s.Close()
		var statuses []int
		for i := range 20 {
			for range 3 { // each body three times: attempts 0, 1, 2
				resp, _, err := post(t, s, "SG.k", mailTo(fmt.Sprintf("p%d@example.org", i)))
				if err != nil {
					t.Fatal(err)
				}
				statuses = append(statuses, resp.StatusCode)
			}
		}
		return statuses
	}
	a, b, c := run(1), run(1), run(2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different seeds, same faults: %v", a)
	}
	kinds := map[int]int{}
	for _, st := range a {
		kinds[st]++
	}
	if kinds[202] == 0 || kinds[429] == 0 || kinds[500]+kinds[503] == 0 {
		t.Errorf("fault mix %v, want some of each of 202, 429, 5xx", kinds)
	}
}

func TestAddressBookGrows(t *testing.T) {
	a := newAddressBook()
	const n = 5000
	for i := range n {
		a.add(fmt.Sprintf("User-%d@Example.org", i))
	}
	a.add("user-7@example.org")
	if a.len() != n+1 {
		t.Fatalf("len %d", a.len())
	}
	for i := range n {
		want := 1
		if i == 7 {
			want = 2
		}
		if got := a.count(fmt.Sprintf("user-%d@example.ORG", i)); got != want {
			t.Fatalf("count(user-%d) = %d, want %d", i, got, want)
		}
	}
	if a.email(3) != "User-3@Example.org" {
		t.Errorf("email(3) = %q", a.email(3))
	}
}
