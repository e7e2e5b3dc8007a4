package prowler

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// csvColumn names one field of an observation and the header names Prowler
// gave it over versions, in order of preference (v4/v5 first, then v3).
type csvColumn int

const (
	colCheck csvColumn = iota
	colStatus
	colMuted
	colSeverity
	colProvider
	colAccount
	colAccountName
	colOrganization
	colAccountTags
	colRegion
	colResourceUID
	colResourceArn
	colResourceID
	colResourceName
	colResourceType
	colResourceTags
	colTime
	colFindingUID
	colVersion
	colCheckTitle
	colService
	colStatusDetail
	colDescription
	colRisk
	colRelatedURL
	colRemediationText
	colRemediationURL
	colCodeNativeIaC
	colCodeTerraform
	colCodeCLI
	colCodeOther
	colCompliance
	colCategories
	colAdditionalURLs
	numColumns
)

var csvHeaderNames = [numColumns][]string{
	colCheck:           {"CHECK_ID"},
	colStatus:          {"STATUS"},
	colMuted:           {"MUTED"},
	colSeverity:        {"SEVERITY"},
	colProvider:        {"PROVIDER"},
	colAccount:         {"ACCOUNT_UID", "ACCOUNT_ID", "SUBSCRIPTION", "PROJECT_ID"},
	colAccountName:     {"ACCOUNT_NAME"},
	colOrganization:    {"ACCOUNT_ORGANIZATION_UID", "ACCOUNT_ORGANIZATION_NAME", "ACCOUNT_ORGANIZATION", "ACCOUNT_ORG", "TENANT_DOMAIN"},
	colAccountTags:     {"ACCOUNT_TAGS"},
	colRegion:          {"REGION", "LOCATION"},
	colResourceUID:     {"RESOURCE_UID"},
	colResourceArn:     {"RESOURCE_ARN"},
	colResourceID:      {"RESOURCE_ID"},
	colResourceName:    {"RESOURCE_NAME"},
	colResourceType:    {"RESOURCE_TYPE"},
	colResourceTags:    {"RESOURCE_TAGS"},
	colTime:            {"TIMESTAMP", "ASSESSMENT_START_TIME"},
	colFindingUID:      {"FINDING_UID", "FINDING_UNIQUE_ID"},
	colVersion:         {"PROWLER_VERSION"},
	colCheckTitle:      {"CHECK_TITLE"},
	colService:         {"SERVICE_NAME"},
	colStatusDetail:    {"STATUS_EXTENDED"},
	colDescription:     {"DESCRIPTION"},
	colRisk:            {"RISK"},
	colRelatedURL:      {"RELATED_URL"},
	colRemediationText: {"REMEDIATION_RECOMMENDATION_TEXT"},
	colRemediationURL:  {"REMEDIATION_RECOMMENDATION_URL"},
	colCodeNativeIaC:   {"REMEDIATION_CODE_NATIVEIAC", "REMEDIATION_RECOMMENDATION_CODE_NATIVEIAC"},
	colCodeTerraform:   {"REMEDIATION_CODE_TERRAFORM", "REMEDIATION_RECOMMENDATION_CODE_TERRAFORM"},
	colCodeCLI:         {"REMEDIATION_CODE_CLI", "REMEDIATION_RECOMMENDATION_CODE_CLI"},
	colCodeOther:       {"REMEDIATION_CODE_OTHER", "REMEDIATION_RECOMMENDATION_CODE_OTHER"},
	colCompliance:      {"COMPLIANCE"},
	colCategories:      {"CATEGORIES"},
	colAdditionalURLs:  {"ADDITIONAL_URLS"},
}

// csvLayout is where each column is in a report: indexes per header name
// in order of preference (several for the account, whose column depends on
// the provider in v3), nil when the report has none.
type csvLayout [numColumns][]int

