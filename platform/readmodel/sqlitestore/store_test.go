package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/readmodeltest"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

func openTemp(t testing.TB, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "cspm_test.sqlite"), opts)
}

// openAt opens the store at path, closed when the test ends.
func openAt(t testing.TB, path string, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestContract(t *testing.T) {
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store { return openTemp(t, sqlitestore.Options{}) })
}

// The same contract on WITHOUT ROWID tables (collections declared
// SmallDocs; decision 108).
func TestContractWithoutRowid(t *testing.T) {
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store {
		s := openTemp(t, sqlitestore.Options{})
		sqlitestore.AllSmallDocs(s)
		return s
	})
}
