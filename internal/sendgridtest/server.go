// Package sendgridtest is a loopback server that speaks SendGrid's v3 Mail
// Send wire format, for tests and benchmarks of code that sends mail.
//
// It checks what the real API checks (the bearer key, the body's shape and
// SendGrid's documented per-request limits), answers as the real API answers
// (202 with an X-Message-Id, or 400 with SendGrid's error JSON), and records
// what it accepted compactly enough for a million recipients. It can also
// misbehave on purpose, deterministically from a seed: answer 429 with
// rate-limit headers, answer 500 or 503, or accept a request and then drop
// the connection before answering, which is the case a sender cannot tell
// from a failure.
package sendgridtest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SendGrid's documented limits for one Mail Send request.
const (
	MaxPersonalizations = 1000             // personalizations per request
	MaxRecipients       = 1000             // to+cc+bcc across all personalizations
	MaxCustomArgsBytes  = 10_000           // custom_args (root merged with a personalization's) must stay below this
	MaxSubstitutionSize = 10_000           // substitutions per personalization must stay below this
	MaxCategories       = 10               // categories per request
	MaxCategoryLen      = 255              // characters per category
	MaxBodyBytes        = 30 * 1024 * 1024 // whole request body
)

// Options configures a Server. The zero value is a well-behaved server that
// accepts any bearer key.
type Options struct {
	// APIKey is the key expected in "Authorization: Bearer <key>". Empty
	// accepts any non-empty key.
	APIKey string

	// Fractions of requests that misbehave, drawn in this order from one
	// uniform number per attempt; their sum is capped at 1.
	RateLimited     float64 // answered 429 with X-RateLimit-Limit/Remaining/Reset
	ServerError     float64 // answered 500 or 503
	DropAfterAccept float64 // accepted and recorded, then the connection is closed without an answer

	// RateLimitReset is how far in the future X-RateLimit-Reset points
	// (whole Unix seconds, rounded up). Default 1 s.
	RateLimitReset time.Duration
	// OmitRateLimitHeaders answers 429 without the X-RateLimit-* headers.
	OmitRateLimitHeaders bool

	// Latency is added to every answer, after the request has been read.
	Latency time.Duration

	// Seed makes the misbehaviour reproducible: which attempt misbehaves
	// depends only on the seed, the request body and how many times that
	// same body was posted before, not on the order in which concurrent
	// senders arrive. Message IDs are unique per server, and reproducible
	// when requests arrive one at a time.
	Seed uint64

	// Inspect, when set, is called with every request that passed
	// validation, before it is recorded, from the request's goroutine (so
	// possibly concurrently). It may keep m. Tests use it to look at what
	// the server does not record (substitutions, content).
	Inspect func(m *Mail)

	// Now is the clock for X-RateLimit-Reset. Default time.Now.
	Now func() time.Time
}

// Delivery is one recipient of an accepted request.
type Delivery struct {
	Email      string
	MessageID  string            // the X-Message-Id of the request that carried it
	CustomArgs map[string]string // that request's root custom_args; shared, do not modify
}

// AcceptedRequest is the compact record of one accepted request.
type AcceptedRequest struct {
	MessageID  string
	CustomArgs map[string]string // root custom_args; shared, do not modify
	Count      int               // recipients (to+cc+bcc)
}

// Stats counts what the server answered.
type Stats struct {
	Received    int // POST /v3/mail/send requests, whatever the answer
	Accepted    int // 202s, plus accepted-then-dropped
	Dropped     int // accepted, then the connection was closed
	RateLimited int // 429s
	ServerError int // 500s and 503s
	Rejected    int // 400, 401, 413
	Sandbox     int // 200s (sandbox mode: validated, not recorded)
}

// Server is a running loopback SendGrid.
type Server struct {
	ts   *httptest.Server
	opts Options

	mu       sync.Mutex
	stats    Stats
	attempts map[uint64]uint32 // body fingerprint -> times posted, for deterministic faults
	reqs     []request         // accepted, in order
	book     *addressBook
	idSeq    uint64

	bufs sync.Pool // *bytes.Buffer request bodies
	seen sync.Pool // map[string]struct{} for validate
}

