package trivy

import (
	"bytes"
)

// Detect tells a Trivy report from its first bytes (64 KiB are plenty):
// an object naming "SchemaVersion" and "Results" or "ArtifactName" is
// FormatJSON; an array whose first element names "Target" and
// "Vulnerabilities", "Type" or "Class" is FormatLegacy. ok is false
// otherwise (another tool's report, a Trivy SARIF, CycloneDX or table
// output). It is a sniff for choosing a parser, not a validation: Parse
// checks the rest.
func Detect(head []byte) (Format, bool) {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(head) == 0 {
		return "", false
	}
	has := func(key string) bool { return bytes.Contains(head, []byte(`"`+key+`"`)) }
	switch head[0] {
	case '{':
		if has("SchemaVersion") && (has("Results") || has("ArtifactName")) && !has("$schema") && !has("bomFormat") {
			return FormatJSON, true
		}
	case '[':
		rest := bytes.TrimLeft(head[1:], " \t\r\n")
		if len(rest) > 0 && rest[0] == '{' && has("Target") && (has("Vulnerabilities") || has("Type") || has("Class")) {
			return FormatLegacy, true
		}
	}
	return "", false
}
