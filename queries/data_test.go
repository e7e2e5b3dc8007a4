package queries_test

import (
	"fmt"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// The test world: team-a has four scans and 40 findings; team-b has one
// scan (on an account id team-a uses too) and findings, some of which name
// team-a's scan id s1 in their own team.

type scanSpec struct {
	team, id, account, tool, status string
	requested                       time.Duration
}

type findingSpec struct {
	team, id, scan, account, severity, status string
	raised                                    time.Duration
}

var scanSpecs = []scanSpec{
	{"team-a", "s1", "acc-1", "prowler", "completed", 0},
	{"team-a", "s2", "acc-2", "prowler", "running", time.Hour},
	{"team-a", "s3", "acc-1", "scout", "failed", 2 * time.Hour},
	{"team-a", "s4", "acc-1", "scout", "requested", 3 * time.Hour},
	{"team-b", "s9", "acc-1", "prowler", "running", 4 * time.Hour},
}

var severityCycle = []string{"critical", "high", "high", "medium", "low", "informational", "medium"}

func findingSpecs() []findingSpec {
	var out []findingSpec
	add := func(team, scan, account string, n int) {
		for i := range n {
			status := []string{"open", "open", "resolved", "suppressed"}[i%4]
			out = append(out, findingSpec{
				team: team, id: fmt.Sprintf("%s-%s-f%02d", team, scan, i), scan: scan, account: account,
				severity: severityCycle[i%len(severityCycle)], status: status,
				// every third finding shares its raised_at with the previous one: the id breaks the tie
				raised: time.Duration(i-i%3/2) * time.Minute,
			})
		}
	}
	add("team-a", "s1", "acc-1", 28)
	add("team-a", "s2", "acc-2", 12)
	add("team-b", "s9", "acc-1", 9)
	add("team-b", "s1", "acc-1", 3) // team-b's own view of the id s1
	return out
}

func worldEvents() *history {
	h := &history{}
	for _, s := range scanSpecs {
		h.add(s.team, orchdomain.ScanRequested{ScanID: s.id, AccountID: s.account, Provider: orchdomain.ProviderAWS, Tool: s.tool, RequestedAt: at(s.requested)})
		switch s.status {
		case "running":
			h.add(s.team, orchdomain.ScanStarted{ScanID: s.id, StartedAt: at(s.requested + time.Minute)})
		case "completed":
			h.add(s.team, orchdomain.ScanStarted{ScanID: s.id, StartedAt: at(s.requested + time.Minute)},
				orchdomain.ScanCompleted{ScanID: s.id, CompletedAt: at(s.requested + time.Hour), ResourceCount: 10})
		case "failed":
			h.add(s.team, orchdomain.ScanFailed{ScanID: s.id, Reason: "boom", FailedAt: at(s.requested + time.Minute)})
		}
	}
	for _, f := range findingSpecs() {
		h.add(f.team, raisedEvent(f))
		switch f.status {
		case "resolved":
			h.add(f.team, csdomain.FindingResolved{FindingID: f.id, Reason: "fixed", ResolvedAt: at(f.raised + time.Hour)})
		case "suppressed":
			h.add(f.team, csdomain.FindingSuppressed{FindingID: f.id, Reason: "accepted", SuppressedAt: at(f.raised + time.Hour)})
		}
	}
	return h
}

func raisedEvent(f findingSpec) csdomain.FindingRaised {
	return csdomain.FindingRaised{
		FindingID: f.id, ScanID: f.scan, AccountID: f.account, CheckID: "check-" + f.severity, Title: "title of " + f.id,
		Severity: csdomain.Severity(f.severity), ResourceID: "arn:" + f.id, Region: "eu-west-1", RaisedAt: at(f.raised),
	}
}
