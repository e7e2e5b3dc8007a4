// Package lease gives processes that share a NATS JetStream server (or
// cluster) exclusive, expiring leases on named pieces of work, held in a
// JetStream key-value bucket (docs/decisions.md, 83 and 84).
//
// A lease is one key. Its holder rewrites it every TTL/3 with a
// compare-and-set on the key's revision; a contender takes it over only
// when it has seen the same revision unchanged for a whole TTL on its own
// monotonic clock, again with a compare-and-set. No two clocks are
// compared: the holder counts its lease valid until TTL after it *sent*
// its last successful write, which is before any contender could have seen
// that write, so the holder's validity ends before any contender's wait
// does. A holder that stops cleanly deletes the key (with the revision as
// the condition) and a contender takes it at its next poll.
//
// The revision at which a lease was acquired is its term: it grows with
// every acquisition of every key in the bucket (it is the bucket stream's
// sequence), so it can fence work that outlives a lost lease.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the key-value bucket the leases live in.
const DefaultBucket = "CSPM_LEASES"

// DefaultTTL is how long a lease outlives its holder's last renewal.
const DefaultTTL = 6 * time.Second

// ErrLost: the lease was taken over, deleted, or could not be renewed in
// time.
var ErrLost = errors.New("lease: lost")

// ErrLapsed: a renewal went through, but only after the lease had
// expired locally, so Valid said no for a while and the work it fences may
// have stopped (a commit refused). The lease is held and renewed; the
// holder restarts the work it fences.
var ErrLapsed = errors.New("lease: lapsed before it was renewed")

// OpenBucket creates (or updates) the leases' key-value bucket with
// replicas copies on a cluster (0 or less: 1) and returns it.
// The bucket is made again when a NATS server that lost its storage no
// longer has it (bucket.go).
func OpenBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := createBucket(ctx, js, bucket, replicas)
	if err != nil {
		return nil, err
	}
	return &healingBucket{KeyValue: kv, js: js, bucket: bucket, replicas: replicas}, nil
}

func createBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "cspm leases: relay leadership, projection ownership, projector membership",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, replicas),
	})
	if err != nil {
		return nil, fmt.Errorf("lease: bucket %s: %w", bucket, err)
	}
	return kv, nil
}

var unsafeKey = regexp.MustCompile(`[^-_=a-zA-Z0-9]`)

// KeyToken makes s usable as one token of a key: every character outside
// [-_=a-zA-Z0-9] becomes '_'.
func KeyToken(s string) string { return unsafeKey.ReplaceAllString(s, "_") }

// DefaultNodeID is hostname-pid.
func DefaultNodeID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

// Record is a lease key's value.
type Record struct {
	Owner string `json:"owner"`
	// Instance tells two holders with the same owner (node id) apart: a
	// restarted process does not inherit its predecessor's leases.
	Instance string    `json:"instance"`
	TTLMS    int64     `json:"ttl_ms"`
	Since    time.Time `json:"since"`
	Renewed  time.Time `json:"renewed"`
}

// instances numbers the Lease values of this process.
var instances atomic.Uint64

// newInstance tells this Lease value apart from any other, in this
// process or another, with the same owner.
func newInstance() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(instances.Add(1), 10)
}

// Lease is one key this process contends for. Its methods are safe for
// concurrent use.
type Lease struct {
	kv    jetstream.KeyValue
	key   string
	owner string
	ttl   time.Duration
	now   func() time.Time
	inst  string // Record.Instance

	mu         sync.Mutex
	held       bool
	rev        uint64    // the key's revision as last written by us
	term       uint64    // the revision at which we acquired it
	since      time.Time // wall time of the acquisition
	validUntil time.Time // monotonic: TTL after the last successful write was sent
	seenRev    uint64    // a contender's view: the revision last seen
	seenAt     time.Time // and when it was first seen
}

// New returns the lease on key for owner (a node id).
func New(kv jetstream.KeyValue, key, owner string, ttl time.Duration) *Lease {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Lease{kv: kv, key: key, owner: owner, ttl: ttl, now: time.Now, inst: newInstance()}
}

// Key is the lease's key.
func (l *Lease) Key() string { return l.key }

// TTL is the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Valid reports whether this process holds the lease now: acquired, and
// its last renewal recent enough that no contender can have taken it.
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held && l.now().Before(l.validUntil)
}

// Term is the revision at which the lease was acquired (0: not held).
func (l *Lease) Term() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held {
		return 0
	}
	return l.term
}

func (l *Lease) record(since time.Time) []byte {
	b, _ := json.Marshal(Record{Owner: l.owner, Instance: l.inst, TTLMS: l.ttl.Milliseconds(),
		Since: since.UTC(), Renewed: time.Now().UTC()})
	return b
}

// TryAcquire takes the lease if it is free (no key, or deleted) or has not
// changed for a whole TTL since this process first saw its current
// revision. It returns whether this process holds it now. Call it
// repeatedly (every second or so): each call is one observation.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) { return l.attempt(ctx, true) }

// Observe records the lease's current revision without taking it (so a
// later TryAcquire can take an expired lease at once) and reports whether
// it could be taken now.
func (l *Lease) Observe(ctx context.Context) (bool, error) { return l.attempt(ctx, false) }

