package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Get returns one document by _id.
func (s *Store) Get(ctx context.Context, collection, id string) (readmodel.Doc, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, readmodel.Invalidf("empty _id")
	}
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	var data []byte
	st, err := s.readStmt(ctx, `SELECT doc FROM `+quoteIdent(collection)+` WHERE id = ?`)
	if err == nil {
		err = st.QueryRowContext(ctx, id).Scan(&data)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows) || isNoSuchTable(err):
		return nil, fmt.Errorf("get %s/%s: %w", collection, id, readmodel.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get %s/%s: %w", collection, id, unavailable(err))
	}
	return decodeDoc(id, data)
}

// getManyChunk is the most ids one statement of GetMany asks for; a
// chunk of fewer is padded to the next of getManySizes (repeating its
// last id) so that a few statements serve every count.
const getManyChunk = 256

var getManySizes = [...]int{8, 32, 96, getManyChunk}

// GetMany returns the documents of ids that exist; see readmodel.Store.
func (s *Store) GetMany(ctx context.Context, collection string, ids []string) (map[string]readmodel.Doc, error) {
	if err := readmodel.ValidateCollection(collection); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id == "" {
			return nil, readmodel.Invalidf("empty _id")
		}
	}
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	out := make(map[string]readmodel.Doc, len(ids))
	args := make([]any, 0, min(len(ids), getManyChunk))
	for start := 0; start < len(ids); start += getManyChunk {
		chunk := ids[start:min(start+getManyChunk, len(ids))]
		size := getManyChunk
		for _, n := range getManySizes {
			if n >= len(chunk) {
				size = n
				break
			}
		}
		args = args[:0]
		for i := range size {
			args = append(args, chunk[min(i, len(chunk)-1)])
		}
		if err := s.getChunk(ctx, collection, size, args, out); err != nil {
			if isNoSuchTable(err) {
				return out, nil
			}
			return nil, fmt.Errorf("get %d documents of %s: %w", len(ids), collection, unavailable(err))
		}
	}
	return out, nil
}

// getChunk reads the documents of one padded chunk of ids into out.
func (s *Store) getChunk(ctx context.Context, collection string, size int, args []any, out map[string]readmodel.Doc) error {
	st, err := s.readStmt(ctx, `SELECT id, doc FROM `+quoteIdent(collection)+` WHERE id IN (?`+strings.Repeat(",?", size-1)+`)`)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   string
			data []byte
		)
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		d, err := decodeDoc(id, data)
		if err != nil {
			return err
		}
		out[id] = d
	}
	return rows.Err()
}

// Find returns one page; see readmodel.Store.
func (s *Store) Find(ctx context.Context, collection string, opts readmodel.FindOptions) (readmodel.Page, error) {
	plan, err := readmodel.FindArgs(collection, opts)
	if err != nil {
		return readmodel.Page{}, err
	}
	release, err := s.readLock()
	if err != nil {
		return readmodel.Page{}, err
	}
	defer release()
	want := plan.Limit + 1 // one more tells whether a next page exists
	var docs []readmodel.Doc
	segments := []segment{{}}
	if plan.After != nil {
		segments = keysetSegments(plan.Sort, plan.After)
	}
	for _, seg := range segments {
		q := findQuery(collection, plan, seg, want-len(docs))
		got, err := s.query(ctx, q.String(), q.args)
		if err != nil {
			return readmodel.Page{}, fmt.Errorf("find in %s: %w", collection, unavailable(err))
		}
		docs = append(docs, got...)
		if len(docs) >= want {
			break
		}
	}
	page := readmodel.Page{Docs: docs}
	if len(docs) > plan.Limit {
		page.Docs = docs[:plan.Limit]
		if page.NextCursor, err = plan.NextCursor(page.Docs[plan.Limit-1]); err != nil {
			return readmodel.Page{}, err
		}
	}
	return page, nil
}

// findQuery is the SELECT of one keyset segment.
func findQuery(collection string, plan readmodel.FindPlan, seg segment, limit int) sqlBuilder {
	var q sqlBuilder
	q.w("SELECT id, doc FROM ", quoteIdent(collection), " WHERE ")
	q.filter(plan.Filter)
	if !seg.cond.empty() {
		q.w(" AND ", seg.cond.String())
		q.args = append(q.args, seg.cond.args...)
	}
	if seg.firstFixed {
		q.orderBy(plan.Sort[1:])
	} else {
		q.orderBy(plan.Sort)
	}
	q.w(" LIMIT ")
	q.arg(limit)
	return q
}

func (s *Store) query(ctx context.Context, query string, args []any) ([]readmodel.Doc, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if isNoSuchTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var docs []readmodel.Doc
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		d, err := decodeDoc(id, data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

// Count returns how many documents match f.
func (s *Store) Count(ctx context.Context, collection string, f readmodel.Filter) (int64, error) {
	nf, err := readmodel.CountArgs(collection, f)
	if err != nil {
		return 0, err
	}
	release, err := s.readLock()
	if err != nil {
		return 0, err
	}
	defer release()
	var q sqlBuilder
	q.w("SELECT count(*) FROM ", quoteIdent(collection), " WHERE ")
	q.filter(nf)
	var n int64
	err = s.rdb.QueryRowContext(ctx, q.String(), q.args...).Scan(&n)
	if isNoSuchTable(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("count in %s: %w", collection, unavailable(err))
	}
	return n, nil
}

// CountBy counts the documents matching f grouped by field.
func (s *Store) CountBy(ctx context.Context, collection string, f readmodel.Filter, field string) (map[string]int64, error) {
	nf, err := readmodel.CountByArgs(collection, f, field)
	if err != nil {
		return nil, err
	}
	release, err := s.readLock()
	if err != nil {
		return nil, err
	}
	defer release()
	var q sqlBuilder
	te := "'text'"
	if field != readmodel.IDField {
		te = typeExpr(field)
	}
	q.w("SELECT ", te, ", ", valueExpr(field), ", count(*) FROM ", quoteIdent(collection), " WHERE ")
	q.filter(nf)
	q.w(" GROUP BY 1, 2")
	rows, err := s.rdb.QueryContext(ctx, q.String(), q.args...)
	out := map[string]int64{}
	if isNoSuchTable(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("count by %s in %s: %w", field, collection, unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var typ *string
		var v any
		var n int64
		if err := rows.Scan(&typ, &v, &n); err != nil {
			return nil, fmt.Errorf("count by %s in %s: %w", field, collection, unavailable(err))
		}
		key, err := groupKey(typ, v)
		if err != nil {
			return nil, fmt.Errorf("count by %s in %s: %w", field, collection, unavailable(err))
		}
		out[key] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count by %s in %s: %w", field, collection, unavailable(err))
	}
	return out, nil
}

// Checkpoint returns the projection's checkpoint (0 when none).
func (s *Store) Checkpoint(ctx context.Context, projection string) (int64, error) {
	if err := readmodel.ValidateProjection(projection); err != nil {
		return 0, err
	}
	release, err := s.readLock()
	if err != nil {
		return 0, err
	}
	defer release()
	var pos int64
	err = s.rdb.QueryRowContext(ctx, `SELECT pos FROM _checkpoints WHERE projection = ?`, projection).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint of %s: %w", projection, unavailable(err))
	}
	return pos, nil
}
