// Package prowler reads Prowler's reports into domain observations
// (cloudsecurity.Observation): one per result Prowler reported, one check
// on one resource in one account and region. It is pure (bytes in,
// observations out; it imports only the standard library, domain and
// github.com/go-json-experiment/json, the decoder that became
// encoding/json/v2) and streaming.
//
// # Formats
//
//   - FormatOCSF, "prowler-ocsf": the json-ocsf output of Prowler 4.x
//     (OCSF 1.1-1.2: class_name "DetectionFinding", event_time, ISO
//     created_time, categories as a string; 4.0 has no event_code) and 5.x
//     (OCSF 1.3-1.5: epoch time and naive time_dt, arrays, unmapped.scan_id,
//     unmapped.provider_uid). Content type application/vnd.prowler.ocsf+json.
//   - FormatNativeJSON, "prowler-json": Prowler 3's json output (CheckID,
//     Status, Severity, AccountId/Subscription/ProjectId, ResourceArn...).
//     Content type application/vnd.prowler.v3+json.
//   - FormatCSV, "prowler-csv": Prowler's csv output, ';'-separated, v3
//     (ASSESSMENT_START_TIME, ACCOUNT_ID, RESOURCE_ARN...) to v5
//     (TIMESTAMP, ACCOUNT_UID, RESOURCE_UID, MUTED...), columns found by
//     header name. Content type text/csv (or application/csv).
//   - FormatASFF, "prowler-asff": Prowler's json-asff output for AWS
//     Security Hub. Content type application/vnd.prowler.asff+json.
//
// ParseFormat also accepts Prowler's own output names (json-ocsf, json,
// csv, json-asff). FormatForContentType maps a Content-Type;
// application/json and untyped bodies are detected.
//
// # Detection
//
// Detect reads the first DetectWindow (64 KiB) bytes. A JSON array is told
// by the keys of its first element, read as a stream (it may be cut): OCSF
// by status_code, finding_info, class_uid... or metadata.event_code; v3 by
// CheckID, FindingUniqueId...; ASFF by GeneratorId, AwsAccountId or
// SchemaVersion "2018-10-08". A CSV is told by its header. An empty array
// is ErrAmbiguousFormat (any JSON format); a JSON object, another tool's
// report, a ','-separated or compliance CSV, and Prowler 3's OCSF
// (1.0.0-rc.3) are ErrUnknownFormat, with the reason.
//
// # Parsing and limits
//
// Parse decodes one JSON array element (a jsontext stream decoded into
// typed structs, accepting what encoding/json accepted: keys in any case,
// duplicate keys, invalid UTF-8), or one CSV record, at a time and
// calls emit for it: memory is bounded by MaxElementBytes (4 MiB, one
// element or record), the read buffers and the Summary's sets
// (MaxDistinctChecks, MaxDistinctAccounts), not by the report's size; it
// never reads a report whole. Identifiers (check, provider, account,
// region, scan id, tool version) longer than MaxIdentifierBytes are an
// error; texts are passed through untruncated.
//
// A report that does not parse is rejected with a *ParseError naming the
// element index (JSON) or line (CSV), the field and why (ErrEmptyReport,
// ErrMalformed, ErrTruncated, ErrTooLarge, ErrMissingField,
// ErrInvalidValue, ErrTooManyDistinct). emit may already have been called
// for earlier elements: the caller rejects the whole report. An empty
// array and a header-only CSV are valid empty reports. Errors of emit and
// of the context are returned as they are; a failure reading the report
// is returned wrapped and is not a *ParseError.
//
// # Normalisation
//
//   - Result from OCSF status_code (never from status/status_id, OCSF's
//     workflow state), v3/CSV STATUS, ASFF Compliance.Status: PASS, FAIL,
//     MANUAL; v3 INFO and ASFF INFOED/NOT_AVAILABLE are manual; v3 and ASFF
//     WARNING (allowlisted or muted, the pass or fail no longer said) is a
//     muted failure, so it never fixes anything.
//   - Muted: OCSF status "Suppressed", CSV MUTED True, ASFF WARNING or
//     Workflow.Status SUPPRESSED. ASFF RecordState ARCHIVED findings are
//     skipped and counted in Summary.Skipped.
//   - Severity lower case (Informational, info, INFORMATIONAL →
//     informational; OCSF severity_id 1-5 when the name is absent); an
//     unknown severity is an error naming it.
//   - Provider lower case, microsoft365 → m365. Region "" when absent; for
//     Kubernetes the namespace ("namespace: kube-system" → kube-system).
//   - Account: cloud.account.uid; for Kubernetes (no cloud object) the
//     cluster from the finding uid (prowler-kubernetes-<check>-<cluster>-
//     namespace: ...), else unmapped.provider_uid; missing → error.
//   - ObservedAt in UTC: OCSF's epoch time when present (time_dt,
//     event_time and CSV TIMESTAMP are the scanning machine's local time
//     without a zone, read as UTC); ASFF UpdatedAt.
//   - Tags from OCSF labels ("key:value", "key: value"; AWS system keys
//     aws:<service>:<name> keep their colons), CSV "k=v | k=v", v3 and ASFF
//     objects. Compliance (framework → requirement ids) from OCSF
//     unmapped.compliance, v3 Compliance, the CSV cell "FW: id, id | FW:
//     id" and ASFF RelatedRequirements "FW id id" (Prowler cut those at 63
//     characters: a possibly partial last id is dropped).
//   - References: remediation and related URLs, in that order, without
//     repeats; remediation code that is not a URL (CLI, Terraform) is
//     appended to Remediation; Prowler's placeholders (ASFF's Security Hub
//     URL, "No command available.") are dropped.
//
// The finding uid Prowler writes is kept in Observation.FindingUID but is
// not an identity: it collides for placeholder resources and changes when
// a finding is fixed (the FAIL is on a synthetic per-region resource, the
// PASS on the real one). See docs/parsers.md.
package prowler
