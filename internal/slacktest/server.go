// Package slacktest is a loopback server that speaks Slack's Web API, for
// tests of code that drives Slack through slack-go.
//
// It checks the token as Slack does, accepts both encodings slack-go sends
// (form-encoded with the token in the body, JSON with a bearer header),
// answers with Slack's payloads and error codes, and keeps the workspace's
// state: channels and their members, messages as they stand after updates
// and deletes, pins, views and what was posted to response URLs. Every call
// is recorded, so a test can assert both what was done (Calls) and what the
// workspace now looks like (Messages, Pins, Members, Views).
//
// Conversations can be listed (conversations.list, paged), read
// (conversations.history, newest first, metadata only with
// include_all_metadata), opened as DMs (conversations.open) and given a
// topic and purpose.
//
// It can misbehave on purpose: answer a fraction of calls with HTTP 429,
// deterministically from a seed; fail the next call of a method with a
// chosen Slack error (FailNext); be down, answering every Web API call with
// an HTTP error and no effect (SetDown); add latency to every answer.
//
// The server has no global state and is safe for concurrent use.
package slacktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TriggerLifetime is how long after IssueTrigger a trigger_id can open a
// view, by the server's clock. Slack's is 3 s.
const TriggerLifetime = 3 * time.Second

// Response URL limits, Slack's documented ones.
const (
	ResponseURLMaxPosts = 5
	ResponseURLLifetime = 30 * time.Minute
)

// DefaultToken is the token expected when Options.Token is empty.
const DefaultToken = "xoxb-slacktest-token"

// Options configures a Server. The zero value is a well-behaved workspace
// with a bot user and no people.
type Options struct {
	// Token is the only token accepted. Default DefaultToken.
	Token string

	// The workspace and the bot the token belongs to, as auth.test reports
	// them. Defaults T0SLACKTST, "slacktest", U0B0TUSER, B0B0TBOT1.
	TeamID    string
	TeamName  string
	BotUserID string
	BotID     string

	// Users are the people users.info, conversations.invite and
	// chat.postEphemeral know about. The bot user is added if missing.
	Users []User

	// RateLimited is the fraction of Web API calls (after the token check)
	// answered HTTP 429 with Retry-After and {"ok":false,"error":"ratelimited"}.
	// Which calls are limited depends only on Seed, the method, the body and
	// how many times that same body was sent before, not on the order in
	// which concurrent callers arrive; a retry of the same body draws anew.
	RateLimited float64
	Seed        uint64
	// RetryAfter is announced in Retry-After, in whole seconds rounded up.
	// Default 1 s.
	RetryAfter time.Duration

	// Latency is added to every answer, Web API and response URL alike.
	Latency time.Duration

	// Now is the server's clock: trigger expiry, response URL expiry,
	// message timestamps and the times recorded. Default time.Now.
	Now func() time.Time
}

// User is a person (or bot) in the workspace.
type User struct {
	ID       string
	Name     string // handle, e.g. "ana"
	RealName string
	Email    string
	TZ       string // IANA name, e.g. "Europe/Berlin"
	IsBot    bool
	Deleted  bool
}

// Call is one request to the Web API, whatever the answer.
type Call struct {
	Method string // e.g. "chat.postMessage"
	// Params holds the request's fields whatever the encoding: the query
	// and form fields, or a JSON body's top-level fields (strings as they
	// are, other values as compact JSON, e.g. a view or blocks).
	Params url.Values
	// JSON is the decoded JSON body; nil for form-encoded requests.
	JSON        map[string]any
	Body        []byte // raw body
	ContentType string
	Time        time.Time // by the server's clock
	Status      int       // HTTP status answered
	Error       string    // Slack error answered; "" when ok
}

// Channel is a conversation as it stands.
type Channel struct {
	ID        string
	Name      string // "" for a DM
	IsPrivate bool
	IsIM      bool
	Creator   string
	Created   time.Time
	Members   []string // in the order they joined
	Topic     string   // as conversations.setTopic set it
	Purpose   string   // as conversations.setPurpose set it
}

// Message is a message as it stands after updates.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	User     string // who posted it: the bot user
	Text     string
	Blocks   json.RawMessage // compact JSON array; nil when it has none
	Metadata json.RawMessage // compact JSON object; nil when it has none
	Updates  int             // chat.update calls applied
	EditedTS string          // ts of the last update
}

// Ephemeral is a message only User could see.
type Ephemeral struct {
	Channel string
	User    string
	TS      string
	Text    string
	Blocks  json.RawMessage
}

// View is a modal or home tab as it stands after updates.
type View struct {
	ID         string
	Type       string // "modal" or "home"
	TriggerID  string // the trigger that opened it (modals)
	User       string // whose home tab it is (home)
	ExternalID string
	CallbackID string
	Hash       string
	JSON       json.RawMessage // the view as Slack answered it last
	Updates    int             // views.update / views.publish calls applied after the first
}

