// Package secretbox seals the integrations' secrets with AES-256-GCM under
// a key kept outside every database (a key file or an environment
// variable, docs/integrations.md). A sealed secret is the base64 of
// nonce‖ciphertext‖tag and the key's id (the first 16 hex digits of the
// key's SHA-256), so a rotated key can still open what an older key
// sealed while the older key is kept in the ring.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the key length (AES-256).
const KeySize = 32

// ErrUnknownKey: the secret was sealed under a key the ring lacks.
var ErrUnknownKey = errors.New("secretbox: the secret was sealed under a key this process does not hold")

// ErrOpen: the ciphertext does not open under its key (tampered, or the
// wrong key under the same id).
var ErrOpen = errors.New("secretbox: the secret does not open")

// Box seals with its first key and opens with any of its keys.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// KeyID is the id of key.
func KeyID(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// New returns a box sealing under keys[0] and opening under any of keys.
func New(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no key")
	}
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key %d has %d bytes, want %d", i+1, len(k), KeySize)
		}
		blk, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		g, err := cipher.NewGCM(blk)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		id := KeyID(k)
		if i == 0 {
			b.current = id
		}
		b.aeads[id] = g
	}
	return b, nil
}

// KeyID is the id of the key Seal uses.
func (b *Box) KeyID() string { return b.current }

// Seal encrypts plain under the current key; the key id is the additional
// data, so a ciphertext moved under another id does not open.
func (b *Box) Seal(plain []byte) (keyID, ciphertext string, err error) {
	g := b.aeads[b.current]
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := g.Seal(nonce, nonce, plain, []byte(b.current))
	return b.current, base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal returned.
func (b *Box) Open(keyID, ciphertext string) ([]byte, error) {
	g, ok := b.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, keyID)
	}
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(raw) < g.NonceSize()+g.Overhead() {
		return nil, ErrOpen
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(keyID))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// ParseKeys reads keys written as base64 (standard or URL encoding) or
// 64 hex digits, separated by commas or new lines; the first is current.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
		var k []byte
		var err error
		switch {
		case len(f) == 2*KeySize:
			k, err = hex.DecodeString(f)
		default:
			k, err = base64.StdEncoding.DecodeString(f)
			if err != nil {
				k, err = base64.URLEncoding.DecodeString(f)
			}
		}
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: key %d is not %d bytes in base64 or hex", len(keys)+1, KeySize)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no key")
	}
	return keys, nil
}

// LoadOrCreateFile reads the keys of path; a missing file is created
// (0600) with one new random key. created says so.
func LoadOrCreateFile(path string) (keys [][]byte, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, KeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, false, fmt.Errorf("secretbox: new key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("secretbox: create %s: %w", path, err)
		}
		if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("secretbox: write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, false, fmt.Errorf("secretbox: write %s: %w", path, err)
		}
		return [][]byte{k}, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("secretbox: read %s: %w", path, err)
	}
	keys, err = ParseKeys(string(data))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return keys, false, nil
}
