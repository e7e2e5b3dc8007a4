package prowler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// normProvider lower-cases a provider and maps Prowler's former names to
// the current ones (microsoft365 became m365 in Prowler 5.x), so findings
// keep their identity across Prowler upgrades.
func normProvider(s string) string {
	p := strings.ToLower(strings.TrimSpace(s))
	if p == "microsoft365" {
		return "m365"
	}
	return p
}

// parseSeverity maps a severity in any of Prowler's casings (OCSF
// "Informational", CSV "low", ASFF "CRITICAL") to the domain's. An absent
// severity is ""; an unknown one is an error naming it.
func parseSeverity(field, s string) (cloudsecurity.Severity, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", nil
	}
	if strings.EqualFold(t, "info") {
		return cloudsecurity.SeverityInformational, nil
	}
	if sev, ok := cloudsecurity.ParseSeverity(t); ok {
		return sev, nil
	}
	return "", invalid(field, "unknown severity %q (want critical, high, medium, low or informational)", s)
}

// ocsfSeverityID maps OCSF severity_id 1-5 (Informational..Critical).
func ocsfSeverityID(id int) (cloudsecurity.Severity, error) {
	switch id {
	case 1:
		return cloudsecurity.SeverityInformational, nil
	case 2:
		return cloudsecurity.SeverityLow, nil
	case 3:
		return cloudsecurity.SeverityMedium, nil
	case 4:
		return cloudsecurity.SeverityHigh, nil
	case 5:
		return cloudsecurity.SeverityCritical, nil
	}
	return "", invalid("severity_id", "unknown severity_id %d (want 1-5)", id)
}

// parseStatus maps Prowler's check status: PASS, FAIL, MANUAL, and the
// Prowler 3 values INFO (a manual check) and WARNING (a result muted by the
// allowlist, whose pass or fail the report no longer says: read as a muted
// failure, so that it never fixes anything).
func parseStatus(field, s string) (res cloudsecurity.Result, muted bool, err error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "PASS":
		return cloudsecurity.ResultPass, false, nil
	case "FAIL":
		return cloudsecurity.ResultFail, false, nil
	case "MANUAL", "INFO":
		return cloudsecurity.ResultManual, false, nil
	case "WARNING":
		return cloudsecurity.ResultFail, true, nil
	case "":
		return "", false, missing(field)
	}
	return "", false, invalid(field, "unknown status %q (want PASS, FAIL or MANUAL)", s)
}

// Times earlier or later than these are not scan times: most likely
// milliseconds read as seconds, or a zero value.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTimeRange(t time.Time, raw string) (time.Time, error) {
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, fmt.Errorf("%w: time %s is outside 2000-2199 (milliseconds where seconds are expected?)", ErrInvalidValue, raw)
	}
	return t.UTC(), nil
}

// epochTime reads Unix seconds (possibly fractional).
func epochTime(sec float64, raw string) (time.Time, error) {
	if math.IsNaN(sec) || math.IsInf(sec, 0) || sec < 0 || sec > float64(maxTime.Unix()) {
		return time.Time{}, fmt.Errorf("%w: time %s is outside 2000-2199 (milliseconds where seconds are expected?)", ErrInvalidValue, raw)
	}
	whole, frac := math.Modf(sec)
	return checkTimeRange(time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3), raw)
}

// timeLayouts are the shapes Prowler writes: ISO 8601 with or without a
// zone, with 'T' or ' ' between date and time (Python's isoformat and
// str(datetime)).
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z0700",
}

// parseTime reads a time string: ISO 8601 with or without zone (a naive
// time is read as UTC: Prowler writes the local time of the machine it ran
// on without saying which zone; UTC is what containers and CI runners
// use), or Unix seconds (--unix-timestamp).
func parseTime(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return time.Time{}, fmt.Errorf("%w: empty time", ErrMissingField)
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return epochTime(f, t)
	}
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, t); err == nil {
			return checkTimeRange(v, strconv.Quote(t))
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a time (want ISO 8601 or Unix seconds)", ErrInvalidValue, s)
}

