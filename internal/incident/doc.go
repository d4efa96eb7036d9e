// Package incident holds the domain of a personal-data breach incident: the
// facts as known, the legal clocks that run from them, and the timeline. It is
// plain Go with pure functions: no Temporal, Slack or HTTP import, so workflow
// code can call it deterministically (every function that needs the time takes
// it as a parameter) and tests need nothing but the package.
//
// Every exported struct with JSON tags is wire format: it travels in workflow
// payloads and in `-o json` output. Add fields; never rename or retype them.
package incident
