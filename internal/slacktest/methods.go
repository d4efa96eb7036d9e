package slacktest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Slack's limits that the methods check.
const (
	maxChannelName = 80    // characters
	maxText        = 40000 // characters of a message's text
	maxBlocks      = 50    // blocks in a message
	maxModalBlocks = 100   // blocks in a view
)

// A handler runs one method on the workspace, with s.mu held. It returns
// the fields to answer besides "ok", or a Slack error code.
type handler func(s *Server, p url.Values) (map[string]any, string)

var handlers = map[string]handler{
	"auth.test":             (*Server).authTest,
	"users.info":            (*Server).usersInfo,
	"chat.postMessage":      (*Server).chatPostMessage,
	"chat.update":           (*Server).chatUpdate,
	"chat.postEphemeral":    (*Server).chatPostEphemeral,
	"chat.delete":           (*Server).chatDelete,
	"conversations.create":  (*Server).conversationsCreate,
	"conversations.invite":  (*Server).conversationsInvite,
	"conversations.info":    (*Server).conversationsInfo,
	"pins.add":              (*Server).pinsAdd,
	"pins.list":             (*Server).pinsList,
	"views.open":            (*Server).viewsOpen,
	"views.update":          (*Server).viewsUpdate,
	"views.publish":         (*Server).viewsPublish,
	"conversations.members": (*Server).conversationsMembers,
	// conversations.go
	"conversations.list":       (*Server).conversationsList,
	"conversations.history":    (*Server).conversationsHistory,
	"conversations.open":       (*Server).conversationsOpen,
	"conversations.setTopic":   (*Server).conversationsSetTopic,
	"conversations.setPurpose": (*Server).conversationsSetPurpose,
}

func (s *Server) authTest(url.Values) (map[string]any, string) {
	return map[string]any{
		"url":     "https://" + s.opts.TeamName + ".slack.com/",
		"team":    s.opts.TeamName,
		"user":    s.users[s.opts.BotUserID].Name,
		"team_id": s.opts.TeamID,
		"user_id": s.opts.BotUserID,
		"bot_id":  s.opts.BotID,
	}, ""
}

func (s *Server) usersInfo(p url.Values) (map[string]any, string) {
	u := s.users[p.Get("user")]
	if u == nil {
		return nil, "user_not_found"
	}
	return map[string]any{"user": s.userJSON(u)}, ""
}

func (s *Server) chatPostMessage(p url.Values) (map[string]any, string) {
	c := s.resolvePostTarget(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	text, blocks, code := messageContent(p)
	if code != "" {
		return nil, code
	}
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return nil, "no_text"
	}
	m := &message{Message: Message{
		Channel:  c.ID,
		TS:       s.nextTS(),
		ThreadTS: p.Get("thread_ts"),
		User:     s.opts.BotUserID,
		Text:     text,
		Blocks:   blocks,
		Metadata: compactJSON([]byte(p.Get("metadata"))),
	}}
	c.messages = append(c.messages, m)
	c.byTS[m.TS] = m
	return map[string]any{"channel": c.ID, "ts": m.TS, "message": s.messageJSON(&m.Message)}, ""
}

func (s *Server) chatUpdate(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	m := c.byTS[p.Get("ts")]
	if m == nil || m.deleted {
		return nil, "message_not_found"
	}
	if m.User != s.opts.BotUserID {
		return nil, "cant_update_message"
	}
	text, blocks, code := messageContent(p)
	if code != "" {
		return nil, code
	}
	if !p.Has("text") && !p.Has("blocks") && !p.Has("attachments") {
		return nil, "no_text"
	}
	// As Slack: a field left out keeps its value; blocks "[]" clears them.
	if p.Has("text") {
		m.Text = text
	}
	if p.Has("blocks") {
		m.Blocks = blocks
	}
	if p.Has("metadata") {
		m.Metadata = compactJSON([]byte(p.Get("metadata")))
	}
	m.Updates++
	m.EditedTS = s.nextTS()
	return map[string]any{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": s.messageJSON(&m.Message)}, ""
}

func (s *Server) chatPostEphemeral(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	user := p.Get("user")
	if s.users[user] == nil {
		return nil, "user_not_found"
	}
	if !c.isMember(user) {
		return nil, "user_not_in_channel"
	}
	text, blocks, code := messageContent(p)
	if code != "" {
		return nil, code
	}
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return nil, "no_text"
	}
	e := Ephemeral{Channel: c.ID, User: user, TS: s.nextTS(), Text: text, Blocks: blocks}
	c.ephemerals = append(c.ephemerals, e)
	return map[string]any{"message_ts": e.TS}, ""
}

