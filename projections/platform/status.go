package platform

import (
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// A scan only moves forward (requested → running → completed | failed), and
// so does a finding (open → suppressed → resolved). Folding statuses with
// max over these ranks instead of "last event wins" gives the same answer
// for events in stream order, and the same answer in any other order, so a
// document never depends on which event arrived first.
var (
	scanRank = map[orchdomain.Status]int{
		orchdomain.StatusRequested: 1,
		orchdomain.StatusRunning:   2,
		orchdomain.StatusCompleted: 3,
		orchdomain.StatusFailed:    4,
	}
	findingRank = map[csdomain.Status]int{
		csdomain.StatusOpen:       1,
		csdomain.StatusSuppressed: 2,
		csdomain.StatusResolved:   3,
	}
)

func maxScanStatus(a, b orchdomain.Status) orchdomain.Status {
	if scanRank[b] > scanRank[a] {
		return b
	}
	return a
}

func maxFindingStatus(a, b csdomain.Status) csdomain.Status {
	if findingRank[b] > findingRank[a] {
		return b
	}
	return a
}
