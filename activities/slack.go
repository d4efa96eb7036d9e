package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slackout"
)

// Registered names of the Slack activities; they never change.
const (
	SlackOpenChannelName = "SlackOpenChannel"
	SlackSummaryName     = "SlackSummary"
	SlackPostName        = "SlackPost"
	SlackDirectName      = "SlackDirect"
)

// ErrTypeSlackPermanent is the application error type of a Slack call that
// cannot succeed by retrying (channel_not_found, not_in_channel,
// invalid_auth, missing_scope, ...). Its message names the method and
// Slack's error code, nothing else. A rate limit is ErrTypeRateLimited,
// retried after Slack's Retry-After; other failures are retryable.
const ErrTypeSlackPermanent = "SlackPermanent"

// ErrTypeSlackTransient is the application error type of Slack's own
// transient errors (internal_error, service_unavailable, ...): retryable.
const ErrTypeSlackTransient = "SlackTransient"

// Defaults of SlackSettings.
const (
	DefaultChannelPrefix = "inc-"
	// DefaultSlackLookback is how far back in a channel a retry looks for
	// what an earlier attempt posted.
	DefaultSlackLookback = 7 * 24 * time.Hour
)

// historyPage and historyPages bound the look back: at most 1,000
// messages.
const (
	historyPage  = 200
	historyPages = 5
	listPage     = 200
)

// SlackSettings are the Slack activities' settings, from configuration.
type SlackSettings struct {
	// Responders are the Slack user IDs invited to every incident channel.
	Responders []string
	// ChannelPrefix starts every incident channel's name. Default "inc-".
	ChannelPrefix string
	// WebURL links the summary to a web page of the incident ("{id}" is
	// replaced by the incident ID, else it is appended). Empty: no link.
	WebURL string
	// Lookback is how far back a retry looks for a message an earlier
	// attempt posted. Default DefaultSlackLookback.
	Lookback time.Duration
}

// slackAPI is the part of slack-go's client the activities use.
type slackAPI interface {
	CreateConversationContext(ctx context.Context, params slack.CreateConversationParams) (*slack.Channel, error)
	GetConversationsContext(ctx context.Context, params *slack.GetConversationsParameters) ([]slack.Channel, string, error)
	InviteUsersToConversationContext(ctx context.Context, channelID string, users ...string) (*slack.Channel, error)
	SetTopicOfConversationContext(ctx context.Context, channelID, topic string) (*slack.Channel, error)
	SetPurposeOfConversationContext(ctx context.Context, channelID, purpose string) (*slack.Channel, error)
	OpenConversationContext(ctx context.Context, params *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error)
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	ListPinsContext(ctx context.Context, channel string) ([]slack.Item, *slack.Paging, error)
	AddPinContext(ctx context.Context, channel string, item slack.ItemRef) error
}

var _ slackAPI = (*slack.Client)(nil)

// Slack posts to Slack. Every activity is safe to retry: each finds what
// an earlier attempt did (the channel by its name, messages by the
// metadata they carry) before doing anything, so a retry never creates a
// second channel or posts twice.
//
// Logs carry incident IDs, channel and user IDs, message timestamps and
// Slack error codes; never texts, which can hold personal data.
type Slack struct {
	api slackAPI
	cfg SlackSettings
	now func() time.Time
}

// NewSlack returns the Slack activities on client. The client should not
// retry by itself (no slack.OptionRetry): Temporal retries the activity,
// after Slack's Retry-After on a rate limit.
func NewSlack(client *slack.Client, cfg SlackSettings) *Slack {
	if cfg.ChannelPrefix == "" {
		cfg.ChannelPrefix = DefaultChannelPrefix
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = DefaultSlackLookback
	}
	return &Slack{api: client, cfg: cfg, now: time.Now}
}

// SummaryView is what the pinned summary shows: see slackout.SummaryView.
type SummaryView = slackout.SummaryView

