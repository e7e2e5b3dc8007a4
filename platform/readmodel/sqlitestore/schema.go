package sqlitestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// indexSpec is the stored declaration of an index (in _indexes.spec); two
// declarations are the same index when their specs are equal.
type indexSpec struct {
	Fields  []readmodel.IndexField `json:"fields"`
	Unique  bool                   `json:"unique,omitempty"`
	TTL     int64                  `json:"ttl_seconds,omitempty"`
	Partial string                 `json:"partial,omitempty"`
}

func specOf(ix readmodel.Index) string {
	b, _ := json.Marshal(indexSpec{Fields: ix.Fields, Unique: ix.Unique, TTL: int64(ix.TTL / time.Second), Partial: ix.Partial})
	return string(b)
}

// EnsureCollection creates the table and the declared indexes that are
// missing, and recreates those whose declaration changed, in one
// transaction. Undeclared indexes are left alone.
func (s *Store) EnsureCollection(ctx context.Context, spec readmodel.CollectionSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context) error {
		if err := s.createTable(ctx, spec.Name, spec.SmallDocs); err != nil {
			return err
		}
		existing, err := s.indexRows(ctx, spec.Name)
		if err != nil {
			return err
		}
		for _, ix := range spec.Indexes {
			want := specOf(ix)
			if cur, ok := existing[ix.Name]; ok {
				if cur.spec == want {
					continue
				}
				if err := s.dropIndex(ctx, spec.Name, ix.Name, cur.physical); err != nil {
					return err
				}
			}
			if err := s.createIndex(ctx, spec.Name, ix, want); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ensure collection %s: %w", spec.Name, err)
	}
	return nil
}

type indexRow struct{ physical, spec string }

func (s *Store) indexRows(ctx context.Context, coll string) (map[string]indexRow, error) {
	st, err := s.stmt(ctx, `SELECT name, physical, spec FROM _indexes WHERE collection = ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, coll)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]indexRow{}
	for rows.Next() {
		var name string
		var r indexRow
		if err := rows.Scan(&name, &r.physical, &r.spec); err != nil {
			return nil, err
		}
		out[name] = r
	}
	return out, rows.Err()
}

// indexDDL is the CREATE INDEX statement of a declared index: an
// expression index over json_extract (the id column for _id), with _id
// appended to non-unique, non-TTL indexes (readmodel.Index.KeyFields).
// A partial index, and a TTL index, holds only the rows whose field is
// not null (WHERE ... IS NOT NULL): SQLite uses it for a query whose terms
// imply that (an equality or a range on the field, as SweepExpired's),
// and a TTL index needs no entry for a document that never expires
// (decisions 108 and 109).
func indexDDL(coll, physical string, ix readmodel.Index) string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if ix.Unique {
		b.WriteString("UNIQUE ")
	}
	b.WriteString("INDEX " + quoteIdent(physical) + " ON " + quoteIdent(coll) + " (")
	for i, f := range ix.KeyFields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(valueExpr(f.Path))
		if f.Desc {
			b.WriteString(" DESC")
		}
	}
	b.WriteString(")")
	switch {
	case ix.Partial != "":
		b.WriteString(" WHERE " + valueExpr(ix.Partial) + " IS NOT NULL")
	case ix.TTL > 0:
		b.WriteString(" WHERE " + valueExpr(ix.Fields[0].Path) + " IS NOT NULL")
	}
	return b.String()
}

func (s *Store) createIndex(ctx context.Context, coll string, ix readmodel.Index, spec string) error {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	physical := "ix_" + ix.Name + "_" + hex.EncodeToString(rnd[:])
	if _, err := s.wconn.ExecContext(ctx, indexDDL(coll, physical, ix)); err != nil {
		if _, dup := uniqueViolation(err); dup {
			return fmt.Errorf("%w: %v", &readmodel.DuplicateError{Collection: coll, Index: ix.Name}, err)
		}
		return fmt.Errorf("create index %s: %w", ix.Name, err)
	}
	if _, err := s.exec(ctx, `INSERT INTO _indexes (collection, name, physical, spec) VALUES (?, ?, ?, ?)`,
		coll, ix.Name, physical, spec); err != nil {
		return fmt.Errorf("record index %s: %w", ix.Name, err)
	}
	return nil
}

func (s *Store) dropIndex(ctx context.Context, coll, name, physical string) error {
	if _, err := s.wconn.ExecContext(ctx, `DROP INDEX IF EXISTS `+quoteIdent(physical)); err != nil {
		return fmt.Errorf("drop index %s: %w", name, err)
	}
	if _, err := s.exec(ctx, `DELETE FROM _indexes WHERE collection = ? AND name = ?`, coll, name); err != nil {
		return fmt.Errorf("forget index %s: %w", name, err)
	}
	return nil
}

// DropCollection drops the table, its indexes and their declarations.
func (s *Store) DropCollection(ctx context.Context, collection string) error {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context) error {
		s.forgetStmts()
		return s.dropTable(ctx, collection)
	})
	if err != nil {
		return fmt.Errorf("drop collection %s: %w", collection, err)
	}
	return nil
}

func (s *Store) dropTable(ctx context.Context, coll string) error {
	if _, err := s.wconn.ExecContext(ctx, `DROP TABLE IF EXISTS `+quoteIdent(coll)); err != nil {
		return err
	}
	_, err := s.exec(ctx, `DELETE FROM _indexes WHERE collection = ?`, coll)
	return err
}

// RenameCollections swaps collections in one transaction; see
// readmodel.Store.
func (s *Store) RenameCollections(ctx context.Context, renames map[string]string) error {
	return s.Swap(ctx, readmodel.SwapSpec{Renames: renames})
}

// Swap renames collections (replacing the targets) and sets checkpoints in
// one transaction: readers see the old collections or the new ones, never
// a mix, and the checkpoints move with the content.
func (s *Store) Swap(ctx context.Context, spec readmodel.SwapSpec) error {
	if err := readmodel.ValidateSwap(spec); err != nil {
		return err
	}
	err := s.write(ctx, func(ctx context.Context) error {
		s.forgetStmts()
		for _, from := range readmodel.SortedRenames(spec.Renames) {
			to := spec.Renames[from]
			ok, err := s.tableExists(ctx, from)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("rename %s: %w", from, readmodel.ErrNotFound)
			}
			if err := s.dropTable(ctx, to); err != nil {
				return fmt.Errorf("replace %s: %w", to, err)
			}
			if _, err := s.wconn.ExecContext(ctx, `ALTER TABLE `+quoteIdent(from)+` RENAME TO `+quoteIdent(to)); err != nil {
				return fmt.Errorf("rename %s to %s: %w", from, to, err)
			}
			if _, err := s.exec(ctx, `UPDATE _indexes SET collection = ? WHERE collection = ?`, to, from); err != nil {
				return fmt.Errorf("rename %s to %s: %w", from, to, err)
			}
		}
		for p, pos := range spec.Checkpoints {
			if err := s.setCheckpoint(ctx, p, pos); err != nil {
				return err
			}
		}
		for _, to := range spec.Renames {
			s.swapped[to] = true // wsem held; a rollback leaves a harmless REINDEX
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	return nil
}

func (s *Store) tableExists(ctx context.Context, name string) (bool, error) {
	st, err := s.stmt(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`)
	if err != nil {
		return false, err
	}
	var n int
	err = st.QueryRowContext(ctx, name).Scan(&n)
	return n > 0, err
}

