package intake

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/orchestrator"
	"github.com/breachctl/breachctl/internal/replay"
	"github.com/breachctl/breachctl/internal/store"
)

// Paths the handler answers; mount it at both.
const (
	PathAlerts       = "/intake/v1/alerts"
	PathAlertmanager = "/intake/v1/alertmanager"
)

// Incidents is what the intake needs of the incident service: it never
// touches the Temporal client itself.
type Incidents interface {
	Open(ctx context.Context, facts incident.Facts, actor string) (incident.Status, error)
	Note(ctx context.Context, id, text, actor string) (incident.Entry, error)
	Show(ctx context.Context, id string) (incident.Status, error)
}

var _ Incidents = (*orchestrator.Incidents)(nil)

// Keys is the dedup and replay state every server shares (see the store's
// ClaimIntakeKey for the protocol).
type Keys interface {
	ClaimIntakeKey(ctx context.Context, key [32]byte, holder string, now time.Time, lease time.Duration) (incidentID string, claimed bool, err error)
	ReplaceIntakeKey(ctx context.Context, key [32]byte, closedIncident, holder string, now time.Time, lease time.Duration) (bool, error)
	BindIntakeKey(ctx context.Context, key [32]byte, holder, incidentID string, now time.Time) error
	ReleaseIntakeKey(ctx context.Context, key [32]byte, holder string) error
	RepeatIntakeKey(ctx context.Context, key [32]byte, incidentID string, now time.Time, noteEvery time.Duration) (store.IntakeRepeat, error)
	IntakeKeyIncident(ctx context.Context, key [32]byte) (string, error)
	MarkIntakeSignature(ctx context.Context, sig [32]byte, now time.Time, keep time.Duration) (bool, error)
	ForgetIntakeSignature(ctx context.Context, sig [32]byte) error
}

var _ Keys = (*store.Store)(nil)

// Defaults for Config's zero values.
const (
	DefaultMaxBody     = 1 << 20 // an Alertmanager group of hundreds of alerts fits
	DefaultTolerance   = 5 * time.Minute
	DefaultNoteEvery   = time.Hour
	DefaultLease       = 2 * time.Minute // longer than an Open takes with a worker up
	DefaultWait        = 30 * time.Second
	DefaultOpenTimeout = time.Minute
)

// Config is what the handler needs. The composition root fills the secrets
// and tokens from BREACHCTL_INTAKE_SECRETS and BREACHCTL_INTAKE_TOKENS.
type Config struct {
	Secrets   []string // HMAC secrets; any one verifies a signature
	Tokens    []string // bearer tokens
	Incidents Incidents
	Keys      Keys
	Logger    *slog.Logger
	Now       func() time.Time // nil means time.Now
	MaxBody   int64
	// Tolerance is how far a signature's timestamp may be from Now.
	Tolerance time.Duration
	// NoteEvery is the least time between two timeline notes about
	// repeats of one alert.
	NoteEvery time.Duration
	// Lease is how long a request may take to open an incident before
	// another request for the same key may take over.
	Lease time.Duration
	// Wait is how long a request waits for another opening the incident
	// of the same key before answering 503.
	Wait time.Duration
	// OpenTimeout bounds opening an incident, which carries on when the
	// sender hangs up so that the incident and its key stay together.
	OpenTimeout time.Duration
	// Replay marks signed requests taken, so a replay is refused: the
	// guard Slack's requests and SendGrid's webhook share. Nil means one
	// on Keys, keeping marks for twice Tolerance.
	Replay *replay.Guard
}

// Handler answers the intake's requests.
type Handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New checks the configuration and builds the handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case len(cfg.Secrets) == 0 && len(cfg.Tokens) == 0:
		return nil, errors.New("intake: a secret or a token is required")
	case cfg.Incidents == nil:
		return nil, errors.New("intake: Incidents is required")
	case cfg.Keys == nil:
		return nil, errors.New("intake: Keys is required")
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.Tolerance, DefaultTolerance}, {&cfg.NoteEvery, DefaultNoteEvery}, {&cfg.Lease, DefaultLease}, {&cfg.Wait, DefaultWait}, {&cfg.OpenTimeout, DefaultOpenTimeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.Replay == nil {
		h.cfg.Replay = &replay.Guard{Store: cfg.Keys, Keep: max(replay.DefaultKeep, 2*cfg.Tolerance), Now: h.now}
	}
	return h, nil
}

// Result is the answer to an accepted alert.
type Result struct {
	// Incident is the incident the alert went to; empty when it opened
	// none (a resolved alert with no open incident).
	Incident string `json:"incident"`
	// Deduplicated: the alert went to an incident opened before.
	Deduplicated bool `json:"deduplicated"`
	// Ignored says why nothing was done, if nothing was.
	Ignored string `json:"ignored,omitempty"`
}

// errorBody is the answer to a refused request.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

