package incident

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as text ("48h", "90m",
// "2h30m") in JSON and YAML, so `-o json` and configuration stay readable.
type Duration time.Duration

func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// FormatDuration writes a duration the way people say it: whole days as
// hours up to 72 h ("48h"), then days and hours ("4d6h"), minutes where they
// matter ("1h30m"), seconds only under a minute.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	d = d.Truncate(time.Minute)
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	var b strings.Builder
	if h > 72 {
		fmt.Fprintf(&b, "%dd", h/24)
		h %= 24
	}
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}

// ParseOffsets reads a comma-separated list of durations ("48h,24h,6h,1h"),
// as used for reminder offsets before a deadline.
func ParseOffsets(s string) ([]Duration, error) {
	var out []Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration like 48h or 90m", part)
		}
		if v <= 0 {
			return nil, fmt.Errorf("%q must be positive: it is a time before the deadline", part)
		}
		out = append(out, Duration(v))
	}
	return out, nil
}
