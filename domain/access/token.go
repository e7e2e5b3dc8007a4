package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// An API key as a caller holds it is a token
//
//	cspm_<key id>_<secret>
//
// The key id (KeyIDLength lowercase base32 characters, 80 random bits)
// names the key: it is public, appears in events, logs and the audit trail,
// and finds the key's stream. The secret (SecretBytes random bytes,
// base64url without padding) proves possession. Only a per-key random salt
// and sha256(salt ‖ secret) are ever stored: the secret itself exists in
// the token the caller was given once, nowhere else. A 256-bit random
// secret cannot be guessed or brute-forced from its hash, so a slow
// password KDF (bcrypt, argon2) would buy nothing and cost every request
// (docs/api-keys.md).
const (
	TokenPrefix = "cspm"
	KeyIDLength = 16
	SecretBytes = 32
	SaltBytes   = 16

	keyIDBytes = 10 // 80 bits: exactly KeyIDLength base32 characters
	// secretLength is the length of the encoded secret.
	secretLength = (SecretBytes*8 + 5) / 6
	tokenLength  = len(TokenPrefix) + 1 + KeyIDLength + 1 + secretLength
)

var (
	keyIDEncoding  = base32.StdEncoding.WithPadding(base32.NoPadding)
	secretEncoding = base64.RawURLEncoding.Strict()
)

// Credential is a newly generated key: its id, the secret and what is
// stored of it (Salt, Hash, both hex). Token is what the caller is given.
// String and GoString leave the secret out, so a credential printed by
// mistake does not leak it.
type Credential struct {
	KeyID  string
	Secret string // base64url, no padding; never stored
	Salt   string // hex
	Hash   string // hex sha256(salt ‖ secret)
}

// NewCredential generates a key id, a secret and a salt from random
// (crypto/rand.Reader outside tests) and hashes the secret.
func NewCredential(random io.Reader) (Credential, error) {
	buf := make([]byte, keyIDBytes+SecretBytes+SaltBytes)
	if _, err := io.ReadFull(random, buf); err != nil {
		return Credential{}, fmt.Errorf("generate API key: %w", err)
	}
	id, secret, salt := buf[:keyIDBytes], buf[keyIDBytes:keyIDBytes+SecretBytes], buf[keyIDBytes+SecretBytes:]
	return Credential{
		KeyID:  strings.ToLower(keyIDEncoding.EncodeToString(id)),
		Secret: secretEncoding.EncodeToString(secret),
		Salt:   hex.EncodeToString(salt),
		Hash:   hex.EncodeToString(HashSecret(salt, secret)),
	}, nil
}

// Token is the key as the caller sends it: cspm_<key id>_<secret>.
func (c Credential) Token() string { return FormatToken(c.KeyID, c.Secret) }

// String names the key without its secret.
func (c Credential) String() string { return "API key " + c.KeyID }

// GoString names the key without its secret (%#v).
func (c Credential) GoString() string {
	return fmt.Sprintf("access.Credential{KeyID:%q, Secret:<redacted>}", c.KeyID)
}

// FormatToken joins a key id and an encoded secret into a token.
func FormatToken(keyID, secret string) string { return TokenPrefix + "_" + keyID + "_" + secret }

// HashSecret is sha256(salt ‖ secret), over the secret's raw bytes.
func HashSecret(salt, secret []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(secret)
	return h.Sum(nil)
}

// ParseToken splits a token into its key id and encoded secret. Anything
// that is not exactly a token of this format is an error wrapping
// ErrUnauthenticated (which never quotes the token).
func ParseToken(token string) (keyID, secret string, err error) {
	malformed := fmt.Errorf("malformed API key: %w", ErrUnauthenticated)
	if len(token) != tokenLength {
		return "", "", malformed
	}
	rest, ok := strings.CutPrefix(token, TokenPrefix+"_")
	if !ok || rest[KeyIDLength] != '_' {
		return "", "", malformed
	}
	keyID, secret = rest[:KeyIDLength], rest[KeyIDLength+1:]
	if !ValidKeyID(keyID) {
		return "", "", malformed
	}
	if raw, err := secretEncoding.DecodeString(secret); err != nil || len(raw) != SecretBytes {
		return "", "", malformed
	}
	return keyID, secret, nil
}

// ValidKeyID reports whether id has the form of a key id: KeyIDLength
// characters of the lowercase base32 alphabet (a-z, 2-7).
func ValidKeyID(id string) bool {
	if len(id) != KeyIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// VerifySecret reports whether secret (encoded, as in a token) hashes with
// the stored salt to the stored hash. The comparison takes the same time
// wherever the hashes differ.
func VerifySecret(saltHex, hashHex, secret string) bool {
	salt, err1 := hex.DecodeString(saltHex)
	want, err2 := hex.DecodeString(hashHex)
	raw, err3 := secretEncoding.DecodeString(secret)
	if err1 != nil || err2 != nil || err3 != nil || len(want) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(HashSecret(salt, raw), want) == 1
}
