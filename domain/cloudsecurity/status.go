package cloudsecurity

// A finding's status only moves forward: open → suppressed → resolved.
var statusRank = map[Status]int{
	StatusOpen:       1,
	StatusSuppressed: 2,
	StatusResolved:   3,
}

// LaterStatus returns whichever of a and b comes later in a finding's
// lifecycle. Read models fold statuses with it instead of "last event wins",
// which gives the same answer in stream order and in any other order.
func LaterStatus(a, b Status) Status {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}