type request struct {
	messageID  string
	customArgs map[string]string
	first      int // index in book of its first recipient
	count      int
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	if opts.RateLimitReset <= 0 {
		opts.RateLimitReset = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		attempts: make(map[uint64]uint32),
		book:     newAddressBook(),
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/mail/send", s.mailSend)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, item("not found", ""))
	})
	s.ts = httptest.NewServer(mux)
	return s
}

// URL is the base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
func (s *Server) URL() string { return s.ts.URL }

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// Requests is the number of Mail Send requests received, whatever the answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Received
}

// Stats returns the counts of answers so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// AcceptedRequests returns the accepted requests in the order accepted.
func (s *Server) AcceptedRequests() []AcceptedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AcceptedRequest, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = AcceptedRequest{MessageID: r.messageID, CustomArgs: r.customArgs, Count: r.count}
	}
	return out
}

// Accepted returns every accepted recipient in the order accepted. It builds
// the slice on each call; for a million recipients prefer RecipientCount.
func (s *Server) Accepted() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, s.book.len())
	for _, r := range s.reqs {
		for i := r.first; i < r.first+r.count; i++ {
			out = append(out, Delivery{Email: s.book.email(i), MessageID: r.messageID, CustomArgs: r.customArgs})
		}
	}
	return out
}

// RecipientCount is how many accepted requests carried email (compared
// without regard to case, as SendGrid compares addresses).
func (s *Server) RecipientCount(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.count(email)
}

// Recipients is the number of recipients accepted so far.
func (s *Server) Recipients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.len()
}

type fate int

const (
	fateAccept fate = iota
	fateRateLimited
	fate500
	fate503
	fateDrop
)

func (s *Server) mailSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Received++
	s.mu.Unlock()

	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" || (s.opts.APIKey != "" && key != s.opts.APIKey) {
		s.count(func(st *Stats) { st.Rejected++ })
		writeErrors(w, http.StatusUnauthorized, item("The provided authorization grant is invalid, expired, or revoked", ""))
		return
	}

	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4<<20 {
			buf.Reset()
			s.bufs.Put(buf)
		}
	}()
	if r.ContentLength > 0 && r.ContentLength <= MaxBodyBytes {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.count(func(st *Stats) { st.Rejected++ })
			writeErrors(w, http.StatusRequestEntityTooLarge, item("The JSON payload you have included in your request is too large.", ""))
		}
		return
	}
	body := buf.Bytes()

	// The latency is spent after the request has been read, as a server's
	// processing time is: a client that gives up now has sent it.
	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}

	switch f := s.fate(body); f {
	case fateRateLimited:
		s.count(func(st *Stats) { st.RateLimited++ })
		if !s.opts.OmitRateLimitHeaders {
			reset := s.opts.Now().Add(s.opts.RateLimitReset)
			secs := reset.Unix()
			if reset.Nanosecond() > 0 {
				secs++
			}
			// Set the keys as SendGrid spells them on the wire; Go's client
			// canonicalises them to X-Ratelimit-* when it reads them.
			w.Header()["X-RateLimit-Limit"] = []string{"600"}
			w.Header()["X-RateLimit-Remaining"] = []string{"0"}
			w.Header()["X-RateLimit-Reset"] = []string{strconv.FormatInt(secs, 10)}
		}
		writeErrors(w, http.StatusTooManyRequests, item("too many requests", ""))
		return
	case fate500:
		s.count(func(st *Stats) { st.ServerError++ })
		writeErrors(w, http.StatusInternalServerError, item("internal error", ""))
		return
	case fate503:
		s.count(func(st *Stats) { st.ServerError++ })
		writeErrors(w, http.StatusServiceUnavailable, item("service unavailable", ""))
		return
	case fateDrop:
		s.accept(w, body, true)
	default:
		s.accept(w, body, false)
	}
}

