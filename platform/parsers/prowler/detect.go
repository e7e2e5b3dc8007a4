package prowler

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DetectWindow is how much of a report Detect reads: give it the first
// DetectWindow bytes (fewer for a shorter report); it ignores the rest.
const DetectWindow = 64 << 10

var (
	// ErrUnknownFormat: the bytes are none of the formats.
	ErrUnknownFormat = errors.New("unknown report format")
	// ErrAmbiguousFormat: the bytes could be several formats (an empty
	// JSON array is any of the JSON formats).
	ErrAmbiguousFormat = errors.New("ambiguous report format")
)

// Keys of the first element that only one JSON format has.
var detectKeys = map[Format][]string{
	FormatOCSF:       {"status_code", "finding_info", "class_uid", "class_name", "type_uid", "severity_id", "category_uid", "activity_id", "metadata.event_code"},
	FormatNativeJSON: {"CheckID", "FindingUniqueId", "AssessmentStartTime", "StatusExtended", "ServiceName"},
	FormatASFF:       {"GeneratorId", "AwsAccountId", "ProductArn", "ProductFields", "SchemaVersion=2018-10-08"},
}

// Detect tells the format of a report from its first bytes. It returns an
// error wrapping ErrEmptyReport (nothing but white space), ErrUnknownFormat
// or ErrAmbiguousFormat, saying why, when it cannot tell.
//
// A JSON report is told by the keys of its first element, read as a stream
// (the element may be cut by the window); a CSV report by its header row.
func Detect(head []byte) (Format, error) {
	if len(head) > DetectWindow {
		head = head[:DetectWindow]
	}
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 {
		return "", ErrEmptyReport
	}
	switch head[0] {
	case '[':
		return detectJSON(head)
	case '{':
		return "", fmt.Errorf("%w: a JSON object; Prowler writes its JSON reports as an array of findings", ErrUnknownFormat)
	}
	return detectCSV(head)
}

func detectJSON(head []byte) (Format, error) {
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return "", fmt.Errorf("%w: not JSON: %v", ErrUnknownFormat, err)
	}
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: a JSON array whose first element cannot be read: %v", ErrUnknownFormat, err)
	}
	if tok == json.Delim(']') {
		return "", fmt.Errorf("%w: an empty JSON array is a report of any JSON format (prowler-ocsf, prowler-json, prowler-asff); name the format", ErrAmbiguousFormat)
	}
	if tok != json.Delim('{') {
		return "", fmt.Errorf("%w: a JSON array of %v, not of objects", ErrUnknownFormat, tok)
	}
	keys := map[string]bool{}
	var order []string
	var classUID json.Number
	// Read the first element's keys, skipping values, until it ends or the
	// window does.
	for {
		tok, err := dec.Token()
		if err != nil || tok == json.Delim('}') {
			break
		}
		key, ok := tok.(string)
		if !ok {
			break
		}
		if !keys[key] {
			keys[key] = true
			order = append(order, key)
		}
		var verr error
		switch key {
		case "class_uid":
			verr = dec.Decode(&classUID)
		case "SchemaVersion": // ASFF's is "2018-10-08"; other tools' differ
			var v any
			if verr = dec.Decode(&v); verr == nil && v == "2018-10-08" {
				keys["SchemaVersion=2018-10-08"] = true
			}
		case "metadata": // OCSF's holds event_code, Prowler's check id
			verr = readKeys(dec, func(k string) {
				if k == "event_code" {
					keys["metadata.event_code"] = true
				}
			})
		default:
			verr = skipValue(dec)
		}
		if verr != nil {
			break // the window ends inside this value
		}
	}
	// Prowler 3.x json-ocsf: OCSF 1.0.0-rc.3 Security Finding, another shape.
	if keys["finding"] && !keys["finding_info"] && !keys["status_code"] && (classUID == "2001" || keys["state_id"]) {
		return "", fmt.Errorf("%w: Prowler 3.x json-ocsf (OCSF 1.0.0-rc.3 Security Finding) is not supported; export Prowler 3's json, csv or json-asff", ErrUnknownFormat)
	}
	var matched []Format
	for _, f := range []Format{FormatOCSF, FormatNativeJSON, FormatASFF} {
		for _, k := range detectKeys[f] {
			if keys[k] {
				matched = append(matched, f)
				break
			}
		}
	}
	switch len(matched) {
	case 1:
		return matched[0], nil
	case 0:
		if len(order) > 8 {
			order = append(order[:8], "...")
		}
		return "", fmt.Errorf("%w: a JSON array whose first element has none of the keys of a Prowler report (keys: %s)", ErrUnknownFormat, strings.Join(order, ", "))
	}
	names := make([]string, len(matched))
	for i, f := range matched {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%w: the first element has keys of %s", ErrAmbiguousFormat, strings.Join(names, " and "))
}

// readKeys consumes one JSON value and reports the keys of its top level
// when it is an object.
func readKeys(dec *json.Decoder, key func(string)) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		if d, ok := tok.(json.Delim); ok && d == '[' {
			return skipRest(dec, 1)
		}
		return nil
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok == json.Delim('}') {
			return nil
		}
		if k, ok := tok.(string); ok {
			key(k)
		}
		if err := skipValue(dec); err != nil {
			return err
		}
	}
}

// skipRest consumes tokens until depth open containers are closed.
func skipRest(dec *json.Decoder, depth int) error {
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// skipValue consumes one JSON value, however nested.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func detectCSV(head []byte) (Format, error) {
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	} else if len(head) >= DetectWindow-3 {
		return "", fmt.Errorf("%w: no line break in the first %d bytes, and not JSON", ErrUnknownFormat, DetectWindow)
	}
	cr := csv.NewReader(bytes.NewReader(line))
	cr.Comma = ';'
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%w: neither JSON nor a ';'-separated header: %v", ErrUnknownFormat, err)
	}
	if isComplianceHeader(header) {
		if _, err := readComplianceHeader(header); err != nil {
			return "", fmt.Errorf("%w: a Prowler compliance report (REQUIREMENTS_ID column) that lacks columns: %s", ErrUnknownFormat, strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
		}
		return FormatComplianceCSV, nil
	}
	if _, err := readCSVHeader(header); err != nil {
		reason := strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": ")
		if len(header) == 1 && strings.Count(header[0], ",") > 2 {
			reason = "a ','-separated header; Prowler's CSV is ';'-separated"
		} else if len(header) < 3 {
			reason = "neither JSON nor a Prowler CSV header"
		}
		return "", fmt.Errorf("%w: %s", ErrUnknownFormat, reason)
	}
	return FormatCSV, nil
}
