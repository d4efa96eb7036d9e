package intake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/incident"
)

// SourceAlertmanager is the source of Alertmanager's webhook: its actor is
// intake:alertmanager.
const SourceAlertmanager = "alertmanager"

// Labels and annotations the Alertmanager mapping reads, beyond the usual
// alertname, severity, summary and description.
const (
	labelSeverity   = "breachctl_severity"   // one of breachctl's severities; wins over severity
	labelSystems    = "breachctl_systems"    // comma-separated
	labelCategories = "breachctl_categories" // comma-separated data categories
	labelRegions    = "breachctl_regions"    // comma-separated regions
	labelDedupKey   = "breachctl_dedup_key"  // in commonLabels: the dedup key instead of groupKey
)

// severityWords maps the severity label values alerting rules commonly
// use to breachctl's severities. Any other value is refused rather than
// guessed, so a rule with an unusual one shows when the receiver is tested;
// breachctl_severity sets the severity outright.
var severityWords = func() map[string]incident.Severity {
	m := map[string]incident.Severity{}
	for sev, words := range map[incident.Severity][]string{
		incident.SeverityCritical:   {"critical", "fatal", "emergency", "page"},
		incident.SeverityHigh:       {"high", "error", "major"},
		incident.SeverityMedium:     {"medium", "warning", "warn", "moderate"},
		incident.SeverityLow:        {"low", "minor", "info", "informational", "notice"},
		incident.SeverityUnassessed: {"none", "unassessed"},
	} {
		for _, w := range words {
			m[w] = sev
		}
	}
	return m
}()

type amAlert struct {
	path         string
	status       string
	labels       map[string]string
	annotations  map[string]string
	startsAt     time.Time
	fingerprint  string
	generatorURL string
}

