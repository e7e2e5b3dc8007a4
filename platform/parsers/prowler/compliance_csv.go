package prowler

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// FormatComplianceCSV is Prowler's own compliance report: one
// ';'-separated CSV per framework (output/compliance/<framework>_<provider>.csv),
// one row per requirement × finding of a check mapped to it (the finding's
// account, region, resource, status), plus one MANUAL row per requirement
// without checks. Its columns are Prowler's compliance models' fields
// upper-cased (prowler/lib/outputs/compliance/*/models.py): PROVIDER,
// DESCRIPTION, ACCOUNTID (SUBSCRIPTIONID, PROJECTID, TENANTID, CONTEXT on
// other providers), REGION (LOCATION, NAMESPACE), ASSESSMENTDATE,
// REQUIREMENTS_ID, REQUIREMENTS_DESCRIPTION, REQUIREMENTS_ATTRIBUTES_*,
// STATUS, STATUSEXTENDED, RESOURCEID, RESOURCENAME, CHECKID, MUTED, and on
// the generic model FRAMEWORK and NAME.
//
// Each finding becomes one observation whose Compliance maps the report's
// framework to the requirements its rows name (rows of one finding are
// adjacent, as Prowler writes them: they are merged). Manual rows (check
// "manual", no account) are not results of a check and are skipped.
const FormatComplianceCSV Format = "prowler-compliance-csv"

type compColumn int

const (
	ccProvider compColumn = iota
	ccAccount
	ccRegion
	ccTime
	ccRequirement
	ccStatus
	ccStatusDetail
	ccResourceID
	ccResourceName
	ccCheck
	ccMuted
	ccFramework
	ccName
	ccDescription
	ccProfile
	numCompColumns
)

var compHeaderNames = [numCompColumns][]string{
	ccProvider:     {"PROVIDER"},
	ccAccount:      {"ACCOUNTID", "ACCOUNT_ID", "SUBSCRIPTIONID", "SUBSCRIPTION", "PROJECTID", "TENANTID", "DOMAIN", "CONTEXT"},
	ccRegion:       {"REGION", "LOCATION", "NAMESPACE"},
	ccTime:         {"ASSESSMENTDATE"},
	ccRequirement:  {"REQUIREMENTS_ID"},
	ccStatus:       {"STATUS"},
	ccStatusDetail: {"STATUSEXTENDED"},
	ccResourceID:   {"RESOURCEID"},
	ccResourceName: {"RESOURCENAME"},
	ccCheck:        {"CHECKID"},
	ccMuted:        {"MUTED"},
	ccFramework:    {"FRAMEWORK"},
	ccName:         {"NAME"},
	ccDescription:  {"DESCRIPTION"},
	ccProfile:      {"REQUIREMENTS_ATTRIBUTES_PROFILE"},
}

type compLayout [numCompColumns]int

