// Package sendgridtest is a loopback server that speaks SendGrid's v3 Mail
// Send wire format, and its Email Activity API, for tests and benchmarks of
// code that sends mail.
//
// It checks what the real API checks (the bearer key, the body's shape and
// SendGrid's documented per-request limits, optionally the body against
// SendGrid's published schema: Options.CheckSchema), answers as the real
// API answers (202 with an X-Message-Id, or 400 with SendGrid's error
// JSON), and records what it accepted compactly enough for a million
// recipients.
//
// A request is taken, as by the real service, once its body has been read
// and validated: it is recorded before the answer's latency is spent, so a
// client that goes away meanwhile (a killed worker, a timeout) has still had
// its mail sent, and cannot know it (Stats.Abandoned).
//
// It can also misbehave on purpose, deterministically from a seed: answer
// 429 with rate-limit headers, answer 500 or 503, or accept a request and
// then drop the connection before answering, which is the case a sender
// cannot tell from a failure. And it can refuse as a misconfigured account
// is refused (Options.Refusal, RefuseIf, VerifiedSenders): 401 for a bad
// key, 403 for a sender that is not verified, 400 with field errors.
//
// What it took can be asked back through SendGrid's Email Activity API
// (GET /v3/messages, see activity.go), with its indexing delay, rate limit
// and the add-on an account may lack (Options.Activity).
package sendgridtest

import (
	"bytes"
	"context"
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
	"sync/atomic"
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

// SendGrid's answers to a misconfigured account, word for word.
const (
	// MsgBadKey is the message of a 401: the API key is wrong, revoked or
	// lacks the Mail Send permission.
	MsgBadKey = "The provided authorization grant is invalid, expired, or revoked"
	// MsgUnverifiedSender is the message of a 403 (field "from"): the from
	// address is not a verified Sender Identity of the account.
	MsgUnverifiedSender = "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements"
	// MsgInvalidAddress is the message of RefuseInvalid's 400.
	MsgInvalidAddress = "Does not contain a valid address."
)

// Refusal is how the server refuses a request that it would otherwise take.
type Refusal int

const (
	RefuseNone             Refusal = iota // take it
	RefuseBadKey                          // 401 MsgBadKey, field and help null, whatever the key
	RefuseUnverifiedSender                // 403 MsgUnverifiedSender, field "from"
	RefuseInvalid                         // 400: the first recipient's address, as SendGrid's stricter check refuses one (field and help set)
)

func (r Refusal) String() string {
	switch r {
	case RefuseNone:
		return "none"
	case RefuseBadKey:
		return "bad key (401)"
	case RefuseUnverifiedSender:
		return "unverified sender (403)"
	case RefuseInvalid:
		return "invalid (400)"
	}
	return "refusal(" + strconv.Itoa(int(r)) + ")"
}

// Options configures a Server. The zero value is a well-behaved server that
// accepts any bearer key and answers at once.
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

	// Latency is added to every answer after the request has been read,
	// validated and, when taken, recorded: a real SendGrid takes of the
	// order of a second for a 1,000-recipient request. SetLatency changes
	// it while the server runs.
	Latency time.Duration

	// Refusal refuses every request that would be taken (RefuseBadKey
	// before the body is read, as SendGrid checks the key first). SetRefusal
	// changes it while the server runs.
	Refusal Refusal
	// RefuseIf, when set, chooses the refusal of each request that passed
	// validation (a partial failure: some batches refused); RefuseNone
	// defers to Refusal.
	RefuseIf func(m *Mail) Refusal
	// VerifiedSenders, when set, are the account's verified Sender
	// Identities: a from address that is none of them (compared without
	// regard to case) is refused 403 as by RefuseUnverifiedSender.
	VerifiedSenders []string

	// CheckSchema validates every body against SendGrid's published Mail
	// Send request schema (the part of sendgrid/sendgrid-oai committed as
	// internal/mailer/testdata/sendgrid-mail-send.schema.json, less its
	// known defects: see KnownSchemaDefects) and refuses one that fails 400,
	// naming the field; SchemaViolations lists them. It costs about 60 ms
	// of CPU per 1,000-recipient request on this 2-core kind of machine,
	// spent before the latency.
	CheckSchema bool
	// SchemaFile replaces that schema's path.
	SchemaFile string

	// Activity configures the Email Activity API (GET /v3/messages).
	Activity ActivityOptions

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

	// Now is the clock for X-RateLimit-Reset, the time a request is taken,
	// and the Email Activity API's indexing delay and rate windows. Default
	// time.Now.
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
	At         time.Time         // when it was taken (Options.Now)
}

// Stats counts what the server answered.
type Stats struct {
	Received    int // POST /v3/mail/send requests, whatever the answer
	Accepted    int // taken: 202s, accepted-then-dropped and abandoned
	Dropped     int // taken, then the connection was to be closed without an answer (DropAfterAccept)
	Abandoned   int // taken, but the client had gone before the answer (during Latency)
	RateLimited int // 429s
	ServerError int // 500s and 503s
	Rejected    int // 400, 401, 403, 413
	Forbidden   int // of which 403s (unverified sender)
	Sandbox     int // 200s (sandbox mode: validated, not recorded)

	ActivityQueries     int // GET /v3/messages, whatever the answer
	ActivityRateLimited int // of which 429s
}