// parseAlertmanager maps Alertmanager's webhook payload (version 4) to
// facts. One request is one alert group, and one group is one incident:
//
//	dedup key       commonLabels.breachctl_dedup_key, else groupKey, else the alerts' fingerprints
//	title           commonAnnotations.summary, else the first firing alert's summary annotation, else
//	                its alertname label; "(N alerts)" added for a group of several; cut to 200 bytes
//	description     per alert: status, alertname, start, summary, description, labels, generatorURL;
//	                cut to 20,000 bytes
//	severity        the highest of the alerts' breachctl_severity labels (breachctl's names), or else
//	                of their severity labels (critical, high, error, warning, info, ...: severityWords)
//	systems, categories, regions
//	                the union of the alerts' breachctl_systems, breachctl_categories and
//	                breachctl_regions labels and annotations, comma-separated
//	detected_at     the earliest startsAt
//	aware_at        when the request was received (or detected_at, if the sender's clock is ahead)
//
// status "resolved" (every alert resolved) opens nothing: it is noted on
// the group's open incident. Fields breachctl does not read are ignored.
func parseAlertmanager(body []byte, received time.Time, tolerance time.Duration) (delivery, error) {
	o, err := decodeBody(body)
	if err != nil {
		return delivery{}, err
	}
	version, err := o.str("version")
	if err != nil {
		return delivery{}, err
	}
	if version != "" && version != "4" {
		return delivery{}, fieldErr("version", "is %q; breachctl reads version 4 of Alertmanager's webhook payload", version)
	}
	status, err := o.str("status")
	if err != nil {
		return delivery{}, err
	}
	if status != "firing" && status != "resolved" {
		return delivery{}, fieldErr("status", "must be firing or resolved")
	}
	var receiver, groupKey, externalURL string
	for _, s := range []struct {
		name string
		dst  *string
	}{{"receiver", &receiver}, {"groupKey", &groupKey}, {"externalURL", &externalURL}} {
		if *s.dst, err = o.str(s.name); err != nil {
			return delivery{}, err
		}
	}
	common := map[string]map[string]string{}
	for _, name := range []string{"groupLabels", "commonLabels", "commonAnnotations"} {
		if common[name], err = o.strMap(name); err != nil {
			return delivery{}, err
		}
	}
	objs, err := o.objects("alerts")
	if err != nil {
		return delivery{}, err
	}
	if len(objs) == 0 {
		return delivery{}, fieldErr("alerts", "is empty: a notification carries at least one alert")
	}
	alerts := make([]amAlert, len(objs))
	for i, ao := range objs {
		if alerts[i], err = parseAMAlert(ao); err != nil {
			return delivery{}, err
		}
	}

	f := incident.Facts{Reporter: "intake:" + SourceAlertmanager}
	checked := map[string]bool{}
	for _, a := range alerts {
		sev, err := alertSeverity(a)
		if err != nil {
			return delivery{}, err
		}
		if severityRank(sev) > severityRank(f.Severity) {
			f.Severity = sev
		}
		for _, l := range []struct {
			name, kind string
			dst        *[]string
		}{{labelSystems, "systems", &f.Systems}, {labelCategories, "categories", &f.DataCategories}, {labelRegions, "regions", &f.Regions}} {
			for _, src := range []struct {
				m    map[string]string
				path string
			}{{a.labels, a.path + ".labels." + l.name}, {a.annotations, a.path + ".annotations." + l.name}} {
				v, ok := src.m[l.name]
				if !ok {
					continue
				}
				// A group of many alerts repeats the same few values:
				// each is checked once.
				var values, paths []string
				for _, part := range strings.Split(v, ",") {
					if !checked[l.kind+"\x00"+part] {
						checked[l.kind+"\x00"+part] = true
						values, paths = append(values, part), append(paths, src.path)
					}
				}
				if err := checkCodes(l.kind, values, paths); err != nil {
					return delivery{}, err
				}
				*l.dst = append(*l.dst, values...)
			}
		}
	}

	// Firing alerts first, each in the order Alertmanager sent them.
	ordered := slices.Clone(alerts)
	slices.SortStableFunc(ordered, func(a, b amAlert) int {
		return boolRank(a.status != "firing") - boolRank(b.status != "firing")
	})
	f.Title = amTitle(common["commonAnnotations"], common["commonLabels"], ordered)
	f.Description = amDescription(receiver, externalURL, ordered)

	var detected time.Time
	detectedPath := ""
	for _, a := range alerts {
		if !a.startsAt.IsZero() && (detected.IsZero() || a.startsAt.Before(detected)) {
			detected, detectedPath = a.startsAt, a.path+".startsAt"
		}
	}
	f.AwareAt = received
	if !detected.IsZero() {
		if detected.After(received) {
			if detected.After(received.Add(tolerance)) {
				return delivery{}, fieldErr(detectedPath, "is in the future")
			}
			f.AwareAt = detected
		}
		f.DetectedAt = &detected
	}
	f = f.Normalize()
	if err := validateFacts(f, map[string]string{"title": "alerts", "description": "alerts", "detected_at": detectedPath}); err != nil {
		return delivery{}, err
	}

	key := common["commonLabels"][labelDedupKey]
	if key == "" {
		key = groupKey
	}
	if key == "" {
		var prints []string
		for _, a := range alerts {
			if a.fingerprint == "" {
				prints = nil
				break
			}
			prints = append(prints, a.fingerprint)
		}
		slices.Sort(prints)
		key = strings.Join(slices.Compact(prints), ",")
	}
	if key == "" {
		return delivery{}, fieldErr("groupKey", "is required (or a %s common label, or a fingerprint on every alert)", labelDedupKey)
	}
	return delivery{
		source:   SourceAlertmanager,
		key:      keyHash(SourceAlertmanager, key),
		facts:    f,
		resolved: status == "resolved",
		alerts:   len(alerts),
	}, nil
}

