package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/auth"
)

// countingStore counts stream reads and can fail them or run a hook.
type countingStore struct {
	auth.Store
	reads  atomic.Int64
	fail   atomic.Bool
	during func()
}

func (s *countingStore) ReadStream(ctx context.Context, id string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error) {
	s.reads.Add(1)
	if s.fail.Load() {
		return nil, errors.New("database is locked")
	}
	events, err := s.Store.ReadStream(ctx, id, opts)
	if s.during != nil {
		s.during()
	}
	return events, err
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	store *countingStore
	cmds  *platformcmd.Handlers
	clock *clock
	auth  *auth.Authenticator
}

func newEnv(t *testing.T, cfg auth.Config) *env {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	codec := eventstore.NewDomainCodec()
	e := &env{store: &countingStore{Store: s}, clock: &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.cmds = platformcmd.New(commands.NewKit(s, codec, e.clock.Now))
	cfg.Now = e.clock.Now
	e.auth = auth.New(e.store, codec, cfg)
	return e
}

var teamA = commands.Meta{TeamID: "team-a", Actor: "test"}

func (e *env) issue(t *testing.T, role access.Role) platformcmd.IssuedKey {
	t.Helper()
	k, err := e.cmds.IssueKey(t.Context(), teamA, platformcmd.IssueKey{Name: "k-" + string(role), Role: string(role)})
	require.NoError(t, err)
	return k
}

func (e *env) revoke(t *testing.T, keyID string) {
	t.Helper()
	_, err := e.cmds.RevokeKey(t.Context(), teamA, platformcmd.RevokeKey{KeyID: keyID})
	require.NoError(t, err)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{})
	ctx := t.Context()
	k := e.issue(t, access.Analyst)

	p, err := e.auth.Authenticate(ctx, k.Key)
	require.NoError(t, err)
	assert.Equal(t, access.Principal{KeyID: k.ID, Name: "k-analyst", TeamID: "team-a", Role: access.Analyst}, p)
	assert.Equal(t, "key:"+k.ID, p.Actor())

	keyID, secret, err := access.ParseToken(k.Key)
	require.NoError(t, err)
	other := e.issue(t, access.Admin)
	_, otherSecret, err := access.ParseToken(other.Key)
	require.NoError(t, err)
	rejected := map[string]string{
		"empty":                        "",
		"malformed":                    "temporary",
		"another key's secret":         access.FormatToken(keyID, otherSecret),
		"unknown key id":               access.FormatToken("aaaaaaaaaaaaaaaa", secret),
		"a key id that is no stream":   access.FormatToken("zzzzzzzzzzzzzzzz", secret),
		"secret with one changed char": k.Key[:len(k.Key)-2] + flip(k.Key[len(k.Key)-2]) + k.Key[len(k.Key)-1:],
	}
	for name, token := range rejected {
		_, err := e.auth.Authenticate(ctx, token)
		require.ErrorIs(t, err, access.ErrUnauthenticated, name)
		if token != "" {
			assert.NotContains(t, err.Error(), token, "%s: errors never carry the token", name)
		}
		assert.NotContains(t, err.Error(), secret, name)
	}

	// A good key still works after all those failures (cached or not).
	_, err = e.auth.Authenticate(ctx, k.Key)
	require.NoError(t, err)
}

func flip(c byte) string {
	if c == 'A' {
		return "Q"
	}
	return "A"
}

func TestCacheAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{TTL: time.Second})
	ctx := t.Context()
	k := e.issue(t, access.Viewer)

	for range 5 {
		_, err := e.auth.Authenticate(ctx, k.Key)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), e.store.reads.Load(), "an active key is read once per TTL")
	_, err := e.auth.Authenticate(ctx, k.Key[:len(k.Key)-2]+flip(k.Key[len(k.Key)-2])+k.Key[len(k.Key)-1:])
	require.ErrorIs(t, err, access.ErrUnauthenticated, "a cached key still checks the secret")

	// Revoked by another process (no Invalidate here): the cached entry
	// answers until the TTL passes, then the stream says revoked.
	e.revoke(t, k.ID)
	e.clock.Advance(999 * time.Millisecond)
	_, err = e.auth.Authenticate(ctx, k.Key)
	require.NoError(t, err, "within the TTL")
	e.clock.Advance(time.Millisecond)
	_, err = e.auth.Authenticate(ctx, k.Key)
	require.ErrorIs(t, err, access.ErrUnauthenticated, "revocation holds once the TTL has passed")
	assert.Equal(t, int64(2), e.store.reads.Load())
	_, err = e.auth.Authenticate(ctx, k.Key)
	require.ErrorIs(t, err, access.ErrUnauthenticated)
	assert.Zero(t, e.auth.Len(), "revoked keys are not cached")

	// Revoked in this process: Invalidate makes it immediate.
	k2 := e.issue(t, access.Viewer)
	_, err = e.auth.Authenticate(ctx, k2.Key)
	require.NoError(t, err)
	e.revoke(t, k2.ID)
	e.auth.Invalidate(k2.ID)
	_, err = e.auth.Authenticate(ctx, k2.Key)
	require.ErrorIs(t, err, access.ErrUnauthenticated)
}

// A read that began before an Invalidate is not cached: it may hold the
// key as it was before the revocation.
func TestInvalidateDuringRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{TTL: time.Hour})
	ctx := t.Context()
	k := e.issue(t, access.Viewer)
	e.store.during = func() {
		e.store.during = nil
		e.revoke(t, k.ID)
		e.auth.Invalidate(k.ID)
	}
	_, err := e.auth.Authenticate(ctx, k.Key)
	require.NoError(t, err, "the read saw the key active")
	_, err = e.auth.Authenticate(ctx, k.Key)
	require.ErrorIs(t, err, access.ErrUnauthenticated, "and did not cache it")
}

func TestStoreDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{})
	k := e.issue(t, access.Viewer)
	e.store.fail.Store(true)
	_, err := e.auth.Authenticate(t.Context(), k.Key)
	require.Error(t, err)
	assert.NotErrorIs(t, err, access.ErrUnauthenticated, "the check could not run: not a rejection (503, not 401)")
	assert.NotContains(t, err.Error(), k.Key)
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{TTL: time.Hour, MaxEntries: 2})
	var keys []platformcmd.IssuedKey
	for range 5 {
		keys = append(keys, e.issue(t, access.Viewer))
	}
	for _, k := range keys {
		_, err := e.auth.Authenticate(t.Context(), k.Key)
		require.NoError(t, err)
		assert.LessOrEqual(t, e.auth.Len(), 2)
	}
	e.clock.Advance(2 * time.Hour)
	_, err := e.auth.Authenticate(t.Context(), keys[0].Key)
	require.NoError(t, err)
	assert.LessOrEqual(t, e.auth.Len(), 2)
}

func TestNoCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, auth.Config{TTL: -1})
	k := e.issue(t, access.Viewer)
	for range 3 {
		_, err := e.auth.Authenticate(t.Context(), k.Key)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(3), e.store.reads.Load())
	assert.Zero(t, e.auth.Len())
}
