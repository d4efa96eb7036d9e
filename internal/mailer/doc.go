// Package mailer sends breach notices by email: SendGrid in production, an
// outbox directory of .eml files for `breachctl dev`, and the Event Webhook
// that reports what became of each message.
//
// # The contract: nobody missed, nobody mailed twice
//
// A Batch is one SendGrid Mail Send request of up to 1,000 recipients.
// Send makes exactly one request and never retries, so that the caller (a
// Temporal activity) decides, from the error's type, what a retry may do:
//
//   - nil: accepted (202, or 200 in sandbox mode). Record Result.MessageID.
//   - *RateLimitedError: not sent; send again at RetryAt.
//   - *TemporaryError: not sent (5xx, or a failure before the request was
//     written); sending again is safe.
//   - *AmbiguousError: the request was written and no answer came; SendGrid
//     may have queued it. Record the batch as "maybe sent" and do not resend
//     it blindly: the Event Webhook's events carry the batch key
//     (custom_args breachctl_batch) and each recipient's ID
//     (breachctl_subject), which tell whether it went.
//   - *PermanentError: refused (4xx), or refused before sending (Status 0)
//     because SendGrid would refuse it. Do not retry.
//
// Every request carries the batch key (custom_args breachctl_batch) and,
// when Batch.Attempt is set, which attempt it is (breachctl_attempt). An
// ambiguous attempt can then be asked after: by the Event Webhook's events,
// which carry both, and, where the account has the paid Email Activity
// add-on, by Activity.Taken (activity.go), which queries SendGrid's Email
// Activity API for messages with those custom args. The feed lags the send,
// so "not listed" means "not yet known", never "not sent".
//
// SendGrid has no idempotency key. The batch key must be derived
// deterministically (incident, rule, page, part) so that a retried batch is
// recognisably the same batch. The request also never carries an
// Idempotency-Key header: net/http would take it as licence to resend the
// POST by itself after a connection error.
//
// Before and after "written" is told apart with net/http/httptrace
// (WroteRequest). It errs on the safe side: a connection that fails while
// the last bytes are still being flushed is reported as ambiguous.
//
// No error text carries a recipient's address: local validation names
// recipients by position, and anything address-shaped in SendGrid's
// messages (its duplicate-address message quotes the address) is redacted.
//
// # Judged by SendGrid's published description
//
// The bodies are validated in tests (schema_test.go) against the Mail Send
// request schema that SendGrid publishes (sendgrid/sendgrid-oai, kept in
// testdata/ with its source and licence), with its one known defect — the
// request-level custom_args typed as a string — written down and skipped;
// the loopback sendgridtest.Server can check every body it receives against
// the same schema (Options.CheckSchema).
//
// # Substitutions and HTML
//
// "{{name}}" tags in the subject, text and HTML are replaced per recipient
// through SendGrid's legacy substitutions ({{recipient_name}} by Name, the
// others from Recipient.Substitutions). SendGrid puts the same value into the
// text and the HTML, so a name like "<a href=...>" would become markup in a
// legal notice. When any value of a tag needs escaping, the HTML body of
// that batch uses "{{name.html}}" instead and every recipient gets the
// HTML-escaped value under it. The Outbox does the same.
//
// # Encoding cost
//
// The request body is written by appendMailSend straight into a reused
// buffer, in the shape sendgrid-go's helpers/mail produces (a test compares
// them field by field). For one 1,000-recipient batch (BenchmarkEncode on
// this shared 2-core machine; ranges over runs): sendgrid-go's helpers
// 3.2-4.3 ms and 19,000 allocations, encoding/json over our own structs
// 2.5-3.7 ms and 14,000 allocations, appendMailSend 0.35-0.54 ms and none.
// In BenchmarkSendMillion that is the difference between 10.4-10.6 and
// 6.9-7.6 CPU-seconds per million recipients, most of the remainder being
// the loopback sink's encoding/json decoding. The request itself goes out
// through sendgrid-go's rest client (sendgrid.GetRequest, rest.Client), never
// through MakeRequestRetry, whose rate-limit wait reads the wrong header key
// and ignores the context.
package mailer
