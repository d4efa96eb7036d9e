package slackin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/internal/apperr"
)

// userMessage is the one place an error becomes what a Slack user reads.
// Kinds a person can act on keep their message (written for people, but it
// may quote what someone typed: escaped); the cause chain and anything
// internal never reach Slack.
func userMessage(err error, id string) string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		e = &apperr.Error{Kind: apperr.Internal}
	}
	switch e.Kind {
	case apperr.NotFound:
		if id != "" {
			return fmt.Sprintf(":warning: No incident %s.", id)
		}
		return ":warning: " + escape(sentence(e.Msg))
	case apperr.Invalid:
		return ":warning: Not accepted: " + escape(sentence(fieldMessage(e)))
	case apperr.Conflict:
		return ":warning: Not done: " + escape(sentence(e.Msg))
	case apperr.Forbidden:
		return ":no_entry: Not allowed: " + escape(sentence(e.Msg))
	case apperr.Unavailable:
		return ":hourglass: breachctl cannot reach its workflow service just now, so nothing was done. " +
			"Try again in a minute; if it goes on, tell whoever runs breachctl."
	}
	return ":x: Something went wrong inside breachctl and it may not have been done. " +
		"Check with `/breach status` and tell whoever runs breachctl."
}

func fieldMessage(e *apperr.Error) string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

// logAttrs are what a failure may put in a log: the kind, and the error text
// only for kinds raised by the infrastructure. Invalid, conflict and
// not-found messages can quote what a person typed, which may be personal
// data.
func logAttrs(err error) []any {
	kind := apperr.KindOf(err)
	attrs := []any{"kind", string(kind)}
	if kind == apperr.Internal || kind == apperr.Unavailable {
		attrs = append(attrs, "error", err.Error())
	}
	return attrs
}

// sentence ends a message with a full stop unless it has its own.
func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}
