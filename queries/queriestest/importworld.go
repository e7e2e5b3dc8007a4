package queriestest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/projections"
)

// ImportWorld is a team's imported findings at scale: Accounts AWS
// accounts, each scanned twice by Prowler a day apart (one import and one
// scan run per account and day, as Prowler scans one account per run).
// Each account has Regions × Checks scopes (default 10 × 50) of
// ImportResources resources each (10,000 finding identities by default);
// every scope changes the same way between the scans:
//
//   - resources 0..17 fail in scan 1; 1..17 fail again in scan 2
//     (unchanged);
//   - resource 0 is fixed by scan 2: reported passing (checks of even
//     index) or not reported at all (odd);
//   - resources 18 and 19 pass in scan 1 and fail in scan 2 (new).
//
// So, by default, each account's scan 2 has 500 fixed, 1,000 new and
// 8,500 unchanged findings, and the team has 10,000 findings per account:
// 9,500 open, 500 fixed.
type ImportWorld struct {
	Team     string
	Accounts int
	// Regions (at most 10) and Checks of each account; 0: 10 and 50.
	Regions, Checks int
	// ChunkResults is the results of one ResultsRecorded (default 250:
	// about the 192 KiB an import puts in one).
	ChunkResults int
}

// ImportResources is the resources of each scope of an ImportWorld.
const ImportResources = 20

func (w ImportWorld) shape() (regions, checks int) {
	regions, checks = w.Regions, w.Checks
	if regions <= 0 || regions > len(importRegions) {
		regions = len(importRegions)
	}
	if checks <= 0 {
		checks = 50
	}
	return regions, checks
}

// FindingsPerAccount is the findings of each account.
func (w ImportWorld) FindingsPerAccount() int {
	regions, checks := w.shape()
	return regions * checks * ImportResources
}

// Scopes is the regions × checks of each account.
func (w ImportWorld) Scopes() int {
	regions, checks := w.shape()
	return regions * checks
}

// ImportScan1 is when the first scans ran (account a's at ImportScan1 + a
// seconds); the second ran a day later.
var ImportScan1 = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

var importRegions = []string{"us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-1",
	"eu-north-1", "us-east-2", "us-west-1", "eu-west-2", "ap-northeast-1"}

var importSeverities = []csdomain.Severity{csdomain.SeverityCritical, csdomain.SeverityHigh, csdomain.SeverityMedium,
	csdomain.SeverityMedium, csdomain.SeverityLow, csdomain.SeverityInformational}

// ImportAccount is the id of account a.
func ImportAccount(a int) string { return fmt.Sprintf("%012d", 210000000000+a) }

// ImportScanID is the scan run of account a's scan (1 or 2).
func (w ImportWorld) ImportScanID(a, scan int) string {
	return fmt.Sprintf("%s-acct-%04d-scan-%d", w.Team, a, scan)
}

// ImportCheck is check c's id.
func ImportCheck(c int) string { return fmt.Sprintf("bench_check_%02d_enabled", c) }

// ImportCheckSeverity is check c's severity.
func ImportCheckSeverity(c int) csdomain.Severity { return importSeverities[c%len(importSeverities)] }

// ImportResult is the result of resource r of region g and check c of
// account a, as scan (1 or 2) reports it; ok is false when the scan does
// not report it.
func ImportResult(a, g, c, r, scan int, at time.Time) (res csdomain.CheckResult, ok bool) {
	result := csdomain.ResultFail
	switch {
	case scan == 1 && r >= 18, scan == 2 && r == 0:
		result = csdomain.ResultPass
	}
	if scan == 2 && r == 0 && c%2 == 1 {
		return csdomain.CheckResult{}, false
	}
	region, check := importRegions[g], ImportCheck(c)
	name := fmt.Sprintf("res-%s-%02d-%02d", region, c, r)
	return csdomain.CheckResult{
		Provider: "aws", Account: ImportAccount(a), Region: region, Check: check,
		Resource:     fmt.Sprintf("arn:aws:bench:%s:%s:resource/%s", region, ImportAccount(a), name),
		ResourceName: name, ResourceType: "AwsBenchResource",
		Tags:   map[string]string{"env": []string{"prod", "staging", "dev"}[r%3]},
		Result: result, Severity: ImportCheckSeverity(c), Muted: result == csdomain.ResultFail && r == 17 && c%10 == 0,
		Detail:     fmt.Sprintf("Resource %s of %s does not meet %s.", name, region, check),
		ToolUID:    fmt.Sprintf("prowler-aws-%s-%s-%s-%s", check, ImportAccount(a), region, name),
		ObservedAt: at,
	}, true
}

