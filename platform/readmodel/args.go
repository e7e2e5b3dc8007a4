package readmodel

// The argument checks every adapter runs before any I/O, in one place.
// Errors wrap ErrInvalid.

// FindArgs validates a Find's collection and options and returns its plan.
func FindArgs(collection string, opts FindOptions) (FindPlan, error) {
	if err := ValidateCollection(collection); err != nil {
		return FindPlan{}, err
	}
	return opts.Plan()
}

// CountArgs validates a Count's collection and filter and returns the
// normalized filter.
func CountArgs(collection string, f Filter) (Filter, error) {
	if err := ValidateCollection(collection); err != nil {
		return Filter{}, err
	}
	return f.Normalize()
}

// CountByArgs is CountArgs plus the grouping field's path.
func CountByArgs(collection string, f Filter, field string) (Filter, error) {
	if err := ValidatePath(field); err != nil {
		return Filter{}, err
	}
	return CountArgs(collection, f)
}