type parser func(body []byte, received time.Time, tolerance time.Duration) (delivery, error)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var parse parser
	switch r.URL.Path {
	case PathAlerts:
		parse = parseAlert
	case PathAlertmanager:
		parse = parseAlertmanager
	default:
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such intake endpoint; use " + PathAlerts + " or " + PathAlertmanager})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "use POST"})
		return
	}
	status, res, err := h.serve(w, r, parse)
	if err != nil {
		h.writeError(w, err)
		return
	}
	writeJSON(w, status, res)
}

// serve authenticates, decodes and delivers one request.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, parse parser) (int, Result, error) {
	received := h.now()
	sigHeader, authz := r.Header.Get(SignatureHeader), r.Header.Get("Authorization")
	if sigHeader == "" {
		if authz == "" {
			return 0, Result{}, &errUnauthorized{errNoCredentials.Error()}
		}
		if err := verifyBearer(authz, h.cfg.Tokens); err != nil {
			return 0, Result{}, err
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return 0, Result{}, errTooLarge{tooLarge.Limit}
		}
		return 0, Result{}, fieldErr("body", "could not be read")
	}
	if sigHeader != "" {
		sig, err := verifySignature(sigHeader, body, h.cfg.Secrets, received, h.cfg.Tolerance)
		if err != nil {
			return 0, Result{}, err
		}
		forget, err := h.cfg.Replay.Claim(r.Context(), sig)
		if err != nil {
			return 0, Result{}, err
		}
		ok := false
		defer func() {
			if !ok {
				// A request that failed may be sent again: forget it.
				if err := forget(context.WithoutCancel(r.Context())); err != nil {
					h.log.Warn("intake: forgetting a failed request's signature", "error", err)
				}
			}
		}()
		status, res, err := h.decodeAndDeliver(r.Context(), body, received, parse)
		ok = err == nil
		return status, res, err
	}
	return h.decodeAndDeliver(r.Context(), body, received, parse)
}

func (h *Handler) decodeAndDeliver(ctx context.Context, body []byte, received time.Time, parse parser) (int, Result, error) {
	d, err := parse(body, received, h.cfg.Tolerance)
	if err != nil {
		return 0, Result{}, err
	}
	return h.deliver(ctx, d)
}

type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("the body is larger than %d bytes", e.limit) }

