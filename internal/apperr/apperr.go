// Package apperr gives errors a kind that every transport maps in one place:
// the CLI to exit codes, Slack to ephemeral text, HTTP to status codes.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind string

const (
	Invalid     Kind = "invalid"     // the request is malformed; fix the named field
	NotFound    Kind = "not_found"   // the thing named does not exist
	Conflict    Kind = "conflict"    // the request clashes with the current state (e.g. already closed)
	Forbidden   Kind = "forbidden"   // the caller may not do this
	Unavailable Kind = "unavailable" // a dependency (Temporal, the store) cannot be reached
	Internal    Kind = "internal"    // a bug or an unexpected failure
)

// Error is an error with a kind and, for invalid input, the field it is about.
type Error struct {
	Kind  Kind
	Field string // the flag, field, row or line the error is about, if any
	Msg   string
	Err   error // the cause, if any
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalidf reports bad input about a named field.
func Invalidf(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// New builds an error of the given kind.
func New(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives err a kind and a message, keeping it as the cause.
func Wrap(kind Kind, err error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
