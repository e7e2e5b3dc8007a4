package readmodel

import (
	"context"
	"time"
)

// TTLKey names one declared TTL index: the live collection (a rebuild's
// shadow collection takes its live collection's TTL) and the index.
type TTLKey struct {
	Collection string
	Index      string
}

// MaxTTL is the longest TTL a backend keeps (MongoDB's expireAfterSeconds
// is a 32-bit count of seconds, about 68 years). A TTL index that must
// expire nothing (a retention policy of 0 days) gets it on MongoDB.
const MaxTTL = time.Duration(1<<31-1) * time.Second

// TTLTuner is implemented by both adapters: the retention policies
// (decision 101) set the expiry of declared TTL indexes in place of the
// TTL the projections declare.
//
// SetTTLs replaces the store's TTL overrides: each named index expires its
// documents after the given duration instead of its declared TTL; 0 keeps
// them (the index expires nothing). Indexes not named keep their declared
// TTL. On SQLite SweepExpired uses the overrides (the stored declaration
// is unchanged). On MongoDB the server's TTL indexes (live and shadow
// collections) are changed in place with collMod (expireAfterSeconds; 0
// becomes MaxTTL) and EnsureCollection builds and compares them with the
// override, so a projector starting afterwards does not put the declared
// TTL back. It returns how many server indexes were changed (0 on SQLite).
type TTLTuner interface {
	SetTTLs(ctx context.Context, ttls map[TTLKey]time.Duration) (changed int, err error)
}

// ValidateTTLs checks a SetTTLs map. Errors wrap ErrInvalid.
func ValidateTTLs(ttls map[TTLKey]time.Duration) error {
	for k, d := range ttls {
		if err := ValidateCollection(k.Collection); err != nil {
			return err
		}
		if _, shadow := LiveName(k.Collection); shadow {
			return Invalidf("TTL of %s.%s: name the live collection", k.Collection, k.Index)
		}
		if err := ValidateIndexName(k.Index); err != nil {
			return err
		}
		if d < 0 || d%time.Second != 0 || d > MaxTTL {
			return Invalidf("TTL of %s.%s: %v: want whole seconds, 0 (keep) up to %v", k.Collection, k.Index, d, MaxTTL)
		}
	}
	return nil
}

// EffectiveTTL is the TTL an index has under the overrides: the override
// of its live collection's index if there is one, else the declared TTL.
// keep reports an override of 0 (expire nothing).
func EffectiveTTL(ttls map[TTLKey]time.Duration, collection string, ix Index) (ttl time.Duration, keep bool) {
	if ix.TTL == 0 {
		return 0, false
	}
	live, _ := LiveName(collection)
	d, ok := ttls[TTLKey{Collection: live, Index: ix.Name}]
	if !ok {
		return ix.TTL, false
	}
	if d == 0 {
		return 0, true
	}
	return d, false
}
