package sqlitestore

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// sqlBuilder values are copied (findQuery returns one, segments hold
// them). A strings.Builder inside would keep a pointer to where it was
// first written, dangling in the copy once that goroutine stack moves: the
// GC then aborts the process ("found bad pointer in Go heap"), which a
// benchmark paging 100,000 documents hit. Keep builders copyable.
func TestSQLBuilderIsCopyable(t *testing.T) {
	typ := reflect.TypeFor[sqlBuilder]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		assert.NotEqual(t, reflect.TypeFor[strings.Builder](), f.Type, "field %s", f.Name)
	}
}

// The copies stay valid across stack growth and collections.
func TestFindQueriesSurviveStackMoves(t *testing.T) {
	opts := readmodel.FindOptions{Filter: readmodel.Eq("team_id", "t"),
		Sort: []readmodel.SortField{readmodel.Desc("raised_at")}, Limit: 10}
	plan, err := readmodel.FindArgs("findings", opts)
	require.NoError(t, err)
	var kept []sqlBuilder
	var grow func(n int) int
	grow = func(n int) int { // deep recursion moves this goroutine's stack
		var pad [256]byte
		if n == 0 {
			kept = append(kept, findQuery("findings", plan, segment{}, 10))
			return int(pad[0])
		}
		return grow(n-1) + int(pad[n%256])
	}
	for range 50 {
		grow(200)
		runtime.GC()
	}
	for _, q := range kept {
		assert.Contains(t, q.String(), "LIMIT ?")
	}
}