func (s *Server) chatDelete(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	m := c.byTS[p.Get("ts")]
	if m == nil || m.deleted {
		return nil, "message_not_found"
	}
	if m.User != s.opts.BotUserID {
		return nil, "cant_delete_message"
	}
	m.deleted = true
	// Slack unpins a deleted message.
	pins := c.pins[:0]
	for _, pn := range c.pins {
		if pn.ts != m.TS {
			pins = append(pins, pn)
		}
	}
	c.pins = pins
	return map[string]any{"channel": c.ID, "ts": m.TS}, ""
}

func (s *Server) conversationsCreate(p url.Values) (map[string]any, string) {
	name := p.Get("name")
	if code := checkChannelName(name); code != "" {
		return nil, code
	}
	if s.byName[name] != nil {
		return nil, "name_taken"
	}
	c := s.newChannel(name, p.Get("is_private") == "true", s.opts.BotUserID, []string{s.opts.BotUserID})
	return map[string]any{"channel": s.channelJSON(c, false)}, ""
}

// checkChannelName applies Slack's rules: at most 80 characters, lower-case
// letters, digits, hyphens and underscores.
func checkChannelName(name string) string {
	if name == "" {
		return "invalid_name_required"
	}
	if utf8.RuneCountInString(name) > maxChannelName {
		return "invalid_name_maxlength"
	}
	for _, r := range name {
		switch {
		case r == '-' || r == '_' || unicode.IsDigit(r):
		case unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r):
		default:
			return "invalid_name_specials"
		}
	}
	return ""
}