func (s *Server) accept(w http.ResponseWriter, body []byte, drop bool) {
	var m Mail
	if err := json.Unmarshal(body, &m); err != nil {
		s.count(func(st *Stats) { st.Rejected++ })
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && strings.Contains(te.Field, "custom_args") {
			writeErrors(w, http.StatusBadRequest, item("Invalid type. Expected: string, given: "+te.Value+".", te.Field))
			return
		}
		writeErrors(w, http.StatusBadRequest, item("Bad Request", ""))
		return
	}
	seen, _ := s.seen.Get().(map[string]struct{})
	if seen == nil {
		seen = make(map[string]struct{}, MaxRecipients)
	}
	errs := validate(&m, seen)
	clear(seen)
	s.seen.Put(seen)
	if len(errs) > 0 {
		s.count(func(st *Stats) { st.Rejected++ })
		writeErrors(w, http.StatusBadRequest, errs...)
		return
	}
	if s.opts.Inspect != nil {
		s.opts.Inspect(&m)
	}
	if m.MailSettings != nil && m.MailSettings.SandboxMode != nil && m.MailSettings.SandboxMode.Enable != nil && *m.MailSettings.SandboxMode.Enable {
		s.count(func(st *Stats) { st.Sandbox++ })
		w.WriteHeader(http.StatusOK)
		return
	}

	id := s.record(&m, drop)
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) record(m *Mail, drop bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Accepted++
	if drop {
		s.stats.Dropped++
	}
	s.idSeq++
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], splitmix(s.opts.Seed))
	binary.BigEndian.PutUint64(raw[8:], splitmix(s.opts.Seed^s.idSeq))
	id := base64.RawURLEncoding.EncodeToString(raw[:])

	first := s.book.len()
	for _, p := range m.Personalizations {
		for _, l := range [][]Address{p.To, p.CC, p.BCC} {
			for _, a := range l {
				s.book.add(a.Email)
			}
		}
	}
	s.reqs = append(s.reqs, request{messageID: id, customArgs: m.CustomArgs, first: first, count: s.book.len() - first})
	return id
}

