package app

import (
	"os"
	"runtime/debug"
)

// Sending a million notices allocates briskly (pages of people, request
// bodies): by default the worker lets its heap grow to three times what is
// live between collections, which halves the CPU the collector takes, and
// caps the heap at 448 MiB so the worker stays under 512 MB. GOGC and
// GOMEMLIMIT, when set, win.
const (
	workerGCPercent   = 200
	workerMemoryLimit = 448 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(workerGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(workerMemoryLimit)
	}
}