// kubernetesNamespace turns Prowler's Kubernetes "region"
// ("namespace: kube-system") into the namespace.
func kubernetesNamespace(region string) string {
	r := strings.TrimSpace(region)
	if rest, ok := strings.CutPrefix(r, "namespace:"); ok {
		return strings.TrimSpace(rest)
	}
	return r
}

// regionFor normalises a region: trimmed, "" when absent, and for
// Kubernetes the namespace.
func regionFor(provider, region string) string {
	if provider == "kubernetes" {
		return kubernetesNamespace(region)
	}
	return strings.TrimSpace(region)
}

// clusterFromFindingUID recovers the Kubernetes cluster from Prowler's
// finding uid, prowler-kubernetes-<check>-<cluster>-namespace: <ns>-<name>,
// for reports that carry it nowhere else (OCSF has no cloud object for
// Kubernetes; unmapped.provider_uid exists only in recent 5.x and holds
// the kubeconfig context rather than the cluster).
func clusterFromFindingUID(uid, check string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(uid), "prowler-kubernetes-"+check+"-")
	if !ok {
		return ""
	}
	i := strings.Index(rest, "-namespace:")
	if i <= 0 {
		return ""
	}
	return rest[:i]
}

// checkFromFindingUID recovers the check from prowler-<provider>-<check>-...
// (Prowler 4.0 OCSF has no metadata.event_code; check ids never contain
// '-').
func checkFromFindingUID(uid string) (provider, check string) {
	parts := strings.SplitN(strings.TrimSpace(uid), "-", 4)
	if len(parts) < 4 || parts[0] != "prowler" || parts[1] == "" || parts[2] == "" {
		return "", ""
	}
	return parts[1], parts[2]
}

// serviceFromCheck returns the service a check belongs to: Prowler names
// every check <service>_<what it checks>.
func serviceFromCheck(check string) string {
	if i := strings.IndexByte(check, '_'); i > 0 {
		return check[:i]
	}
	return ""
}

// splitList splits Prowler's " | "-joined list cells; empty items are
// dropped.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, "|") {
		if t := strings.TrimSpace(item); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// parseLabel splits one OCSF resource label. Prowler writes tags as
// "key:value" (5.x) or "key: value" (4.x). AWS system tag keys contain
// colons themselves (aws:cloudformation:stack-name), so a label starting
// with "aws:" keeps its first three colon-separated parts as the key.
func parseLabel(s string) (key, value string) {
	if k, v, ok := strings.Cut(s, ": "); ok && !strings.HasPrefix(s, "aws:") {
		return strings.TrimSpace(k), strings.TrimSpace(v)
	}
	if strings.HasPrefix(s, "aws:") {
		parts := strings.SplitN(s, ":", 4)
		if len(parts) == 4 {
			return parts[0] + ":" + parts[1] + ":" + parts[2], strings.TrimSpace(parts[3])
		}
		return strings.TrimSpace(s), ""
	}
	if k, v, ok := strings.Cut(s, ":"); ok {
		return strings.TrimSpace(k), strings.TrimSpace(v)
	}
	if k, v, ok := strings.Cut(s, "="); ok {
		return strings.TrimSpace(k), strings.TrimSpace(v)
	}
	return strings.TrimSpace(s), ""
}

func labelsToTags(labels []string) map[string]string {
	var tags map[string]string
	for _, l := range labels {
		k, v := parseLabel(l)
		if k == "" {
			continue
		}
		if tags == nil {
			tags = make(map[string]string, len(labels))
		}
		tags[k] = v
	}
	return tags
}

// parseTagCell reads the CSV RESOURCE_TAGS cell: "key=value | key=value".
func parseTagCell(s string) map[string]string {
	var tags map[string]string
	for _, item := range splitList(s) {
		k, v, _ := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if tags == nil {
			tags = map[string]string{}
		}
		tags[k] = strings.TrimSpace(v)
	}
	return tags
}

