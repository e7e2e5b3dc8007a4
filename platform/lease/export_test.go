package lease

import "time"

// SetClock replaces l's clock (tests move time instead of waiting).
func SetClock(l *Lease, now func() time.Time) { l.now = now }