func (s *Server) conversationsInvite(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	if c.IsIM {
		return nil, "method_not_supported_for_channel_type"
	}
	var users []string
	for u := range strings.SplitSeq(p.Get("users"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return nil, "no_user"
	}
	force := p.Get("force") == "true"
	var add []string
	var errs []map[string]any
	for _, u := range users {
		code := ""
		switch {
		case u == s.opts.BotUserID:
			code = "cant_invite_self"
		case s.users[u] == nil || s.users[u].Deleted:
			code = "user_not_found"
		case c.isMember(u) || contains(add, u):
			code = "already_in_channel"
		}
		if code == "" {
			add = append(add, u)
			continue
		}
		if !force {
			return nil, code // Slack invites no one when one fails
		}
		errs = append(errs, map[string]any{"ok": false, "error": code, "user": u})
	}
	c.Members = append(c.Members, add...)
	res := map[string]any{"channel": s.channelJSON(c, false)}
	if len(errs) > 0 {
		res["errors"] = errs
	}
	return res, ""
}

func (s *Server) conversationsInfo(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	return map[string]any{"channel": s.channelJSON(c, p.Get("include_num_members") == "true")}, ""
}

func (s *Server) conversationsMembers(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	return map[string]any{
		"members":           append([]string{}, c.Members...),
		"response_metadata": map[string]any{"next_cursor": ""},
	}, ""
}

func (s *Server) pinsAdd(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	ts := p.Get("timestamp")
	if ts == "" {
		return nil, "no_item_specified"
	}
	m := c.byTS[ts]
	if m == nil || m.deleted {
		return nil, "message_not_found"
	}
	for _, pn := range c.pins {
		if pn.ts == ts {
			return nil, "already_pinned"
		}
	}
	c.pins = append(c.pins, pin{ts: ts, by: s.opts.BotUserID, created: s.opts.Now()})
	return nil, ""
}

func (s *Server) pinsList(p url.Values) (map[string]any, string) {
	c := s.lookup(p.Get("channel"))
	if c == nil {
		return nil, "channel_not_found"
	}
	items := []map[string]any{}
	for _, pn := range c.pins {
		items = append(items, map[string]any{
			"type":       "message",
			"channel":    c.ID,
			"created":    pn.created.Unix(),
			"created_by": pn.by,
			"message":    s.messageJSON(&c.byTS[pn.ts].Message),
		})
	}
	return map[string]any{"items": items}, ""
}

func (s *Server) viewsOpen(p url.Values) (map[string]any, string) {
	doc, code := parseView(p.Get("view"), "modal")
	if code != "" {
		return nil, code
	}
	if ext, _ := doc["external_id"].(string); ext != "" && s.viewByExt[ext] != nil {
		return nil, "duplicate_external_id"
	}
	id := p.Get("trigger_id")
	if id == "" {
		return nil, "invalid_arguments"
	}
	t := s.triggers[id]
	switch {
	case t == nil:
		return nil, "expired_trigger_id" // never issued: as good as expired
	case t.used:
		return nil, "exchanged_trigger_id"
	case s.opts.Now().Sub(t.issued) > TriggerLifetime:
		return nil, "expired_trigger_id"
	}
	t.used = true
	v := &View{ID: s.nextID("V"), Type: "modal", TriggerID: id}
	s.views = append(s.views, v)
	s.viewByID[v.ID] = v
	s.setView(v, doc)
	return map[string]any{"view": v.JSON}, ""
}

func (s *Server) viewsUpdate(p url.Values) (map[string]any, string) {
	var v *View
	switch id, ext := p.Get("view_id"), p.Get("external_id"); {
	case id != "":
		v = s.viewByID[id]
	case ext != "":
		v = s.viewByExt[ext]
	default:
		return nil, "invalid_arguments"
	}
	if v == nil {
		return nil, "not_found"
	}
	if h := p.Get("hash"); h != "" && h != v.Hash {
		return nil, "hash_conflict"
	}
	doc, code := parseView(p.Get("view"), v.Type)
	if code != "" {
		return nil, code
	}
	if ext, _ := doc["external_id"].(string); ext != "" && ext != v.ExternalID && s.viewByExt[ext] != nil {
		return nil, "duplicate_external_id"
	}
	v.Updates++
	s.setView(v, doc)
	return map[string]any{"view": v.JSON}, ""
}

func (s *Server) viewsPublish(p url.Values) (map[string]any, string) {
	user := p.Get("user_id")
	if s.users[user] == nil {
		return nil, "user_not_found"
	}
	doc, code := parseView(p.Get("view"), "home")
	if code != "" {
		return nil, code
	}
	v := s.homeViews[user]
	if v == nil {
		v = &View{ID: s.nextID("V"), Type: "home", User: user}
		s.views = append(s.views, v)
		s.viewByID[v.ID] = v
		s.homeViews[user] = v
	} else {
		if h := p.Get("hash"); h != "" && h != v.Hash {
			return nil, "hash_conflict"
		}
		v.Updates++
	}
	s.setView(v, doc)
	return map[string]any{"view": v.JSON}, ""
}

// parseView checks a view's JSON as Slack would, loosely: an object of the
// wanted type with at most 100 blocks.
func parseView(raw, wantType string) (map[string]any, string) {
	var doc map[string]any
	if raw == "" || json.Unmarshal([]byte(raw), &doc) != nil || doc == nil {
		return nil, "invalid_arguments"
	}
	if t, _ := doc["type"].(string); t != wantType {
		return nil, "invalid_arguments"
	}
	if b, ok := doc["blocks"]; ok {
		blocks, isArray := b.([]any)
		if !isArray && b != nil {
			return nil, "invalid_blocks"
		}
		if len(blocks) > maxModalBlocks {
			return nil, "invalid_blocks"
		}
	}
	if wantType == "modal" {
		if _, ok := doc["title"].(map[string]any); !ok {
			return nil, "invalid_arguments"
		}
	}
	return doc, ""
}

// setView makes doc the view's content, with the fields Slack adds, and a
// new hash.
func (s *Server) setView(v *View, doc map[string]any) {
	if v.ExternalID != "" {
		delete(s.viewByExt, v.ExternalID)
	}
	s.seq++
	v.Hash = fmt.Sprintf("%d.%08x", s.opts.Now().Unix(), uint32(splitmix(s.seq)))
	v.ExternalID, _ = doc["external_id"].(string)
	v.CallbackID, _ = doc["callback_id"].(string)
	if v.ExternalID != "" {
		s.viewByExt[v.ExternalID] = v
	}
	for k, def := range map[string]any{
		"private_metadata": "", "callback_id": "", "external_id": "",
		"clear_on_close": false, "notify_on_close": false, "blocks": []any{},
	} {
		if _, ok := doc[k]; !ok {
			doc[k] = def
		}
	}
	doc["id"] = v.ID
	doc["team_id"] = s.opts.TeamID
	doc["app_installed_team_id"] = s.opts.TeamID
	doc["app_id"] = "A0SLACKTST"
	doc["bot_id"] = s.opts.BotID
	doc["hash"] = v.Hash
	doc["root_view_id"] = v.ID
	doc["previous_view_id"] = nil
	doc["state"] = map[string]any{"values": map[string]any{}}
	v.JSON, _ = json.Marshal(doc)
}

// messageContent reads text and blocks. blocks is nil when absent, empty or
// "[]".
func messageContent(p url.Values) (text string, blocks json.RawMessage, code string) {
	text = p.Get("text")
	if utf8.RuneCountInString(text) > maxText {
		return "", nil, "msg_too_long"
	}
	if raw := strings.TrimSpace(p.Get("blocks")); raw != "" {
		var list []json.RawMessage
		if json.Unmarshal([]byte(raw), &list) != nil {
			return "", nil, "invalid_blocks"
		}
		if len(list) > maxBlocks {
			return "", nil, "invalid_blocks"
		}
		if len(list) > 0 {
			blocks = compactJSON([]byte(raw))
		}
	}
	return text, blocks, ""
}

// lookup finds a channel by ID, or by name with or without "#".
func (s *Server) lookup(ref string) *channel {
	if c := s.byID[ref]; c != nil {
		return c
	}
	return s.byName[strings.TrimPrefix(ref, "#")]
}

// resolvePostTarget finds where chat.postMessage posts: a channel, or for a
// user ID the bot's DM with that user, opened on first use.
func (s *Server) resolvePostTarget(ref string) *channel {
	if c := s.lookup(ref); c != nil {
		return c
	}
	u := s.users[ref]
	if u == nil || u.Deleted {
		return nil
	}
	c, _ := s.openDM(u)
	return c
}

// openDM returns the bot's DM with u, opening it if needed, and whether it
// was open already.
func (s *Server) openDM(u *User) (*channel, bool) {
	if c := s.dms[u.ID]; c != nil {
		return c, true
	}
	c := s.newChannelWithID(s.nextID("D"), "", false, s.opts.BotUserID, []string{s.opts.BotUserID, u.ID})
	c.IsIM = true
	s.dms[u.ID] = c
	return c, false
}

func (s *Server) newChannel(name string, private bool, creator string, members []string) *channel {
	return s.newChannelWithID(s.nextID("C"), name, private, creator, members)
}

func (s *Server) newChannelWithID(id, name string, private bool, creator string, members []string) *channel {
	c := &channel{
		Channel: Channel{ID: id, Name: name, IsPrivate: private, Creator: creator, Created: s.opts.Now(), Members: append([]string(nil), members...)},
		byTS:    make(map[string]*message),
	}
	s.channels = append(s.channels, c)
	s.byID[id] = c
	if name != "" {
		s.byName[name] = c
	}
	return c
}

// nextID returns an ID like C0123ABC1: the prefix and eight upper-case hex
// digits, unique within the server.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%08X", prefix, 0x0123ABC0+s.seq)
}

