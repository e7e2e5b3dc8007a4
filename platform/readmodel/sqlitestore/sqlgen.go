package sqlitestore

import (
	"slices"
	"strconv"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// SQL generation. Values are always bound parameters; the only things
// written into SQL text are table names and JSON paths, both validated by
// the readmodel package ([a-z][a-z0-9_]* and [A-Za-z_][A-Za-z0-9_]*
// segments), so they can hold no quote.
//
// json_extract returns SQL NULL for a missing field and for JSON null, 1/0
// for true/false, INTEGER or REAL for numbers and TEXT for strings, times
// and (as JSON) arrays and objects. Comparisons are made type-strict, like
// MongoDB's type brackets, with json_type guards: a number never matches a
// bool, a string never a time or an object.

// sqlBuilder accumulates a SQL fragment and its arguments. It is a value
// that is copied (returned by findQuery, held in segments), so it must not
// hold a strings.Builder: a used Builder keeps a pointer to where it was
// first written, and a copy that outlives that place (a goroutine stack
// that has since moved) holds a dangling pointer, which the garbage
// collector finds and aborts the process on ("found bad pointer in Go
// heap"). A plain byte slice copies safely.
type sqlBuilder struct {
	buf  []byte
	args []any
}

func (b *sqlBuilder) w(parts ...string) {
	for _, p := range parts {
		b.buf = append(b.buf, p...)
	}
}

// arg writes a placeholder bound to v.
func (b *sqlBuilder) arg(v any) {
	b.args = append(b.args, v)
	b.buf = append(b.buf, '?')
}

func (b *sqlBuilder) String() string { return string(b.buf) }

// empty reports whether nothing was written.
func (b *sqlBuilder) empty() bool { return len(b.buf) == 0 }

// quoteIdent quotes a validated table or index name.
func quoteIdent(name string) string { return `"` + name + `"` }

// valueExpr is the SQL expression of a path's value.
func valueExpr(path string) string {
	if path == readmodel.IDField {
		return "id"
	}
	return "json_extract(doc,'$." + path + "')"
}

// typeExpr is the SQL expression of a path's JSON type (NULL if missing).
func typeExpr(path string) string { return "json_type(doc,'$." + path + "')" }

const numericTypes = "('integer','real')"

// filter writes a normalized filter as a boolean expression. A NULL
// result (a comparison with a missing field) excludes the row like false;
// the language has no NOT, so that is always the intended meaning.
func (b *sqlBuilder) filter(f readmodel.Filter) {
	switch f.Op {
	case "":
		b.w("1")
	case readmodel.OpAnd:
		b.w("(")
		for i, t := range f.Filters {
			if i > 0 {
				b.w(" AND ")
			}
			b.filter(t)
		}
		b.w(")")
	case readmodel.OpExists:
		switch {
		case f.Path == readmodel.IDField:
			b.w(strconv.Itoa(boolInt(f.Value.(bool))))
		case f.Value.(bool):
			b.w(typeExpr(f.Path), " IS NOT NULL")
		default:
			b.w(typeExpr(f.Path), " IS NULL")
		}
	case readmodel.OpIn:
		b.in(f.Path, f.Values)
	case readmodel.OpEq:
		b.eq(f.Path, f.Value)
	case readmodel.OpNe:
		b.ne(f.Path, f.Value)
	default:
		b.cmp(f.Op, f.Path, f.Value)
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (b *sqlBuilder) eq(path string, v any) {
	x := valueExpr(path)
	if path == readmodel.IDField {
		b.w("id = ")
		b.arg(v)
		return
	}
	switch readmodel.KindOf(v) {
	case readmodel.KindNull:
		b.w(x, " IS NULL")
	case readmodel.KindBool:
		if v.(bool) {
			b.w("(", x, " = 1 AND ", typeExpr(path), " = 'true')")
		} else {
			b.w("(", x, " = 0 AND ", typeExpr(path), " = 'false')")
		}
	case readmodel.KindNumber, readmodel.KindString:
		if !needsGuard(v) {
			b.w(x, " = ")
			b.arg(bindValue(v))
			return
		}
		b.w("(", x, " = ")
		b.arg(bindValue(v))
		b.w(" AND ", typeGuard(path, v), ")")
	case readmodel.KindTime:
		b.w(x, " = ")
		b.arg(bindValue(v))
	}
}

// needsGuard reports whether equality with v needs a json_type guard.
// json_extract returns 1/0 for true/false and JSON text for arrays and
// objects; any other number or string can only equal a value of its own
// type (SQLite never converts between storage classes here), so the
// common case (team_id = ?) is a plain index probe without re-parsing the
// document.
func needsGuard(v any) bool {
	switch x := v.(type) {
	case int64:
		return x == 0 || x == 1
	case float64:
		return x == 0 || x == 1
	case string:
		return x != "" && (x[0] == '[' || x[0] == '{')
	}
	return false
}

// typeGuard restricts a path to the JSON type of a number or string.
func typeGuard(path string, v any) string {
	if readmodel.KindOf(v) == readmodel.KindNumber {
		return typeExpr(path) + " IN " + numericTypes
	}
	return typeExpr(path) + " = 'text'"
}

func (b *sqlBuilder) ne(path string, v any) {
	x := valueExpr(path)
	if path == readmodel.IDField {
		b.w("id <> ")
		b.arg(v)
		return
	}
	switch readmodel.KindOf(v) {
	case readmodel.KindNull:
		b.w(x, " IS NOT NULL")
	case readmodel.KindBool:
		if v.(bool) {
			b.w(typeExpr(path), " IS NOT 'true'")
		} else {
			b.w(typeExpr(path), " IS NOT 'false'")
		}
	case readmodel.KindNumber, readmodel.KindString:
		if !needsGuard(v) {
			b.w(x, " IS NOT ")
			b.arg(bindValue(v))
			return
		}
		b.w("(", x, " IS NOT ")
		b.arg(bindValue(v))
		b.w(" OR NOT coalesce(", typeGuard(path, v), ", 0))")
	case readmodel.KindTime:
		b.w(x, " IS NOT ")
		b.arg(bindValue(v))
	}
}

var sqlOps = map[readmodel.Op]string{
	readmodel.OpGt: " > ", readmodel.OpGte: " >= ", readmodel.OpLt: " < ", readmodel.OpLte: " <= ",
}

// cmp writes a range comparison (the value is a string, number or time).
func (b *sqlBuilder) cmp(op readmodel.Op, path string, v any) {
	x := valueExpr(path)
	b.w("(", x, sqlOps[op])
	b.arg(bindValue(v))
	if path == readmodel.IDField {
		b.w(")")
		return
	}
	switch readmodel.KindOf(v) {
	case readmodel.KindNumber:
		b.w(" AND ", typeExpr(path), " IN ", numericTypes, ")")
	case readmodel.KindString:
		b.w(" AND ", typeExpr(path), " = 'text' AND (", x, " < ")
		b.arg(timeLo)
		b.w(" OR ", x, " >= ")
		b.arg(timeHi)
		b.w("))")
	case readmodel.KindTime:
		if op == readmodel.OpGt || op == readmodel.OpGte {
			b.w(" AND ", x, " < ")
			b.arg(timeHi)
		} else {
			b.w(" AND ", x, " >= ")
			b.arg(timeLo)
		}
		b.w(")")
	}
}

// in writes In as one IN list per kind (so an index on the path serves it).
func (b *sqlBuilder) in(path string, vs []any) {
	if len(vs) == 0 {
		b.w("0")
		return
	}
	x := valueExpr(path)
	if path == readmodel.IDField {
		b.list("id", vs)
		return
	}
	byKind := map[readmodel.Kind][]any{}
	var kinds []readmodel.Kind
	for _, v := range vs {
		k := readmodel.KindOf(v)
		if _, ok := byKind[k]; !ok {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], v)
	}
	b.w("(")
	for i, k := range kinds {
		if i > 0 {
			b.w(" OR ")
		}
		group := byKind[k]
		switch k {
		case readmodel.KindNull:
			b.w(x, " IS NULL")
		case readmodel.KindBool:
			for j, v := range group {
				if j > 0 {
					b.w(" OR ")
				}
				b.eq(path, v)
			}
		case readmodel.KindNumber, readmodel.KindString:
			if !slices.ContainsFunc(group, needsGuard) {
				b.list(x, group)
				break
			}
			b.w("(")
			b.list(x, group)
			b.w(" AND ", typeGuard(path, group[0]), ")")
		case readmodel.KindTime:
			b.list(x, group)
		}
	}
	b.w(")")
}

func (b *sqlBuilder) list(x string, vs []any) {
	b.w(x, " IN (")
	for i, v := range vs {
		if i > 0 {
			b.w(",")
		}
		b.arg(bindValue(v))
	}
	b.w(")")
}

// orderBy writes the ORDER BY clause of a plan.
func (b *sqlBuilder) orderBy(sort []readmodel.SortField) {
	b.w(" ORDER BY ")
	for i, s := range sort {
		if i > 0 {
			b.w(", ")
		}
		b.w(valueExpr(s.Path))
		if s.Desc {
			b.w(" DESC")
		} else {
			b.w(" ASC")
		}
	}
}

// Keyset pagination. SQLite orders NULL (missing) first, and ORDER BY and
// these comparisons use the same (SQLite) ordering, so a walk is exact
// whatever the types. The condition "after the cursor" is split on the
// first sort key into at most three segments, each a plain index range,
// that are read in order:
//
//	asc,  v set:  x = v AND rest;  then x > v
//	asc,  v null: x IS NULL AND rest;  then x IS NOT NULL
//	desc, v set:  x = v AND rest;  then x < v;  then x IS NULL
//	desc, v null: x IS NULL AND rest
//
// where rest is "after" on the remaining keys, null-aware. Fixing the
// first key (x = v) lets the index seek on the next one: with the usual
// two keys (a field, then _id) a page that starts among many equal values
// of the field (the findings one scan raised share their raised_at) is one
// seek, not a scan of the equal values before the cursor. A segment that
// fixes the first key (to v or to NULL) orders by the remaining keys only,
// so that SQLite sees the index order needs no sort.
type segment struct {
	cond       sqlBuilder
	firstFixed bool // the first key is the same (v or NULL) in every row of the segment
}

func keysetSegments(sort []readmodel.SortField, after []any) []segment {
	x, v, desc := valueExpr(sort[0].Path), bindValue(after[0]), sort[0].Desc
	var segs []segment
	seg := func(firstFixed bool, write func(b *sqlBuilder)) {
		var b sqlBuilder
		write(&b)
		segs = append(segs, segment{cond: b, firstFixed: firstFixed})
	}
	if len(sort) == 1 { // only _id: never null
		seg(false, func(b *sqlBuilder) { b.w(x, cmpOp(desc)); b.arg(v) })
		return segs
	}
	rest := func(b *sqlBuilder) { b.after(sort[1:], after[1:]) }
	equalRest := func(b *sqlBuilder) { b.w(x, " = "); b.arg(v); b.w(" AND "); rest(b) }
	beyond := func(b *sqlBuilder) { b.w(x, cmpOp(desc)); b.arg(v) }
	nullRest := func(b *sqlBuilder) { b.w(x, " IS NULL AND "); rest(b) }
	switch {
	case v != nil && !desc:
		seg(true, equalRest)
		seg(false, beyond)
	case v == nil && !desc:
		seg(true, nullRest)
		seg(false, func(b *sqlBuilder) { b.w(x, " IS NOT NULL") })
	case v != nil && desc:
		seg(true, equalRest)
		seg(false, beyond)
		seg(true, func(b *sqlBuilder) { b.w(x, " IS NULL") })
	default:
		seg(true, nullRest)
	}
	return segs
}

// cmpOp is "strictly after" in a direction.
func cmpOp(desc bool) string {
	if desc {
		return " < "
	}
	return " > "
}

// after writes "strictly after the key" for sort keys (the last is _id):
// gt(k0) OR (eq(k0) AND after(k1..)).
func (b *sqlBuilder) after(sort []readmodel.SortField, vals []any) {
	x, v, desc := valueExpr(sort[0].Path), bindValue(vals[0]), sort[0].Desc
	if len(sort) == 1 {
		b.w(x, cmpOp(desc))
		b.arg(v)
		return
	}
	b.w("(")
	switch {
	case v == nil && desc:
		b.w("0")
	case v == nil:
		b.w(x, " IS NOT NULL")
	case desc:
		b.w(x, " < ")
		b.arg(v)
		b.w(" OR ", x, " IS NULL")
	default:
		b.w(x, " > ")
		b.arg(v)
	}
	b.w(" OR (")
	if v == nil {
		b.w(x, " IS NULL")
	} else {
		b.w(x, " = ")
		b.arg(v)
	}
	b.w(" AND ")
	b.after(sort[1:], vals[1:])
	b.w("))")
}
