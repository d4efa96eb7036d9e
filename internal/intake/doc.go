// Package intake opens incidents from alerting systems over HTTP: a SIEM or
// a script posting breachctl's own alert JSON (POST /intake/v1/alerts) and
// Prometheus Alertmanager's webhook (POST /intake/v1/alertmanager).
//
// The contract, and why:
//
//   - Authenticated, or nothing happens. A request carries either an
//     HMAC-SHA256 signature, X-Breachctl-Signature: t=<unix seconds>,v1=<hex
//     of HMAC(secret, "<t>.<body>")> (several v1= for a sender rotating its
//     secret; several secrets accepted here for the same reason), or
//     Authorization: Bearer <token>, compared in constant time. A signature,
//     when present, must verify; a bearer token is not then looked at. A
//     timestamp more than Tolerance from the server's clock, in either
//     direction, is refused: 401. A signed request seen before within twice
//     the tolerance is a replay: 409, so that a sender retrying a request
//     that did succeed learns it did. A request that fails (4xx other than
//     409, or 5xx) is forgotten, so its retry is not taken for a replay.
//     Bearer requests cannot be told from their replays; the dedup key makes
//     a replay a repeat of the same incident instead of a new one.
//
//   - Nothing trusted before it is checked: 401 before the body is read
//     when no credential is given, 413 past MaxBody, 400 with the field at
//     fault ({"error": "...", "field": "alerts[2].labels.severity"}) for a
//     payload that does not decode or whose facts do not validate. Our own
//     JSON refuses unknown fields (a misspelt "severty" would silently lose
//     the severity); Alertmanager's is Alertmanager's to extend, so its
//     unknown fields are ignored.
//
//   - One alert, one incident. Every alert has a dedup key (given, or
//     derived: see alert.go and alertmanager.go), stored as a SHA-256 hash
//     with the incident it opened (store.ClaimIntakeKey), so that concurrent
//     requests for one key, on one server or several, open one incident: the
//     first claims the key and opens it, the others wait for its ID. A
//     repeat while the incident is open answers 200 with the same ID and is
//     counted; the timeline gets a note for the first repeat and then at
//     most one per NoteEvery, saying how many came in between. Once a person
//     has closed the incident, the next alert with the key opens a new one.
//     Alertmanager's "resolved" is noted on the open incident and never
//     closes it: a breach is closed by a person.
//
//   - No personal data in logs: they name the incident ID and the first
//     twelve hex digits of the key's hash, never alert text or label values.
package intake
