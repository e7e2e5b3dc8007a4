// Package privacy keeps the data subjects' keys for crypto-shredding
// (docs/privacy.md, decisions 91-93): one AES-256 key per data subject,
// each in its own file under a directory outside the event store, sealed
// with a master key (platform/secretbox) that is kept apart from every
// database. Personal fields of events are sealed under their subject's
// key by the event codec; forgetting a subject deletes its key file, after
// which what was sealed under it no longer opens: it reads as erased.
//
// A subject is named by the caller (an email, a person's name or id) and
// normalized (Normalize); on disk and in events it appears only as its
// subject id, a keyed hash (HMAC-SHA256 under a random pepper kept sealed
// beside the keys), so that neither the store nor the key directory
// reveals who the subjects are, and a guessed email cannot be checked
// against the store without the pepper.
package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

// ErrErased: the subject's key is gone (forgotten): what was sealed under
// it cannot be read any more. It is the event codec's
// eventstore.ErrSubjectErased, so a Keyring is its eventstore.SubjectKeys.
var ErrErased = eventstore.ErrSubjectErased

// ErrBadSubject: the subject is empty once normalized.
var ErrBadSubject = errors.New("privacy: empty data subject")

const (
	pepperFile = "pepper"
	keysDir    = "keys"
	keySize    = 32
)

// Keyring holds the subjects' keys in a directory. It is safe for
// concurrent use, and several processes may share its directory: every
// Open checks that the key file still exists, so a key forgotten by
// another process stops opening at once (the in-memory copy only spares
// re-reading and unsealing the file).
type Keyring struct {
	dir    string
	master *secretbox.Box
	pepper []byte

	ringID string // the first 8 hex digits of every subject id it makes

	mu    sync.Mutex
	cache map[string]cipher.AEAD
}

// ErrOtherKeyring: a sealed value names a subject of another keyring (the
// processes of one event store do not share their keyring directory). It
// is an error, not an erasure: the data was not forgotten.
var ErrOtherKeyring = errors.New("privacy: the value was sealed by another keyring (share the privacy directory and master key between the processes of one event store)")

// Open opens (creating if needed) the keyring in dir, sealed under master.
func Open(dir string, master *secretbox.Box) (*Keyring, error) {
	if master == nil {
		return nil, errors.New("privacy: no master key")
	}
	if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o700); err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	k := &Keyring{dir: dir, master: master, cache: map[string]cipher.AEAD{}}
	pepper, err := k.loadOrCreate(filepath.Join(dir, pepperFile))
	if err != nil {
		return nil, fmt.Errorf("privacy: pepper: %w", err)
	}
	k.pepper = pepper
	ring := sha256.Sum256(pepper)
	k.ringID = hex.EncodeToString(ring[:4])
	return k, nil
}

// Normalize is the canonical form of a subject: trimmed, inner white space
// collapsed to one space, lower case (emails and names are matched
// without regard to case).
func Normalize(subject string) string {
	f := strings.FieldsFunc(subject, unicode.IsSpace)
	return strings.ToLower(strings.Join(f, " "))
}

// SubjectID is the id of subject (normalized first) in team: 40 hex
// digits, the keyring's id (8, from its pepper) then 32 of HMAC-SHA256
// under the pepper of the team, a zero byte and the normalized subject.
func (k *Keyring) SubjectID(team, subject string) (string, error) {
	n := Normalize(subject)
	if n == "" {
		return "", ErrBadSubject
	}
	m := hmac.New(sha256.New, k.pepper)
	m.Write([]byte(team))
	m.Write([]byte{0})
	m.Write([]byte(n))
	return k.ringID + hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// Seal encrypts plain under the key of subject in team, creating the key on first use.
// It returns the subject id and the ciphertext (base64 of
// nonce‖ciphertext‖tag, the subject id as additional data).
func (k *Keyring) Seal(team, subject string, plain []byte) (subjectID, ciphertext string, err error) {
	id, err := k.SubjectID(team, subject)
	if err != nil {
		return "", "", err
	}
	g, err := k.aead(id, true)
	if err != nil {
		return "", "", err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", "", fmt.Errorf("privacy: nonce: %w", err)
	}
	return id, base64.StdEncoding.EncodeToString(g.Seal(nonce, nonce, plain, []byte(id))), nil
}

// Open decrypts what Seal returned; ErrErased when the subject's key is
// gone, or when the ciphertext was sealed under an earlier key of the same
// subject (forgotten, then seen again: the new key opens only new data).
func (k *Keyring) Open(subjectID, ciphertext string) ([]byte, error) {
	g, err := k.aead(subjectID, false)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil || len(raw) < g.NonceSize()+g.Overhead() {
		return nil, fmt.Errorf("privacy: subject %s: malformed ciphertext", subjectID)
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(subjectID))
	if err != nil {
		return nil, ErrErased
	}
	return plain, nil
}

// Forget destroys the key of subject in team. existed is false when there was none
// (never seen, or already forgotten); the subject id is returned either way.
func (k *Keyring) Forget(team, subject string) (subjectID string, existed bool, err error) {
	id, err := k.SubjectID(team, subject)
	if err != nil {
		return "", false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cache, id)
	err = os.Remove(k.keyPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("privacy: forget %s: %w", id, err)
	}
	if d, err := os.Open(filepath.Join(k.dir, keysDir)); err == nil {
		_ = d.Sync() // the removal survives a crash
		d.Close()
	}
	return id, true, nil
}

// Has reports whether subject has a key in team (was seen and not forgotten).
func (k *Keyring) Has(team, subject string) (bool, error) {
	id, err := k.SubjectID(team, subject)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(k.keyPath(id))
	return err == nil, nil
}

func (k *Keyring) keyPath(id string) string { return filepath.Join(k.dir, keysDir, id+".key") }

// aead is the cipher of subject id; create makes its key when missing.
func (k *Keyring) aead(id string, create bool) (cipher.AEAD, error) {
	if len(id) != 40 || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("privacy: malformed subject id %q", id)
	}
	if id[:8] != k.ringID {
		return nil, fmt.Errorf("%w: value of keyring %s, this keyring is %s", ErrOtherKeyring, id[:8], k.ringID)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	path := k.keyPath(id)
	// The file, not the cache, says whether the key exists: another
	// process may have forgotten the subject.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		delete(k.cache, id)
		if !create {
			return nil, ErrErased
		}
	} else if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	} else if g := k.cache[id]; g != nil {
		return g, nil
	}
	var key []byte
	var err error
	if create {
		key, err = k.loadOrCreate(path)
	} else {
		key, err = k.load(path)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrErased
	}
	if err != nil {
		return nil, fmt.Errorf("privacy: subject %s: %w", id, err)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	k.cache[id] = g
	return g, nil
}

// load reads a sealed key file.
func (k *Keyring) load(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keyID, ct, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return nil, fmt.Errorf("%s: malformed key file", path)
	}
	key, err := k.master.Open(keyID, ct)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("%s: key of %d bytes", path, len(key))
	}
	return key, nil
}

// loadOrCreate reads the sealed key of path, or writes a new random one
// (0600, created exclusively: two processes creating the same subject's
// key at once agree on the first).
func (k *Keyring) loadOrCreate(path string) ([]byte, error) {
	key, err := k.load(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	keyID, ct, err := k.master.Seal(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".new-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(keyID + ":" + ct + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails when the file exists: then the other writer's key wins.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return k.load(path)
		}
		return nil, err
	}
	return key, nil
}

var _ eventstore.SubjectKeys = (*Keyring)(nil)
