package orchestration

// A scan's status only moves forward: requested → running → completed | failed.
var statusRank = map[Status]int{
	StatusRequested: 1,
	StatusRunning:   2,
	StatusCompleted: 3,
	StatusPartial:   3, // a run with jobs ends in one of completed, partial, failed, cancelled
	StatusFailed:    4,
	StatusCancelled: 4,
}

// LaterStatus returns whichever of a and b comes later in a scan's
// lifecycle. Read models fold statuses with it instead of "last event wins",
// which gives the same answer in stream order and in any other order.
func LaterStatus(a, b Status) Status {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}
