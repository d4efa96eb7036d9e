// Package e2e holds the slow layer of tests: the real embedded Temporal
// server on a temporary data directory, the real worker, and the CLI driven
// through the real client. It is the one test binary besides devserver's that
// links the Temporal server.
package e2e
