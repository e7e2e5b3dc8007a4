package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Commit applies a batch and the projection's checkpoint in one
// transaction: after a crash both are there or neither. Per collection,
// deletes run before puts (so a batch may move a unique value from a
// deleted document to a new one). A batch whose
// checkpoint is not above the stored one is a no-op. A collection written
// for the first time is created (without indexes: EnsureCollection declares
// them).
func (s *Store) Commit(ctx context.Context, b readmodel.Batch) error {
	nb, err := b.Normalize()
	if err != nil {
		return err
	}
	// Encode outside the write lock.
	puts := make(map[string][]string, len(nb.Puts))
	for coll, docs := range nb.Puts {
		enc := make([]string, len(docs))
		for i, d := range docs {
			b, err := encodeDoc(d)
			if err != nil {
				return err
			}
			enc[i] = string(b) // TEXT, not BLOB
		}
		puts[coll] = enc
	}
	err = s.write(ctx, func(ctx context.Context) error {
		cur, err := s.checkpointTx(ctx, nb.Projection)
		if err != nil {
			return err
		}
		if cur >= nb.Checkpoint {
			return errSkip // replay of an applied batch
		}
		for _, coll := range nb.Collections() {
			if err := s.createTable(ctx, coll, false); err != nil {
				return err
			}
			del := `DELETE FROM ` + quoteIdent(coll) + ` WHERE id = ?`
			for _, id := range nb.Deletes[coll] {
				if _, err := s.exec(ctx, del, id); err != nil {
					return fmt.Errorf("delete %s/%s: %w", coll, id, err)
				}
			}
			upsert := `INSERT INTO ` + quoteIdent(coll) + ` (id, doc, pos) VALUES (?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, pos = excluded.pos`
			for i, d := range nb.Puts[coll] {
				if _, err := s.exec(ctx, upsert, d.ID(), puts[coll][i], nb.Checkpoint); err != nil {
					return s.classify(ctx, coll, fmt.Errorf("put %s/%s: %w", coll, d.ID(), err))
				}
			}
		}
		return s.setCheckpoint(ctx, nb.Projection, nb.Checkpoint)
	})
	if err != nil {
		return fmt.Errorf("commit %s@%d: %w", nb.Projection, nb.Checkpoint, unavailable(err))
	}
	return nil
}

func (s *Store) checkpointTx(ctx context.Context, projection string) (int64, error) {
	st, err := s.stmt(ctx, `SELECT coalesce(max(pos), 0) FROM _checkpoints WHERE projection = ?`)
	if err != nil {
		return 0, err
	}
	var pos int64
	if err := st.QueryRowContext(ctx, projection).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read checkpoint of %s: %w", projection, err)
	}
	return pos, nil
}

func (s *Store) setCheckpoint(ctx context.Context, projection string, pos int64) error {
	var err error
	if pos == 0 {
		_, err = s.exec(ctx, `DELETE FROM _checkpoints WHERE projection = ?`, projection)
	} else {
		_, err = s.exec(ctx, `INSERT INTO _checkpoints (projection, pos, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (projection) DO UPDATE SET pos = excluded.pos, updated_at = excluded.updated_at`,
			projection, pos, time.Now().UTC().Format(readmodel.TimeLayout))
	}
	if err != nil {
		return fmt.Errorf("write checkpoint of %s: %w", projection, err)
	}
	return nil
}

// createTable creates a collection's table when it is missing. A rowid
// table with a TEXT PRIMARY KEY keeps every id twice (the table's rows
// and the primary key's separate index) and every secondary index entry
// ends with a rowid. A collection declared with SmallDocs is a WITHOUT
// ROWID table clustered on id (schema version 2): the id is kept once,
// and the secondary indexes, whose keys already end with _id
// (KeyFields), point at it with nothing added. Its rows live in an
// index b-tree, which keeps at most about 1,000 bytes of a row on a
// 4 KiB page and the rest on an overflow page of its own, so a table of
// larger documents stays a rowid table (measured: 3,000 documents of
// 1 KB took 13.9 MB clustered, 4.4 MB as a rowid table). Both layouts
// have the same columns and are read and written through the same
// statements (docs/read-model-store.md, decision 108).
func (s *Store) createTable(ctx context.Context, coll string, smallDocs bool) error {
	layout := ""
	if smallDocs || s.allSmallDocs {
		layout = ", WITHOUT ROWID"
	}
	if _, err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS `+quoteIdent(coll)+
		` (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL, pos INTEGER NOT NULL) STRICT`+layout); err != nil {
		return fmt.Errorf("create collection %s: %w", coll, err)
	}
	return nil
}

// classify turns a unique-index violation into a *readmodel.DuplicateError
// naming the declared index (the transaction is still open: _indexes is
// readable).
func (s *Store) classify(ctx context.Context, coll string, err error) error {
	physical, ok := uniqueViolation(err)
	if !ok {
		return err
	}
	dup := &readmodel.DuplicateError{Collection: coll}
	if physical != "" {
		st, serr := s.stmt(ctx, `SELECT name FROM _indexes WHERE physical = ?`)
		if serr == nil {
			_ = st.QueryRowContext(ctx, physical).Scan(&dup.Index)
		}
	}
	return fmt.Errorf("%w: %v", dup, err)
}
