package sendgridtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func activity(t *testing.T, s *Server, key, query string, limit int) (int, http.Header, []byte) {
	t.Helper()
	v := url.Values{"query": {query}}
	if limit > 0 {
		v.Set("limit", fmt.Sprint(limit))
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v3/messages?"+v.Encode(), nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func messagesOf(t *testing.T, body []byte) []ActivityMessage {
	t.Helper()
	var r ActivityResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Messages == nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return r.Messages
}

func batchMail(key, attempt string, addrs ...string) *Mail {
	m := mailTo(addrs...)
	m.CustomArgs = map[string]string{ArgBatch: key, "incident": "INC-1"}
	if attempt != "" {
		m.CustomArgs["breachctl_attempt"] = attempt
	}
	return m
}

func byBatch(key, attempt string) string {
	return fmt.Sprintf(`unique_args['breachctl_batch']="%s" AND unique_args['breachctl_attempt']="%s"`, key, attempt)
}

func TestActivityListsWhatWasTaken(t *testing.T) {
	s := NewServer(Options{APIKey: "SG.k"})
	defer s.Close()
	var ids []string
	for _, m := range []*Mail{
		batchMail("INC-1/r/page-0001/part-1", "1", "a@example.org", "b@example.org"),
		batchMail("INC-1/r/page-0001/part-1", "2", "a@example.org", "b@example.org"),
		batchMail(`INC-1/r/"odd" key`, "1", "c@example.org"),
	} {
		resp, _, err := post(t, s, "SG.k", m)
		if err != nil || resp.StatusCode != 202 {
			t.Fatal(resp, err)
		}
		ids = append(ids, resp.Header.Get("X-Message-Id"))
	}

	st, _, body := activity(t, s, "SG.k", byBatch("INC-1/r/page-0001/part-1", "2"), 10)
	if st != 200 {
		t.Fatalf("status %d %s", st, body)
	}
	got := messagesOf(t, body)
	if len(got) != 2 {
		t.Fatalf("attempt 2: %d messages, want 2 (one per recipient): %s", len(got), body)
	}
	for i, m := range got {
		if !strings.HasPrefix(m.MsgID, ids[1]+".") || m.Status != "processed" || m.FromEmail != "privacy@example.com" ||
			m.Subject != "Notice" || m.LastEventTime == "" {
			t.Errorf("message %d = %+v, want msg_id under %s", i, m, ids[1])
		}
	}
	if got[0].ToEmail != "a@example.org" || got[1].ToEmail != "b@example.org" {
		t.Errorf("to_email %q %q", got[0].ToEmail, got[1].ToEmail)
	}
	if got[0].MsgID != MsgID(ids[1], 0) {
		t.Errorf("msg_id %q, want MsgID(%q, 0)", got[0].MsgID, ids[1])
	}

	// The raw JSON has every field of SendGrid's "Abbv. Message".
	var raw struct{ Messages []map[string]any }
	json.Unmarshal(body, &raw)
	for _, f := range []string{"from_email", "msg_id", "subject", "to_email", "status", "opens_count", "clicks_count", "last_event_time"} {
		if _, ok := raw.Messages[0][f]; !ok {
			t.Errorf("message lacks %s: %v", f, raw.Messages[0])
		}
	}

	for _, c := range []struct {
		query string
		limit int
		want  int
	}{
		{byBatch("INC-1/r/page-0001/part-1", "1"), 0, 2},
		{byBatch("INC-1/r/page-0001/part-1", "3"), 0, 0},
		{byBatch("INC-1/r/page-0001/part-1", "1"), 1, 1},
		{`unique_args['breachctl_batch']="INC-1/r/page-0001/part-1"`, 0, 4},
		{`unique_args['breachctl_batch']="INC-1/r/\"odd\" key"`, 0, 1},
		{`unique_args['incident']="INC-1" AND to_email="a@example.org"`, 0, 2},
		{`(to_email="a@example.org" OR to_email="c@example.org") AND unique_args['breachctl_attempt']="1"`, 0, 2},
		{`NOT unique_args['breachctl_attempt']="1"`, 0, 2},
		{`unique_args['breachctl_attempt']!="2"`, 0, 3},
		{`unique_args['nope']="x"`, 0, 0},
		{`msg_id="` + MsgID(ids[2], 0) + `"`, 0, 1},
		{`status="processed" and from_email="privacy@example.com"`, 1000, 5},
	} {
		st, _, body := activity(t, s, "SG.k", c.query, c.limit)
		if st != 200 {
			t.Errorf("%s: status %d %s", c.query, st, body)
			continue
		}
		if n := len(messagesOf(t, body)); n != c.want {
			t.Errorf("%s (limit %d): %d messages, want %d", c.query, c.limit, n, c.want)
		}
	}

	// Newest first.
	_, _, body = activity(t, s, "SG.k", `status="processed"`, 1)
	if m := messagesOf(t, body); m[0].ToEmail != "c@example.org" {
		t.Errorf("newest first: %+v", m)
	}
	if st := s.Stats(); st.ActivityQueries != 14 {
		t.Errorf("ActivityQueries = %d, want 14", st.ActivityQueries)
	}
}

// A dropped answer (the case the lookup is for) is listed like any other.
func TestActivityListsDropped(t *testing.T) {
	s := NewServer(Options{DropAfterAccept: 1})
	defer s.Close()
	if _, _, err := post(t, s, "SG.k", batchMail("K", "1", "a@example.org")); err == nil {
		t.Fatal("answered, want dropped")
	}
	_, _, body := activity(t, s, "SG.k", byBatch("K", "1"), 0)
	if m := messagesOf(t, body); len(m) != 1 || m[0].ToEmail != "a@example.org" {
		t.Errorf("messages %s", body)
	}
}

func TestActivityBadQueries(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for _, c := range []struct{ query, limit, want string }{
		{`bad_field="x"`, "", "'bad_field' is not a known field"},
		{`categories="x"`, "", "not supported by the loopback"},
		{`subject LIKE "x%"`, "", "unsupported operator"},
		{`to_email="x`, "", "unterminated"},
		{`(to_email="x"`, "", "missing )"},
		{`to_email="x" AND`, "", "expected a field"},
		{`unique_args.k="x"`, "", "unique_args needs"},
		{`to_email="x" junk`, "", "unexpected"},
		{`to_email="x"`, "0", "limit"},
		{`to_email="x"`, "1001", "limit"},
		{`to_email="x"`, "ten", "limit"},
	} {
		u := s.URL() + "/v3/messages?query=" + url.QueryEscape(c.query)
		if c.limit != "" {
			u += "&limit=" + c.limit
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer SG.k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), c.want) {
			t.Errorf("%s limit %q: %d %s, want 400 saying %q", c.query, c.limit, resp.StatusCode, body, c.want)
		}
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v3/messages?limit=10", nil)
	req.Header.Set("Authorization", "Bearer SG.k")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("no query: %v %v, want 400", resp, err)
	}
}

