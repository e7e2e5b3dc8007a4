// Package auth authenticates API keys against the event store, the source
// of truth: a key's stream (ApiKeyIssued, maybe ApiKeyRevoked) is read and
// the token's secret checked against the stored salted hash in constant
// time. A small positive cache keeps what a check needs of active keys
// (principal, salt, hash; never a secret) for a TTL, so revocation takes
// effect in every process within the TTL, and at once in the process that
// revoked (Invalidate). Nothing here logs; errors never carry the token.
package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Store is the part of the event store the authenticator reads.
type Store interface {
	ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error)
}

// Defaults of Config.
const (
	DefaultTTL        = time.Second
	DefaultMaxEntries = 4096
)

// Config tunes an Authenticator; zero values take the defaults.
type Config struct {
	// TTL is how long an active key is trusted without reading its stream
	// again: the bound on how late a revocation made by another process
	// takes effect here. Default DefaultTTL; negative disables the cache.
	TTL time.Duration
	// MaxEntries bounds the cache. Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authenticator checks bearer tokens (api.Authenticator). It is safe for
// concurrent use.
type Authenticator struct {
	store Store
	codec *eventstore.Codec
	cfg   Config

	mu    sync.Mutex
	cache map[string]entry // by key id
	// gen counts Invalidate calls: a stream read that began before one is
	// not cached (it may predate the revocation).
	gen uint64
}

// entry is one cached active key: who it is and what checks its secret.
type entry struct {
	principal access.Principal
	verifier  access.Verifier
	expires   time.Time
}

// New returns an authenticator over store. It panics on a nil dependency.
func New(store Store, codec *eventstore.Codec, cfg Config) *Authenticator {
	if store == nil || codec == nil {
		panic("auth.New: nil store or codec")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{store: store, codec: codec, cfg: cfg, cache: map[string]entry{}}
}

// errRejected is every token that does not authenticate: malformed,
// unknown key, wrong secret or revoked key all read alike.
var errRejected = fmt.Errorf("API key rejected: %w", access.ErrUnauthenticated)

// Authenticate returns the principal of an active key whose secret token
// holds. A token that is malformed, of an unknown or revoked key, or with a
// wrong secret is an error wrapping access.ErrUnauthenticated; any other
// error (the store is down) means the check could not run.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (access.Principal, error) {
	keyID, secret, err := access.ParseToken(token)
	if err != nil {
		return access.Principal{}, errRejected
	}
	e, ok := a.cached(keyID)
	if !ok {
		if e, ok, err = a.load(ctx, keyID); err != nil {
			return access.Principal{}, err
		}
		if !ok {
			return access.Principal{}, errRejected
		}
	}
	if !e.verifier.Verify(secret) {
		return access.Principal{}, errRejected
	}
	return e.principal, nil
}

// Invalidate forgets key keyID, so that its next use reads its stream:
// call it after revoking the key in this process.
func (a *Authenticator) Invalidate(keyID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.cache, keyID)
	a.gen++
}

func (a *Authenticator) cached(keyID string) (entry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[keyID]
	if ok && !a.cfg.Now().Before(e.expires) {
		delete(a.cache, keyID)
		return entry{}, false
	}
	return e, ok
}

// load reads the key's stream; ok is false when no active key has that id.
// An active key is cached.
func (a *Authenticator) load(ctx context.Context, keyID string) (entry, bool, error) {
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	read := a.cfg.Now()
	recorded, err := a.store.ReadStream(ctx, access.StreamID(keyID), eventstore.ReadStreamOptions{})
	if err != nil {
		return entry{}, false, fmt.Errorf("read API key %s: %w", keyID, err)
	}
	if len(recorded) == 0 || recorded[0].StreamType != access.StreamType {
		return entry{}, false, nil
	}
	events := make([]access.Event, 0, len(recorded))
	for _, r := range recorded {
		v, err := a.codec.Decode(r)
		if err != nil {
			return entry{}, false, fmt.Errorf("API key %s: %w", keyID, err)
		}
		e, ok := v.(access.Event)
		if !ok {
			return entry{}, false, fmt.Errorf("API key %s: event %s is a %T", keyID, r.EventID, v)
		}
		events = append(events, e)
	}
	key := access.Rehydrate(events...)
	if !key.Active() {
		return entry{}, false, nil
	}
	e := entry{principal: key.Principal(), verifier: key.Verifier(), expires: read.Add(a.cfg.TTL)}
	if a.cfg.TTL > 0 {
		a.remember(keyID, e, gen)
	}
	return e, true, nil
}

// remember caches e unless an Invalidate came after gen, first making
// room: expired entries go, then (all live) arbitrary ones.
func (a *Authenticator) remember(keyID string, e entry, gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen {
		return
	}
	if _, ok := a.cache[keyID]; !ok && len(a.cache) >= a.cfg.MaxEntries {
		now := a.cfg.Now()
		for id, old := range a.cache {
			if !now.Before(old.expires) {
				delete(a.cache, id)
			}
		}
		for id := range a.cache {
			if len(a.cache) < a.cfg.MaxEntries {
				break
			}
			delete(a.cache, id)
		}
	}
	a.cache[keyID] = e
}

// Len is how many keys the cache holds (for tests and metrics).
func (a *Authenticator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.cache)
}
