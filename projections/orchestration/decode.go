package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// load reads collection/id through tx into v (a pointer to a state struct
// whose json tags name the document's fields); found is false, and v left
// alone, when there is no such document.
func load(ctx context.Context, tx projections.Tx, collection, id string, v any) (found bool, err error) {
	doc, found, err := tx.Get(ctx, collection, id)
	if err != nil || !found {
		return false, wrapGet(err, collection, id)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return false, fmt.Errorf("encode %s/%s: %w", collection, id, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", collection, id, err)
	}
	return true, nil
}

func wrapGet(err error, collection, id string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("get %s/%s: %w", collection, id, err)
}

// timeOrNil stores a zero time as null: TTL indexes ignore it and a
// descending sort puts it last.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return readmodel.NormalizeTime(t)
}

// later is the later of two times (a zero time is the earliest).
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
