package slacktest

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack's limits of the conversation methods.
const (
	maxTopic        = 250 // characters of a topic or purpose
	defaultPage     = 100
	maxListPage     = 1000
	maxHistoryPage  = 999
	cursorPrefix    = "dGVzdDpvZmZzZXQ6" // opaque to clients, like Slack's base64 cursors
	methodNoChannel = "channel_not_found"
)

// conversationsList lists the conversations the bot can see, of the types
// asked (public_channel by default): every public channel, the private
// channels the bot is in and the bot's DMs. Paged by cursor and limit.
func (s *Server) conversationsList(p url.Values) (map[string]any, string) {
	types := map[string]bool{}
	for t := range strings.SplitSeq(p.Get("types"), ",") {
		switch t = strings.TrimSpace(t); t {
		case "":
		case "public_channel", "private_channel", "im", "mpim":
			types[t] = true
		default:
			return nil, "invalid_types"
		}
	}
	if len(types) == 0 {
		types["public_channel"] = true
	}
	var visible []*channel
	for _, c := range s.channels {
		switch {
		case c.IsIM:
			if types["im"] {
				visible = append(visible, c)
			}
		case c.IsPrivate:
			if types["private_channel"] && c.isMember(s.opts.BotUserID) {
				visible = append(visible, c)
			}
		case types["public_channel"]:
			visible = append(visible, c)
		}
	}
	from, limit, code := page(p, maxListPage)
	if code != "" {
		return nil, code
	}
	out := []map[string]any{}
	for i := from; i < len(visible) && len(out) < limit; i++ {
		out = append(out, s.channelJSON(visible[i], false))
	}
	return map[string]any{
		"channels":          out,
		"response_metadata": map[string]any{"next_cursor": nextCursor(from+len(out), len(visible))},
	}, ""
}

// conversationsHistory answers a channel's messages newest first, as
// Slack does: top-level messages and thread parents, between oldest and
// latest (exclusive unless inclusive), paged by cursor and limit. Metadata
// is included only with include_all_metadata. The bot must be in the
// channel.
func (s *Server) conversationsHistory(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, methodNoChannel
	}
	if !c.isMember(s.opts.BotUserID) {
		if c.IsPrivate {
			return nil, methodNoChannel // Slack does not tell outsiders a private channel exists
		}
		return nil, "not_in_channel"
	}
	inclusive := truthy(p.Get("inclusive"))
	var latest, oldest int64 = 1<<62 - 1, -1
	var ok bool
	if v := p.Get("latest"); v != "" {
		if latest, ok = tsMicros(v); !ok {
			return nil, "invalid_ts_latest"
		}
	}
	if v := p.Get("oldest"); v != "" {
		if oldest, ok = tsMicros(v); !ok {
			return nil, "invalid_ts_oldest"
		}
	}
	var matched []*message
	for i := len(c.messages) - 1; i >= 0; i-- {
		m := c.messages[i]
		if m.deleted || (m.ThreadTS != "" && m.ThreadTS != m.TS) {
			continue
		}
		t, _ := tsMicros(m.TS)
		if t > latest || t < oldest || (!inclusive && (t == latest || t == oldest)) {
			continue
		}
		matched = append(matched, m)
	}
	from, limit, code := page(p, maxHistoryPage)
	if code != "" {
		return nil, code
	}
	metadata := truthy(p.Get("include_all_metadata"))
	out := []map[string]any{}
	for i := from; i < len(matched) && len(out) < limit; i++ {
		mj := s.messageJSON(&matched[i].Message)
		if !metadata {
			delete(mj, "metadata")
		}
		out = append(out, mj)
	}
	next := nextCursor(from+len(out), len(matched))
	return map[string]any{
		"messages":          out,
		"has_more":          next != "",
		"pin_count":         len(c.pins),
		"response_metadata": map[string]any{"next_cursor": next},
	}, ""
}

// conversationsOpen opens (or finds) the bot's DM with one user. A group
// DM (several users) is not supported.
func (s *Server) conversationsOpen(p url.Values) (map[string]any, string) {
	if id := p.Get("channel"); id != "" {
		c := s.byID[id]
		if c == nil || !c.IsIM {
			return nil, methodNoChannel
		}
		return map[string]any{"channel": map[string]any{"id": c.ID}, "no_op": true, "already_open": true}, ""
	}
	var users []string
	for u := range strings.SplitSeq(p.Get("users"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	switch {
	case len(users) == 0:
		return nil, "users_list_not_supplied"
	case len(users) > 1:
		return nil, "not_supported" // group DMs are not modelled
	}
	u := s.users[users[0]]
	if u == nil || u.Deleted {
		return nil, "user_not_found"
	}
	if u.ID == s.opts.BotUserID {
		return nil, "cannot_dm_bot"
	}
	c, existed := s.openDM(u)
	ch := map[string]any{"id": c.ID}
	if truthy(p.Get("return_im")) {
		ch = s.channelJSON(c, false)
	}
	return map[string]any{"channel": ch, "no_op": existed, "already_open": existed}, ""
}

func (s *Server) conversationsSetTopic(p url.Values) (map[string]any, string) {
	return s.setChannelText(p, "topic", func(c *channel, v string) { c.Topic = v })
}

func (s *Server) conversationsSetPurpose(p url.Values) (map[string]any, string) {
	return s.setChannelText(p, "purpose", func(c *channel, v string) { c.Purpose = v })
}

// setChannelText sets a channel's topic or purpose; the bot must be in it.
func (s *Server) setChannelText(p url.Values, field string, set func(*channel, string)) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, methodNoChannel
	}
	if c.IsIM {
		return nil, "method_not_supported_for_channel_type"
	}
	if !c.isMember(s.opts.BotUserID) {
		if c.IsPrivate {
			return nil, methodNoChannel
		}
		return nil, "not_in_channel"
	}
	v := p.Get(field)
	if utf8.RuneCountInString(v) > maxTopic {
		return nil, "too_long"
	}
	set(c, v)
	return map[string]any{"channel": s.channelJSON(c, false)}, ""
}

// page reads cursor and limit.
func page(p url.Values, maxLimit int) (from, limit int, code string) {
	limit = defaultPage
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, "invalid_limit"
		}
		if n > 0 {
			limit = min(n, maxLimit)
		}
	}
	if cur := p.Get("cursor"); cur != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cur, cursorPrefix))
		if !strings.HasPrefix(cur, cursorPrefix) || err != nil || n < 0 {
			return 0, 0, "invalid_cursor"
		}
		from = n
	}
	return from, limit, ""
}

// nextCursor is the cursor of the page starting at next, or "" at the end.
func nextCursor(next, total int) string {
	if next >= total {
		return ""
	}
	return cursorPrefix + strconv.Itoa(next)
}

func truthy(v string) bool { return v == "1" || v == "true" }

// tsMicros reads a message ts ("1732370000.000100") as microseconds.
func tsMicros(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 || len(frac) > 6 {
		return 0, false
	}
	var us int64
	if frac != "" {
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, false
		}
		us = f
	}
	return s*1e6 + us, true
}
