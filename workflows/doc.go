// Package workflows holds the Temporal workflow code of breachctl: one
// IncidentWorkflow per incident, which keeps the facts, runs one durable clock
// per notification obligation, and records the timeline.
//
// Contract: workflow code is deterministic. No I/O, time.Now, time.Sleep,
// rand, uuid, goroutines, native channels or select, no map iteration where
// order matters, no environment or file reads; use workflow.Now, timers,
// workflow.Go and selectors, and reach the outside world only through
// activities. A change that is not replay-safe goes behind workflow.GetVersion
// with a named change ID, and the replay test runs every history committed in
// testdata/ (never rewrite an old one).
//
// Names of workflows, queries and updates are constants below; once released
// they never change. Input, request and result types are wire format: add
// fields, never rename or retype them.
package workflows
