package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
	"github.com/breachctl/breachctl/workflows"
)

func TestProgressLine(t *testing.T) {
	preparing := workflows.NoticeProgress{Notice: "INC-1/r", State: incident.NoticeSending}
	if got := progressLine(preparing, 0, false); got != "INC-1/r preparing" {
		t.Errorf("before preparation: %q", got)
	}
	half := workflows.NoticeProgress{Notice: "INC-1/r", State: incident.NoticeSending,
		Counts: incident.NoticeCounts{Expected: 1000, Accepted: 400, Failed: 50, Unreachable: 25, Covered: 25}}
	got := progressLine(half, 1234, true)
	for _, want := range []string{"[###############...............]", " 50%", "sent 400", "failed 50", "unreachable 25", "already notified 25", "remaining 500", "1234/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		m.add(t0.Add(time.Duration(i)*time.Second), i*100)
	}
	if got := m.perSecond(); got != 100 {
		t.Errorf("rate %v, want 100/s", got)
	}
	if len(m.at) > 12 {
		t.Errorf("the meter keeps %d samples; it should keep about ten seconds", len(m.at))
	}
}