// nextTS returns a message timestamp like "1732370000.000100" from the
// server's clock, strictly increasing across the server.
func (s *Server) nextTS() string {
	us := s.opts.Now().UnixMicro()
	if us <= s.lastTS {
		us = s.lastTS + 100
	}
	s.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

func (c *channel) isMember(user string) bool { return contains(c.Members, user) }

func (c *channel) snapshot() Channel {
	out := c.Channel
	out.Members = append([]string(nil), c.Members...)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) channelJSON(c *channel, numMembers bool) map[string]any {
	empty := map[string]any{"value": "", "creator": "", "last_set": 0}
	out := map[string]any{
		"id":              c.ID,
		"created":         c.Created.Unix(),
		"creator":         c.Creator,
		"is_archived":     false,
		"is_general":      false,
		"is_member":       c.isMember(s.opts.BotUserID),
		"is_private":      c.IsPrivate,
		"is_im":           c.IsIM,
		"is_mpim":         false,
		"is_shared":       false,
		"is_ext_shared":   false,
		"is_org_shared":   false,
		"context_team_id": s.opts.TeamID,
		"unlinked":        0,
	}
	if c.IsIM {
		for _, m := range c.Members {
			if m != s.opts.BotUserID {
				out["user"] = m
			}
		}
		out["is_open"] = true
	} else {
		out["name"] = c.Name
		out["name_normalized"] = c.Name
		out["is_channel"] = true
		out["is_group"] = false
		out["topic"], out["purpose"] = empty, empty
		if c.Topic != "" {
			out["topic"] = map[string]any{"value": c.Topic, "creator": s.opts.BotUserID, "last_set": c.Created.Unix()}
		}
		if c.Purpose != "" {
			out["purpose"] = map[string]any{"value": c.Purpose, "creator": s.opts.BotUserID, "last_set": c.Created.Unix()}
		}
		out["previous_names"] = []string{}
	}
	if numMembers {
		out["num_members"] = len(c.Members)
	}
	return out
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type":   "message",
		"user":   m.User,
		"bot_id": s.opts.BotID,
		"app_id": "A0SLACKTST",
		"team":   s.opts.TeamID,
		"text":   m.Text,
		"ts":     m.TS,
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	if m.Updates > 0 {
		out["edited"] = map[string]any{"user": m.User, "ts": m.EditedTS}
	}
	return out
}

func (s *Server) userJSON(u *User) map[string]any {
	tz, offset, label := u.TZ, 0, ""
	if tz == "" {
		tz = "UTC"
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		now := s.opts.Now().In(loc)
		label, offset = now.Zone()
	}
	display := u.Name
	return map[string]any{
		"id":          u.ID,
		"team_id":     s.opts.TeamID,
		"name":        u.Name,
		"deleted":     u.Deleted,
		"real_name":   u.RealName,
		"tz":          tz,
		"tz_label":    label,
		"tz_offset":   offset,
		"is_bot":      u.IsBot,
		"is_admin":    false,
		"is_owner":    false,
		"is_app_user": false,
		"updated":     s.opts.Now().Unix(),
		"profile": map[string]any{
			"real_name":               u.RealName,
			"real_name_normalized":    u.RealName,
			"display_name":            display,
			"display_name_normalized": display,
			"email":                   u.Email,
			"team":                    s.opts.TeamID,
		},
	}
}