// Duplicates counts what was taken more than once: the figure a "nobody
// mailed twice" test compares with what the sender reports.
type Duplicates struct {
	BatchKeys int // custom_args breachctl_batch values taken in more than one request
	Requests  int // requests beyond the first of each batch key
	People    int // addresses taken more than once (compared without regard to case)
	Extra     int // recipients beyond the first of each address: the mails sent twice
}

// Server is a running loopback SendGrid.
type Server struct {
	ts      *httptest.Server
	opts    Options
	schema  *mailSchema
	latency atomic.Int64 // time.Duration
	refusal atomic.Int32 // Refusal

	mu         sync.Mutex
	stats      Stats
	attempts   map[uint64]uint32 // body fingerprint -> times posted, for deterministic faults
	reqs       []request         // accepted, in order
	book       *addressBook
	idSeq      uint64
	batches    map[string]int // batch key -> requests taken
	dups       Duplicates
	violations []string
	window     activityWindow

	bufs sync.Pool // *bytes.Buffer request bodies
	seen sync.Pool // map[string]struct{} for validate
}

type request struct {
	messageID  string
	customArgs map[string]string
	first      int // index in book of its first recipient
	count      int
	at         time.Time
	from       string
	subject    string
}

// ArgBatch is the custom arg that names a batch (mailer.ArgBatch), by
// which Duplicates counts batches taken twice.
const ArgBatch = "breachctl_batch"