func (l *compLayout) get(rec []string, c compColumn) string {
	if i := l[c]; i >= 0 {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// isComplianceHeader tells a compliance report's header row.
func isComplianceHeader(header []string) bool {
	for _, h := range header {
		if strings.ToUpper(strings.TrimSpace(h)) == "REQUIREMENTS_ID" {
			return true
		}
	}
	return false
}

func readComplianceHeader(header []string) (compLayout, error) {
	var l compLayout
	pos := map[string]int{}
	for i, h := range header {
		name := strings.ToUpper(strings.TrimSpace(h))
		if _, dup := pos[name]; !dup {
			pos[name] = i
		}
	}
	var absent []string
	for c, names := range compHeaderNames {
		l[c] = -1
		for _, n := range names {
			if i, ok := pos[n]; ok {
				l[c] = i
				break
			}
		}
		switch compColumn(c) {
		case ccProvider, ccAccount, ccTime, ccRequirement, ccStatus, ccCheck, ccResourceID:
			if l[c] < 0 {
				absent = append(absent, strings.Join(names, " or "))
			}
		}
	}
	if len(absent) > 0 {
		return l, fmt.Errorf("%w: not a Prowler compliance CSV: the header has no %s column", ErrMalformed, strings.Join(absent, ", no "))
	}
	return l, nil
}

var versionIn = regexp.MustCompile(`(?i)\bv?(\d+(?:\.\d+)+)\b`)

// frameworkOf names the report's framework as Prowler's findings name it
// (unmapped.compliance keys: "<Framework>-<Version>", e.g. "NIST-CSF-2.0",
// "CIS-5.0"): FRAMEWORK and the version NAME states; a CIS report (no
// FRAMEWORK column) is "CIS" and the version its DESCRIPTION states, if
// any. "" when the report does not say.
func frameworkOf(l *compLayout, rec []string) string {
	fw, text := l.get(rec, ccFramework), l.get(rec, ccName)
	if fw == "" && l[ccProfile] >= 0 {
		fw, text = "CIS", l.get(rec, ccDescription)
	}
	if fw == "" {
		return ""
	}
	if m := versionIn.FindAllStringSubmatch(text, -1); len(m) > 0 {
		v := m[len(m)-1][1]
		if strings.Count(v, ".") >= 2 && strings.HasSuffix(v, ".0") {
			v = strings.TrimSuffix(v, ".0") // "v1.4.0" is Prowler's version "1.4"; "4.0.1" stays
		}
		return fw + "-" + v
	}
	return fw
}

// parseComplianceCSV streams a compliance report, merging the rows of one
// finding (adjacent) into one observation.
func (p *parser) parseComplianceCSV() error {
	rest, base, newlines, err := p.src.readPrefix()
	if err != nil {
		return err
	}
	if rest[0] == '[' || rest[0] == '{' {
		return &ParseError{Format: p.format, Element: -1, Line: newlines + 1, Offset: base, Err: fmt.Errorf("%w: JSON, not a CSV report", ErrMalformed)}
	}
	p.src.limit = p.src.pos + MaxElementBytes
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), p.src), 64<<10)
	cr := csv.NewReader(br)
	cr.Comma = ';'
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return p.csvError(cr, newlines, base, err)
	}
	layout, err := readComplianceHeader(header)
	if err != nil {
		return &ParseError{Format: p.format, Element: -1, Line: newlines + 1, Offset: base, Err: err}
	}
	var cur *cloudsecurity.Observation
	var curKey string
	var curLine int
	var curStart int64
	flush := func() error {
		if cur == nil {
			return nil
		}
		o := cur
		cur = nil
		if err := p.accept(o, ""); err != nil {
			return p.elementError(-1, curLine, curStart, err)
		}
		return nil
	}
	for {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		start := base + cr.InputOffset()
		p.src.limit = start + MaxElementBytes + int64(br.Size()) + 1
		rec, err := cr.Read()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return p.csvError(cr, newlines, start, err)
		}
		line, _ := cr.FieldPos(0)
		line += newlines
		if size := base + cr.InputOffset() - start; size > MaxElementBytes {
			return &ParseError{Format: p.format, Element: -1, Line: line, Offset: start, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, size, MaxElementBytes)}
		}
		o, fw, req, skip, err := fromComplianceCSV(&layout, rec)
		if err != nil {
			return p.elementError(-1, line, start, err)
		}
		if skip {
			continue
		}
		key := strings.Join([]string{o.AccountUID, o.Region, o.CheckID, o.ResourceUID, string(o.Result), fmt.Sprint(o.Muted)}, "\x00")
		if cur != nil && key == curKey {
			cur.Compliance[fw] = appendNew(cur.Compliance[fw], req)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		o.Compliance = map[string][]string{fw: {req}}
		cur, curKey, curLine, curStart = &o, key, line, start
	}
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// fromComplianceCSV reads one row: the finding it reports, its framework
// and requirement; skip for a manual requirement's row.
func fromComplianceCSV(l *compLayout, rec []string) (o cloudsecurity.Observation, fw, req string, skip bool, err error) {
	o.CheckID = l.get(rec, ccCheck)
	o.AccountUID = l.get(rec, ccAccount)
	if strings.EqualFold(o.CheckID, "manual") || (o.AccountUID == "" && l.get(rec, ccResourceID) == "manual_check") {
		return o, "", "", true, nil
	}
	if o.CheckID == "" {
		return o, "", "", false, missing("CHECKID")
	}
	if req = l.get(rec, ccRequirement); req == "" {
		return o, "", "", false, missing("REQUIREMENTS_ID")
	}
	if fw = frameworkOf(l, rec); fw == "" {
		return o, "", "", false, missing("FRAMEWORK")
	}
	if o.Result, o.Muted, err = parseStatus("STATUS", l.get(rec, ccStatus)); err != nil {
		return o, "", "", false, err
	}
	switch m := strings.ToLower(l.get(rec, ccMuted)); m {
	case "true":
		o.Muted = true
	case "false", "":
	default:
		return o, "", "", false, invalid("MUTED", "%q is not True or False", m)
	}
	if o.Provider = normProvider(l.get(rec, ccProvider)); o.Provider == "" {
		return o, "", "", false, missing("PROVIDER")
	}
	if o.AccountUID == "" {
		return o, "", "", false, missing(compHeaderNames[ccAccount][0])
	}
	ts := l.get(rec, ccTime)
	if ts == "" {
		return o, "", "", false, missing("ASSESSMENTDATE")
	}
	if o.ObservedAt, err = parseTime(ts); err != nil {
		return o, "", "", false, wrapField("ASSESSMENTDATE", err)
	}
	o.Region = regionFor(o.Provider, l.get(rec, ccRegion))
	o.ResourceUID = l.get(rec, ccResourceID)
	o.ResourceName = l.get(rec, ccResourceName)
	if o.ResourceUID == "" {
		return o, "", "", false, missing("RESOURCEID")
	}
	if l[ccStatusDetail] >= 0 {
		o.StatusDetail = rec[l[ccStatusDetail]]
	}
	return o, fw, req, false, nil
}