// SummaryViewOf takes the summary view of a status. It is pure: workflow
// code calls it with workflow.Now, and passes the view (not the status and
// its timeline) to SlackSummary.
func SummaryViewOf(st incident.Status, now time.Time) SummaryView { return slackout.ViewOf(st, now) }

// OpenChannelInput asks for an incident's channel.
type OpenChannelInput struct {
	Incident string `json:"incident"`
	Title    string `json:"title,omitempty"` // for the topic
	// Invite are Slack user IDs invited besides the configured responders.
	Invite []string `json:"invite,omitempty"`
}

// ChannelRef is an incident's channel.
type ChannelRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// NotInvited are the people who could not be invited, with Slack's
	// reason (user_not_found, cant_invite, user_is_restricted, ...).
	NotInvited []NotInvited `json:"not_invited,omitempty"`
	// Responders are the people configured to be told directly when a
	// deadline passes (the channel's invitees from configuration).
	Responders []string `json:"responders,omitempty"`
}

// NotInvited is a person who could not be invited to a channel.
type NotInvited struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
}

// SlackOpenChannel creates the incident's private channel, or finds it if
// an earlier attempt (or a person) made it, sets its topic and purpose and
// invites the responders and in.Invite.
func (s *Slack) SlackOpenChannel(ctx context.Context, in OpenChannelInput) (ChannelRef, error) {
	log := activity.GetLogger(ctx)
	if in.Incident == "" {
		return ChannelRef{}, permanent("SlackOpenChannel", "incident_required")
	}
	name := slackout.ChannelName(s.cfg.ChannelPrefix, in.Incident)
	ch, err := s.api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name, IsPrivate: true})
	switch {
	case err == nil:
		log.Info("slack channel created", "incident", in.Incident, "channel", ch.ID)
	case slackCode(err) == "name_taken":
		if ch, err = s.findChannel(ctx, name); err != nil {
			return ChannelRef{}, err
		}
		if ch == nil {
			// Taken by a public channel, or a private one breachctl is not in.
			return ChannelRef{}, permanentMsg("conversations.create", "name_taken", "no private channel of that name has breachctl in it")
		}
		if ch.IsArchived {
			return ChannelRef{}, permanentMsg("conversations.create", "name_taken", "the channel of that name is archived")
		}
		log.Info("slack channel found", "incident", in.Incident, "channel", ch.ID)
	default:
		return ChannelRef{}, classify("conversations.create", err)
	}
	ref := ChannelRef{ID: ch.ID, Name: ch.Name, Responders: slices.Clone(s.cfg.Responders)}

	if err := s.describe(ctx, in, ch); err != nil {
		return ChannelRef{}, err
	}
	var users []string
	for _, u := range slices.Concat(s.cfg.Responders, in.Invite) {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	if ref.NotInvited, err = s.invite(ctx, ch.ID, users); err != nil {
		return ChannelRef{}, err
	}
	for _, n := range ref.NotInvited {
		log.Warn("slack user not invited", "incident", in.Incident, "channel", ch.ID, "user", n.User, "error", n.Reason)
	}
	return ref, nil
}

