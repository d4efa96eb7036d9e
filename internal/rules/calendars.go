package rules

import (
	"slices"
	"time"
	_ "time/tzdata" // the time zones of business-day calendars, on any host

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/br"
	"github.com/rickar/cal/v2/us"
)

// Calendar counts business days in one jurisdiction: its holidays, from the
// rickar/cal library where it has them, and the time zone its days are in.
type Calendar struct {
	Name     string
	Location *time.Location
	business *cal.BusinessCalendar
}

// weekendObserved moves a holiday on a Saturday to Friday, on a Sunday to
// Monday, as US federal and state law does.
var weekendObserved = []cal.AltDay{
	{Day: time.Saturday, Offset: -1},
	{Day: time.Sunday, Offset: 1},
}

// consciencia is Brazil's Dia Nacional de Zumbi e da Consciência Negra,
// a national holiday since Law 14.759/2023; the library predates it.
var consciencia = &cal.Holiday{
	Name: "Dia Nacional de Zumbi e da Consciência Negra", Type: cal.ObservancePublic,
	Month: time.November, Day: 20, Func: cal.CalcDayOfMonth, StartYear: 2024,
}

// Vermont's legal holidays (1 V.S.A. § 371) that the federal list lacks; it
// has no Juneteenth.
var (
	vtTownMeeting = &cal.Holiday{
		Name: "Town Meeting Day", Type: cal.ObservancePublic,
		Month: time.March, Weekday: time.Tuesday, Offset: 1, Func: cal.CalcWeekdayOffset,
	}
	vtBennington = &cal.Holiday{
		Name: "Bennington Battle Day", Type: cal.ObservancePublic,
		Month: time.August, Day: 16, Observed: weekendObserved, Func: cal.CalcDayOfMonth,
	}
)

var calendars = map[string]*Calendar{
	"US":    newCalendar("US", "America/New_York", us.Holidays...),
	"BR":    newCalendar("BR", "America/Sao_Paulo", append(slices.Clone(br.Holidays), consciencia)...),
	"US-VT": newCalendar("US-VT", "America/New_York", vermont()...),
}

func vermont() []*cal.Holiday {
	var hs []*cal.Holiday
	for _, h := range us.Holidays {
		if h != us.Juneteenth {
			hs = append(hs, h)
		}
	}
	return append(hs, vtTownMeeting, vtBennington)
}

func newCalendar(name, zone string, holidays ...*cal.Holiday) *Calendar {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic("rules: time zone " + zone + ": " + err.Error()) // tzdata is embedded: cannot happen
	}
	b := cal.NewBusinessCalendar()
	b.AddHoliday(holidays...)
	return &Calendar{Name: name, Location: loc, business: b}
}

// CalendarNames lists the known calendars.
func CalendarNames() []string {
	names := make([]string, 0, len(calendars))
	for n := range calendars {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsBusinessDay reports whether the local day of t is a working day.
func (c *Calendar) IsBusinessDay(t time.Time) bool {
	return c.business.IsWorkday(t.In(c.Location))
}

// AddBusinessDays returns the instant n business days after start: the same
// local time of day on the n-th working day after start's local day. A start
// on a weekend or holiday counts from the next working day, so the first
// working day after it is day one.
func (c *Calendar) AddBusinessDays(start time.Time, n int) time.Time {
	return c.business.WorkdaysFrom(start.In(c.Location), n).UTC()
}
