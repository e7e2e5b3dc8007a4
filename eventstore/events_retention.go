package eventstore

import "github.com/cspm-es/cspm-es/domain/retention"

// The retention policies' events (docs/archival.md, decision 88),
// registered from their own file so that each module's list merges alone.
func init() {
	domainEvents = append(domainEvents, []struct {
		sample    domainEvent
		version   int
		upcasters map[int]Upcaster
	}{
		{sample: retention.RetentionPolicySet{}, version: 1},
	}...)
}
