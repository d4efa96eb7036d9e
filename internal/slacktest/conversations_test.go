package slacktest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/breachctl/breachctl/internal/slacktest"
)

func TestConversationsListPagesAndHidesOthersPrivateChannels(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	for i := range 5 {
		if _, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: fmt.Sprintf("inc-%d", i), IsPrivate: true}); err != nil {
			t.Fatal(err)
		}
	}
	s.AddChannel("secret", true, "U0ANA0001") // the bot is not in it
	s.AddChannel("general", false, "U0ANA0001")
	if _, _, err := api.PostMessageContext(ctx, "U0BEN0002", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err) // opens a DM
	}

	var names []string
	cursor, pages := "", 0
	for {
		chs, next, err := api.GetConversationsContext(ctx, &slack.GetConversationsParameters{Types: []string{"private_channel"}, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range chs {
			if !c.IsPrivate {
				t.Errorf("%s is not private", c.Name)
			}
			names = append(names, c.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []string{"inc-0", "inc-1", "inc-2", "inc-3", "inc-4"}; !slices.Equal(names, want) || pages != 3 {
		t.Fatalf("private channels = %v in %d pages, want %v in 3", names, pages, want)
	}

	chs, _, err := api.GetConversationsContext(ctx, &slack.GetConversationsParameters{})
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || chs[0].Name != "general" {
		t.Fatalf("default types = %+v, want the public channel only", chs)
	}
	chs, _, err = api.GetConversationsContext(ctx, &slack.GetConversationsParameters{Types: []string{"im"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || !chs[0].IsIM || chs[0].User != "U0BEN0002" {
		t.Fatalf("ims = %+v", chs)
	}
	_, _, err = api.GetConversationsContext(ctx, &slack.GetConversationsParameters{Cursor: "garbage"})
	wantSlackErr(t, err, "invalid_cursor")
}

func TestConversationsHistory(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, api := start(t, slacktest.Options{Now: clk.Now})
	ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-h", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	meta := slack.SlackMetadata{EventType: "breachctl_post", EventPayload: map[string]any{"key": "k1"}}
	var ts []string
	for i := range 5 {
		opts := []slack.MsgOption{slack.MsgOptionText(fmt.Sprintf("m%d", i), false)}
		if i == 1 {
			opts = append(opts, slack.MsgOptionMetadata(meta))
		}
		_, t1, err := api.PostMessageContext(ctx, ch.ID, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, t1)
		clk.Advance(time.Second)
	}
	// A thread reply is not in the history; a deleted message neither.
	if _, _, err := api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts[0])); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.DeleteMessageContext(ctx, ch.ID, ts[4]); err != nil {
		t.Fatal(err)
	}

	var texts []string
	var sawMeta bool
	cursor := ""
	for {
		h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID, Limit: 3, Cursor: cursor, IncludeAllMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			texts = append(texts, m.Text)
			if m.Metadata.EventType == "breachctl_post" && m.Metadata.EventPayload["key"] == "k1" {
				sawMeta = m.Text == "m1"
			}
		}
		if h.HasMore != (h.ResponseMetaData.NextCursor != "") {
			t.Fatalf("has_more %v with cursor %q", h.HasMore, h.ResponseMetaData.NextCursor)
		}
		if cursor = h.ResponseMetaData.NextCursor; cursor == "" {
			break
		}
	}
	if want := []string{"m3", "m2", "m1", "m0"}; !slices.Equal(texts, want) || !sawMeta {
		t.Fatalf("history = %v (metadata seen %v), want %v newest first with m1's metadata", texts, sawMeta, want)
	}

	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.Messages {
		if m.Metadata.EventType != "" {
			t.Fatalf("metadata without include_all_metadata: %+v", m.Metadata)
		}
	}
	// One message by its ts, as a client looks one up.
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID, Latest: ts[1], Oldest: ts[1], Inclusive: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Timestamp != ts[1] {
		t.Fatalf("by ts = %+v", h.Messages)
	}
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: ch.ID, Latest: ts[2], Oldest: ts[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Text != "m1" {
		t.Fatalf("exclusive range = %+v", h.Messages)
	}

	secret := s.AddChannel("secret", true, "U0ANA0001")
	_, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: secret})
	wantSlackErr(t, err, "channel_not_found")
	public := s.AddChannel("general", false, "U0ANA0001")
	_, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: public})
	wantSlackErr(t, err, "not_in_channel")
}

func TestConversationsOpenIsTheDMPostsGoTo(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	ch, noOp, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0ANA0001"}})
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID == "" || ch.ID[0] != 'D' || noOp || already {
		t.Fatalf("open = %+v noOp %v already %v", ch, noOp, already)
	}
	got, _, err := api.PostMessageContext(ctx, "U0ANA0001", slack.MsgOptionText("hello", false))
	if err != nil {
		t.Fatal(err)
	}
	if got != ch.ID || len(s.Messages(ch.ID)) != 1 {
		t.Fatalf("posted to %s, DM is %s; messages %+v", got, ch.ID, s.Messages(ch.ID))
	}
	again, _, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0ANA0001"}})
	if err != nil || again.ID != ch.ID || !already {
		t.Fatalf("second open = %+v already %v err %v", again, already, err)
	}
	_, _, _, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0NOBODY1"}})
	wantSlackErr(t, err, "user_not_found")
}

func TestConversationsTopicAndPurpose(t *testing.T) {
	ctx := context.Background()
	s, api := start(t, slacktest.Options{})
	ch, err := api.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: "inc-t", IsPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.SetTopicOfConversationContext(ctx, ch.ID, "the topic"); err != nil {
		t.Fatal(err)
	}
	got, err := api.SetPurposeOfConversationContext(ctx, ch.ID, "the purpose")
	if err != nil {
		t.Fatal(err)
	}
	if got.Topic.Value != "the topic" || got.Purpose.Value != "the purpose" {
		t.Fatalf("answered %+v / %+v", got.Topic, got.Purpose)
	}
	if c := s.Channels()[0]; c.Topic != "the topic" || c.Purpose != "the purpose" {
		t.Fatalf("channel = %+v", c)
	}
	_, err = api.SetTopicOfConversationContext(ctx, ch.ID, string(make([]byte, 251)))
	wantSlackErr(t, err, "too_long")
	secret := s.AddChannel("secret", true, "U0ANA0001")
	_, err = api.SetTopicOfConversationContext(ctx, secret, "x")
	wantSlackErr(t, err, "channel_not_found")
}
