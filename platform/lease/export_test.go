package lease

import "time"

// SetClock replaces l's clock (tests move time instead of waiting).
func SetClock(l *Lease, now func() time.Time) { l.now = now }

// BalancerLease is the balancer's lease on name.
func BalancerLease(b *Balancer, name string) *Lease { return b.leases[name] }