// findChannel finds a private channel by name among those breachctl is in.
func (s *Slack) findChannel(ctx context.Context, name string) (*slack.Channel, error) {
	cursor := ""
	for {
		chs, next, err := s.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Types: []string{"private_channel"}, Limit: listPage, Cursor: cursor,
		})
		if err != nil {
			return nil, classify("conversations.list", err)
		}
		for i := range chs {
			if chs[i].Name == name {
				return &chs[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
}

// describe sets the channel's topic and purpose where they differ. A
// permanent failure (a missing scope) is logged and left: the channel
// works without them.
func (s *Slack) describe(ctx context.Context, in OpenChannelInput, ch *slack.Channel) error {
	for _, d := range []struct {
		method, have, want string
		set                func(context.Context, string, string) (*slack.Channel, error)
	}{
		{"conversations.setTopic", ch.Topic.Value, slackout.Topic(in.Incident, in.Title), s.api.SetTopicOfConversationContext},
		{"conversations.setPurpose", ch.Purpose.Value, slackout.Purpose(in.Incident), s.api.SetPurposeOfConversationContext},
	} {
		if d.have == d.want {
			continue
		}
		if _, err := d.set(ctx, ch.ID, d.want); err != nil {
			code := slackCode(err)
			if err = classify(d.method, err); !isPermanent(err) {
				return err
			}
			activity.GetLogger(ctx).Warn("slack channel not described", "incident", in.Incident, "channel", ch.ID, "method", d.method, "error", code)
		}
	}
	return nil
}

// inviteErrors are Slack's errors about one person of an invitation: the
// others can still be invited.
var inviteErrors = map[string]bool{
	"already_in_channel": true, "cant_invite_self": true, "user_not_found": true, "cant_invite": true,
	"user_is_restricted": true, "user_is_ultra_restricted": true, "ura_max_channels": true,
	"user_team_not_in_channel": true, "user_disabled": true, "invalid_user": true,
}

// invite invites users, all at once and, if Slack refuses the batch over
// one person, one by one. Who is in already is fine; who cannot be invited
// is returned.
func (s *Slack) invite(ctx context.Context, channel string, users []string) ([]NotInvited, error) {
	if len(users) == 0 {
		return nil, nil
	}
	_, err := s.api.InviteUsersToConversationContext(ctx, channel, users...)
	if err == nil {
		return nil, nil
	}
	if code := slackCode(err); !inviteErrors[code] {
		return nil, classify("conversations.invite", err)
	}
	if len(users) == 1 {
		return notInvited(users[0], err), nil
	}
	var out []NotInvited
	for _, u := range users {
		_, err := s.api.InviteUsersToConversationContext(ctx, channel, u)
		if err != nil && !inviteErrors[slackCode(err)] {
			return nil, classify("conversations.invite", err)
		}
		out = append(out, notInvited(u, err)...)
	}
	return out, nil
}

func notInvited(user string, err error) []NotInvited {
	switch code := slackCode(err); code {
	case "", "already_in_channel", "cant_invite_self":
		return nil
	default:
		return []NotInvited{{User: user, Reason: code}}
	}
}

// SummaryInput asks for the incident's pinned summary to show View.
type SummaryInput struct {
	Channel string `json:"channel"`
	// TS is the summary message's ts, once known; empty the first time.
	TS   string      `json:"ts,omitempty"`
	View SummaryView `json:"view"`
}

// SummaryRef is the summary message.
type SummaryRef struct {
	TS string `json:"ts"`
}

// SlackSummary writes the incident's summary: it edits the message at
// in.TS; without one, it edits the summary an earlier attempt posted
// (pinned, or at least posted: found by its metadata) or posts and pins a
// new one. The time left to each deadline is as of the activity's clock.
func (s *Slack) SlackSummary(ctx context.Context, in SummaryInput) (SummaryRef, error) {
	log := activity.GetLogger(ctx)
	id := in.View.Incident
	if id == "" || in.Channel == "" {
		return SummaryRef{}, permanent("SlackSummary", "incident_and_channel_required")
	}
	msg := []slack.MsgOption{
		slack.MsgOptionText(slackout.Fallback(in.View), false),
		slack.MsgOptionBlocks(slackout.Blocks(in.View, s.now(), slackout.Options{WebURL: s.cfg.WebURL})...),
		slack.MsgOptionMetadata(slackout.SummaryMetadata(id)),
	}
	if in.TS != "" {
		_, _, _, err := s.api.UpdateMessageContext(ctx, in.Channel, in.TS, msg...)
		if err == nil {
			return SummaryRef{TS: in.TS}, nil
		}
		if slackCode(err) != "message_not_found" {
			return SummaryRef{}, classify("chat.update", err)
		}
		// Someone deleted it: find another or post anew.
		log.Warn("slack summary gone", "incident", id, "channel", in.Channel, "ts", in.TS)
	}

	ts, pinned, err := s.findSummary(ctx, in.Channel, id)
	if err != nil {
		return SummaryRef{}, err
	}
	if ts == "" {
		if _, ts, err = s.api.PostMessageContext(ctx, in.Channel, msg...); err != nil {
			return SummaryRef{}, classify("chat.postMessage", err)
		}
		log.Info("slack summary posted", "incident", id, "channel", in.Channel, "ts", ts)
	} else {
		if _, _, _, err := s.api.UpdateMessageContext(ctx, in.Channel, ts, msg...); err != nil {
			return SummaryRef{}, classify("chat.update", err)
		}
		log.Info("slack summary found and updated", "incident", id, "channel", in.Channel, "ts", ts, "pinned", pinned)
	}
	if !pinned {
		if err := s.api.AddPinContext(ctx, in.Channel, slack.NewRefToMessage(in.Channel, ts)); err != nil && slackCode(err) != "already_pinned" {
			return SummaryRef{}, classify("pins.add", err)
		}
	}
	return SummaryRef{TS: ts}, nil
}

// findSummary finds the incident's summary in the channel: among the pins
// first, then among recent messages (an attempt that posted and did not
// get to pin).
func (s *Slack) findSummary(ctx context.Context, channel, id string) (ts string, pinned bool, err error) {
	items, _, err := s.api.ListPinsContext(ctx, channel)
	if err != nil {
		return "", false, classify("pins.list", pinsError(err))
	}
	for _, it := range items {
		if it.Type != "message" || it.Message == nil {
			continue
		}
		m := it.Message
		if m.Metadata.EventType == "" {
			// pins.list may leave metadata out: read the message itself.
			got, ok, err := s.message(ctx, channel, m.Timestamp)
			if err != nil {
				return "", false, err
			}
			if ok {
				m = &got
			}
		}
		if slackout.IsSummary(m.Metadata, id) {
			return m.Timestamp, true, nil
		}
	}
	m, ok, err := s.scan(ctx, channel, func(m *slack.Message) bool { return slackout.IsSummary(m.Metadata, id) })
	if err != nil || !ok {
		return "", false, err
	}
	return m.Timestamp, false, nil
}

// message reads one message of a channel with its metadata.
func (s *Slack) message(ctx context.Context, channel, ts string) (slack.Message, bool, error) {
	h, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1, IncludeAllMetadata: true,
	})
	if err != nil {
		return slack.Message{}, false, classify("conversations.history", err)
	}
	for _, m := range h.Messages {
		if m.Timestamp == ts {
			return m, true, nil
		}
	}
	return slack.Message{}, false, nil
}