// readCSVHeader maps a header row. It must name the columns every
// observation needs (check, status, provider, account, time).
func readCSVHeader(header []string) (csvLayout, error) {
	var l csvLayout
	pos := map[string]int{}
	for i, h := range header {
		name := strings.ToUpper(strings.TrimSpace(h))
		if _, dup := pos[name]; !dup {
			pos[name] = i
		}
	}
	for col, names := range csvHeaderNames {
		for _, n := range names {
			if i, ok := pos[n]; ok {
				l[col] = append(l[col], i)
			}
		}
	}
	if _, ok := pos["REQUIREMENTS_ID"]; ok {
		return l, fmt.Errorf("%w: a Prowler compliance report (REQUIREMENTS_ID column), not the findings CSV", ErrMalformed)
	}
	var absent []string
	for _, col := range []csvColumn{colCheck, colStatus, colProvider, colAccount, colTime} {
		if l[col] == nil {
			absent = append(absent, strings.Join(csvHeaderNames[col], " or "))
		}
	}
	if len(absent) > 0 {
		return l, fmt.Errorf("%w: not a Prowler findings CSV: the header has no %s column", ErrMalformed, strings.Join(absent, ", no "))
	}
	return l, nil
}

// get returns the first non-empty cell among the column's header names.
func (l *csvLayout) get(rec []string, col csvColumn) string {
	for _, i := range l[col] {
		if v := strings.TrimSpace(rec[i]); v != "" {
			return v
		}
	}
	return ""
}

// raw returns the column's cell untrimmed ("" when absent), for texts.
func (l *csvLayout) raw(rec []string, col csvColumn) string {
	for _, i := range l[col] {
		if rec[i] != "" {
			return rec[i]
		}
	}
	return ""
}

func (l *csvLayout) name(col csvColumn) string { return csvHeaderNames[col][0] }

// parseCSV streams a ';'-separated Prowler CSV, one record at a time
// (csv.Reader with ReuseRecord); each record is bounded by MaxElementBytes.
func (p *parser) parseCSV() error {
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
	cr.FieldsPerRecord = 0 // the header's

	header, err := cr.Read()
	if err != nil {
		return p.csvError(cr, newlines, base, err)
	}
	layout, err := readCSVHeader(header)
	if err != nil {
		if len(header) == 1 && strings.Count(header[0], ",") > 2 {
			err = fmt.Errorf("%w: the header is ','-separated; Prowler writes ';'", ErrMalformed)
		}
		return &ParseError{Format: p.format, Element: -1, Line: newlines + 1, Offset: base, Err: err}
	}
	for {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		start := base + cr.InputOffset()
		p.src.limit = start + MaxElementBytes + int64(br.Size()) + 1
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return p.csvError(cr, newlines, start, err)
		}
		line, _ := cr.FieldPos(0)
		line += newlines
		if size := base + cr.InputOffset() - start; size > MaxElementBytes {
			return &ParseError{Format: p.format, Element: -1, Line: line, Offset: start, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, size, MaxElementBytes)}
		}
		obs, err := fromCSV(&layout, rec)
		if err == nil {
			err = p.accept(&obs, "")
		}
		if err != nil {
			return p.elementError(-1, line, start, err)
		}
	}
}

// csvError places an error of csv.Reader.
func (p *parser) csvError(cr *csv.Reader, newlines int, offset int64, err error) error {
	pe := &ParseError{Format: p.format, Element: -1, Offset: offset}
	var perr *csv.ParseError
	switch {
	case errors.Is(err, errPastLimit):
		pe.Err = fmt.Errorf("%w: a record of more than %d bytes", ErrTooLarge, MaxElementBytes)
	case errors.As(err, &perr) && perr.Err != nil && (errors.Is(perr.Err, csv.ErrFieldCount) || errors.Is(perr.Err, csv.ErrQuote) || errors.Is(perr.Err, csv.ErrBareQuote)):
		pe.Line = perr.StartLine + newlines
		if errors.Is(perr.Err, csv.ErrFieldCount) {
			pe.Err = fmt.Errorf("%w: wrong number of fields (the header has %d)", ErrMalformed, cr.FieldsPerRecord)
		} else if errors.Is(perr.Err, csv.ErrQuote) && perr.Line > perr.StartLine {
			pe.Err = fmt.Errorf("%w: %v (a quoted field is not closed: truncated?)", ErrMalformed, perr.Err)
		} else {
			pe.Err = fmt.Errorf("%w: %v", ErrMalformed, perr.Err)
		}
	case err == io.EOF:
		pe.Err = ErrEmptyReport
	default:
		pe.Err = err // reading r failed; classify reports it
	}
	return pe
}

