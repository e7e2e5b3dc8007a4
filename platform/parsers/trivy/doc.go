// Package trivy reads Trivy's JSON reports into domain/vulnerabilities
// values, streaming: it calls back with one Item per vulnerability row,
// package, misconfiguration or secret, and returns a Summary holding the
// scanned artifact and the counts.
//
// Formats (told by the first byte; Detect sniffs a report's head):
//
//   - trivy-json: `trivy image|fs|repo|rootfs --format json`, SchemaVersion
//     2 (Trivy 0.20 and later): {SchemaVersion, CreatedAt, ArtifactName,
//     ArtifactType, Metadata, Results[]}. ArtifactType container_image,
//     filesystem, repository and rootfs are read; vm and SBOM inputs are
//     refused. Another SchemaVersion is refused.
//   - trivy-legacy: before 0.20, an array of results [{Target, Type,
//     Vulnerabilities}] with no Class and no artifact: the Class comes from
//     the Type (an OS family is os-pkgs, anything else lang-pkgs) and the
//     artifact is named from the OS result's target, unpinned.
//
// The artifact (decision 46): an image's identity is its ImageID (the
// config digest: the same for the same image from a registry, a daemon or
// a tarball, one per platform), else its first RepoDigest (older reports),
// else its name (unpinned: vuln.BasisName); RepoTags are labels; the OS
// with its EOSL flag is kept. Redacted values ("" in RepoTags and
// RepoDigests) are dropped. See domain/vulnerabilities.Artifact.
//
// Traps handled:
//   - The same VulnerabilityID once per package (libcrypto1.1 and
//     libssl1.1): one item each; the occurrence identity tells them apart.
//   - FixedVersion lists one version per branch ("11.0.14, 10.1.49,
//     9.0.112"): split, in order. It is absent when there is no fix.
//   - Status (newer reports only) is one of fixed, affected, will_not_fix,
//     fix_deferred, end_of_life, under_investigation, not_affected, unknown;
//     absent is "" (not "unknown"). Severity is upper case, UNKNOWN is a
//     value; VendorSeverity levels are 0-4.
//   - VulnerabilityID is not always a CVE (TEMP-0841856-B18BAF, GHSA-...,
//     distribution ids); VendorIDs become aliases. "cve-" is upper-cased.
//   - CVSS per source with V2/V3/V40 vectors and scores; times with any
//     fraction and any offset, kept in UTC.
//   - A jar's path is in Target (older) or PkgPath with Target "Java"
//     (newer): vuln.Package.Location picks the path either way.
//   - Vulnerabilities, Packages, Misconfigurations, Secrets may be absent
//     or null. license and custom results are counted and skipped.
//   - Secrets: Match and Code (the matched line and the code around it,
//     masked or not) are never decoded: no byte of a secret reaches an
//     Item or the Summary (tested with unmasked values). Misconfigurations'
//     CauseMetadata.Code is not read either.
//   - Key order: Trivy writes Target, Class and Type before the lists; a
//     report whose keys were sorted (jq -S) puts Packages, Misconfigurations
//     and Secrets before Target: their items are held (at most
//     MaxHeldItems) until the result's header is read.
//
// Streaming and limits: the decoder holds one element at a time (a
// vulnerability, package, misconfiguration or secret, or the Metadata),
// at most MaxElementBytes; identifiers at most MaxIdentifierBytes, paths
// MaxPathBytes; MaxResults results, MaxDistinctVulnerabilities ids and
// MaxDistinctPackages packages per report (the Summary's sets). Values the
// parser does not read are skipped token by token, whatever their size.
// A 54 MB report of 36,000 occurrences parses with under 16 MiB of heap
// growth (TestStream_50MBReportInBoundedHeap).
//
// Errors: a report that cannot be read is rejected with a *ParseError
// naming the element's path ("Results[1].Vulnerabilities[17]"), its byte
// offset, the field and the reason (ErrEmptyReport, ErrMalformed,
// ErrTruncated, ErrTooLarge, ErrMissingField, ErrInvalidValue,
// ErrTooManyDistinct). Items may have been emitted before it: the caller
// rejects the whole report. emit's and ctx's errors come back as they are;
// a failure reading the body comes back wrapped and is not a *ParseError.
//
// The package imports the standard library and domain/... only.
package trivy
