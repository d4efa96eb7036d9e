package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

var fuzzReceived = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// checkParsed holds a parser to its contract on any input: an error is a
// FieldError naming a field; anything accepted is facts an incident can be
// opened with.
func checkParsed(t *testing.T, d delivery, err error) {
	t.Helper()
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field == "" || fe.Msg == "" {
			t.Fatalf("error %v (%T) does not name a field", err, err)
		}
		return
	}
	if err := d.facts.Normalize().Validate(); err != nil {
		t.Fatalf("accepted facts do not validate: %v\n%+v", err, d.facts)
	}
	if d.facts.AwareAt.After(fuzzReceived.Add(DefaultTolerance)) {
		t.Fatalf("aware_at %s is in the future", d.facts.AwareAt)
	}
	if d.key == ([32]byte{}) || d.source == "" {
		t.Fatalf("no key or source: %+v", d)
	}
}

func FuzzIntakeAlert(f *testing.F) {
	for _, s := range []string{
		`{"title": "Unusual export", "severity": "high", "categories": ["email"], "regions": "DE,FR", "systems": ["crm"], "source": "siem", "dedup_key": "r42"}`,
		`{"title": "t", "detected_at": "2026-11-23T11:00:00Z", "aware_at": "2026-11-23T11:30:00+01:00", "occurred_at": "2026-11-22T00:00:00Z"}`,
		`{"title": "t", "labels": {"rule": "R1", "host": "h"}, "description": "d"}`,
		`{"title": "t", "detected_at": "2026-11-23T12:03:00Z"}`,
		`{"title": "t", "categories": "email,,name", "regions": ["eu", "us-ca"]}`,
		`{"title": null, "severity": null}`,
		`{"title": "t", "title": "u"}`,
		`[]`, `null`, `{`, `{"title": "\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseAlert(body, fuzzReceived, DefaultTolerance)
		checkParsed(t, d, err)
	})
}

func FuzzAlertmanager(f *testing.F) {
	for _, s := range []string{
		`{"version": "4", "groupKey": "{}:{alertname=\"A\"}", "status": "firing", "receiver": "breachctl",
		  "groupLabels": {"alertname": "A"}, "commonLabels": {"alertname": "A"}, "commonAnnotations": {"summary": "s"},
		  "externalURL": "http://am:9093", "truncatedAlerts": 0,
		  "alerts": [{"status": "firing", "labels": {"alertname": "A", "severity": "critical", "breachctl_categories": "email",
		    "breachctl_regions": "EU", "breachctl_systems": "crm"}, "annotations": {"summary": "s", "description": "d"},
		    "startsAt": "2026-11-23T11:00:00.5Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://p", "fingerprint": "f1"}]}`,
		`{"version": "4", "status": "resolved", "groupKey": "g", "alerts": [{"status": "resolved", "labels": {"breachctl_severity": "low"}}]}`,
		`{"status": "firing", "alerts": [{"status": "firing", "fingerprint": "a"}, {"status": "resolved", "fingerprint": "b"}]}`,
		`{"status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "startsAt": "2026-11-23T12:04:59Z"}]}`,
		`{"status": "firing", "groupKey": "g", "commonLabels": {"breachctl_dedup_key": "k"}, "alerts": [{"status": "firing", "annotations": {"breachctl_regions": "DE,XX"}}]}`,
		`{"status": "firing", "groupKey": "g", "alerts": [{"status": "firing", "labels": {"severity": "sev9"}}]}`,
		`{"status": "firing", "groupKey": "g", "alerts": [null]}`,
		`{"status": "firing", "groupKey": "g", "alerts": []}`, `"x"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseAlertmanager(body, fuzzReceived, DefaultTolerance)
		checkParsed(t, d, err)
	})
}

// FuzzSignatureHeader: any header either verifies or is refused as
// unauthorized, never panics.
func FuzzSignatureHeader(f *testing.F) {
	body := []byte(`{"title":"t"}`)
	f.Add(Sign(secret, fuzzReceived, body))
	f.Add("t=,v1=")
	f.Add("v1=zz,t=1,t=2,v1=" + string(make([]byte, 64)))
	f.Fuzz(func(t *testing.T, header string) {
		_, err := verifySignature(header, body, []string{secret}, fuzzReceived, DefaultTolerance)
		var ue *errUnauthorized
		if err != nil && !errors.As(err, &ue) {
			t.Fatalf("error %v is not unauthorized", err)
		}
	})
}

// FuzzDuplicateKey: on any body, duplicateKey either finds nothing or names
// a field path; a valid object it finds nothing in, given one of its own
// names again in front, is refused naming that name; and whatever it
// refuses, the parsers refuse too (no duplicate slips past the decoder).
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{
		`{"title": "t", "title": "u"}`,
		`{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}`,
		`{"alerts": [{}, {"labels": {"x": "1", "x": "2"}}]}`,
		`{"a b": 1, "a\u0020b": 2}`,
		`[{"a": 1}, {"a": 1}]`,
		`{"title": "t", "labels": {"rule": "r"}}`,
		`{"": 1, "": 2}`, `{`, `[[[`, `{"a":}`, `"x"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := duplicateKey(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v does not name a field", err)
			}
			if _, perr := parseAlert(body, fuzzReceived, DefaultTolerance); perr == nil {
				t.Fatalf("parseAlert takes a body with %s given twice", fe.Field)
			}
			if _, perr := parseAlertmanager(body, fuzzReceived, DefaultTolerance); perr == nil {
				t.Fatalf("parseAlertmanager takes a body with %s given twice", fe.Field)
			}
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) != nil || len(top) == 0 {
			return
		}
		name := sortedKeys(top)[0]
		k, _ := json.Marshal(name)
		i := bytes.IndexByte(body, '{')
		again := slices.Concat(body[:i+1], k, []byte(`: null, `), body[i+1:])
		var fe *FieldError
		if err := duplicateKey(again); !errors.As(err, &fe) || fe.Field != quoteKey(name) {
			t.Fatalf("%q given twice at the top: %v, want it named %s", name, err, quoteKey(name))
		}
	})
}
