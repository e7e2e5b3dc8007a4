package queriestest

import (
	"fmt"
	"strings"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
)

// The test world: team-a has four scans and 40 findings; team-b has one
// scan (on an account id team-a uses too) and findings, some of which name
// team-a's scan id s1 in their own team.

// ScanSpec is one scan of the world.
type ScanSpec struct {
	Team, ID, Account, Tool, Status string
	Requested                       time.Duration
}

// FindingSpec is one finding of the world.
type FindingSpec struct {
	Team, ID, Scan, Account, Severity, Status string
	Raised                                    time.Duration
}

// ScanSpecs are the world's scans.
var ScanSpecs = []ScanSpec{
	{"team-a", "s1", "acc-1", "prowler", "completed", 0},
	{"team-a", "s2", "acc-2", "prowler", "running", time.Hour},
	{"team-a", "s3", "acc-1", "scout", "failed", 2 * time.Hour},
	{"team-a", "s4", "acc-1", "scout", "requested", 3 * time.Hour},
	{"team-b", "s9", "acc-1", "prowler", "running", 4 * time.Hour},
}

var severityCycle = []string{"critical", "high", "high", "medium", "low", "informational", "medium"}

// FindingSpecs are the world's findings.
func FindingSpecs() []FindingSpec {
	var out []FindingSpec
	add := func(team, scan, account string, n int) {
		for i := range n {
			status := []string{"open", "open", "resolved", "suppressed"}[i%4]
			out = append(out, FindingSpec{
				Team: team, ID: fmt.Sprintf("%s-%s-f%02d", team, scan, i), Scan: scan, Account: account,
				Severity: severityCycle[i%len(severityCycle)], Status: status,
				// every third finding shares its raised_at with the previous one: the id breaks the tie
				Raised: time.Duration(i-i%3/2) * time.Minute,
			})
		}
	}
	add("team-a", "s1", "acc-1", 28)
	add("team-a", "s2", "acc-2", 12)
	add("team-b", "s9", "acc-1", 9)
	add("team-b", "s1", "acc-1", 3) // team-b's own view of the id s1
	return out
}

// WorldEvents are the world's events, in order.
func WorldEvents() *History {
	h := &History{}
	for _, s := range ScanSpecs {
		h.Add(s.Team, orchdomain.ScanRequested{ScanID: s.ID, AccountID: s.Account, Provider: orchdomain.ProviderAWS, Tool: s.Tool, RequestedAt: At(s.Requested)})
		switch s.Status {
		case "running":
			h.Add(s.Team, orchdomain.ScanStarted{ScanID: s.ID, StartedAt: At(s.Requested + time.Minute)})
		case "completed":
			h.Add(s.Team, orchdomain.ScanStarted{ScanID: s.ID, StartedAt: At(s.Requested + time.Minute)},
				orchdomain.ScanCompleted{ScanID: s.ID, CompletedAt: At(s.Requested + time.Hour), ResourceCount: 10})
		case "failed":
			h.Add(s.Team, orchdomain.ScanFailed{ScanID: s.ID, Reason: "boom", FailedAt: At(s.Requested + time.Minute)})
		}
	}
	for _, f := range FindingSpecs() {
		h.Add(f.Team, RaisedEvent(f))
		switch f.Status {
		case "resolved":
			h.Add(f.Team, csdomain.FindingResolved{FindingID: f.ID, Reason: "fixed", ResolvedAt: At(f.Raised + time.Hour)})
		case "suppressed":
			h.Add(f.Team, csdomain.FindingSuppressed{FindingID: f.ID, Reason: "accepted", SuppressedAt: At(f.Raised + time.Hour)})
		}
	}
	return h
}

// RaisedEvent is the event that raises f.
func RaisedEvent(f FindingSpec) csdomain.FindingRaised {
	return csdomain.FindingRaised{
		FindingID: f.ID, ScanID: f.Scan, AccountID: f.Account, CheckID: "check-" + f.Severity, Title: "title of " + f.ID,
		Severity: csdomain.Severity(f.Severity), ResourceID: "arn:" + f.ID, Region: "eu-west-1", RaisedAt: At(f.Raised),
	}
}

// Counts are the counts of some of the world's findings.
type Counts struct {
	Total      int64
	BySeverity queries.SeverityCounts
	ByStatus   queries.FindingStatusCounts
}

// CountFindings counts the world's findings that match.
func CountFindings(match func(FindingSpec) bool) Counts {
	var c Counts
	for _, f := range FindingSpecs() {
		if !match(f) {
			continue
		}
		c.Total++
		AddSeverity(&c.BySeverity, f.Severity, 1)
		switch f.Status {
		case "open":
			c.ByStatus.Open++
		case "resolved":
			c.ByStatus.Resolved++
		case "suppressed":
			c.ByStatus.Suppressed++
		}
	}
	return c
}

// AddSeverity adds n findings of severity sev to c.
func AddSeverity(c *queries.SeverityCounts, sev string, n int64) {
	switch sev {
	case "critical":
		c.Critical += n
	case "high":
		c.High += n
	case "medium":
		c.Medium += n
	case "low":
		c.Low += n
	case "informational":
		c.Informational += n
	}
}

// ImportPair is the before/after pair of a CloudTrail hardening
// (projectionstest.PairScan1 and PairScan2) imported by alice into team,
// each import with its scan, then bob resolving one of the findings scan 2
// raised. The scans are "scan-1" and "scan-2", the imports "imp-scan-1" and
// "imp-scan-2".
func ImportPair(team string) *History {
	h := &History{}
	for i, imp := range [][]pt.EventData{pt.PairScan1(), pt.PairScan2()} {
		scan := fmt.Sprintf("scan-%d", i+1)
		at := pt.T0.Add(time.Duration(i+1) * time.Hour)
		h.AddAs(team, "alice", csdomain.ImportStarted{ImportID: "imp-" + scan, ScanID: scan, Format: "prowler-ocsf",
			Tool: "prowler", ToolVersion: "5.34.0", ContentHash: strings.Repeat(fmt.Sprint(i+1), 64), Size: 1000, StartedAt: at})
		for _, d := range imp {
			h.AddAs(team, "alice", d)
		}
		h.AddAs(team, "alice", orchdomain.ScanRequested{ScanID: scan, AccountID: pt.PairAccount, Provider: orchdomain.ProviderAWS,
			Tool: "prowler", Target: "import imp-" + scan, RequestedAt: at},
			orchdomain.ScanStarted{ScanID: scan, StartedAt: at},
			orchdomain.ScanCompleted{ScanID: scan, CompletedAt: at, ResourceCount: 4})
	}
	h.AddAs(team, "bob", csdomain.FindingResolved{FindingID: PairFinding(team, "cloudtrail_kms_encryption_enabled", "eu-north-1", pt.RealTrail),
		Reason: "accepted by design", ResolvedAt: pt.T0.Add(3 * time.Hour)})
	return h
}

// PairFinding is the id of a finding of the pair in team.
func PairFinding(team, check, region, resource string) string {
	return pt.Result(check, region, resource, csdomain.ResultFail, csdomain.SeverityLow).Identity(csdomain.IdentityProwlerV1).FindingID(team)
}