// scan looks through the channel's messages of the look-back period,
// newest first, for one that matches.
func (s *Slack) scan(ctx context.Context, channel string, match func(*slack.Message) bool) (slack.Message, bool, error) {
	oldest := s.now().Add(-s.cfg.Lookback)
	params := &slack.GetConversationHistoryParameters{
		ChannelID: channel, Limit: historyPage, IncludeAllMetadata: true,
		Oldest: fmt.Sprintf("%d.%06d", oldest.Unix(), oldest.Nanosecond()/1000),
	}
	for range historyPages {
		h, err := s.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return slack.Message{}, false, classify("conversations.history", err)
		}
		for i := range h.Messages {
			if match(&h.Messages[i]) {
				return h.Messages[i], true, nil
			}
		}
		if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	return slack.Message{}, false, nil
}

// PostInput is a message to post in a channel at most once per Key.
type PostInput struct {
	Channel string `json:"channel"`
	// Key names the message among everything the workflow posts
	// (INC-.../reminder/eu-gdpr-art33/24h): derived by the workflow, the
	// same on every attempt.
	Key string `json:"key"`
	// Text is Slack mrkdwn; text people wrote must be escaped in it
	// (slackout.Escape).
	Text string `json:"text"`
	// Mention are Slack user IDs mentioned ahead of the text.
	Mention []string `json:"mention,omitempty"`
}

// PostRef is a posted message.
type PostRef struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts"`
}

