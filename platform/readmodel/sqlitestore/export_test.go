package sqlitestore

// AllSmallDocs makes every collection s creates from now on a WITHOUT
// ROWID table, as if declared SmallDocs (the contract suite runs on both
// table layouts).
func AllSmallDocs(s *Store) { s.allSmallDocs = true }
