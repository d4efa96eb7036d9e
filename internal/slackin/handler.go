package slackin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/workflows"
)

// Incidents is what Slack may do to incidents: a subset of the service the
// CLI drives. Slack never touches the Temporal client itself.
type Incidents interface {
	Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error)
	List(ctx context.Context, f orchestrator.ListFilter) ([]incident.Summary, error)
	Show(ctx context.Context, id string) (incident.Status, error)
	Note(ctx context.Context, id, text, actor string) (incident.Entry, error)
	CloseWith(ctx context.Context, id string, req workflows.CloseRequest) (incident.Status, error)
	Approve(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error)
	Draft(ctx context.Context, id string, req workflows.ApproveRequest) (incident.Status, error)
	Reject(ctx context.Context, id string, req workflows.RejectRequest) (incident.Status, error)
	Acknowledge(ctx context.Context, id string, req workflows.AckRequest) (incident.Status, error)
	Assign(ctx context.Context, id string, req workflows.AssignRequest) (incident.Status, error)
}

var _ Incidents = (*orchestrator.Incidents)(nil)

// Defaults for Config's zero values.
const (
	DefaultCommand     = "/breach"
	DefaultMaxBody     = 1 << 20 // interaction payloads carry the whole view
	DefaultWorkTimeout = time.Minute
	// viewTimeout bounds a views.open made while Slack waits for our answer
	// (it gives up after 3 s; a trigger ID lives about as long).
	viewTimeout = 2500 * time.Millisecond
)

// Config is what the handler needs. The composition root fills it from
// SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN (for Views) and the roles file.
type Config struct {
	// SigningSecret verifies every request (required; never logged).
	SigningSecret string
	Incidents     Incidents // required
	Views         Views     // required: the open form and the note form
	Roles         Roles
	// Responder posts follow-ups to response_url; nil means an
	// HTTPResponder with http.DefaultClient and a 10 s timeout.
	Responder Responder
	Logger    *slog.Logger
	// Now is the clock for the form (the default awareness time, and
	// refusing awareness in the future); nil means time.Now. Request
	// signatures are checked by slack-go against the system clock.
	Now func() time.Time
	// Command is the slash command's name (DefaultCommand when empty).
	Command string
	// MaxBody caps a request body (DefaultMaxBody when 0).
	MaxBody int64
	// WorkTimeout bounds the work carried on after Slack was answered
	// (DefaultWorkTimeout when 0).
	WorkTimeout time.Duration
	// Replay marks each verified request, so that the same signed request
	// sent again within Slack's five minutes is refused (401) instead of
	// acting twice. The composition root gives the guard on the store that
	// every server and the intake share; nil means one in this process's
	// memory.
	Replay *replay.Guard
}

// Handler answers Slack's slash commands and interactivity requests. Mount
// it at both POST /slack/commands and POST /slack/interactions: it tells
// the two apart by their form (interactions carry a payload field).
type Handler struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	resp   Responder
	seen   *seenEnvelopes // Socket Mode envelopes already handled
	wg     sync.WaitGroup
	ctx    context.Context // parent of background work
	cancel context.CancelFunc
}