// noCommand is Prowler's placeholder for a check without a CLI remedy.
const noCommand = "No command available."

func fromCSV(l *csvLayout, rec []string) (cloudsecurity.Observation, error) {
	var o cloudsecurity.Observation
	if o.CheckID = l.get(rec, colCheck); o.CheckID == "" {
		return o, missing("CHECK_ID")
	}
	var err error
	if o.Result, o.Muted, err = parseStatus("STATUS", l.get(rec, colStatus)); err != nil {
		return o, err
	}
	if l[colMuted] != nil {
		switch m := strings.ToLower(l.get(rec, colMuted)); m {
		case "true":
			o.Muted = true
		case "false", "":
		default:
			return o, invalid("MUTED", "%q is not True or False", m)
		}
	}
	if o.Severity, err = parseSeverity("SEVERITY", l.get(rec, colSeverity)); err != nil {
		return o, err
	}
	if o.Provider = normProvider(l.get(rec, colProvider)); o.Provider == "" {
		return o, missing("PROVIDER")
	}
	if o.AccountUID = l.get(rec, colAccount); o.AccountUID == "" {
		return o, missing(l.name(colAccount))
	}
	ts := l.get(rec, colTime)
	if ts == "" {
		return o, missing(l.name(colTime))
	}
	if o.ObservedAt, err = parseTime(ts); err != nil {
		return o, wrapField(l.name(colTime), err)
	}
	o.Region = regionFor(o.Provider, l.get(rec, colRegion))
	if o.Provider == "gcp" {
		o.Region = strings.ToLower(o.Region) // v3 LOCATION, like the JSON output
	}
	o.ResourceUID = firstNonEmpty(l.get(rec, colResourceUID), l.get(rec, colResourceArn), l.get(rec, colResourceID))
	o.ResourceName = firstNonEmpty(l.get(rec, colResourceName), l.get(rec, colResourceID))
	o.ResourceType = l.get(rec, colResourceType)
	o.ResourceTags = parseTagCell(l.raw(rec, colResourceTags))
	o.AccountName = l.get(rec, colAccountName)
	o.Organization = l.get(rec, colOrganization)
	o.AccountTags = parseTagCell(l.raw(rec, colAccountTags)) // "key=value | key=value", as RESOURCE_TAGS
	o.ToolVersion = l.get(rec, colVersion)
	o.FindingUID = l.get(rec, colFindingUID)
	o.CheckTitle = l.raw(rec, colCheckTitle)
	o.Service = l.get(rec, colService)
	o.StatusDetail = l.raw(rec, colStatusDetail)
	o.Description = l.raw(rec, colDescription)
	o.Risk = l.raw(rec, colRisk)
	o.Compliance = parseComplianceCell(l.raw(rec, colCompliance))
	o.Categories = splitList(l.raw(rec, colCategories))

	var tx texts
	tx.remediationText(l.raw(rec, colRemediationText))
	tx.reference(l.raw(rec, colRemediationURL))
	for _, col := range []csvColumn{colCodeNativeIaC, colCodeTerraform, colCodeCLI, colCodeOther} {
		if code := l.raw(rec, col); strings.TrimSpace(code) != noCommand {
			tx.reference(code)
		}
	}
	tx.url(l.raw(rec, colRelatedURL))
	for _, u := range splitList(l.raw(rec, colAdditionalURLs)) {
		tx.url(u)
	}
	o.Remediation, o.References = tx.remediation.String(), tx.refs
	return o, nil
}
