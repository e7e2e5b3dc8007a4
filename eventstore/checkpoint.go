package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// AuditStore is what Verify and the Checkpointer need from an adapter
// beyond the Store port: the store's identity, its checkpoint history and
// its idempotency records. Both adapters implement it.
type AuditStore interface {
	// AuditInfo returns the store's id and the id of the audit key it is
	// chained with ("" before the first chaining).
	AuditInfo(ctx context.Context) (AuditInfo, error)
	// SaveCheckpoint adds c to the store's checkpoint history.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns up to limit checkpoints of the history ordered by
	// (position, taken_at, mac), after the given one (the zero Checkpoint:
	// from the first).
	Checkpoints(ctx context.Context, after Checkpoint, limit int) ([]Checkpoint, error)
	// IdempotencyRecords returns up to limit records ordered by key,
	// after the given key.
	IdempotencyRecords(ctx context.Context, afterKey string, limit int) ([]IdempotencyRecord, error)
}

// AuditInfo identifies a store: StoreID is random, given at creation;
// KeyID is the AuditKey.ID the store's global chain is keyed with.
type AuditInfo struct {
	StoreID string
	KeyID   string
}

// IdempotencyRecord is a stored idempotency outcome as Verify sees it.
// Result.Positions is nil where the store does not keep them (MongoDB).
type IdempotencyRecord struct {
	Key         string
	Fingerprint string
	Result      AppendResult
	MAC         string
}

// ErrAuditKeyMismatch: the store is chained with another audit key.
var ErrAuditKeyMismatch = errors.New("audit key does not match this store")

// KeyMismatchError says which key the store has and which one was given.
type KeyMismatchError struct{ StoreKeyID, GivenKeyID string }

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("audit key does not match this store (store key id %s, given %s)", e.StoreKeyID, e.GivenKeyID)
}

func (e *KeyMismatchError) Is(target error) bool { return target == ErrAuditKeyMismatch }

// Checkpoint reasons.
const (
	CheckpointInterval = "interval" // the head moved during the interval
	CheckpointStart    = "start"    // a serve process started
	CheckpointStop     = "stop"     // a serve process stopped cleanly
	CheckpointCLI      = "cli"      // a one-shot writer (cspm keys ...) wrote
)

// Checkpoint vouches, under the audit key, that the log of store StoreID
// reached Position with LogHash there at TakenAt. The latest is also kept
// in the audit directory, where a database writer cannot rewrite it.
type Checkpoint struct {
	StoreID  string    `json:"store_id"`
	Position int64     `json:"position"`
	LogHash  string    `json:"log_hash"`
	TakenAt  time.Time `json:"taken_at"`
	Reason   string    `json:"reason"`
	MAC      string    `json:"mac"`
}

// CheckpointMAC is HMAC(K, "cspm-checkpoint-v1" ‖ store_id ‖ position ‖
// log_hash ‖ taken_at (UTC, milliseconds) ‖ reason), length-prefixed.
func CheckpointMAC(k AuditKey, c Checkpoint) string {
	return macHex(k, fields(nil).add("cspm-checkpoint-v1").add(c.StoreID).addInt(c.Position).
		add(c.LogHash).add(NormalizeTime(c.TakenAt).Format(time.RFC3339Nano)).add(c.Reason))
}

// Valid reports whether c's MAC is right under k.
func (c Checkpoint) Valid(k AuditKey) bool { return macEqual(c.MAC, CheckpointMAC(k, c)) }

// CheckpointFile is where the latest checkpoint of a store is kept in the
// audit directory.
func CheckpointFile(auditDir, storeID string) string {
	return filepath.Join(auditDir, "checkpoint-"+storeID+".json")
}

// ReadCheckpointFile reads a checkpoint copy; a missing file is an error
// wrapping fs.ErrNotExist.
func ReadCheckpointFile(path string) (Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint copy: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(raw, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint copy %s: %w", path, err)
	}
	return c, nil
}

