package sendgridtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Email Activity API, as far as a sender asks it whether a request was
// taken: GET /v3/messages?limit=N&query=<query>, answering
// {"messages":[{from_email, msg_id, subject, to_email, status, opens_count,
// clicks_count, last_event_time}]}, one message per recipient, newest first.
//
// Based on SendGrid's published description of the endpoint
// (sendgrid/sendgrid-oai, spec/paths/email_activity.json: "Filter all
// messages", the limit parameter 1–1000 with default 10, the 200, 400 and
// 429 answers and the "Abbv. Message" fields) and its documentation pages
// "Filter all messages" and "Getting Started with the Email Activity Feed
// API" (the query is URL-encoded, of the form field="value", terms joined
// with AND and OR; custom args are queried as unique_args['name']="value";
// the API needs the paid "additional email activity history" add-on and an
// API key with Email Activity access). What the documentation does not give
// is marked as the loopback's own choice below.
//
// The query language supported here is the part a sender needs:
//
//	term  := field ("=" | "!=") "value" | "(" query ")" | NOT term
//	field := msg_id | from_email | to_email | subject | status | unique_args['name']
//	query := term { (AND | OR) term }     AND binds tighter than OR
//
// Other fields of SendGrid's query reference (categories, template_id,
// last_event_time, ...) and operators (LIKE, IN, BETWEEN, ...) are refused
// 400 as not supported by the loopback, so a test never mistakes an
// unsupported query for one that matched nothing. unique_args are the
// request's root custom_args (a personalization's own are not indexed).

// ActivityAccess is whether the account can use the Email Activity API.
type ActivityAccess int

const (
	// ActivityAvailable: the add-on is bought and the key has Email
	// Activity access.
	ActivityAvailable ActivityAccess = iota
	// ActivityForbidden: 403 {"errors":[{"field":null,"message":"access
	// forbidden"}]}, as SendGrid answers a key without the scope (the
	// wording is SendGrid's usual 403 one; the add-on's is not documented).
	ActivityForbidden
	// ActivityNotFound: 404 {"errors":[{"field":null,"message":"resource not
	// found"}]} (the loopback's wording).
	ActivityNotFound
)

// MsgActivityForbidden and MsgActivityNotFound are the messages of those
// answers.
const (
	MsgActivityForbidden = "access forbidden"
	MsgActivityNotFound  = "resource not found"
)

// ActivityOptions configures the Email Activity API of a Server.
type ActivityOptions struct {
	// Access is whether the account has the API; the zero value has it.
	Access ActivityAccess
	// IndexDelay is how long after a request is taken its messages are
	// listed (by Options.Now): the real feed lags the send by seconds to
	// minutes.
	IndexDelay time.Duration
	// RateLimit is how many queries one RateWindow (default 1 s) allows;
	// more are answered 429 with X-RateLimit-Limit, -Remaining 0 and -Reset
	// (the window's end, Unix seconds). 0 is no limit.
	RateLimit  int
	RateWindow time.Duration
}

// ActivityMessage is one message of a GET /v3/messages answer.
type ActivityMessage struct {
	FromEmail     string `json:"from_email"`
	MsgID         string `json:"msg_id"`
	Subject       string `json:"subject"`
	ToEmail       string `json:"to_email"`
	Status        string `json:"status"`
	OpensCount    int    `json:"opens_count"`
	ClicksCount   int    `json:"clicks_count"`
	LastEventTime string `json:"last_event_time"`
}

// ActivityResponse is the body of a GET /v3/messages answer.
type ActivityResponse struct {
	Messages []ActivityMessage `json:"messages"`
}

// MsgID is the Email Activity msg_id of the i-th recipient (from 0) of the
// request answered with X-Message-Id xMessageID: SendGrid's msg_id (and the
// Event Webhook's sg_message_id) starts with the request's X-Message-Id and
// a dot; the rest is the loopback's own.
func MsgID(xMessageID string, i int) string {
	return xMessageID + ".loopback-" + strconv.Itoa(i) + ".0"
}