func TestActivityIndexDelay(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(2_000_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewServer(Options{Now: clock, Activity: ActivityOptions{IndexDelay: 30 * time.Second}})
	defer s.Close()
	post(t, s, "SG.k", batchMail("K", "1", "a@example.org"))
	count := func() int {
		_, _, body := activity(t, s, "SG.k", byBatch("K", "1"), 0)
		return len(messagesOf(t, body))
	}
	if n := count(); n != 0 {
		t.Errorf("listed %d at once, want 0 before the index delay", n)
	}
	mu.Lock()
	now = now.Add(29 * time.Second)
	mu.Unlock()
	if n := count(); n != 0 {
		t.Errorf("listed %d after 29 s, want 0", n)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if n := count(); n != 1 {
		t.Errorf("listed %d after 30 s, want 1", n)
	}
}

func TestActivityAccessAndLimits(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   Options
		key    string
		status int
		msg    string
	}{
		{"no key", Options{}, "", 401, MsgBadKey},
		{"wrong key", Options{APIKey: "SG.right"}, "SG.wrong", 401, MsgBadKey},
		{"no add-on (403)", Options{Activity: ActivityOptions{Access: ActivityForbidden}}, "SG.k", 403, MsgActivityForbidden},
		{"no add-on (404)", Options{Activity: ActivityOptions{Access: ActivityNotFound}}, "SG.k", 404, MsgActivityNotFound},
	} {
		s := NewServer(c.opts)
		st, _, body := activity(t, s, c.key, byBatch("K", "1"), 0)
		if st != c.status || errorsOf(t, body)[0].Message != c.msg {
			t.Errorf("%s: %d %s, want %d %q", c.name, st, body, c.status, c.msg)
		}
		s.Close()
	}

	var mu sync.Mutex
	now := time.Unix(2_000_000_000, 400_000_000)
	s := NewServer(Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }, Activity: ActivityOptions{RateLimit: 2, RateWindow: 10 * time.Second}})
	defer s.Close()
	for i := range 3 {
		st, h, body := activity(t, s, "SG.k", byBatch("K", "1"), 0)
		if i < 2 && st != 200 {
			t.Errorf("query %d: %d %s, want 200", i, st, body)
		}
		if i == 2 {
			if st != 429 {
				t.Fatalf("query 3 in the window: %d, want 429", st)
			}
			if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") != "2000000010" {
				t.Errorf("rate-limit headers %v, want limit 2, remaining 0, reset 2000000010 (the window's end)", h)
			}
		}
	}
	if st := s.Stats(); st.ActivityRateLimited != 1 || st.ActivityQueries != 3 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	if st, _, _ := activity(t, s, "SG.k", byBatch("K", "1"), 0); st != 200 {
		t.Errorf("next window: %d, want 200", st)
	}
}