// ResponsePost is one POST to a response URL, whatever the answer.
type ResponsePost struct {
	URL             string
	Text            string
	Blocks          json.RawMessage
	ResponseType    string // "ephemeral" or "in_channel"
	ReplaceOriginal bool
	DeleteOriginal  bool
	Body            []byte
	Time            time.Time
	Status          int    // HTTP status answered
	Error           string // body of a non-200 answer, e.g. "used_url"
}

// Server is a running loopback Slack.
type Server struct {
	ts   *httptest.Server
	opts Options
	done chan struct{}
	stop sync.Once

	mu        sync.Mutex
	calls     []Call
	users     map[string]*User
	channels  []*channel
	byID      map[string]*channel
	byName    map[string]*channel
	dms       map[string]*channel // user ID -> DM with the bot
	views     []*View
	viewByID  map[string]*View
	viewByExt map[string]*View
	homeViews map[string]*View // user ID -> home tab
	triggers  map[string]*trigger
	responses map[string]*responseURL
	posts     []ResponsePost
	failNext  map[string][]string
	down      int               // HTTP status of every Web API answer while down; 0 when up
	attempts  map[uint64]uint32 // fingerprint -> times sent, for deterministic rate limiting
	lastTS    int64             // microseconds of the last message ts
	seq       uint64            // for IDs
}

type channel struct {
	Channel
	messages   []*message // in ts order, deleted ones included
	byTS       map[string]*message
	ephemerals []Ephemeral
	pins       []pin
}

type message struct {
	Message
	deleted bool
}

type pin struct {
	ts      string
	by      string
	created time.Time
}

type trigger struct {
	issued time.Time
	used   bool
}

type responseURL struct {
	issued time.Time
	posts  int
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.TeamID == "" {
		opts.TeamID = "T0SLACKTST"
	}
	if opts.TeamName == "" {
		opts.TeamName = "slacktest"
	}
	if opts.BotUserID == "" {
		opts.BotUserID = "U0B0TUSER"
	}
	if opts.BotID == "" {
		opts.BotID = "B0B0TBOT1"
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		done:      make(chan struct{}),
		users:     make(map[string]*User),
		byID:      make(map[string]*channel),
		byName:    make(map[string]*channel),
		dms:       make(map[string]*channel),
		viewByID:  make(map[string]*View),
		viewByExt: make(map[string]*View),
		homeViews: make(map[string]*View),
		triggers:  make(map[string]*trigger),
		responses: make(map[string]*responseURL),
		failNext:  make(map[string][]string),
		attempts:  make(map[uint64]uint32),
	}
	for _, u := range opts.Users {
		s.users[u.ID] = &u
	}
	if _, ok := s.users[opts.BotUserID]; !ok {
		s.users[opts.BotUserID] = &User{ID: opts.BotUserID, Name: "breachctl", RealName: "breachctl", IsBot: true}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("POST /response_url/{id}", s.serveResponseURL)
	s.ts = httptest.NewServer(mux)
	return s
}

// URL is the server's base URL, "http://127.0.0.1:PORT", without a trailing
// slash. Pass slack.OptionAPIURL(s.URL()+"/api/") to slack.New.
func (s *Server) URL() string { return s.ts.URL }

// APIURL is URL()+"/api/", ready for slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.ts.URL + "/api/" }

// Token is the token the server accepts.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server, cutting short any latency being waited out.
func (s *Server) Close() {
	s.stop.Do(func() { close(s.done) })
	s.ts.Close()
}

// FailNext makes the next call of method (e.g. "chat.update") answer
// {"ok":false,"error":slackError} without effect. Calls stack: two FailNext
// for one method fail its next two calls. The error "ratelimited" answers
// HTTP 429 with Retry-After, as Options.RateLimited does. Method
// "response_url" fails the next response URL post with HTTP 404 and
// slackError as the body.
func (s *Server) FailNext(method, slackError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], slackError)
}

// SetDown makes every Web API call answer HTTP status (e.g. 503) with a
// body that is not Slack's JSON, and no effect, as during an outage; the
// calls are recorded with that Status and Error "http_<status>". SetDown(0)
// ends the outage.
func (s *Server) SetDown(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = status
}

// IssueTrigger returns a new trigger_id, as Slack hands one out with an
// interaction. views.open accepts it once, within TriggerLifetime.
func (s *Server) IssueTrigger() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%d.%d.%016x%016x", 1000000000000+s.seq, 4200000000+s.seq, splitmix(s.seq), splitmix(^s.seq))
	s.triggers[id] = &trigger{issued: s.opts.Now()}
	return id
}

