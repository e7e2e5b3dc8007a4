package access_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
)

var tokenFormat = regexp.MustCompile(`^cspm_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`)

func TestNewCredential(t *testing.T) {
	t.Parallel()
	c, err := access.NewCredential(rand.Reader)
	require.NoError(t, err)
	assert.Regexp(t, tokenFormat, c.Token())
	assert.True(t, access.ValidKeyID(c.KeyID))

	secret, err := base64.RawURLEncoding.DecodeString(c.Secret)
	require.NoError(t, err)
	assert.Len(t, secret, access.SecretBytes)
	salt, err := hex.DecodeString(c.Salt)
	require.NoError(t, err)
	assert.Len(t, salt, access.SaltBytes)
	sum := sha256.Sum256(append(append([]byte{}, salt...), secret...))
	assert.Equal(t, hex.EncodeToString(sum[:]), c.Hash, "hash = sha256(salt ‖ secret)")

	other, err := access.NewCredential(rand.Reader)
	require.NoError(t, err)
	assert.NotEqual(t, c.KeyID, other.KeyID)
	assert.NotEqual(t, c.Secret, other.Secret)
	assert.NotEqual(t, c.Salt, other.Salt, "every key has its own salt")

	_, err = access.NewCredential(iotest.ErrReader(errors.New("no entropy")))
	require.ErrorContains(t, err, "no entropy")
}

func TestCredentialNeverPrintsItsSecret(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, cred)
		assert.NotContains(t, out, cred.Secret, format)
		assert.Contains(t, out, cred.KeyID, format)
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	keyID, secret, err := access.ParseToken(cred.Token())
	require.NoError(t, err)
	assert.Equal(t, cred.KeyID, keyID)
	assert.Equal(t, cred.Secret, secret)

	// A secret may contain '_' and '-' (base64url): only the first two
	// separators split.
	underscored := access.FormatToken(cred.KeyID, "_"+cred.Secret[1:42]+"A")
	if _, s, err := access.ParseToken(underscored); assert.NoError(t, err) {
		assert.True(t, strings.HasPrefix(s, "_"))
	}

	token := cred.Token()
	bad := map[string]string{
		"empty":                       "",
		"temporary":                   "temporary",
		"other prefix":                "xspm" + token[4:],
		"uppercase key id":            "cspm_" + strings.ToUpper(cred.KeyID) + token[21:],
		"key id with a digit 1":       "cspm_1" + token[6:],
		"missing separator":           strings.Replace(token, cred.KeyID+"_", cred.KeyID+".", 1),
		"secret one character short":  token[:len(token)-1],
		"secret one character longer": token + "A",
		"secret with padding":         token[:len(token)-1] + "=",
		"secret with a space":         token[:len(token)-1] + " ",
		"standard base64 secret":      token[:len(token)-1] + "+",
		"non-canonical last char":     token[:len(token)-1] + "B", // 43 chars carry 258 bits: the last 2 must be 0
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := access.ParseToken(tok)
			require.ErrorIs(t, err, access.ErrUnauthenticated)
			if tok != "" {
				assert.NotContains(t, err.Error(), tok, "errors never quote the token")
			}
		})
	}
}

func TestVerifySecret(t *testing.T) {
	t.Parallel()
	assert.True(t, access.VerifySecret(cred.Salt, cred.Hash, cred.Secret))
	other := mustOtherCredential(t)
	assert.False(t, access.VerifySecret(cred.Salt, cred.Hash, other.Secret))
	assert.False(t, access.VerifySecret(other.Salt, cred.Hash, cred.Secret), "the salt is part of the hash")
	assert.False(t, access.VerifySecret(cred.Salt, cred.Hash, "not base64!"))
	assert.False(t, access.VerifySecret("zz", cred.Hash, cred.Secret))
	assert.False(t, access.VerifySecret(cred.Salt, "", cred.Secret))
	assert.False(t, access.VerifySecret(cred.Salt, cred.Hash[:10], cred.Secret))
}

func FuzzParseToken(f *testing.F) {
	f.Add(cred.Token())
	f.Add("cspm__")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, token string) {
		keyID, secret, err := access.ParseToken(token)
		if err != nil {
			require.ErrorIs(t, err, access.ErrUnauthenticated)
			return
		}
		require.Equal(t, token, access.FormatToken(keyID, secret), "a parsed token formats back to itself")
		require.True(t, access.ValidKeyID(keyID))
	})
}
