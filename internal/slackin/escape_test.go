package slackin

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/internal/slackout"
)

// hostile is what a crafted actor, title or note may hold: a mention of
// everyone, a link under other words, and an entity.
const hostile = `x<!channel> <https://evil.example|click> &amp; <@UEVIL>`

// fill sets every exported string in v (a pointer), at any depth, to
// hostile, and gives every slice and map one element: whatever field a
// status gains, its text reaches the renderers below.
func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), depth+1)
	case reflect.String:
		v.SetString(hostile)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// TestUserTextIsEscapedEverywhere renders every message Slack shows of an
// incident whose every text is hostile: none of it becomes a mention, a
// link or a raw entity.
func TestUserTextIsEscapedEverywhere(t *testing.T) {
	var st incident.Status
	fill(reflect.ValueOf(&st), 0)
	st.Drafts[0].State = incident.DraftPending // shown only while pending
	var sum incident.Summary
	fill(reflect.ValueOf(&sum), 0)
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	texts := map[string]any{
		"/breach status":  statusMessage(st),
		"opened":          openedMessage(st, "UREPORTER"),
		"/breach list":    listText("open", []incident.Summary{sum}),
		"pinned summary":  slackout.Blocks(slackout.ViewOf(st, now), now, slackout.Options{}),
		"draft preview":   slackout.DraftBlocks(st.ID, slackout.DraftsOf(st), 50),
		"an error's text": ephemeral(userMessage(&apperr.Error{Kind: apperr.Conflict, Msg: hostile}, "")),
	}
	for name, v := range texts {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var tree any
		if err := json.Unmarshal(raw, &tree); err != nil {
			t.Fatal(err)
		}
		shown := false
		for _, text := range mrkdwnTexts(tree) {
			for _, bad := range []string{"<!channel>", "<https://evil", "<@UEVIL>", "&amp; <", "x<"} {
				if strings.Contains(text, bad) {
					t.Errorf("%s: %q reaches Slack unescaped in %q", name, bad, text)
				}
			}
			shown = shown || strings.Contains(text, "&lt;!channel&gt;")
		}
		if !shown {
			t.Errorf("%s: the hostile text is shown nowhere (the test proves nothing): %s", name, raw)
		}
	}
}

// mrkdwnTexts are the texts Slack reads as mrkdwn: a text object of type
// mrkdwn, and a message's text (its notification, formatted too). Plain
// text and button values are shown as they are.
func mrkdwnTexts(v any) []string {
	var out []string
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch v := v.(type) {
		case string:
			if top { // a bare text
				out = append(out, v)
			}
		case map[string]any:
			if s, ok := v["text"].(string); ok && (v["type"] == "mrkdwn" || top) {
				out = append(out, s)
			}
			for _, e := range v {
				walk(e, false)
			}
		case []any:
			for _, e := range v {
				walk(e, false)
			}
		}
	}
	walk(v, true)
	return out
}