// NewResponseURL returns a new response URL on this server, as Slack hands
// one out with an interaction or a slash command. It accepts
// ResponseURLMaxPosts posts within ResponseURLLifetime.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%s%010d%016x", s.opts.TeamID, s.seq, splitmix(s.seq))
	s.responses[id] = &responseURL{issued: s.opts.Now()}
	return s.ts.URL + "/response_url/" + id
}

// AddChannel creates a channel as if someone had made it before the test,
// with exactly these members (the bot only if listed), and returns its ID.
// It panics if the name is taken.
func (s *Server) AddChannel(name string, private bool, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[name]; ok {
		panic("slacktest: AddChannel: name taken: " + name)
	}
	creator := s.opts.BotUserID
	if len(members) > 0 {
		creator = members[0]
	}
	return s.newChannel(name, private, creator, members).ID
}

// Calls returns every Web API call so far, in the order answered.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// CallsTo returns the calls of one method, in order.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Channels returns every conversation, in the order created.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, c.snapshot())
	}
	return out
}

// Members returns a channel's members in the order they joined. channel is
// an ID or a name.
func (s *Server) Members(channel string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(channel)
	if c == nil {
		return nil
	}
	return append([]string(nil), c.Members...)
}

// Messages returns the messages of a channel (ID or name) as they stand,
// thread replies included, in ts order; deleted ones are gone.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(channel)
	if c == nil {
		return nil
	}
	var out []Message
	for _, m := range c.messages {
		if !m.deleted {
			out = append(out, m.Message)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages posted in a channel, in order.
func (s *Server) Ephemerals(channel string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(channel)
	if c == nil {
		return nil
	}
	return append([]Ephemeral(nil), c.ephemerals...)
}

// Pins returns the pinned messages of a channel as they stand, in the order
// pinned.
func (s *Server) Pins(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.lookup(channel)
	if c == nil {
		return nil
	}
	var out []Message
	for _, p := range c.pins {
		out = append(out, c.byTS[p.ts].Message)
	}
	return out
}

// Views returns every view, in the order opened or first published.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.views))
	for _, v := range s.views {
		out = append(out, *v)
	}
	return out
}

// Responses returns the posts to one response URL (as NewResponseURL
// returned it), or to all of them when url is "", in order, rejected ones
// included (Status != 200).
func (s *Server) Responses(url string) []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ResponsePost
	for _, p := range s.posts {
		if url == "" || p.URL == url {
			out = append(out, p)
		}
	}
	return out
}

// serveAPI answers one Web API call.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) {
		return
	}
	method := r.PathValue("method")
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return // the client went away
	}
	call := Call{Method: method, Body: body, ContentType: r.Header.Get("Content-Type")}
	isJSON, bad := decodeParams(r, &call)

	// One critical section runs the call and records it, so Calls and the
	// workspace's state agree on the order of concurrent calls.
	s.mu.Lock()
	if down := s.down; down != 0 {
		call.Time, call.Status, call.Error = s.opts.Now(), down, "http_"+strconv.Itoa(down)
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		http.Error(w, "slacktest: down", down)
		return
	}
	code, status, answer := s.answer(r, &call, isJSON, bad)
	call.Time = s.opts.Now()
	call.Status = status
	call.Error = code
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if status == http.StatusTooManyRequests {
		secs := (s.opts.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(answer)
}

// answer runs a decoded call, returning the Slack error ("" when ok), the
// HTTP status and the JSON to answer. bad is a decoding error. Callers hold
// s.mu.
func (s *Server) answer(r *http.Request, call *Call, isJSON bool, bad string) (string, int, map[string]any) {
	h, ok := handlers[call.Method]
	if !ok {
		return "unknown_method", http.StatusOK, map[string]any{"ok": false, "error": "unknown_method", "req_method": call.Method}
	}
	if code := s.checkToken(r, call, isJSON); code != "" {
		return code, http.StatusOK, slackError(code)
	}
	if bad != "" {
		return bad, http.StatusOK, slackError(bad)
	}

	if s.rateLimited(call.Method, call.Body) {
		return "ratelimited", http.StatusTooManyRequests, slackError("ratelimited")
	}
	if q := s.failNext[call.Method]; len(q) > 0 {
		code := q[0]
		s.failNext[call.Method] = q[1:]
		if code == "ratelimited" {
			return code, http.StatusTooManyRequests, slackError(code)
		}
		return code, http.StatusOK, slackError(code)
	}
	res, code := h(s, call.Params)
	if code != "" {
		return code, http.StatusOK, slackError(code)
	}
	if res == nil {
		res = map[string]any{}
	}
	res["ok"] = true
	return "", http.StatusOK, res
}

func slackError(code string) map[string]any {
	return map[string]any{"ok": false, "error": code}
}

// checkToken checks the token as Slack does: a bearer header, or for
// form-encoded and query calls a token field (slack-go sends form-encoded
// calls that way, without a header).
func (s *Server) checkToken(r *http.Request, call *Call, isJSON bool) string {
	token, found := "", false
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return "invalid_auth"
		}
		token, found = t, true
	} else if !isJSON && call.Params.Has("token") {
		token, found = call.Params.Get("token"), true
	}
	switch {
	case !found || token == "":
		return "not_authed"
	case token != s.opts.Token:
		return "invalid_auth"
	}
	return ""
}