// New checks the configuration and builds the handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.SigningSecret == "":
		return nil, errors.New("slackin: the signing secret is required")
	case cfg.Incidents == nil:
		return nil, errors.New("slackin: Incidents is required")
	case cfg.Views == nil:
		return nil, errors.New("slackin: Views is required")
	}
	if cfg.Command == "" {
		cfg.Command = DefaultCommand
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.WorkTimeout <= 0 {
		cfg.WorkTimeout = DefaultWorkTimeout
	}
	if cfg.Replay == nil {
		cfg.Replay = &replay.Guard{Store: &replay.Memory{}}
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, resp: cfg.Responder, seen: newSeenEnvelopes(maxSeenEnvelopes)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.resp == nil {
		h.resp = HTTPResponder{Client: http.DefaultClient, Timeout: 10 * time.Second}
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Wait blocks until the work carried on after answering Slack is done, or
// ctx ends. Tests wait on it; at shutdown, call it after the HTTP server has
// stopped taking requests.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the work still running; Wait then returns soon.
func (h *Handler) Close() { h.cancel() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.log.Warn("slack request refused", "reason", "body too large")
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		h.log.Warn("slack request refused", "reason", err.Error())
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	// The signature covers the timestamp and the body: the same bytes
	// again are a replay, whichever server took them first.
	key := replay.Key("slack", []byte(r.Header.Get("X-Slack-Request-Timestamp")), body)
	if _, err := h.cfg.Replay.Claim(r.Context(), key); err != nil {
		if errors.Is(err, replay.ErrReplayed) {
			h.log.Warn("slack request refused", "reason", "replayed")
			http.Error(w, "replayed request", http.StatusUnauthorized)
			return
		}
		h.log.Error("slack request: marking it taken failed", "error", err)
		http.Error(w, "cannot take the request now", http.StatusServiceUnavailable)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "the body is not a form", http.StatusBadRequest)
		return
	}
	h.dispatch(w, form)
}

// dispatch answers a request whose origin is already established: a form
// whose signature ServeHTTP verified, or one rebuilt from a Socket Mode
// envelope (authenticated by the app-level token of the connection).
func (h *Handler) dispatch(w http.ResponseWriter, form url.Values) {
	switch {
	case form.Has("payload"):
		h.interaction(w, form.Get("payload"))
	case form.Has("command"):
		h.command(w, slashCommand(form))
	default:
		http.Error(w, "neither a slash command nor an interaction", http.StatusBadRequest)
	}
}

// verify checks the request's signature and that its timestamp is within
// five minutes of now (slack-go's check), so an old request cannot be
// replayed. The secret and the signature are never logged.
func (h *Handler) verify(header http.Header, body []byte) error {
	sv, err := slack.NewSecretsVerifier(header, h.cfg.SigningSecret)
	if err != nil {
		return verifyReason(err)
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	if err := sv.Ensure(); err != nil {
		return verifyReason(err)
	}
	return nil
}

// verifyReason names why a request was refused, in words safe to log.
func verifyReason(err error) error {
	switch {
	case errors.Is(err, slack.ErrMissingHeaders):
		return errors.New("missing signature headers")
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return errors.New("timestamp more than 5 minutes from now")
	case errors.Is(err, slack.ErrInvalidSignature):
		return errors.New("signature does not match")
	}
	return errors.New("malformed signature or timestamp")
}

// slashCommand reads the fields of a slash command from its verified form.
func slashCommand(f url.Values) slack.SlashCommand {
	return slack.SlashCommand{
		TeamID: f.Get("team_id"), ChannelID: f.Get("channel_id"), UserID: f.Get("user_id"),
		Command: f.Get("command"), Text: f.Get("text"), ResponseURL: f.Get("response_url"),
		TriggerID: f.Get("trigger_id"), APIAppID: f.Get("api_app_id"),
	}
}

// actor is who did something, as it lands on the incident's timeline.
func actor(userID string) string { return "slack:" + userID }

// refusal says which role an action needs.
func (h *Handler) refusal(userID string, a Action) string {
	have := "no breachctl role"
	if roles := h.cfg.Roles.Of(userID); len(roles) > 0 {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = string(r)
		}
		have = "the role " + strings.Join(names, ", ")
	}
	return fmt.Sprintf(":no_entry: `%s` needs the *%s* role (or admin); you have %s. "+
		"Ask a breachctl admin to add you to the Slack roles file.", a, NeededFor(a), have)
}

// later carries work on after Slack has been answered and posts its
// message to responseURL. Errors become the ephemeral text of their kind.
func (h *Handler) later(responseURL string, op Action, id, userID string, work func(ctx context.Context) (*slack.WebhookMessage, error)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.WorkTimeout)
		defer cancel()
		msg, err := work(ctx)
		if err != nil {
			h.log.Warn("slack action failed", append([]any{"action", string(op), "incident", id, "user", userID}, logAttrs(err)...)...)
			msg = ephemeral(userMessage(err, id))
		} else {
			h.log.Info("slack action done", "action", string(op), "incident", id, "user", userID)
		}
		if msg == nil {
			return
		}
		if responseURL == "" {
			h.log.Warn("slack follow-up dropped", "action", string(op), "incident", id, "reason", "no response_url")
			return
		}
		if err := h.resp.Respond(ctx, responseURL, msg); err != nil {
			h.log.Warn("slack follow-up failed", "action", string(op), "incident", id, "error", err.Error())
		}
	}()
}

func ephemeral(text string) *slack.WebhookMessage {
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text}
}

func inChannel(text string) *slack.WebhookMessage {
	return &slack.WebhookMessage{ResponseType: slack.ResponseTypeInChannel, Text: text}
}

// reply is the immediate answer to a slash command.
type reply struct {
	ResponseType string        `json:"response_type,omitempty"`
	Text         string        `json:"text,omitempty"`
	Blocks       *slack.Blocks `json:"blocks,omitempty"`
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

func writeEphemeral(w http.ResponseWriter, text string) {
	writeJSON(w, reply{ResponseType: slack.ResponseTypeEphemeral, Text: text})
}
