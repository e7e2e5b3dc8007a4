package eventstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The audit key keys everything a database writer must not be able to
// forge: the global chain (log_hash), the idempotency records' MACs and
// the checkpoints. It lives in a file outside the event store (see
// docs/tamper-evidence.md); the store only records the key's id.

// AuditKeySize is the length of an audit key in bytes.
const AuditKeySize = 32

// AuditKeyFile is the key file's name inside the audit directory.
const AuditKeyFile = "audit.key"

// AuditKey is the secret of the keyed chain. The zero value is the empty
// key: stores opened without a key (tests, tools) chain with it, and
// Verify treats it as "no key given".
type AuditKey struct{ k []byte }

// NewAuditKey wraps 32 secret bytes.
func NewAuditKey(b []byte) (AuditKey, error) {
	if len(b) != AuditKeySize {
		return AuditKey{}, fmt.Errorf("audit key: %d bytes, want %d", len(b), AuditKeySize)
	}
	return AuditKey{k: append([]byte(nil), b...)}, nil
}

// GenerateAuditKey returns a new random key.
func GenerateAuditKey() (AuditKey, error) {
	b := make([]byte, AuditKeySize)
	if _, err := rand.Read(b); err != nil {
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	return AuditKey{k: b}, nil
}

// IsZero reports whether k is the empty key.
func (k AuditKey) IsZero() bool { return len(k.k) == 0 }

// ID names the key without revealing it: the first 16 hex digits of
// HMAC(K, "cspm-key-id"). The store records the id of the key it is
// chained with.
func (k AuditKey) ID() string {
	m := hmac.New(sha256.New, k.k)
	m.Write([]byte("cspm-key-id"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// EmptyKeyID is the id of the empty key (the zero AuditKey).
var EmptyKeyID = AuditKey{}.ID()

// String never shows the secret.
func (k AuditKey) String() string { return "audit key " + k.ID() }

// fields appends length-prefixed fields, as CanonicalBytes encodes them,
// so that no two field lists share an encoding.
type fields []byte

func (f fields) add(s string) fields {
	f = strconv.AppendInt(f, int64(len(s)), 10)
	f = append(f, ':')
	f = append(f, s...)
	return append(f, ';')
}

func (f fields) addInt(n int64) fields {
	var b [20]byte
	return f.add(string(strconv.AppendInt(b[:0], n, 10)))
}

// LogHasher computes log hashes with one key, reusing its buffers. It is
// not safe for concurrent use: a writer keeps one.
type LogHasher struct {
	mac hash.Hash
	buf fields
	sum []byte
}

// LogHasher returns a hasher of the global chain under k.
func (k AuditKey) LogHasher() *LogHasher {
	return &LogHasher{mac: hmac.New(sha256.New, k.k)}
}

// Next is the log hash of the event at position whose (per-stream) hash
// is hash, following the event whose log hash is prev ("" before position 1):
// hex(HMAC-SHA256(K, "cspm-log-v1" ‖ prev ‖ position ‖ hash)), each part
// length-prefixed.
func (h *LogHasher) Next(prev string, position int64, hash string) string {
	h.buf = h.buf[:0].add("cspm-log-v1").add(prev).addInt(position).add(hash)
	h.mac.Reset()
	h.mac.Write(h.buf)
	h.sum = h.mac.Sum(h.sum[:0])
	return hex.EncodeToString(h.sum)
}

// LogHash is LogHasher().Next for a single value.
func LogHash(k AuditKey, prev string, position int64, hash string) string {
	return k.LogHasher().Next(prev, position, hash)
}

// IdempotencyMAC authenticates an idempotency record: the key, the
// fingerprint and the outcome it replays (stream, version, event ids).
// Positions are not covered: MongoDB learns them after commit; Verify
// checks them against the events instead.
func IdempotencyMAC(k AuditKey, key, fingerprint string, res AppendResult) string {
	f := fields(nil).add("cspm-idem-v1").add(key).add(fingerprint).add(res.StreamID).
		addInt(res.Version).addInt(int64(len(res.EventIDs)))
	for _, id := range res.EventIDs {
		f = f.add(id)
	}
	return macHex(k, f)
}

func macHex(k AuditKey, msg []byte) string {
	m := hmac.New(sha256.New, k.k)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// macEqual compares two hex MACs in constant time.
func macEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// ReadAuditKeyFile reads a key file: 64 hex digits (white space around
// them is ignored). A missing file is an error wrapping fs.ErrNotExist.
func ReadAuditKeyFile(path string) (AuditKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != AuditKeySize {
		return AuditKey{}, fmt.Errorf("audit key %s: not %d hex-encoded bytes", path, AuditKeySize)
	}
	return AuditKey{k: b}, nil
}

// ErrAuditKeyExists: CreateAuditKeyFile found a key file already there.
var ErrAuditKeyExists = errors.New("audit key file already exists")

// CreateAuditKeyFile creates a new random key at path (mode 0600, its
// directory 0700 when created) atomically: the key is written and synced
// in a temporary file that is then linked to path, which fails if path
// exists (ErrAuditKeyExists): a key is never overwritten.
func CreateAuditKeyFile(path string) (AuditKey, error) {
	k, err := GenerateAuditKey()
	if err != nil {
		return AuditKey{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	tmp, err := writeTemp(dir, filepath.Base(path), []byte(hex.EncodeToString(k.k)+"\n"))
	if err != nil {
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return AuditKey{}, fmt.Errorf("audit key %s: %w", path, ErrAuditKeyExists)
		}
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return AuditKey{}, fmt.Errorf("audit key: %w", err)
	}
	return k, nil
}

// writeTemp writes data to a new 0600 file in dir, synced, and returns its path.
func writeTemp(dir, base string, data []byte) (path string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable (a no-op where directories
// cannot be synced).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !isInvalidSync(err) {
		return err
	}
	return nil
}

// isInvalidSync: some platforms refuse fsync on a directory (EINVAL).
func isInvalidSync(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "invalid argument")
}