// fate decides deterministically what happens to this attempt.
func (s *Server) fate(body []byte) fate {
	o := &s.opts
	if o.RateLimited <= 0 && o.ServerError <= 0 && o.DropAfterAccept <= 0 {
		return fateAccept
	}
	fp := uint64(crc32.Checksum(body, castagnoli))<<32 | uint64(uint32(len(body)))
	s.mu.Lock()
	n := s.attempts[fp]
	s.attempts[fp] = n + 1
	s.mu.Unlock()
	x := splitmix(o.Seed ^ splitmix(fp) ^ splitmix(uint64(n)+0x5bd1e995))
	u := float64(x>>11) / (1 << 53)
	switch {
	case u < o.RateLimited:
		return fateRateLimited
	case u < o.RateLimited+o.ServerError:
		if x&1 == 0 {
			return fate500
		}
		return fate503
	case u < o.RateLimited+o.ServerError+o.DropAfterAccept:
		return fateDrop
	}
	return fateAccept
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// validate applies SendGrid's documented rules for a Mail Send body. The
// messages follow SendGrid's wording; like SendGrid's, the duplicate-address
// message names the address.
// seen is empty scratch space.
func validate(m *Mail, seen map[string]struct{}) []ErrorItem {
	var errs []ErrorItem
	if m.From == nil || !plausible(m.From.Email) {
		errs = append(errs, item("The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.", "from.email"))
	}
	if len(m.Personalizations) == 0 {
		errs = append(errs, item("The personalizations field is required and must have at least 1 item.", "personalizations"))
	}
	if len(m.Personalizations) > MaxPersonalizations {
		errs = append(errs, item(fmt.Sprintf("The personalizations field can not have more than %d items.", MaxPersonalizations), "personalizations"))
	}
	if m.TemplateID == "" {
		if len(m.Content) == 0 {
			errs = append(errs, item("Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.", "content"))
		}
		for i, c := range m.Content {
			if c.Value == "" {
				errs = append(errs, item("The content value must be a string at least one character in length.", fmt.Sprintf("content.%d.value", i)))
			}
			if c.Type == "text/plain" && i != 0 {
				errs = append(errs, item("If present, text/plain content must be first, followed by text/html, followed by any other content.", fmt.Sprintf("content.%d.type", i)))
			}
		}
	}
	if len(m.Categories) > MaxCategories {
		errs = append(errs, item(fmt.Sprintf("You may not have more than %d categories per request.", MaxCategories), "categories"))
	}
	for i, c := range m.Categories {
		if len(c) > MaxCategoryLen {
			errs = append(errs, item(fmt.Sprintf("A category cannot be more than %d characters.", MaxCategoryLen), fmt.Sprintf("categories.%d", i)))
		}
	}
	rootArgs := argsSize(m.CustomArgs)
	if rootArgs >= MaxCustomArgsBytes {
		errs = append(errs, item(fmt.Sprintf("The custom_args parameter must be less than %d bytes.", MaxCustomArgsBytes), "custom_args"))
	}

	total := 0
	subjectMissing := false
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			errs = append(errs, item("The to array is required for all personalization objects, and must have at least one email object with a valid email address.", fmt.Sprintf("personalizations.%d.to", i)))
		}
		if p.Subject == "" && m.Subject == "" && m.TemplateID == "" && !subjectMissing {
			subjectMissing = true
			errs = append(errs, item("The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.", "subject"))
		}
		for _, l := range []struct {
			name  string
			addrs []Address
		}{{"to", p.To}, {"cc", p.CC}, {"bcc", p.BCC}} {
			for j, a := range l.addrs {
				total++
				if !plausible(a.Email) {
					errs = append(errs, item("Does not contain a valid address.", fmt.Sprintf("personalizations.%d.%s.%d.email", i, l.name, j)))
					continue
				}
				k := lower(a.Email)
				if _, dup := seen[k]; dup {
					errs = append(errs, item(fmt.Sprintf("Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [%s] in the personalizations.%d.%s field.", a.Email, i, l.name), fmt.Sprintf("personalizations.%d.%s", i, l.name)))
					continue
				}
				seen[k] = struct{}{}
			}
		}
		if len(p.CustomArgs) > 0 && mergedArgsSize(m.CustomArgs, rootArgs, p.CustomArgs) >= MaxCustomArgsBytes {
			errs = append(errs, item(fmt.Sprintf("The custom_args parameter must be less than %d bytes.", MaxCustomArgsBytes), fmt.Sprintf("personalizations.%d.custom_args", i)))
		}
		if argsSize(p.Substitutions) >= MaxSubstitutionSize {
			errs = append(errs, item(fmt.Sprintf("The substitutions of a personalization must be less than %d bytes.", MaxSubstitutionSize), fmt.Sprintf("personalizations.%d.substitutions", i)))
		}
	}
	if total > MaxRecipients {
		errs = append(errs, item(fmt.Sprintf("The total number of recipients must be less than %d. This includes all recipients defined within the to, cc, and bcc parameters, across each object that you include in the personalizations array.", MaxRecipients), "personalizations"))
	}
	if len(errs) > 20 {
		errs = errs[:20]
	}
	return errs
}

// argsSize is the size of a string map as a JSON object, ignoring escapes.
func argsSize(m map[string]string) int {
	if len(m) == 0 {
		return 0
	}
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 6 // two pairs of quotes, a colon, a comma
	}
	return n
}

// mergedArgsSize is the size of root custom_args overridden by a
// personalization's, as SendGrid merges them.
func mergedArgsSize(root map[string]string, rootSize int, p map[string]string) int {
	n := max(rootSize, 2)
	for k, v := range p {
		if rv, ok := root[k]; ok {
			n += len(v) - len(rv)
			continue
		}
		n += len(k) + len(v) + 6
	}
	return n
}

func plausible(email string) bool {
	at := strings.LastIndexByte(email, '@')
	return at > 0 && at < len(email)-1 && len(email) <= 320 && !strings.ContainsAny(email, " \t\r\n<>,;")
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func item(msg, field string) ErrorItem {
	it := ErrorItem{Message: msg}
	if field != "" {
		it.Field = &field
	}
	return it
}

func writeErrors(w http.ResponseWriter, status int, errs ...ErrorItem) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorResponse{Errors: errs})
}
