package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashRecovery: while clients send a stream of commands, cspm is
// killed with SIGKILL at random points several times and restarted on the
// same data directory; in the end the read models show every acknowledged
// fact exactly once (counts equal what was acknowledged) and the event
// store verifies.
//
// Clients send every command with an Idempotency-Key and retry it with
// the same key until it is acknowledged: a command whose answer the kill
// swallowed may have been applied or not, and the retry settles which
// (docs/architecture.md, invariant 2), so the acknowledged facts are exactly the
// applied ones.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CSPM_E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CSPM_E2E_SEED")
		seed = v
	}
	t.Logf("seed %d (CSPM_E2E_SEED=%d replays the kill points)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	args := []string{"--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s"}
	live := &liveServer{}
	live.replace(startServe(t, bin, env, args...))

	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	f := newFacts()
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	const workers = 4
	for w := range workers {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+2))
		wg.Go(func() {
			if err := runClient(ctx, live, f, &stop, w, wrng); err != nil {
				errs <- err
				cancel()
			}
		})
	}

	kills := 3 + rng.IntN(3)
	for k := range kills {
		more := int64(20 + rng.IntN(120))
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
		f.mu.Lock()
		target := f.acked + more
		f.mu.Unlock()
		require.NoError(t, f.waitAcked(ctx, target), "kill %d", k+1)
		// The random point: a little after that many acknowledgements,
		// wherever the clients are then.
		timer := time.NewTimer(delay)
		<-timer.C
		s := live.get()
		s.stop(t, syscall.SIGKILL)
		f.mu.Lock()
		t.Logf("kill %d/%d: SIGKILL after %d acknowledged commands (+%s), position %d", k+1, kills, f.acked, delay, f.last)
		f.mu.Unlock()
		live.replace(startServe(t, bin, env, args...))
	}
	f.mu.Lock()
	target := f.acked + 40
	f.mu.Unlock()
	require.NoError(t, f.waitAcked(ctx, target), "after the last restart")
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.mu.Lock()
	t.Logf("%d commands acknowledged over %d kills, last position %d", f.acked, kills, f.last)
	f.mu.Unlock()

	s := live.get()
	converge(t, s.base, f)
	assert.Equal(t, 0, s.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", s.logs)

	r := runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	_, _, _, last := f.snapshot()
	assert.Contains(t, r.stdout, fmt.Sprintf("OK: %d events in ", last), "no event beyond the acknowledged ones")
}

// liveServer is the server currently running; restarts replace it.
type liveServer struct {
	mu      sync.Mutex
	s       *server
	gen     int
	changed chan struct{}
}

func (l *liveServer) replace(s *server) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s = s
	l.gen++
	if l.changed != nil {
		close(l.changed)
	}
	l.changed = make(chan struct{})
}

func (l *liveServer) get() *server {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

func (l *liveServer) current() (base string, gen int, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.base, l.gen, l.changed
}

// do sends a command until the server acknowledges it (2xx), across
// kills: after a transport error it waits for the next server (or tries
// the same again after a while, if none comes).
func (l *liveServer) do(ctx context.Context, method, path string, body any, key string) (*apiAnswer, error) {
	for {
		base, _, changed := l.current()
		a, err := callAPI(ctx, method, base+path, body, map[string]string{"Idempotency-Key": key})
		if err == nil {
			if a.status/100 != 2 {
				return nil, fmt.Errorf("%s %s (key %s): %d %s", method, path, key, a.status, a.raw)
			}
			return a, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w (last: %v)", method, path, ctx.Err(), err)
		}
		t := time.NewTimer(2 * time.Second)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

var severities = []string{"critical", "high", "medium", "low", "informational"}

// runClient drives scan lifecycles (request, start, raise findings,
// complete) until stop, recording every acknowledged command.
func runClient(ctx context.Context, live *liveServer, f *facts, stop *atomic.Bool, w int, rng *rand.Rand) error {
	for n := 0; !stop.Load(); n++ {
		id := fmt.Sprintf("w%d-s%04d", w, n)
		key := func(step string) string { return id + "/" + step }
		a, err := live.do(ctx, http.MethodPost, "/api/v1/scans", map[string]any{
			"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler",
		}, key("request"))
		if err != nil {
			return err
		}
		f.ack(a.env.Meta.Position, func(f *facts) { f.scans[id] = "requested" })
		if stop.Load() {
			return nil
		}
		if a, err = live.do(ctx, http.MethodPost, "/api/v1/scans/"+id+"/start", nil, key("start")); err != nil {
			return err
		}
		f.ack(a.env.Meta.Position, func(f *facts) { f.scans[id] = "running" })
		if stop.Load() {
			return nil
		}
		items := make([]map[string]any, 1+rng.IntN(4))
		sevs := make([]string, len(items))
		for i := range items {
			sevs[i] = severities[rng.IntN(len(severities))]
			items[i] = map[string]any{"check_id": fmt.Sprintf("check_%d", i), "title": "crash test finding",
				"severity": sevs[i], "resource_id": fmt.Sprintf("arn:aws:s3:::%s-%d", id, i)}
		}
		if a, err = live.do(ctx, http.MethodPost, "/api/v1/scans/"+id+"/findings", map[string]any{"findings": items}, key("findings")); err != nil {
			return err
		}
		f.ack(a.env.Meta.Position, func(f *facts) {
			for _, s := range sevs {
				f.bySeverity[s]++
			}
			f.perScan[id] += int64(len(sevs))
		})
		if stop.Load() {
			return nil
		}
		if a, err = live.do(ctx, http.MethodPost, "/api/v1/scans/"+id+"/complete", map[string]any{"resource_count": len(items)}, key("complete")); err != nil {
			return err
		}
		f.ack(a.env.Meta.Position, func(f *facts) { f.scans[id] = "completed" })
	}
	return nil
}
