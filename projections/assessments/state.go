// Package assessments holds the assessments module's projections, in
// cspm_assessments: the catalogues and the teams' assessments
// (assessments.assessments), the evidence gathered across modules as of
// each assessment's date (assessments.evidence, decision 70) and the
// unified view of every assessment across modules (assessments.index,
// decision 71). docs/assessments.md.
package assessments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// getState reads the JSON "state" of an internal document into v.
func getState(ctx context.Context, tx projections.Tx, coll, id string, v any) (bool, error) {
	d, found, err := fold.Get(ctx, tx, coll, id)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal([]byte(fold.Str(d, "state")), v); err != nil {
		return false, fmt.Errorf("%s/%s: %w", coll, id, err)
	}
	return true, nil
}

// putState writes v as the JSON "state" of an internal document, with
// extra top-level fields (team, for the queries' filters).
func putState(tx projections.Tx, coll, id string, v any, extra readmodel.Doc) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	d := readmodel.Doc{"_id": id, "state": string(b)}
	for k, x := range extra {
		d[k] = x
	}
	tx.Put(coll, d)
	return nil
}

// key is a fixed-length document id of its parts.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0x1f})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
