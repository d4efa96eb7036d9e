// Package activities holds every side effect of an incident workflow, as
// methods on structs that own their clients, so the worker wires real ones and
// tests swap fakes.
//
// Contract: every activity with an outside effect is idempotent, keyed by
// something the workflow derived (its workflow ID and step), because Temporal
// retries an activity whose result it did not see. Permanent failures are
// non-retryable application errors with a typed reason.
package activities
