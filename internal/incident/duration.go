package incident

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as text ("48h", "90m",
// "2h30m") in JSON and YAML, so `-o json` and configuration stay readable.
type Duration time.Duration

func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// MarshalText writes the readable form when it reads back as the same
// duration, and Go's exact form ("1h30m15s") when the readable one would
// lose the seconds.
func (d Duration) MarshalText() ([]byte, error) {
	if s := d.String(); mustParse(s) == time.Duration(d) {
		return []byte(s), nil
	}
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText reads a Go duration ("48h", "2h30m"), with whole days in
// front as String writes them ("4d6h").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

func mustParse(s string) time.Duration {
	v, err := parseDuration(s)
	if err != nil {
		return math.MinInt64 // never a value String writes for a duration that reads back
	}
	return v
}

// parseDuration is time.ParseDuration with an optional "Nd" in front.
func parseDuration(s string) (time.Duration, error) {
	sign, rest := time.Duration(1), s
	if r, ok := strings.CutPrefix(s, "-"); ok {
		sign, rest = -1, r
	}
	n, tail, ok := strings.Cut(rest, "d")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return time.ParseDuration(s)
	}
	days, err := strconv.ParseInt(n, 10, 64)
	if err != nil || days > math.MaxInt64/int64(24*time.Hour) {
		return 0, errors.New("too many days")
	}
	var part time.Duration
	if tail != "" {
		if c := tail[0]; c < '0' || c > '9' {
			return 0, errors.New("a sign or a space after the days")
		}
		if part, err = time.ParseDuration(tail); err != nil {
			return 0, err
		}
	}
	total := time.Duration(days) * 24 * time.Hour
	if part > math.MaxInt64-total {
		return 0, errors.New("too long")
	}
	return sign * (total + part), nil
}

// FormatDuration writes a duration the way people say it: whole days as
// hours up to 72 h ("48h"), then days and hours ("4d6h"), minutes where they
// matter ("1h30m"), seconds only under a minute.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			d++ // -d would be d again; the nanosecond is truncated below anyway
		}
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

// ParseOffsets reads a comma-separated list of durations ("48h,24h,6h,1h",
// "4d"), as used for reminder offsets before a deadline.
func ParseOffsets(s string) ([]Duration, error) {
	var out []Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := parseDuration(part)
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
