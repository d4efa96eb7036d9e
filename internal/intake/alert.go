package intake

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/apperr"
	"github.com/breachctl/breachctl/internal/incident"
)

// delivery is an alert decoded and mapped: the facts to open an incident
// with, and the key it is deduplicated under.
type delivery struct {
	source string   // the actor is "intake:<source>"
	key    [32]byte // hash of the source and the dedup key
	facts  incident.Facts
	// resolved: Alertmanager says every alert of the group is resolved;
	// noted on an open incident, never opens one.
	resolved bool
	alerts   int // how many alerts the request carried
}

// Limits of the incident facts (incident.Facts.Validate), applied here
// where the intake shortens text rather than refusing it.
const (
	maxTitle       = 200
	maxDescription = 20000
)

// alertFields are the fields of POST /intake/v1/alerts.
var alertFields = []string{
	"title", "description", "severity", "detected_at", "aware_at", "occurred_at",
	"systems", "categories", "regions", "source", "dedup_key", "labels",
}

// DefaultSource is the source of an alert that names none.
const DefaultSource = "api"

// parseAlert maps breachctl's own alert JSON to facts:
//
//	title, description, severity     as the facts have them (severity: unassessed, low, medium, high, critical)
//	detected_at, aware_at, occurred_at  RFC 3339; aware_at defaults to when the alert was received, since the
//	                                 legal clock runs from awareness and the alert is the organisation's
//	systems, categories, regions     arrays of strings or comma-separated strings (categories are the facts'
//	                                 data_categories)
//	source                           who sends it, [a-z0-9._-], default "api": the actor is intake:<source>
//	                                 and dedup keys are per source
//	dedup_key                        alerts with the same key and source go to one incident while it is open;
//	                                 without one, the key is derived from the facts (all but a defaulted
//	                                 aware_at) and labels, so an identical alert resent is one incident
//	labels                           an object of strings, appended to the description
//
// Unknown fields are refused, naming the field.
func parseAlert(body []byte, received time.Time, tolerance time.Duration) (delivery, error) {
	o, err := decodeBody(body)
	if err != nil {
		return delivery{}, err
	}
	if err := o.unknown(alertFields...); err != nil {
		return delivery{}, err
	}
	var f incident.Facts
	var sev, source, key string
	for _, s := range []struct {
		name string
		dst  *string
	}{{"title", &f.Title}, {"description", &f.Description}, {"severity", &sev}, {"source", &source}, {"dedup_key", &key}} {
		if *s.dst, err = o.str(s.name); err != nil {
			return delivery{}, err
		}
	}
	if f.Severity, err = incident.ParseSeverity(sev); err != nil {
		return delivery{}, fieldErr("severity", "%s", messageOf(err))
	}
	if source, err = parseSource(source); err != nil {
		return delivery{}, err
	}
	if len(key) > 1024 {
		return delivery{}, fieldErr("dedup_key", "is %d bytes; at most 1024", len(key))
	}
	var detected, aware, occurred time.Time
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"detected_at", &detected}, {"aware_at", &aware}, {"occurred_at", &occurred}} {
		if *t.dst, err = o.time(t.name); err != nil {
			return delivery{}, err
		}
	}
	awareGiven := !aware.IsZero()
	if awareGiven && aware.After(received.Add(tolerance)) {
		return delivery{}, fieldErr("aware_at", "is in the future")
	}
	if !awareGiven {
		aware = received
		if detected.After(received) {
			if detected.After(received.Add(tolerance)) {
				return delivery{}, fieldErr("detected_at", "is in the future")
			}
			aware = detected // the sender's clock is a little ahead of ours
		}
	}
	f.AwareAt = aware
	if !detected.IsZero() {
		f.DetectedAt = &detected
	}
	if !occurred.IsZero() {
		f.OccurredAt = &occurred
	}
	for _, l := range []struct {
		name string
		dst  *[]string
	}{{"systems", &f.Systems}, {"categories", &f.DataCategories}, {"regions", &f.Regions}} {
		values, paths, err := o.list(l.name)
		if err != nil {
			return delivery{}, err
		}
		if err := checkCodes(l.name, values, paths); err != nil {
			return delivery{}, err
		}
		*l.dst = values
	}
	labels, err := o.strMap("labels")
	if err != nil {
		return delivery{}, err
	}
	f.Reporter = "intake:" + source
	f = f.Normalize()
	if err := validateFacts(f, map[string]string{"data_categories": "categories"}); err != nil {
		return delivery{}, err
	}
	if key == "" {
		key = derivedKey(f, awareGiven, labels)
	}
	f.Description = withLabels(f.Description, labels)
	return delivery{source: source, key: keyHash(source, key), facts: f, alerts: 1}, nil
}

// validateFacts validates normalized facts, naming the field as the
// payload calls it (rename maps the facts' names to the payload's).
func validateFacts(f incident.Facts, rename map[string]string) error {
	err := f.Validate()
	if err == nil {
		return nil
	}
	var e *apperr.Error
	if !errors.As(err, &e) || e.Field == "" {
		return fieldErr("body", "%v", err)
	}
	field := e.Field
	if r, ok := rename[field]; ok {
		field = r
	}
	return fieldErr(field, "%s", e.Msg)
}

// parseSource checks a source name; empty is DefaultSource.
func parseSource(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return DefaultSource, nil
	}
	if len(s) > 64 {
		return "", fieldErr("source", "is %d characters; at most 64", len(s))
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", fieldErr("source", "use letters, digits, '-', '_' or '.'")
		}
	}
	return s, nil
}

// derivedKey is the dedup key of an alert that gives none: its facts and
// labels, minus an awareness time that was only the time of receipt.
func derivedKey(f incident.Facts, awareGiven bool, labels map[string]string) string {
	if !awareGiven {
		f.AwareAt = time.Time{}
	}
	b, _ := json.Marshal(struct {
		Facts  incident.Facts    `json:"facts"`
		Labels map[string]string `json:"labels,omitempty"` // encoding/json sorts map keys
	}{f, labels})
	sum := sha256.Sum256(b)
	return "derived:" + string(sum[:])
}

// keyHash is how a dedup key is stored and logged: keys are per source, and
// a key may name a user or a host, so only its hash leaves the request.
func keyHash(source, key string) [32]byte {
	return sha256.Sum256([]byte("breachctl intake v1\x00" + source + "\x00" + key))
}

// withLabels appends labels to a description, within the description's
// limit.
func withLabels(desc string, labels map[string]string) string {
	if len(labels) == 0 {
		return desc
	}
	var b strings.Builder
	b.WriteString(desc)
	if desc != "" {
		b.WriteString("\n\n")
	}
	b.WriteString("Labels:")
	for _, k := range sortedKeys(labels) {
		b.WriteString("\n  " + k + ": " + labels[k])
	}
	return truncate(b.String(), maxDescription)
}
