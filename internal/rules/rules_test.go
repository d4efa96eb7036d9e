package rules

import (
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

func TestGDPRAuthorityClock(t *testing.T) {
	aware := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		regions []string
		want    bool
	}{
		{[]string{"EU"}, true},
		{[]string{"US-CA", "DE"}, true},
		{[]string{"NO"}, true},
		{[]string{"GB"}, false},
		{[]string{"US-CA"}, false},
		{nil, false},
	}
	for _, c := range cases {
		obs := Assess(incident.Facts{Title: "t", AwareAt: aware, Regions: c.regions}, Config{})
		if got := len(obs) == 1; got != c.want {
			t.Errorf("regions %v: obligations %d, want GDPR %v", c.regions, len(obs), c.want)
			continue
		}
		if !c.want {
			continue
		}
		ob := obs[0]
		if ob.Rule != "eu-gdpr-art33" || !ob.Due.Equal(aware.Add(72*time.Hour)) || !ob.StartsAt.Equal(aware) ||
			ob.Notify != "authority" || ob.ClockStart != "awareness" || !ob.ASAP || len(ob.Reminders) != 4 {
			t.Errorf("regions %v: obligation %+v", c.regions, ob)
		}
	}
}

func TestRemindersComeFromConfig(t *testing.T) {
	obs := Assess(incident.Facts{AwareAt: time.Now(), Regions: []string{"EU"}}, Config{Reminders: []incident.Duration{incident.Duration(time.Hour)}})
	if len(obs[0].Reminders) != 1 || obs[0].Reminders[0] != incident.Duration(time.Hour) {
		t.Fatalf("reminders = %v", obs[0].Reminders)
	}
}
