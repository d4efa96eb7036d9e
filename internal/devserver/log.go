package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// serverLogger adapts the Temporal server's log.Logger to a *slog.Logger.
// Server tags become slog attributes with the same keys.
//
// Fatal keeps the server's contract that it never returns, but panics with a
// *fatalError instead of exiting the process, so Start can turn a fatal error
// raised while it builds or starts the server (a port that became busy, for
// example) into an ordinary error.
//
// Once muted, it drops every record: a stopping server logs a screenful of
// warnings and errors about connections it is closing itself, and a few of
// its gRPC clients keep redialling the closed ports after Stop.
type serverLogger struct {
	l     *slog.Logger
	muted *atomic.Bool
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(l *slog.Logger) serverLogger {
	return serverLogger{l: l, muted: new(atomic.Bool)}
}

// mute drops all later records, from this logger and those made by With.
func (s serverLogger) mute() { s.muted.Store(true) }

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic logs at error level; like zap in production mode, it does not panic.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}

func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(&fatalError{msg: msg, detail: tagsText(tags)})
}

// With returns a logger that adds tags to every record.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, len(tags))
	for _, t := range tags {
		args = append(args, tagAttr(t))
	}
	return serverLogger{l: s.l.With(args...), muted: s.muted}
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if s.muted.Load() || !s.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, tagAttr(t))
	}
	s.l.LogAttrs(ctx, level, msg, attrs...)
}

// tagAttr turns a server log tag into a slog attribute. Most server tags wrap
// a zap.Field; errors are unwrapped by hand because the generic Value() of an
// error field may return its verbose form.
func tagAttr(t tag.Tag) slog.Attr {
	if zt, ok := t.(tag.ZapTag); ok {
		f := zt.Field()
		if f.Type == zapcore.ErrorType {
			if err, ok := f.Interface.(error); ok && err != nil {
				return slog.String(f.Key, err.Error())
			}
		}
	}
	return slog.Any(t.Key(), t.Value())
}

func tagsText(tags []tag.Tag) string {
	var b strings.Builder
	for _, t := range tags {
		a := tagAttr(t)
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return b.String()
}

// fatalError is what serverLogger.Fatal panics with.
type fatalError struct {
	msg    string
	detail string
}

func (e *fatalError) Error() string { return "temporal server: " + e.msg + e.detail }

// levelFilter drops records below min before they reach the wrapped handler,
// whatever level that handler itself accepts.
type levelFilter struct {
	min slog.Leveler
	h   slog.Handler
}

func (f levelFilter) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= f.min.Level() && f.h.Enabled(ctx, level)
}

func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }

func (f levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{min: f.min, h: f.h.WithAttrs(attrs)}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{min: f.min, h: f.h.WithGroup(name)}
}