type activityWindow struct {
	start time.Time
	n     int
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.ActivityQueries++ })
	if !s.authorized(r) {
		writeErrors(w, http.StatusUnauthorized, item(MsgBadKey, ""))
		return
	}
	o := &s.opts.Activity
	switch o.Access {
	case ActivityForbidden:
		writeErrors(w, http.StatusForbidden, item(MsgActivityForbidden, ""))
		return
	case ActivityNotFound:
		writeErrors(w, http.StatusNotFound, item(MsgActivityNotFound, ""))
		return
	}
	now := s.opts.Now()
	if o.RateLimit > 0 {
		s.mu.Lock()
		start := now.Truncate(o.RateWindow)
		if !start.Equal(s.window.start) {
			s.window = activityWindow{start: start}
		}
		s.window.n++
		over := s.window.n > o.RateLimit
		if over {
			s.stats.ActivityRateLimited++
		}
		s.mu.Unlock()
		if over {
			w.Header()["X-RateLimit-Limit"] = []string{strconv.Itoa(o.RateLimit)}
			w.Header()["X-RateLimit-Remaining"] = []string{"0"}
			w.Header()["X-RateLimit-Reset"] = []string{strconv.FormatInt(ceilUnix(start.Add(o.RateWindow)), 10)}
			writeErrors(w, http.StatusTooManyRequests, item("too many requests", ""))
			return
		}
	}

	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 1 || n > 1000 || n != float64(int(n)) {
			writeErrors(w, http.StatusBadRequest, item("limit must be an integer from 1 to 1000", "limit"))
			return
		}
		limit = int(n)
	}
	if !q.Has("query") {
		// The published description makes query required.
		writeErrors(w, http.StatusBadRequest, item("query is required", "query"))
		return
	}
	expr, err := parseQuery(q.Get("query"))
	if err != nil {
		writeErrors(w, http.StatusBadRequest, item("invalid syntax: "+err.Error(), ""))
		return
	}

	out := ActivityResponse{Messages: []ActivityMessage{}}
	s.mu.Lock()
	for k := len(s.reqs) - 1; k >= 0 && len(out.Messages) < limit; k-- {
		req := &s.reqs[k]
		if req.at.Add(o.IndexDelay).After(now) {
			continue
		}
		for i := 0; i < req.count && len(out.Messages) < limit; i++ {
			m := ActivityMessage{
				FromEmail: req.from, MsgID: MsgID(req.messageID, i), Subject: req.subject,
				ToEmail: s.book.email(req.first + i), Status: "processed",
				LastEventTime: req.at.UTC().Format(time.RFC3339),
			}
			if expr.match(&m, req.customArgs) {
				out.Messages = append(out.Messages, m)
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// queryExpr is a parsed Email Activity query.
type queryExpr struct {
	op          string // "=", "!=", "AND", "OR", "NOT"
	field, arg  string // field, and the custom arg's name for unique_args
	value       string
	left, right *queryExpr
}

func (e *queryExpr) match(m *ActivityMessage, args map[string]string) bool {
	switch e.op {
	case "AND":
		return e.left.match(m, args) && e.right.match(m, args)
	case "OR":
		return e.left.match(m, args) || e.right.match(m, args)
	case "NOT":
		return !e.left.match(m, args)
	}
	var v string
	has := true
	switch e.field {
	case "msg_id":
		v = m.MsgID
	case "from_email":
		v = m.FromEmail
	case "to_email":
		v = m.ToEmail
	case "subject":
		v = m.Subject
	case "status":
		v = m.Status
	case "unique_args":
		v, has = args[e.arg]
	}
	if e.op == "=" {
		return has && v == e.value
	}
	return !has || v != e.value
}

// Fields of SendGrid's query reference that the loopback does not support.
var unsupportedFields = map[string]bool{
	"template_id": true, "asm_group_id": true, "api_key_id": true, "events": true, "originating_ip": true,
	"categories": true, "outbound_ip": true, "last_event_time": true, "clicks": true, "opens": true,
	"teammate": true, "marketing_campaign_id": true, "marketing_campaign_name": true,
}

type queryParser struct {
	s   string
	pos int
}

type queryError string

func (e queryError) Error() string { return string(e) }

func parseQuery(s string) (*queryExpr, error) {
	p := &queryParser{s: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.s) {
		return nil, queryError("unexpected " + strconv.Quote(p.s[p.pos:]) + " at offset " + strconv.Itoa(p.pos))
	}
	return e, nil
}

func (p *queryParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

// keyword consumes kw (case-insensitive) if it comes next as a word.
func (p *queryParser) keyword(kw string) bool {
	p.space()
	end := p.pos + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], kw) || (end < len(p.s) && isIdent(p.s[end])) {
		return false
	}
	p.pos = end
	return true
}

func (p *queryParser) or() (*queryExpr, error) {
	l, err := p.and()
	for err == nil && p.keyword("OR") {
		var r *queryExpr
		if r, err = p.and(); err == nil {
			l = &queryExpr{op: "OR", left: l, right: r}
		}
	}
	return l, err
}

func (p *queryParser) and() (*queryExpr, error) {
	l, err := p.term()
	for err == nil && p.keyword("AND") {
		var r *queryExpr
		if r, err = p.term(); err == nil {
			l = &queryExpr{op: "AND", left: l, right: r}
		}
	}
	return l, err
}

func isIdent(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func (p *queryParser) term() (*queryExpr, error) {
	if p.keyword("NOT") {
		e, err := p.term()
		if err != nil {
			return nil, err
		}
		return &queryExpr{op: "NOT", left: e}, nil
	}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, queryError("missing ) at offset " + strconv.Itoa(p.pos))
		}
		p.pos++
		return e, nil
	}
	start := p.pos
	for p.pos < len(p.s) && isIdent(p.s[p.pos]) {
		p.pos++
	}
	e := &queryExpr{field: strings.ToLower(p.s[start:p.pos])}
	switch {
	case e.field == "":
		return nil, queryError("expected a field at offset " + strconv.Itoa(start))
	case e.field == "unique_args":
		if p.pos >= len(p.s) || p.s[p.pos] != '[' {
			return nil, queryError("unique_args needs ['name'] at offset " + strconv.Itoa(p.pos))
		}
		p.pos++
		arg, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ']' {
			return nil, queryError("missing ] at offset " + strconv.Itoa(p.pos))
		}
		p.pos++
		e.arg = arg
	case unsupportedFields[e.field]:
		return nil, queryError("'" + e.field + "' is not supported by the loopback")
	case e.field != "msg_id" && e.field != "from_email" && e.field != "to_email" && e.field != "subject" && e.field != "status":
		return nil, queryError("'" + e.field + "' is not a known field")
	}
	p.space()
	switch {
	case strings.HasPrefix(p.s[p.pos:], "!="):
		e.op = "!="
		p.pos += 2
	case strings.HasPrefix(p.s[p.pos:], "="):
		e.op = "="
		p.pos++
	default:
		return nil, queryError("unsupported operator at offset " + strconv.Itoa(p.pos) + " (the loopback knows = and !=)")
	}
	p.space()
	v, err := p.quoted()
	if err != nil {
		return nil, err
	}
	e.value = v
	return e, nil
}

// quoted reads a string in double or single quotes; a backslash escapes
// the next character.
func (p *queryParser) quoted() (string, error) {
	if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\'') {
		return "", queryError("expected a quoted value at offset " + strconv.Itoa(p.pos))
	}
	q := p.s[p.pos]
	p.pos++
	var sb strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '\\' && p.pos < len(p.s):
			sb.WriteByte(p.s[p.pos])
			p.pos++
		case c == q:
			return sb.String(), nil
		default:
			sb.WriteByte(c)
		}
	}
	return "", queryError("unterminated value")
}