func (l *Lease) attempt(ctx context.Context, take bool) (bool, error) {
	l.mu.Lock()
	if l.held && l.now().Before(l.validUntil) {
		l.mu.Unlock()
		return true, nil
	}
	l.held = false // lapsed: contend again like anyone (but see below)
	l.mu.Unlock()
	e, err := l.kv.Get(ctx, l.key)
	sent := l.now()
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if !take {
			return true, nil
		}
		rev, err := l.kv.Create(ctx, l.key, l.record(time.Now()))
		if err != nil {
			if isConflict(err) {
				return false, nil // someone was faster
			}
			return false, fmt.Errorf("lease %s: create: %w", l.key, err)
		}
		l.acquired(rev, sent)
		return true, nil
	case err != nil:
		return false, fmt.Errorf("lease %s: get: %w", l.key, err)
	}
	l.mu.Lock()
	if e.Revision() != l.seenRev {
		l.seenRev, l.seenAt = e.Revision(), sent
	}
	expired := sent.Sub(l.seenAt) >= l.ttl
	l.mu.Unlock()
	if !expired {
		// Our own record (this very process lost the lease, e.g. while
		// NATS was down, and nobody took it since): no one else can hold
		// it, so take it back at once.
		var rec Record
		expired = json.Unmarshal(e.Value(), &rec) == nil && rec.Owner == l.owner && rec.Instance == l.inst
	}
	if !expired || !take {
		return expired, nil
	}
	rev, err := l.kv.Update(ctx, l.key, l.record(time.Now()), e.Revision())
	if err != nil {
		if isConflict(err) {
			return false, nil
		}
		return false, fmt.Errorf("lease %s: take over: %w", l.key, err)
	}
	l.acquired(rev, sent)
	return true, nil
}

func (l *Lease) acquired(rev uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held, l.rev, l.term, l.since, l.validUntil = true, rev, rev, time.Now(), sent.Add(l.ttl)
}

// Renew rewrites the lease if this process still holds it. ErrLost when
// another process took it, it was deleted, or it could not be renewed
// before it expired; other errors are transient (the lease stays valid
// until its expiry).
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	if !l.held {
		l.mu.Unlock()
		return ErrLost
	}
	rev, since := l.rev, l.since
	l.mu.Unlock()
	sent := l.now()
	nrev, err := l.kv.Update(ctx, l.key, l.record(since), rev)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held || l.rev != rev {
		return ErrLost
	}
	switch {
	case err == nil:
		// Valid reads validUntil under the same lock: if it ever said no
		// before this renewal, now is past the old validUntil.
		lapsed := !l.now().Before(l.validUntil)
		l.rev, l.validUntil = nrev, sent.Add(l.ttl)
		if lapsed {
			return fmt.Errorf("%w: %s", ErrLapsed, l.key)
		}
		return nil
	case isConflict(err) || errors.Is(err, jetstream.ErrKeyNotFound):
		l.held = false
		return fmt.Errorf("%w: %s was taken over: %v", ErrLost, l.key, err)
	case !l.now().Before(l.validUntil):
		l.held = false
		return fmt.Errorf("%w: %s not renewed in time: %v", ErrLost, l.key, err)
	default:
		return fmt.Errorf("lease %s: renew: %w", l.key, err)
	}
}

// Release gives the lease up: its key is deleted if it is still ours, so a
// contender takes it at its next attempt.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	held, rev := l.held, l.rev
	l.held = false
	l.mu.Unlock()
	if !held {
		return nil
	}
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil && !isConflict(err) {
		return fmt.Errorf("lease %s: release: %w", l.key, err)
	}
	return nil
}

// Owner reads who holds key: the record, and false when nobody does (no
// key, or deleted).
func Owner(ctx context.Context, kv jetstream.KeyValue, key string) (Record, bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Record{}, false, fmt.Errorf("lease %s: %w", key, err)
	}
	return r, true, nil
}

// isConflict reports a failed compare-and-set (wrong last sequence, key
// exists; a replicated bucket answers with its own code).
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Elect runs lead while this process holds the lease on l's key: it tries
// to acquire it every poll, renews it every TTL/3, and cancels lead's
// context as soon as the lease is lost (or ctx ends, after which the lease
// is released). onChange is told of every gain and loss (may be nil).
// It returns when ctx ends.
func Elect(ctx context.Context, l *Lease, poll time.Duration, onChange func(leading bool, term uint64, err error), lead func(ctx context.Context)) {
	if poll <= 0 {
		poll = l.ttl / 6
	}
	if onChange == nil {
		onChange = func(bool, uint64, error) {}
	}
	for ctx.Err() == nil {
		ok, err := l.TryAcquire(ctx)
		if !ok {
			if err != nil && ctx.Err() == nil {
				onChange(false, 0, err)
			}
			sleep(ctx, poll)
			continue
		}
		term := l.Term()
		onChange(true, term, nil)
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); lead(lctx) }()
		lostErr := hold(lctx, l, done)
		cancel()
		<-done
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = l.Release(rctx)
			rcancel()
			onChange(false, term, nil)
			return
		}
		_ = l.Release(ctx) // a no-op when it was taken over
		onChange(false, term, lostErr)
	}
}

// hold renews l until it is lost, ctx ends or done closes.
func hold(ctx context.Context, l *Lease, done <-chan struct{}) error {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	// The lease may expire between two renewals that failed: check often.
	check := time.NewTicker(max(l.ttl/20, 50*time.Millisecond))
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return errors.New("the leader's work ended")
		case <-check.C:
			if !l.Valid() {
				return fmt.Errorf("%w: %s expired before it could be renewed", ErrLost, l.key)
			}
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			err := l.Renew(rctx)
			cancel()
			if errors.Is(err, ErrLost) {
				return err
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