// compliance builds the framework → requirement ids map, dropping empty
// ids and frameworks and repeated ids.
type compliance map[string][]string

// addAll adds a report's compliance object. A framework seen for the
// first time whose ids are already clean (trimmed, non-empty, no repeats:
// Prowler's always are) keeps the decoded list instead of a copy.
func (c *compliance) addAll(m map[string][]string) {
	for fw, ids := range m {
		if _, seen := (*c)[fw]; !seen && fw != "" && isTrimmed(fw) && cleanIDs(ids) {
			if *c == nil {
				*c = compliance{}
			}
			(*c)[fw] = ids
			continue
		}
		c.add(fw, ids...)
	}
}

func isTrimmed(s string) bool { return strings.TrimSpace(s) == s }

func cleanIDs(ids []string) bool {
	if len(ids) == 0 {
		return false
	}
	for i, id := range ids {
		if id == "" || !isTrimmed(id) {
			return false
		}
		for _, before := range ids[:i] {
			if before == id {
				return false
			}
		}
	}
	return true
}

func (c *compliance) add(framework string, ids ...string) {
	fw := strings.TrimSpace(framework)
	if fw == "" {
		return
	}
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if *c == nil {
			*c = compliance{}
		}
		dup := false
		for _, have := range (*c)[fw] {
			if have == id {
				dup = true
				break
			}
		}
		if !dup {
			(*c)[fw] = append((*c)[fw], id)
		}
	}
}

// parseComplianceCell reads the CSV COMPLIANCE cell:
// "CIS-1.4: 1.20 | KISA-ISMS-P-2023: 2.5.6, 2.6.4".
func parseComplianceCell(s string) map[string][]string {
	var c compliance
	for _, item := range splitList(s) {
		fw, ids, ok := strings.Cut(item, ":")
		if !ok {
			continue
		}
		c.add(fw, strings.Split(ids, ",")...)
	}
	return c
}

// asffRequirementMax is the length at which Prowler cuts an ASFF
// RelatedRequirements item ("FRAMEWORK id id ...": item[0:63] when longer
// than 64 characters).
const asffRequirementMax = 63

// parseASFFRequirements reads Compliance.RelatedRequirements. An item cut
// by Prowler at 63 characters may end in a partial id ("ac-5-c ac"): when an
// item is exactly 63 characters long and does not end in a space, its last
// id is dropped rather than recorded wrong. Ids that contain spaces cannot
// be told apart in this format (each word becomes an id).
func parseASFFRequirements(items []string) map[string][]string {
	var c compliance
	for _, item := range items {
		fields := strings.Fields(item)
		if len(fields) < 2 {
			continue
		}
		ids := fields[1:]
		if len([]rune(item)) == asffRequirementMax && !strings.HasSuffix(item, " ") {
			ids = ids[:len(ids)-1]
		}
		c.add(fields[0], ids...)
	}
	return c
}

// texts gathers the check's remediation and the URLs a report gives:
// references are URLs (remediation first, then related), without
// repetition; remediation code (CLI, Terraform, native IaC snippets) that
// is not a URL is appended to the remediation text, each after a blank
// line.
type texts struct {
	remediation strings.Builder
	refs        []string
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

// url adds every URL in s (one, or several separated by white space);
// anything else is ignored.
func (t *texts) url(s string) {
	for f := range strings.FieldsSeq(s) {
		if !isURL(f) {
			continue
		}
		dup := false
		for _, have := range t.refs {
			if have == f {
				dup = true
				break
			}
		}
		if !dup {
			t.refs = append(t.refs, f)
		}
	}
}

func (t *texts) remediationText(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if t.remediation.Len() > 0 {
		t.remediation.WriteString("\n\n")
	}
	t.remediation.WriteString(s)
}

// reference adds a remediation reference or code snippet: a URL goes to
// the references, anything else to the remediation text.
func (t *texts) reference(s string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
	case isURL(s) && !strings.ContainsAny(s, " \t\n"):
		t.url(s)
	default:
		t.remediationText(s)
	}
}
