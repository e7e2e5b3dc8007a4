package prowler

import (
	"errors"
	"fmt"
	"mime"
	"strings"
)

// Format is one of the Prowler report formats this package reads.
type Format string

const (
	// FormatOCSF is Prowler's `json-ocsf` output, v4.x (OCSF 1.1–1.2) and
	// v5.x (OCSF 1.3–1.5): a JSON array of OCSF Detection Findings.
	FormatOCSF Format = "prowler-ocsf"
	// FormatNativeJSON is Prowler 3's `json` output: a JSON array of
	// objects with CheckID, Status, Severity, AccountId, Region...
	FormatNativeJSON Format = "prowler-json"
	// FormatCSV is Prowler's `csv` output, v3 to v5: ';'-separated with a
	// header row, columns found by name.
	FormatCSV Format = "prowler-csv"
	// FormatASFF is Prowler's `json-asff` output: a JSON array of AWS
	// Security Finding Format findings, as Prowler writes them for
	// Security Hub.
	FormatASFF Format = "prowler-asff"
)

// Formats lists every format, in the order Detect reports them.
var Formats = []Format{FormatOCSF, FormatNativeJSON, FormatCSV, FormatASFF, FormatComplianceCSV}

// Tool is the scanner name every observation carries.
const Tool = "prowler"

// Content types that name one format. Plain JSON types (application/json,
// text/json), application/octet-stream, text/plain and an absent type name
// none: the caller detects the format (Detect).
const (
	ContentTypeOCSF       = "application/vnd.prowler.ocsf+json"
	ContentTypeNativeJSON = "application/vnd.prowler.v3+json"
	ContentTypeASFF       = "application/vnd.prowler.asff+json"
	ContentTypeCSV        = "text/csv"
	// ContentTypeComplianceCSV names Prowler's compliance CSV (ours: a
	// compliance report is text/csv too, told from a findings CSV by its
	// REQUIREMENTS_ID column when detected).
	ContentTypeComplianceCSV = "application/vnd.prowler.compliance+csv"
)

var contentTypes = map[string]Format{
	ContentTypeOCSF:          FormatOCSF,
	ContentTypeNativeJSON:    FormatNativeJSON,
	ContentTypeASFF:          FormatASFF,
	ContentTypeCSV:           FormatCSV,
	"application/csv":        FormatCSV,
	ContentTypeComplianceCSV: FormatComplianceCSV,
}

var detectedContentTypes = map[string]bool{
	"":                         true,
	"application/json":         true,
	"text/json":                true,
	"application/octet-stream": true,
	"text/plain":               true,
}

// ErrUnsupportedContentType is returned by FormatForContentType for a
// media type that is neither a format's nor one to detect from.
var ErrUnsupportedContentType = errors.New("unsupported content type")

// ContentTypes returns the media types that name f (the first is the
// canonical one).
func (f Format) ContentTypes() []string {
	switch f {
	case FormatOCSF:
		return []string{ContentTypeOCSF}
	case FormatNativeJSON:
		return []string{ContentTypeNativeJSON}
	case FormatASFF:
		return []string{ContentTypeASFF}
	case FormatCSV:
		return []string{ContentTypeCSV, "application/csv"}
	case FormatComplianceCSV:
		return []string{ContentTypeComplianceCSV}
	}
	return nil
}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool {
	for _, known := range Formats {
		if f == known {
			return true
		}
	}
	return false
}

func (f Format) String() string { return string(f) }

// FormatForContentType maps a Content-Type header value to a format.
// It returns ("", nil) when the type does not decide the format and the
// caller should Detect it (application/json, text/plain,
// application/octet-stream, no type), and ErrUnsupportedContentType for any
// other type. Parameters (charset...) are ignored.
func FormatForContentType(contentType string) (Format, error) {
	mediaType := ""
	if strings.TrimSpace(contentType) != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrUnsupportedContentType, contentType, err)
		}
		mediaType = mt
	}
	if f, ok := contentTypes[mediaType]; ok {
		return f, nil
	}
	if detectedContentTypes[mediaType] {
		return "", nil
	}
	return "", fmt.Errorf("%w: %q (accepted: %s, %s, %s, %s, or application/json to detect)",
		ErrUnsupportedContentType, mediaType, ContentTypeOCSF, ContentTypeNativeJSON, ContentTypeCSV, ContentTypeASFF)
}

// ErrUnknownFormatName is returned by ParseFormat for a name it does not know.
var ErrUnknownFormatName = errors.New("unknown format")

var formatAliases = map[string]Format{
	"prowler-ocsf": FormatOCSF,
	"ocsf":         FormatOCSF,
	"json-ocsf":    FormatOCSF, // Prowler's own output mode name
	"prowler-json": FormatNativeJSON,
	"json":         FormatNativeJSON, // Prowler 3's output mode name
	"prowler-csv":  FormatCSV,
	"csv":          FormatCSV,
	"prowler-asff": FormatASFF,
	"asff":         FormatASFF,
	"json-asff":    FormatASFF, // Prowler's own output mode name
	// Prowler's compliance reports (compliance_csv.go).
	"prowler-compliance-csv": FormatComplianceCSV,
	"compliance-csv":         FormatComplianceCSV,
}

// ParseFormat maps a format name (a ?format= or --format value) to a
// Format. It accepts the Format names and Prowler's own output mode names
// (json-ocsf, json, csv, json-asff), in any case.
func ParseFormat(name string) (Format, error) {
	if f, ok := formatAliases[strings.ToLower(strings.TrimSpace(name))]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%w %q (known: prowler-ocsf, prowler-json, prowler-csv, prowler-asff, prowler-compliance-csv)", ErrUnknownFormatName, name)
}