func parseAMAlert(o object) (amAlert, error) {
	a := amAlert{path: o.path}
	var err error
	if a.status, err = o.str("status"); err != nil {
		return a, err
	}
	if a.status != "firing" && a.status != "resolved" {
		return a, fieldErr(o.at("status"), "must be firing or resolved")
	}
	if a.labels, err = o.strMap("labels"); err != nil {
		return a, err
	}
	if a.annotations, err = o.strMap("annotations"); err != nil {
		return a, err
	}
	if a.startsAt, err = o.time("startsAt"); err != nil {
		return a, err
	}
	if a.fingerprint, err = o.str("fingerprint"); err != nil {
		return a, err
	}
	if a.generatorURL, err = o.str("generatorURL"); err != nil {
		return a, err
	}
	return a, nil
}

func alertSeverity(a amAlert) (incident.Severity, error) {
	if v, ok := a.labels[labelSeverity]; ok {
		s, err := incident.ParseSeverity(v)
		if err != nil {
			return "", fieldErr(a.path+".labels."+labelSeverity, "%s", messageOf(err))
		}
		return s, nil
	}
	v, ok := a.labels["severity"]
	if !ok || strings.TrimSpace(v) == "" {
		return incident.SeverityUnassessed, nil
	}
	s, ok := severityWords[strings.ToLower(strings.TrimSpace(v))]
	if !ok {
		return "", fieldErr(a.path+".labels.severity",
			"%q is not a severity breachctl knows (critical, high, error, warning, medium, low, info, ...); set %s on the alerting rule",
			truncate(v, 64), labelSeverity)
	}
	return s, nil
}

func severityRank(s incident.Severity) int {
	if s == "" {
		return -1
	}
	return slices.Index(incident.Severities, s)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func amTitle(commonAnnotations, commonLabels map[string]string, ordered []amAlert) string {
	first := ordered[0]
	var title string
	for _, t := range []string{commonAnnotations["summary"], first.annotations["summary"], commonLabels["alertname"], first.labels["alertname"]} {
		if title = oneLine(t); title != "" {
			break
		}
	}
	if title == "" {
		title = "Alertmanager alert"
	}
	suffix := ""
	if len(ordered) > 1 {
		suffix = fmt.Sprintf(" (%d alerts)", len(ordered))
	}
	return truncate(title, maxTitle-len(suffix)) + suffix
}

// amDescription lists the alerts for the person who picks the incident up:
// what fired, since when, and where to look.
func amDescription(receiver, externalURL string, ordered []amAlert) string {
	var b strings.Builder
	firing := 0
	for _, a := range ordered {
		if a.status == "firing" {
			firing++
		}
	}
	fmt.Fprintf(&b, "Alertmanager alert group, %d firing, %d resolved", firing, len(ordered)-firing)
	if receiver != "" {
		fmt.Fprintf(&b, ", receiver %s", receiver)
	}
	if externalURL != "" {
		fmt.Fprintf(&b, " (%s)", externalURL)
	}
	b.WriteString(".\n")
	for _, a := range ordered {
		name := a.labels["alertname"]
		if name == "" {
			name = "alert"
		}
		fmt.Fprintf(&b, "\n- [%s] %s", a.status, oneLine(name))
		if !a.startsAt.IsZero() {
			fmt.Fprintf(&b, " since %s", a.startsAt.UTC().Format(time.RFC3339))
		}
		if s := oneLine(a.annotations["summary"]); s != "" {
			b.WriteString(": " + s)
		}
		if d := strings.TrimSpace(a.annotations["description"]); d != "" {
			b.WriteString("\n  " + strings.ReplaceAll(d, "\n", "\n  "))
		}
		var labels []string
		for _, k := range sortedKeys(a.labels) {
			if k != "alertname" && !strings.HasPrefix(k, "breachctl_") {
				labels = append(labels, k+"="+a.labels[k])
			}
		}
		if len(labels) > 0 {
			b.WriteString("\n  labels: " + strings.Join(labels, ", "))
		}
		if a.generatorURL != "" {
			b.WriteString("\n  " + a.generatorURL)
		}
		if b.Len() > maxDescription {
			break
		}
	}
	return truncate(b.String(), maxDescription)
}