// ImportFindingID is the id of the finding of resource r of region g and
// check c of account a.
func (w ImportWorld) ImportFindingID(a, g, c, r int) string {
	res, _ := ImportResult(a, g, c, r, 1, ImportScan1)
	return res.Identity(csdomain.IdentityProwlerV1).FindingID(w.Team)
}

// ImportScanAt is when account a's scan (1 or 2) ran.
func ImportScanAt(a, scan int) time.Time {
	return ImportScan1.Add(time.Duration(scan-1)*24*time.Hour + time.Duration(a)*time.Second)
}

// Chunks yields the world's events one account at a time (both its
// scans), numbered from position first on, recorded by actor "importer".
func (w ImportWorld) Chunks(first int64) iter.Seq[[]projections.Event] {
	chunk := w.ChunkResults
	if chunk <= 0 {
		chunk = 250
	}
	return func(yield func([]projections.Event) bool) {
		pos := first
		for a := range w.Accounts {
			var out []projections.Event
			add := func(data ...EventData) {
				for _, d := range data {
					out = append(out, projections.Event{RecordedEvent: eventstore.RecordedEvent{
						EventID: fmt.Sprintf("ev-%d", pos), Type: d.EventType(), Position: pos,
						Metadata:   eventstore.Metadata{TeamID: w.Team, Actor: "importer"},
						RecordedAt: T0.Add(time.Duration(pos) * time.Millisecond),
					}, Data: d})
					pos++
				}
			}
			for scan := 1; scan <= 2; scan++ {
				w.addImport(add, a, scan, chunk)
			}
			if !yield(out) {
				return
			}
		}
	}
}

// addImport adds one import of account a's scan with its scan run's events.
func (w ImportWorld) addImport(add func(...EventData), a, scan, chunk int) {
	at := ImportScanAt(a, scan)
	scanID := w.ImportScanID(a, scan)
	sum := sha256.Sum256([]byte(scanID))
	importID := "imp-" + scanID
	add(csdomain.ImportStarted{ImportID: importID, ScanID: scanID, Format: "prowler-ocsf", Tool: "prowler",
		ToolVersion: "5.34.0", ContentHash: hex.EncodeToString(sum[:]), Size: 57_000_000, FileName: scanID + ".ocsf.json", StartedAt: at})
	nRegions, nChecks := w.shape()
	checks := make([]csdomain.CheckInfo, nChecks)
	for c := range checks {
		checks[c] = csdomain.CheckInfo{CheckID: ImportCheck(c), Title: fmt.Sprintf("Bench check %d is enabled", c),
			Service: "bench", Severity: ImportCheckSeverity(c), Description: "A check of the benchmark world.",
			Compliance: map[string][]string{"CIS-5.0": {fmt.Sprintf("%d.%d", c/10+1, c%10)}}}
	}
	add(csdomain.ChecksDescribed{ImportID: importID, EvaluatedAt: at, Checks: checks})
	var scope csdomain.ImportScope
	counts := csdomain.ImportCounts{ByResult: map[csdomain.Result]int{}, FailBySev: map[csdomain.Severity]int{},
		Checks: nChecks, Accounts: 1, CheckInfos: 1}
	var results []csdomain.CheckResult
	flush := func() {
		if len(results) > 0 {
			add(csdomain.ResultsRecorded{ImportID: importID, ScanID: scanID, EvaluatedAt: at,
				IdentityRule: csdomain.IdentityProwlerV1, Results: results})
			counts.Chunks++
			results = nil
		}
	}
	for c := range nChecks {
		for g := range nRegions {
			for r := range ImportResources {
				res, ok := ImportResult(a, g, c, r, scan, at)
				if !ok {
					continue
				}
				scope.Add(res)
				counts.Results++
				counts.Resources++
				counts.ByResult[res.Result]++
				if res.Result == csdomain.ResultFail {
					counts.FailBySev[res.Severity]++
					if res.Muted {
						counts.Muted++
					}
				}
				results = append(results, res)
				if len(results) == chunk {
					flush()
				}
			}
		}
	}
	flush()
	add(csdomain.ImportCompleted{ImportID: importID, ScanID: scanID, EvaluatedAt: at, IdentityRule: csdomain.IdentityProwlerV1,
		ObservedFrom: at, ObservedTo: at, Scopes: scope.Scopes(), Counts: counts, CompletedAt: at.Add(time.Minute)},
		orchdomain.ScanRequested{ScanID: scanID, AccountID: ImportAccount(a), Provider: orchdomain.ProviderAWS,
			Tool: "prowler", Target: "import " + importID, RequestedAt: at},
		orchdomain.ScanStarted{ScanID: scanID, StartedAt: at},
		orchdomain.ScanCompleted{ScanID: scanID, CompletedAt: at.Add(time.Minute), ResourceCount: counts.Resources})
}
