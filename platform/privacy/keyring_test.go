package privacy_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/privacy"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

func open(t *testing.T, dir string) *privacy.Keyring {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	k, err := privacy.Open(dir, box)
	require.NoError(t, err)
	return k
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  Alice@Example.COM ": "alice@example.com",
		"Jane\t  Doe":          "jane doe",
		"":                     "",
	} {
		assert.Equal(t, want, privacy.Normalize(in), in)
	}
}

func TestSealOpenForget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := open(t, dir)
	id, ct, err := k.Seal("t1", "Alice@Example.com", []byte("alice@example.com"))
	require.NoError(t, err)
	assert.NotContains(t, ct, "alice")
	id2, _ := k.SubjectID("t1", " alice@example.com")
	assert.Equal(t, id, id2, "the subject is normalized")
	other, _ := k.SubjectID("t2", "alice@example.com")
	assert.NotEqual(t, id, other, "subjects are scoped by team")

	// Another process (another keyring on the directory) opens it.
	k2 := open(t, dir)
	plain, err := k2.Open(id, ct)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", string(plain))

	// Nothing on disk names the subject.
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		assert.NotContains(t, strings.ToLower(p), "alice")
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.NotContains(t, string(b), "alice")
		}
		return nil
	}))

	// The other team's alice is another key.
	_, ct2, err := k.Seal("t2", "alice@example.com", []byte("x"))
	require.NoError(t, err)

	fid, existed, err := k.Forget("t1", "ALICE@example.com")
	require.NoError(t, err)
	assert.True(t, existed)
	assert.Equal(t, id, fid)
	for _, ring := range []*privacy.Keyring{k, k2} { // k2 had it cached
		_, err = ring.Open(id, ct)
		assert.True(t, errors.Is(err, eventstore.ErrSubjectErased), "%v", err)
	}
	plain, err = k.Open(other, ct2)
	require.NoError(t, err)
	assert.Equal(t, "x", string(plain))

	_, existed, err = k.Forget("t1", "alice@example.com")
	require.NoError(t, err)
	assert.False(t, existed, "forgotten twice: nothing left to destroy")

	// Seen again after forgetting: a new key opens the new data only.
	id3, ct3, err := k.Seal("t1", "alice@example.com", []byte("again"))
	require.NoError(t, err)
	assert.Equal(t, id, id3)
	plain, err = k.Open(id3, ct3)
	require.NoError(t, err)
	assert.Equal(t, "again", string(plain))
	_, err = k.Open(id, ct)
	assert.True(t, errors.Is(err, eventstore.ErrSubjectErased))

	_, err = k.SubjectID("t1", "   ")
	assert.ErrorIs(t, err, privacy.ErrBadSubject)
}

func TestWrongMasterKeyFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open(t, dir)
	box, err := secretbox.New(bytes.Repeat([]byte{8}, 32))
	require.NoError(t, err)
	_, err = privacy.Open(dir, box)
	require.Error(t, err, "a keyring does not open under another master key")
}

// TestOtherKeyringIsAnError: a value sealed by another keyring (processes
// of one store not sharing the directory) is an error, never an erasure.
func TestOtherKeyringIsAnError(t *testing.T) {
	t.Parallel()
	a, b := open(t, t.TempDir()), open(t, t.TempDir())
	id, ct, err := a.Seal("t1", "hal@example.com", []byte("hal"))
	require.NoError(t, err)
	_, err = b.Open(id, ct)
	require.ErrorIs(t, err, privacy.ErrOtherKeyring)
	assert.False(t, errors.Is(err, eventstore.ErrSubjectErased))
}