// decodeParams fills call.Params (and call.JSON) from the query and body.
// It reports whether the body was JSON, and a Slack error for a body that
// does not parse.
func decodeParams(r *http.Request, call *Call) (isJSON bool, bad string) {
	call.Params = r.URL.Query()
	mt, mp, _ := mime.ParseMediaType(call.ContentType)
	switch {
	case mt == "application/json":
		if len(bytes.TrimSpace(call.Body)) == 0 {
			return true, ""
		}
		if err := json.Unmarshal(call.Body, &call.JSON); err != nil {
			return true, "invalid_json"
		}
		for k, v := range call.JSON {
			switch v := v.(type) {
			case nil:
			case string:
				call.Params.Set(k, v)
			default:
				b, _ := json.Marshal(v)
				call.Params.Set(k, string(b))
			}
		}
		return true, ""
	case mt == "multipart/form-data":
		req := &http.Request{Method: http.MethodPost, Header: http.Header{"Content-Type": {call.ContentType}}, Body: io.NopCloser(bytes.NewReader(call.Body))}
		if mp["boundary"] == "" || req.ParseMultipartForm(1<<20) != nil {
			return false, "invalid_form_data"
		}
		for k, v := range req.MultipartForm.Value {
			call.Params[k] = append(call.Params[k], v...)
		}
		return false, ""
	case len(call.Body) > 0:
		form, err := url.ParseQuery(string(call.Body))
		if err != nil {
			return false, "invalid_form_data"
		}
		for k, v := range form {
			call.Params[k] = append(call.Params[k], v...)
		}
	}
	return false, ""
}

// rateLimited draws whether this attempt is limited. Callers hold s.mu.
func (s *Server) rateLimited(method string, body []byte) bool {
	if s.opts.RateLimited <= 0 {
		return false
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, method)
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(body)
	fp := h.Sum64()
	n := s.attempts[fp]
	s.attempts[fp] = n + 1
	x := splitmix(s.opts.Seed ^ splitmix(fp) ^ splitmix(uint64(n)+0x5bd1e995))
	return float64(x>>11)/(1<<53) < s.opts.RateLimited
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// wait sits out Options.Latency; false if the client or the server gave up.
func (s *Server) wait(r *http.Request) bool {
	if s.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// responseMessage is what Slack's response_url accepts.
type responseMessage struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
}

// serveResponseURL answers a post to a response URL. It needs no token.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	id := r.PathValue("id")
	post := ResponsePost{URL: s.ts.URL + "/response_url/" + id, Body: body}

	s.mu.Lock()
	post.Time = s.opts.Now()
	post.Status, post.Error = s.acceptResponse(id, post.Time, body, &post)
	s.posts = append(s.posts, post)
	s.mu.Unlock()

	if post.Status != http.StatusOK {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(post.Status)
		_, _ = io.WriteString(w, post.Error)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// acceptResponse checks and decodes a response URL post into post. Callers
// hold s.mu.
func (s *Server) acceptResponse(id string, now time.Time, body []byte, post *ResponsePost) (int, string) {
	ru := s.responses[id]
	switch {
	case ru == nil:
		return http.StatusNotFound, "no_service"
	case now.Sub(ru.issued) > ResponseURLLifetime:
		return http.StatusNotFound, "expired_url"
	case ru.posts >= ResponseURLMaxPosts:
		return http.StatusNotFound, "used_url"
	}
	if q := s.failNext["response_url"]; len(q) > 0 {
		s.failNext["response_url"] = q[1:]
		return http.StatusNotFound, q[0]
	}
	var m responseMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return http.StatusBadRequest, "invalid_payload"
	}
	if m.Text == "" && len(m.Blocks) == 0 && !m.DeleteOriginal {
		return http.StatusBadRequest, "no_text"
	}
	ru.posts++
	post.Text = m.Text
	post.Blocks = compactJSON(m.Blocks)
	post.ResponseType = m.ResponseType
	post.ReplaceOriginal = m.ReplaceOriginal
	post.DeleteOriginal = m.DeleteOriginal
	return http.StatusOK, ""
}

// compactJSON returns raw compacted, or nil for empty or null.
func compactJSON(raw []byte) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}
