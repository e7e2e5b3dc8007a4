// Package readmodel is the read-model store port: the one way projectors
// write, and queries read, the module databases (cspm_platform,
// cspm_cloud_security, ...). One Store is one module database.
//
// The model is a set of named collections of JSON-like documents (Doc), each
// keyed by a string _id. Projectors write only through Commit, which applies
// a batch of puts and deletes together with the projection's checkpoint, so
// a replayed batch is a no-op (invariant 4). Queries read with Get, Find
// (filter, sort, keyset pagination), Count and CountBy. Rebuilds write shadow
// collections ("findings__rebuild") and swap them in with RenameCollections
// (invariant 5).
//
// Adapters: sqlitestore (embedded default, one file per module database)
// and mongostore (one MongoDB database per module). Both pass the contract
// suite in readmodeltest. docs/read-model-store.md describes the value
// model, the filter language, pagination, indexes and the guarantees of each
// backend.
//
// Values a Doc may hold, and what a read returns:
//
//	written as                                     read back as
//	string (valid UTF-8)                           string
//	int, int8..int64, uint8..uint32, uint, uint64  int64 (uint64 > MaxInt64 is rejected)
//	float32, float64 (finite)                      float64 (an integral float stays float64)
//	json.Number                                    int64 if integral and in range, else float64
//	bool                                           bool
//	nil, nil pointer                               nil
//	time.Time (years 0000-9999)                    time.Time, UTC, truncated to the millisecond
//	slices and arrays                              []any
//	maps with string keys, Doc                     map[string]any (a nested Doc too)
//	pointers                                       the value pointed to
//
// Anything else (structs, channels, NaN, ±Inf) is rejected with ErrInvalid.
package readmodel