// writeCheckpointFile replaces path with c atomically (temporary file,
// fsync, rename, directory fsync), mode 0600.
func writeCheckpointFile(path string, c Checkpoint) error {
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := writeTemp(dir, filepath.Base(path), append(raw, '\n'))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// ErrCheckpointRefused: the Checkpointer found the log not extending the
// last checkpoint (truncated, rewritten or a broken chain) and signed
// nothing. The evidence is left in place for Verify.
var ErrCheckpointRefused = errors.New("checkpoint refused: the log does not extend the last checkpoint")

// Checkpointer signs checkpoints of one store. Take checks, before
// signing, that the log still extends the last checkpoint it knows (its
// own last one, or the audit directory's copy): the positions from there
// to the head are dense and their log hashes chain under the key. So a
// checkpoint never vouches for a log that was cut or rewritten below it.
type Checkpointer struct {
	store Store
	audit AuditStore
	key   AuditKey
	dir   string
	log   *slog.Logger
	now   func() time.Time

	mu   sync.Mutex
	last *Checkpoint // the last checkpoint this process signed or checked
}

// NewCheckpointer returns a Checkpointer of s, keeping the latest copy in
// auditDir. s must implement AuditStore.
func NewCheckpointer(s Store, key AuditKey, auditDir string, log *slog.Logger) (*Checkpointer, error) {
	as, ok := s.(AuditStore)
	if !ok {
		return nil, fmt.Errorf("checkpointer: %T keeps no checkpoints", s)
	}
	if auditDir == "" {
		return nil, errors.New("checkpointer: no audit directory")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Checkpointer{store: s, audit: as, key: key, dir: auditDir, log: log, now: time.Now}, nil
}

// Take signs a checkpoint of the current head, adds it to the store's
// history and replaces the audit directory's copy with it (unless the copy
// is ahead: another process sharing the directory saw more). It fails
// with ErrCheckpointRefused when the log does not extend the last
// checkpoint.
func (c *Checkpointer) Take(ctx context.Context, reason string) (Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, err := c.audit.AuditInfo(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if info.KeyID != c.key.ID() {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", &KeyMismatchError{StoreKeyID: orNone(info.KeyID), GivenKeyID: c.key.ID()})
	}
	path := CheckpointFile(c.dir, info.StoreID)
	base := c.last
	if base == nil {
		copyCP, err := ReadCheckpointFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return Checkpoint{}, fmt.Errorf("%w: %w", ErrCheckpointRefused, err)
		case copyCP.StoreID != info.StoreID || !copyCP.Valid(c.key):
			return Checkpoint{}, fmt.Errorf("%w: the copy %s is not a valid checkpoint of this store under this key", ErrCheckpointRefused, path)
		default:
			base = &copyCP
		}
	}
	head, err := c.store.HeadPosition(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	from, fromHash := int64(0), ""
	if base != nil {
		if head < base.Position {
			return Checkpoint{}, fmt.Errorf("%w: log truncated: checkpoint of %s says the log reached position %d, the log now ends at %d",
				ErrCheckpointRefused, base.TakenAt.UTC().Format(time.RFC3339), base.Position, head)
		}
		from, fromHash = base.Position, base.LogHash
	}
	logHash, err := c.extend(ctx, base, from, fromHash, head)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{StoreID: info.StoreID, Position: head, LogHash: logHash, TakenAt: NormalizeTime(c.now()), Reason: reason}
	cp.MAC = CheckpointMAC(c.key, cp)
	if err := c.audit.SaveCheckpoint(ctx, cp); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	if err := c.writeCopy(path, cp); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: write %s: %w", path, err)
	}
	c.last = &cp
	return cp, nil
}

// extend checks that the events after position from (whose log hash is
// fromHash) up to head are dense and chain under the key, and returns the
// log hash at head. With no base (the first checkpoint of a store, or of
// an audit directory that lost its copy) there is nothing to extend: the
// head's log hash is taken as stored.
func (c *Checkpointer) extend(ctx context.Context, base *Checkpoint, from int64, fromHash string, head int64) (string, error) {
	if base == nil {
		if head == 0 {
			return "", nil
		}
		evs, err := c.store.ReadAll(ctx, head-1, 1)
		if err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if len(evs) != 1 || evs[0].Position != head || evs[0].LogHash == "" {
			return "", fmt.Errorf("%w: no chained event at the head position %d", ErrCheckpointRefused, head)
		}
		return evs[0].LogHash, nil
	}
	refused := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (last checkpoint: position %d of %s)", ErrCheckpointRefused, fmt.Sprintf(format, args...),
			base.Position, base.TakenAt.UTC().Format(time.RFC3339))
	}
	prev := fromHash
	after := from
	if from > 0 { // the event at the checkpoint's position must still carry its log hash
		evs, err := c.store.ReadAll(ctx, from-1, 1)
		if err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if len(evs) != 1 || evs[0].Position != from || !macEqual(evs[0].LogHash, fromHash) {
			return "", refused("the event at position %d no longer has the checkpoint's log hash", from)
		}
	}
	h := c.key.LogHasher()
	for after < head {
		page, err := c.store.ReadAll(ctx, after, verifyPage)
		if err != nil {
			return "", fmt.Errorf("checkpoint: %w", err)
		}
		if len(page) == 0 {
			return "", refused("positions %d..%d missing", after+1, head)
		}
		for _, e := range page {
			if e.Position > head {
				break
			}
			if e.Position != after+1 {
				return "", refused("position %d missing", after+1)
			}
			if want := h.Next(prev, e.Position, e.Hash); !macEqual(e.LogHash, want) {
				return "", refused("log hash of position %d (stream %s version %d) does not chain", e.Position, e.StreamID, e.Version)
			}
			prev, after = e.LogHash, e.Position
		}
	}
	return prev, nil
}

// writeCopy replaces the audit directory's copy with cp, unless the copy
// holds a valid checkpoint of a higher position (written by another
// process sharing the directory).
func (c *Checkpointer) writeCopy(path string, cp Checkpoint) error {
	if cur, err := ReadCheckpointFile(path); err == nil && cur.StoreID == cp.StoreID &&
		cur.Position > cp.Position && cur.Valid(c.key) {
		return nil
	}
	return writeCheckpointFile(path, cp)
}

// Last is the last checkpoint this Checkpointer signed, if any.
func (c *Checkpointer) Last() (Checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return Checkpoint{}, false
	}
	return *c.last, true
}

// Run takes a checkpoint at start, then one every interval in which the
// head moved, until ctx ends. Failures are logged (a refused checkpoint at
// error level: the log was cut or rewritten) and retried next interval.
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration) {
	take := func(reason string) {
		if _, err := c.Take(ctx, reason); err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if errors.Is(err, ErrCheckpointRefused) || errors.Is(err, ErrAuditKeyMismatch) {
				level = slog.LevelError
			}
			c.log.Log(ctx, level, "audit checkpoint not taken", "reason", reason, "err", err)
		}
	}
	take(CheckpointStart)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := c.store.HeadPosition(ctx)
		if err != nil {
			continue
		}
		if last, ok := c.Last(); ok && last.Position == head {
			continue
		}
		take(CheckpointInterval)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
