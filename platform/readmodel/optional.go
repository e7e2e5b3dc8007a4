package readmodel

import "context"

// SwapSpec is a rebuild's cut-over: rename shadow collections over the live
// ones and set checkpoints, in one step.
type SwapSpec struct {
	// Renames maps shadow → live, as in Store.RenameCollections.
	Renames map[string]string
	// Checkpoints sets each projection's checkpoint unconditionally (it may
	// move backwards); 0 removes it. Typically the live projection takes
	// the shadow projection's position and the shadow's entry is removed.
	Checkpoints map[string]int64
}

// Swapper is implemented by both adapters. On SQLite the renames and the
// checkpoints commit in one transaction, so a projector never resumes the
// swapped-in collections from the old live checkpoint. On MongoDB the
// renames run first (each atomic), then the checkpoints. Swap with only
// Checkpoints resets a projection (e.g. before a rebuild starts over).
type Swapper interface {
	Swap(ctx context.Context, s SwapSpec) error
}

// Info describes a store's backend and guarantees.
type Info struct {
	Backend  string // "sqlite" or "mongodb"
	Database string // the module database (file path on SQLite)
	// Transactions: Commit is all-or-nothing. False on a standalone
	// MongoDB, where Commit relies on per-document position guards.
	Transactions bool
	// ServerTTL: the server expires documents itself; SweepExpired is a
	// no-op.
	ServerTTL bool
}

// Inspector is implemented by both adapters (for `cspm db indexes`, status
// pages and the contract suite).
type Inspector interface {
	Info() Info
	// ListCollections returns the collections, sorted.
	ListCollections(ctx context.Context) ([]string, error)
	// ListIndexes returns the declared indexes of a collection as they were
	// declared (without the implicit _id key), sorted by name.
	ListIndexes(ctx context.Context, collection string) ([]Index, error)
}

// ValidateSwap checks a SwapSpec. Errors wrap ErrInvalid.
func ValidateSwap(s SwapSpec) error {
	if err := ValidateRenames(s.Renames); err != nil {
		return err
	}
	for p, pos := range s.Checkpoints {
		if err := ValidateProjection(p); err != nil {
			return err
		}
		if pos < 0 {
			return Invalidf("checkpoint of %s: %d is negative", p, pos)
		}
	}
	return nil
}