// NewServer starts a server on 127.0.0.1. Close it when done. It panics if
// CheckSchema is set and the schema cannot be loaded.
func NewServer(opts Options) *Server {
	if opts.RateLimitReset <= 0 {
		opts.RateLimitReset = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Activity.RateWindow <= 0 {
		opts.Activity.RateWindow = time.Second
	}
	s := &Server{
		opts:     opts,
		attempts: make(map[uint64]uint32),
		book:     newAddressBook(),
		batches:  make(map[string]int),
	}
	s.latency.Store(int64(opts.Latency))
	s.refusal.Store(int32(opts.Refusal))
	if opts.CheckSchema {
		sch, err := loadMailSchema(opts.SchemaFile)
		if err != nil {
			panic("sendgridtest: CheckSchema: " + err.Error())
		}
		s.schema = sch
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/mail/send", s.mailSend)
	mux.HandleFunc("GET /v3/messages", s.messages)
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

// SetLatency changes the latency of answers from now on (requests already
// waiting keep theirs).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetRefusal changes Options.Refusal from now on: RefuseNone takes requests
// again.
func (s *Server) SetRefusal(r Refusal) { s.refusal.Store(int32(r)) }

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
		out[i] = AcceptedRequest{MessageID: r.messageID, CustomArgs: r.customArgs, Count: r.count, At: r.at}
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

// People is the number of distinct addresses accepted so far.
func (s *Server) People() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.book.people()
}

// BatchTaken is how many requests with custom_args breachctl_batch = key
// were taken.
func (s *Server) BatchTaken(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches[key]
}

// Duplicates counts the batches and people taken more than once so far.
func (s *Server) Duplicates() Duplicates {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dups
	d.People, d.Extra = s.book.multi, s.book.extra
	return d
}

// SchemaViolations lists the bodies CheckSchema refused (at most 100), each
// as "request N: <field>: <what>".
func (s *Server) SchemaViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

type fate int

const (
	fateAccept fate = iota
	fateRateLimited
	fate500
	fate503
	fateDrop
)

// answer is what the server will say to one request, decided (and, when
// the request is taken, recorded) before the latency is spent.
type answer struct {
	status int
	header map[string]string
	errs   []ErrorItem
	taken  bool // recorded: the mail goes out whatever happens next
	drop   bool // close the connection instead of answering
}

func (s *Server) authorized(r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && key != "" && (s.opts.APIKey == "" || key == s.opts.APIKey)
}

func (s *Server) mailSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Received++
	n := s.stats.Received
	s.mu.Unlock()

	if !s.authorized(r) || Refusal(s.refusal.Load()) == RefuseBadKey {
		s.count(func(st *Stats) { st.Rejected++ })
		writeErrors(w, http.StatusUnauthorized, item(MsgBadKey, ""))
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
		return // a body not read whole is never taken
	}

	a := s.decide(buf.Bytes(), n)

	// The latency is spent after the request has been taken, as a server's
	// processing time is: a client that gives up now has sent it.
	if d := time.Duration(s.latency.Load()); d > 0 && !s.wait(r.Context(), d) {
		if a.taken {
			s.count(func(st *Stats) { st.Abandoned++ })
		}
		return
	}
	if a.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	for k, v := range a.header {
		// Set the keys as SendGrid spells them on the wire; Go's client
		// canonicalises them (X-Ratelimit-*) when it reads them.
		w.Header()[k] = []string{v}
	}
	if a.errs != nil {
		writeErrors(w, a.status, a.errs...)
		return
	}
	w.WriteHeader(a.status)
}

// wait sleeps d, or returns false as soon as the client has gone.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// decide answers request n's body, recording it if it is taken.
func (s *Server) decide(body []byte, n int) answer {
	switch s.fate(body) {
	case fateRateLimited:
		s.count(func(st *Stats) { st.RateLimited++ })
		a := answer{status: http.StatusTooManyRequests, errs: []ErrorItem{item("too many requests", "")}}
		if !s.opts.OmitRateLimitHeaders {
			a.header = map[string]string{
				"X-RateLimit-Limit":     "600",
				"X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset":     strconv.FormatInt(ceilUnix(s.opts.Now().Add(s.opts.RateLimitReset)), 10),
			}
		}
		return a
	case fate500:
		s.count(func(st *Stats) { st.ServerError++ })
		return answer{status: http.StatusInternalServerError, errs: []ErrorItem{item("internal error", "")}}
	case fate503:
		s.count(func(st *Stats) { st.ServerError++ })
		return answer{status: http.StatusServiceUnavailable, errs: []ErrorItem{item("service unavailable", "")}}
	case fateDrop:
		return s.accept(body, n, true)
	}
	return s.accept(body, n, false)
}

func ceilUnix(t time.Time) int64 {
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return secs
}

func (s *Server) reject(status int, errs ...ErrorItem) answer {
	s.count(func(st *Stats) {
		st.Rejected++
		if status == http.StatusForbidden {
			st.Forbidden++
		}
	})
	return answer{status: status, errs: errs}
}

func (s *Server) accept(body []byte, n int, drop bool) answer {
	if s.schema != nil {
		if field, msg := s.schema.check(body); msg != "" {
			s.mu.Lock()
			if len(s.violations) < 100 {
				s.violations = append(s.violations, fmt.Sprintf("request %d: %s: %s", n, field, msg))
			}
			s.mu.Unlock()
			return s.reject(http.StatusBadRequest, item("schema: "+msg, field))
		}
	}
	var m Mail
	if err := json.Unmarshal(body, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && strings.Contains(te.Field, "custom_args") {
			return s.reject(http.StatusBadRequest, item("Invalid type. Expected: string, given: "+te.Value+".", te.Field))
		}
		return s.reject(http.StatusBadRequest, item("Bad Request", ""))
	}
	seen, _ := s.seen.Get().(map[string]struct{})
	if seen == nil {
		seen = make(map[string]struct{}, MaxRecipients)
	}
	errs := validate(&m, seen)
	clear(seen)
	s.seen.Put(seen)
	if len(errs) > 0 {
		return s.reject(http.StatusBadRequest, errs...)
	}
	refusal := RefuseNone
	if s.opts.RefuseIf != nil {
		refusal = s.opts.RefuseIf(&m)
	}
	if refusal == RefuseNone {
		refusal = Refusal(s.refusal.Load())
	}
	if refusal == RefuseNone && len(s.opts.VerifiedSenders) > 0 && !s.verified(m.From.Email) {
		refusal = RefuseUnverifiedSender
	}
	switch refusal {
	case RefuseBadKey:
		return s.reject(http.StatusUnauthorized, item(MsgBadKey, ""))
	case RefuseUnverifiedSender:
		return s.reject(http.StatusForbidden, item(MsgUnverifiedSender, "from"))
	case RefuseInvalid:
		it := item(MsgInvalidAddress, "personalizations.0.to.0.email")
		help := "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to"
		it.Help = &help
		return s.reject(http.StatusBadRequest, it)
	}
	if s.opts.Inspect != nil {
		s.opts.Inspect(&m)
	}
	if m.MailSettings != nil && m.MailSettings.SandboxMode != nil && m.MailSettings.SandboxMode.Enable != nil && *m.MailSettings.SandboxMode.Enable {
		s.count(func(st *Stats) { st.Sandbox++ })
		return answer{status: http.StatusOK}
	}
	id := s.record(&m, drop)
	return answer{status: http.StatusAccepted, header: map[string]string{"X-Message-Id": id}, taken: true, drop: drop}
}

func (s *Server) verified(email string) bool {
	for _, v := range s.opts.VerifiedSenders {
		if strings.EqualFold(v, email) {
			return true
		}
	}
	return false
}

func (s *Server) record(m *Mail, drop bool) string {
	at := s.opts.Now()
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
	if key, ok := m.CustomArgs[ArgBatch]; ok {
		s.batches[key]++
		switch s.batches[key] {
		case 1:
		case 2:
			s.dups.BatchKeys++
			s.dups.Requests++
		default:
			s.dups.Requests++
		}
	}
	s.reqs = append(s.reqs, request{messageID: id, customArgs: m.CustomArgs, first: first, count: s.book.len() - first,
		at: at, from: m.From.Email, subject: m.Subject})
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