// deliver opens the key's incident, or adds the alert to it.
func (h *Handler) deliver(ctx context.Context, d delivery) (int, Result, error) {
	log := h.log.With("source", d.source, "key", keyLog(d.key))
	if d.resolved {
		return h.resolve(ctx, d, log)
	}
	holder := uuid.NewString()
	wait, cancel := context.WithTimeout(ctx, h.cfg.Wait)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		id, claimed, err := h.cfg.Keys.ClaimIntakeKey(ctx, d.key, holder, h.now(), h.cfg.Lease)
		if err != nil {
			return 0, Result{}, err
		}
		if claimed {
			return h.open(ctx, d, holder, log)
		}
		if id != "" {
			status, res, retry, err := h.repeat(ctx, d, id, holder, log)
			if !retry {
				return status, res, err
			}
		}
		// Another request is opening the incident (or just replaced a
		// closed one): wait for its ID.
		select {
		case <-wait.Done():
			if ctx.Err() != nil {
				return 0, Result{}, ctx.Err()
			}
			return 0, Result{}, apperr.New(apperr.Unavailable, "another request is still opening the incident for this alert; retry")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// open opens the incident of a key the request holds, and binds the key to
// it. It carries on if the sender hangs up: an incident opened and left
// unbound would be opened again by the next alert.
func (h *Handler) open(ctx context.Context, d delivery, holder string, log *slog.Logger) (int, Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.OpenTimeout)
	defer cancel()
	st, err := h.cfg.Incidents.Open(ctx, d.facts, "intake:"+d.source)
	if err != nil {
		if rerr := h.cfg.Keys.ReleaseIntakeKey(ctx, d.key, holder); rerr != nil {
			log.Warn("intake: releasing the key after a failed open", "error", rerr)
		}
		return 0, Result{}, err
	}
	if err := h.cfg.Keys.BindIntakeKey(ctx, d.key, holder, st.ID, h.now()); err != nil {
		// The incident is open; only deduplication into it is lost.
		log.Error("intake: incident opened, but its key could not be bound to it", "incident", st.ID, "error", err)
	}
	log.Info("intake: incident opened", "incident", st.ID, "alerts", d.alerts)
	return http.StatusCreated, Result{Incident: st.ID}, nil
}

// repeat adds an alert to the open incident id. retry is true when the
// key moved on meanwhile (the incident was found closed, or another
// request replaced it) and the caller should claim again.
func (h *Handler) repeat(ctx context.Context, d delivery, id, holder string, log *slog.Logger) (status int, res Result, retry bool, err error) {
	open, err := h.isOpen(ctx, id)
	if err != nil {
		return 0, Result{}, false, err
	}
	if !open {
		replaced, err := h.cfg.Keys.ReplaceIntakeKey(ctx, d.key, id, holder, h.now(), h.cfg.Lease)
		if err != nil {
			return 0, Result{}, false, err
		}
		if !replaced {
			return 0, Result{}, true, nil
		}
		log.Info("intake: the key's incident is closed; opening a new one", "closed", id)
		status, res, err := h.open(ctx, d, holder, log)
		return status, res, false, err
	}
	r, err := h.cfg.Keys.RepeatIntakeKey(ctx, d.key, id, h.now(), h.cfg.NoteEvery)
	if errors.Is(err, store.ErrNotFound) {
		return 0, Result{}, true, nil
	}
	if err != nil {
		return 0, Result{}, false, err
	}
	if r.Note {
		_, err := h.cfg.Incidents.Note(ctx, id, repeatNote(d, r), "intake:"+d.source)
		if apperr.Is(err, apperr.Conflict) {
			return 0, Result{}, true, nil // closed since isOpen: the next claim finds it closed
		}
		if err != nil {
			// The alert is counted and went to the right incident; only
			// the note is missing.
			log.Warn("intake: noting a repeated alert", "incident", id, "error", err)
		}
	}
	log.Info("intake: alert deduplicated", "incident", id, "repeats", r.Repeats, "noted", r.Note)
	return http.StatusOK, Result{Incident: id, Deduplicated: true}, false, nil
}

func repeatNote(d delivery, r store.IntakeRepeat) string {
	key := keyLog(d.key)
	if r.Repeats == 1 {
		return fmt.Sprintf("Alert received again from %s (dedup key %s)", d.source, key)
	}
	return fmt.Sprintf("Alert received again from %s: %d times since the last note, %d in all (dedup key %s)",
		d.source, r.SinceNote, r.Repeats, key)
}

// resolve notes Alertmanager's "resolved" on the group's open incident. It
// never closes it, and never opens one.
func (h *Handler) resolve(ctx context.Context, d delivery, log *slog.Logger) (int, Result, error) {
	id, err := h.cfg.Keys.IntakeKeyIncident(ctx, d.key)
	if err != nil {
		return 0, Result{}, err
	}
	if id == "" {
		log.Info("intake: resolved alerts with no incident; ignored")
		return http.StatusOK, Result{Ignored: "resolved alerts open no incident"}, nil
	}
	open, err := h.isOpen(ctx, id)
	if err != nil {
		return 0, Result{}, err
	}
	if !open {
		return http.StatusOK, Result{Incident: id, Deduplicated: true, Ignored: "the incident is closed"}, nil
	}
	text := fmt.Sprintf("Alertmanager reports the alert group resolved (%d alerts, dedup key %s); the incident stays open until a person closes it",
		d.alerts, keyLog(d.key))
	if _, err := h.cfg.Incidents.Note(ctx, id, text, "intake:"+d.source); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return http.StatusOK, Result{Incident: id, Deduplicated: true, Ignored: "the incident is closed"}, nil
		}
		return 0, Result{}, err
	}
	log.Info("intake: resolved noted", "incident", id)
	return http.StatusOK, Result{Incident: id, Deduplicated: true}, nil
}

// isOpen asks the incident service; an incident it no longer has (past
// Temporal's retention) counts as closed.
func (h *Handler) isOpen(ctx context.Context, id string) (bool, error) {
	st, err := h.cfg.Incidents.Show(ctx, id)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return st.State != incident.StateClosed, nil
}

// keyLog is how a key appears in logs and notes: enough of its hash to
// match the two, nothing of the key.
func keyLog(key [32]byte) string { return hex.EncodeToString(key[:6]) }

// writeError maps an error to its status, in one place. Internal errors'
// text stays in the log.
func (h *Handler) writeError(w http.ResponseWriter, err error) {
	var (
		unauth *errUnauthorized
		field  *FieldError
		large  errTooLarge
	)
	switch {
	case errors.As(err, &unauth):
		h.log.Warn("intake: refused", "reason", unauth.msg)
		if len(h.cfg.Tokens) > 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="breachctl intake"`)
		}
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: unauth.msg})
	case errors.Is(err, replay.ErrReplayed):
		h.log.Warn("intake: refused a replayed request")
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
	case errors.As(err, &large):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: large.Error(), Field: "body"})
	case errors.As(err, &field):
		h.log.Info("intake: bad payload", "field", field.Field) // the message may quote what was sent
		writeJSON(w, http.StatusBadRequest, errorBody{Error: field.Msg, Field: field.Field})
	case apperr.Is(err, apperr.Invalid):
		var e *apperr.Error
		errors.As(err, &e)
		h.log.Info("intake: bad payload", "field", e.Field)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: e.Msg, Field: e.Field})
	case apperr.Is(err, apperr.Unavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.log.Warn("intake: unavailable", "error", err)
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "breachctl cannot take the alert now; retry"})
	default:
		h.log.Error("intake: failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error; the alert was not taken"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
