package mailer

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The errors Send returns, one type per thing the caller must do. None of
// their texts carries a recipient's address.

// RateLimitedError: SendGrid answered 429. Nothing was sent; send again at
// RetryAt (from X-RateLimit-Reset, or one second on when it is absent).
type RateLimitedError struct {
	RetryAt time.Time
}

func (e *RateLimitedError) Error() string {
	return "sendgrid: rate limited until " + e.RetryAt.UTC().Format(time.RFC3339)
}

// TemporaryError: the batch was not sent (a 5xx answer, or a failure before
// the request was written: dialling, TLS, a timeout while connecting).
// Sending it again cannot mail anyone twice.
type TemporaryError struct {
	Status int   // the HTTP status, or 0 when there was no answer
	Err    error // the transport error, if any
}

func (e *TemporaryError) Error() string {
	if e.Err != nil {
		return "sendgrid: not sent: " + e.Err.Error()
	}
	return fmt.Sprintf("sendgrid: not sent: status %d", e.Status)
}

func (e *TemporaryError) Unwrap() error { return e.Err }

// AmbiguousError: the request was written and no answer came (the
// connection dropped, or a timeout or cancellation hit while waiting).
// SendGrid may have accepted it. Treat the batch as "maybe sent": sending it
// again may mail everyone in it twice; confirm through Event Webhook events
// carrying the batch key (custom_args breachctl_batch) first.
type AmbiguousError struct {
	Err error
}

func (e *AmbiguousError) Error() string {
	return "sendgrid: maybe sent (no answer after the request was written): " + e.Err.Error()
}

func (e *AmbiguousError) Unwrap() error { return e.Err }

// PermanentError: SendGrid refused the batch (400, 401, 403, 413 and other
// 4xx), or it was refused before sending (Status 0) because SendGrid would
// refuse it. Sending it again will fail the same way.
type PermanentError struct {
	Status int
	// Messages are SendGrid's error messages (or ours for Status 0), with
	// anything shaped like an email address replaced by "[address]":
	// SendGrid's messages sometimes quote a recipient.
	Messages []string
	// Fields are the fields SendGrid named, parallel to Messages ("" when
	// none), e.g. "personalizations.12.to": the 13th recipient.
	Fields []string
}

func (e *PermanentError) Error() string {
	var sb strings.Builder
	if e.Status == 0 {
		sb.WriteString("sendgrid: batch refused before sending")
	} else {
		fmt.Fprintf(&sb, "sendgrid: refused with status %d", e.Status)
	}
	for i, m := range e.Messages {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		if i < len(e.Fields) && e.Fields[i] != "" {
			sb.WriteString(e.Fields[i])
			sb.WriteString(": ")
		}
		sb.WriteString(redact(m))
	}
	return sb.String()
}

var addressLike = regexp.MustCompile(`[^\s@<>\[\](){}",;:'` + "`" + `]+@[^\s@<>\[\](){}",;:'` + "`" + `]+`)

// redact replaces anything shaped like an email address.
func redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return addressLike.ReplaceAllString(s, "[address]")
}
