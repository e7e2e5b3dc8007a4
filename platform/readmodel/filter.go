package readmodel

import "time"

// Op is a filter operator.
type Op string

// The operators. Comparisons are type-strict on every backend (MongoDB's
// type brackets): a number matches numbers (int64 and float64 compare by
// value), a string strings, a time times, a bool bools. Eq/Ne with nil
// match a missing or null field (resp. a present, non-null one).
const (
	OpEq     Op = "eq"
	OpNe     Op = "ne" // also matches documents where the field is missing
	OpIn     Op = "in" // equal to any of Values; an empty list matches nothing
	OpGt     Op = "gt"
	OpGte    Op = "gte"
	OpLt     Op = "lt"
	OpLte    Op = "lte"
	OpExists Op = "exists" // Value is a bool: present (even if null) or missing
	OpAnd    Op = "and"    // all of Filters; an empty And matches everything
)

// Filter limits.
const (
	MaxInValues  = 1000
	MaxAndTerms  = 64
	MaxFilterDep = 8
)

// Filter selects documents. The zero Filter matches everything. Build
// filters with Eq, Ne, In, Gt, Gte, Lt, Lte, Exists and And; adapters read
// the fields after Normalize.
type Filter struct {
	Op      Op
	Path    string   // dotted path (all but And)
	Value   any      // the operand of Eq..Lte (a scalar); the bool of Exists
	Values  []any    // the operands of In (scalars)
	Filters []Filter // the terms of And
}

// Eq matches documents whose field at path equals v (nil: missing or null).
func Eq(path string, v any) Filter { return Filter{Op: OpEq, Path: path, Value: v} }

// Ne matches documents whose field at path is not equal to v, including
// those that lack the field (nil: present and not null).
func Ne(path string, v any) Filter { return Filter{Op: OpNe, Path: path, Value: v} }

// In matches documents whose field at path equals one of vs.
func In(path string, vs ...any) Filter { return Filter{Op: OpIn, Path: path, Values: vs} }

// Gt matches documents whose field at path is greater than v (same type).
func Gt(path string, v any) Filter { return Filter{Op: OpGt, Path: path, Value: v} }

// Gte matches documents whose field at path is at least v (same type).
func Gte(path string, v any) Filter { return Filter{Op: OpGte, Path: path, Value: v} }

// Lt matches documents whose field at path is less than v (same type).
func Lt(path string, v any) Filter { return Filter{Op: OpLt, Path: path, Value: v} }

// Lte matches documents whose field at path is at most v (same type).
func Lte(path string, v any) Filter { return Filter{Op: OpLte, Path: path, Value: v} }

// Exists matches documents that have (exists) or lack (!exists) the field.
func Exists(path string, exists bool) Filter { return Filter{Op: OpExists, Path: path, Value: exists} }

// And matches documents every f matches.
func And(fs ...Filter) Filter { return Filter{Op: OpAnd, Filters: fs} }

// IsZero reports whether f matches everything without a condition.
func (f Filter) IsZero() bool { return f.Op == "" || f.Op == OpAnd && len(f.Filters) == 0 }

// Normalize validates f and returns a copy whose operands are canonical
// scalars, with nested Ands flattened and match-all terms dropped. Errors
// wrap ErrInvalid.
func (f Filter) Normalize() (Filter, error) { return f.normalize(0) }

func (f Filter) normalize(depth int) (Filter, error) {
	if depth > MaxFilterDep {
		return Filter{}, Invalidf("filter nested deeper than %d", MaxFilterDep)
	}
	switch f.Op {
	case "":
		return Filter{}, nil
	case OpAnd:
		if len(f.Filters) > MaxAndTerms {
			return Filter{}, Invalidf("And with more than %d terms", MaxAndTerms)
		}
		var terms []Filter
		for _, t := range f.Filters {
			nt, err := t.normalize(depth + 1)
			if err != nil {
				return Filter{}, err
			}
			switch {
			case nt.IsZero():
			case nt.Op == OpAnd:
				terms = append(terms, nt.Filters...)
			default:
				terms = append(terms, nt)
			}
		}
		switch len(terms) {
		case 0:
			return Filter{}, nil
		case 1:
			return terms[0], nil
		}
		if len(terms) > MaxAndTerms {
			return Filter{}, Invalidf("And with more than %d terms", MaxAndTerms)
		}
		return Filter{Op: OpAnd, Filters: terms}, nil
	}
	if err := ValidatePath(f.Path); err != nil {
		return Filter{}, err
	}
	out := Filter{Op: f.Op, Path: f.Path}
	switch f.Op {
	case OpExists:
		b, ok := f.Value.(bool)
		if !ok {
			return Filter{}, Invalidf("Exists(%s): want a bool, got %T", f.Path, f.Value)
		}
		out.Value = b
	case OpIn:
		if len(f.Values) > MaxInValues {
			return Filter{}, Invalidf("In(%s): more than %d values", f.Path, MaxInValues)
		}
		out.Values = make([]any, len(f.Values))
		for i, v := range f.Values {
			nv, err := operand(f.Op, f.Path, v)
			if err != nil {
				return Filter{}, err
			}
			out.Values[i] = nv
		}
	case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte:
		nv, err := operand(f.Op, f.Path, f.Value)
		if err != nil {
			return Filter{}, err
		}
		if nv == nil && f.Op != OpEq && f.Op != OpNe {
			return Filter{}, Invalidf("%s(%s): nil is only comparable with Eq, Ne and In", f.Op, f.Path)
		}
		if _, isBool := nv.(bool); isBool && f.Op != OpEq && f.Op != OpNe {
			return Filter{}, Invalidf("%s(%s): bools are only comparable with Eq, Ne and In", f.Op, f.Path)
		}
		out.Value = nv
	default:
		return Filter{}, Invalidf("unknown filter operator %q", f.Op)
	}
	return out, nil
}

func operand(op Op, path string, v any) (any, error) {
	nv, err := normalize(v, 0)
	if err != nil {
		return nil, Invalidf("%s(%s): %v", op, path, err)
	}
	if !IsScalar(nv) {
		return nil, Invalidf("%s(%s): operands are scalars (string, number, bool, nil, time), got %T", op, path, v)
	}
	if _, isStr := nv.(string); path == IDField && !isStr {
		return nil, Invalidf("%s(_id): _id is a string, got %T", op, v)
	}
	return nv, nil
}

// Kind classifies a canonical scalar for adapters that translate filters.
type Kind int

// The scalar kinds.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindBool
	KindTime
)

// KindOf returns the kind of a canonical scalar (KindNull for anything else).
func KindOf(v any) Kind {
	switch v.(type) {
	case string:
		return KindString
	case int64, float64:
		return KindNumber
	case bool:
		return KindBool
	case time.Time:
		return KindTime
	}
	return KindNull
}