// SlackPost posts a message unless one with the same key was posted in the
// channel within the look-back period; then it returns that one.
func (s *Slack) SlackPost(ctx context.Context, in PostInput) (PostRef, error) {
	if in.Channel == "" || in.Key == "" {
		return PostRef{}, permanent("SlackPost", "channel_and_key_required")
	}
	text := in.Text
	if len(in.Mention) > 0 {
		var b strings.Builder
		for _, u := range in.Mention {
			fmt.Fprintf(&b, "<@%s> ", u)
		}
		text = b.String() + text
	}
	return s.postOnce(ctx, in.Channel, in.Key, text)
}

// DirectInput is a direct message to one person, at most once per Key.
type DirectInput struct {
	User string `json:"user"` // Slack user ID
	Key  string `json:"key"`
	Text string `json:"text"` // Slack mrkdwn, as PostInput.Text
}

// SlackDirect sends a direct message from breachctl's bot, opening the
// conversation if needed, unless one with the same key was sent.
func (s *Slack) SlackDirect(ctx context.Context, in DirectInput) (PostRef, error) {
	if in.User == "" || in.Key == "" {
		return PostRef{}, permanent("SlackDirect", "user_and_key_required")
	}
	im, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{in.User}})
	if err != nil {
		return PostRef{}, classify("conversations.open", err)
	}
	return s.postOnce(ctx, im.ID, in.Key, in.Text)
}

func (s *Slack) postOnce(ctx context.Context, channel, key, text string) (PostRef, error) {
	log := activity.GetLogger(ctx)
	m, ok, err := s.scan(ctx, channel, func(m *slack.Message) bool { return slackout.IsPost(m.Metadata, key) })
	if err != nil {
		return PostRef{}, err
	}
	if ok {
		log.Info("slack message already posted", "channel", channel, "key", key, "ts", m.Timestamp)
		return PostRef{Channel: channel, TS: m.Timestamp}, nil
	}
	got, ts, err := s.api.PostMessageContext(ctx, channel,
		slack.MsgOptionText(text, false), slack.MsgOptionMetadata(slackout.PostMetadata(key)))
	if err != nil {
		return PostRef{}, classify("chat.postMessage", err)
	}
	log.Info("slack message posted", "channel", got, "key", key, "ts", ts)
	return PostRef{Channel: got, TS: ts}, nil
}

// transientCodes are Slack errors worth retrying.
var transientCodes = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "ratelimited": true, "team_added_to_org": true,
}

// classify turns a failed Slack call into what the activity returns: a
// rate limit retries after Slack's Retry-After; a server error, a network
// error or one of Slack's transient errors retries with the activity's
// backoff; any other Slack error is permanent.
func classify(method string, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("slack %s: rate limited, retry after %s", method, rl.RetryAfter),
			ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: max(rl.RetryAfter, time.Second)})
	}
	if code := slackCode(err); code != "" {
		if transientCodes[code] {
			return temporal.NewApplicationError(fmt.Sprintf("slack %s: %s", method, code), ErrTypeSlackTransient)
		}
		return permanent(method, code)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && !sc.Retryable() && sc.Code != http.StatusRequestTimeout {
		return permanent(method, fmt.Sprintf("http_%d", sc.Code))
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

func permanent(method, code string) error {
	return temporal.NewNonRetryableApplicationError("slack "+method+": "+code, ErrTypeSlackPermanent, nil)
}

func permanentMsg(method, code, why string) error {
	return temporal.NewNonRetryableApplicationError("slack "+method+": "+code+": "+why, ErrTypeSlackPermanent, nil)
}

func isPermanent(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == ErrTypeSlackPermanent
}

// slackCode is Slack's error code in err, or "".
func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

var codePattern = regexp.MustCompile(`^[a-z][a-z_]*$`)

// pinsError gives pins.list's error the type of every other method's:
// slack-go returns its code as a bare error.
func pinsError(err error) error {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	if errors.As(err, &rl) || errors.As(err, &sc) || !codePattern.MatchString(err.Error()) {
		return err
	}
	return slack.SlackErrorResponse{Err: err.Error()}
}