// SetTTLs replaces the TTL overrides SweepExpired uses (readmodel.TTLTuner;
// decision 101). The stored index declarations are unchanged: on SQLite a
// TTL is only the sweep's. It changes no index, so it returns 0.
func (s *Store) SetTTLs(ctx context.Context, ttls map[readmodel.TTLKey]time.Duration) (int, error) {
	if err := readmodel.ValidateTTLs(ttls); err != nil {
		return 0, err
	}
	s.ttlMu.Lock()
	s.ttls = maps.Clone(ttls)
	s.ttlMu.Unlock()
	return 0, nil
}

// SweepExpired deletes, in one transaction, every document whose TTL field
// holds a time older than now minus the index's TTL: its override when
// SetTTLs gave one (0: the index expires nothing), else the declared TTL.
func (s *Store) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	s.ttlMu.Lock()
	overrides := s.ttls
	s.ttlMu.Unlock()
	var total int64
	err := s.write(ctx, func(ctx context.Context) error {
		st, err := s.stmt(ctx, `SELECT collection, name, spec FROM _indexes ORDER BY collection, name`)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx)
		if err != nil {
			return err
		}
		type ttl struct {
			coll, path string
			ttl        time.Duration
		}
		var ttls []ttl
		for rows.Next() {
			var coll, name, spec string
			var is indexSpec
			if err := rows.Scan(&coll, &name, &spec); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal([]byte(spec), &is); err != nil {
				rows.Close()
				return fmt.Errorf("index spec of %s: %w", coll, err)
			}
			if is.TTL > 0 {
				d, keep := readmodel.EffectiveTTL(overrides, coll, readmodel.Index{Name: name, TTL: time.Duration(is.TTL) * time.Second})
				if !keep {
					ttls = append(ttls, ttl{coll, is.Fields[0].Path, d})
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range ttls {
			x := valueExpr(t.path)
			cutoff := readmodel.NormalizeTime(now.Add(-t.ttl))
			res, err := s.exec(ctx, `DELETE FROM `+quoteIdent(t.coll)+` WHERE `+x+` >= ? AND `+x+` < ?`, timeLo, encodeTime(cutoff))
			if err != nil {
				return fmt.Errorf("sweep %s: %w", t.coll, err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep expired: %w", err)
	}
	return total, nil
}

// ListCollections returns the collections, sorted.
func (s *Store) ListCollections(ctx context.Context) ([]string, error) {
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE '\_%' ESCAPE '\' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// ListIndexes returns a collection's declared indexes, sorted by name.
func (s *Store) ListIndexes(ctx context.Context, collection string) ([]readmodel.Index, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, `SELECT name, spec FROM _indexes WHERE collection = ? ORDER BY name`, collection)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", collection, err)
	}
	defer rows.Close()
	var out []readmodel.Index
	for rows.Next() {
		var name, spec string
		var is indexSpec
		if err := rows.Scan(&name, &spec); err != nil {
			return nil, fmt.Errorf("list indexes of %s: %w", collection, err)
		}
		if err := json.Unmarshal([]byte(spec), &is); err != nil {
			return nil, fmt.Errorf("index %s of %s: %w", name, collection, err)
		}
		out = append(out, readmodel.Index{Name: name, Fields: is.Fields, Unique: is.Unique, TTL: time.Duration(is.TTL) * time.Second, Partial: is.Partial})
	}
	return out, rows.Err()
}
