package secretbox_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/secretbox"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	old, cur := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	oldBox, err := secretbox.New(old)
	require.NoError(t, err)
	id0, ct0, err := oldBox.Seal([]byte("hunter2-hunter2"))
	require.NoError(t, err)
	assert.NotContains(t, ct0, "hunter2")

	// A rotated ring seals with the new key and still opens the old.
	box, err := secretbox.New(cur, old)
	require.NoError(t, err)
	id, ct, err := box.Seal([]byte("hunter2-hunter2"))
	require.NoError(t, err)
	assert.NotEqual(t, id0, id)
	_, ct2, _ := box.Seal([]byte("hunter2-hunter2"))
	assert.NotEqual(t, ct, ct2, "a fresh nonce each time")
	for _, c := range []struct{ id, ct string }{{id0, ct0}, {id, ct}} {
		plain, err := box.Open(c.id, c.ct)
		require.NoError(t, err)
		assert.Equal(t, "hunter2-hunter2", string(plain))
	}

	_, err = oldBox.Open(id, ct)
	assert.ErrorIs(t, err, secretbox.ErrUnknownKey)
	_, err = box.Open(id0, ct) // a ciphertext under another key id
	assert.ErrorIs(t, err, secretbox.ErrOpen)
	tampered := []byte(ct)
	tampered[len(tampered)-3] ^= 1
	_, err = box.Open(id, string(tampered))
	assert.True(t, errors.Is(err, secretbox.ErrOpen))
	_, err = secretbox.New([]byte("short"))
	assert.Error(t, err)
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "integrations.key")
	keys, created, err := secretbox.LoadOrCreateFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	again, created, err := secretbox.LoadOrCreateFile(path)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, keys, again)

	hexKey := strings.Repeat("ab", 32)
	parsed, err := secretbox.ParseKeys(hexKey + ",\n" + "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=")
	require.NoError(t, err)
	require.Len(t, parsed, 2)
	_, err = secretbox.ParseKeys("not a key")
	assert.Error(t, err)
}
