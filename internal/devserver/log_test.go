package devserver

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/server/common/log/tag"
)

func TestServerLoggerBridgesToSlog(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	l := newServerLogger(slog.New(levelFilter{min: slog.LevelWarn, h: h}))

	l.Info("quiet by default", tag.NewStringTag("k", "v"))
	if buf.Len() != 0 {
		t.Fatalf("an info record passed the warn filter: %s", buf.String())
	}

	l.With(tag.NewStringTag("service", "history")).
		Warn("shard lost", tag.NewInt("shard", 1), tag.Error(errors.New("boom")))
	got := buf.String()
	for _, want := range []string{"level=WARN", `msg="shard lost"`, "service=history", "shard=1", "error=boom"} {
		if !strings.Contains(got, want) {
			t.Errorf("record %q lacks %q", got, want)
		}
	}

	buf.Reset()
	l.mute()
	l.Error("after stop")
	if buf.Len() != 0 {
		t.Errorf("a muted logger wrote %s", buf.String())
	}
}

func TestServerLoggerFatalPanicsWithFatalError(t *testing.T) {
	l := newServerLogger(slog.New(slog.DiscardHandler))
	defer func() {
		fe, ok := recover().(*fatalError)
		if !ok || !strings.Contains(fe.Error(), "listener failed") || !strings.Contains(fe.Error(), "port=7233") {
			t.Errorf("recovered %#v, want a *fatalError naming the message and tags", fe)
		}
	}()
	l.Fatal("listener failed", tag.Port(7233))
}
