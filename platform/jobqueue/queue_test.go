package jobqueue_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/jobqueue"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg jobqueue.Config
	d   *jobqueue.Dispatcher
}

func newEnv(t *testing.T, cfg jobqueue.Config) *env {
	t.Helper()
	e, err := bus.StartEmbedded(t.Context(), bus.Options{StoreDir: t.TempDir(), Port: -1, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(e.Shutdown)
	nc, js, err := bus.Connect(t.Context(), e.ClientURL(), bus.ConnectOptions{WaitConnected: 5 * time.Second, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	cfg.Memory = true
	require.NoError(t, jobqueue.EnsureStreams(t.Context(), js, cfg))
	d, err := jobqueue.NewDispatcher(nc, js, cfg, quiet)
	require.NoError(t, err)
	return &env{nc: nc, js: js, cfg: cfg, d: d}
}

// run starts a router with handle and stops it at the end of the test.
func (e *env) run(t *testing.T, slots int, handle jobqueue.Handler) {
	t.Helper()
	r, err := jobqueue.NewRouter(e.nc, jobqueue.WorkerConfig{Queue: e.cfg, Slots: slots, Logger: quiet,
		Retry:   middleware.Retry{MaxRetries: 1, InitialInterval: 10 * time.Millisecond},
		Backoff: []time.Duration{50 * time.Millisecond}}, handle)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	<-r.Running()
	t.Cleanup(func() { cancel(); <-done })
}

type log struct {
	mu   sync.Mutex
	seen []string // job:attempt:worker
}

func (l *log) add(s string) { l.mu.Lock(); l.seen = append(l.seen, s); l.mu.Unlock() }
func (l *log) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.seen {
		if x == s {
			return true
		}
	}
	return false
}

func job(id string) jobqueue.Job {
	return jobqueue.Job{TeamID: "team-a", ScanID: "run-1", JobID: id, Tool: "t", Target: "x", MaxAttempts: 3}
}

// A worker that stops answering (dead, hung) loses its lease: the job is
// delivered again as attempt 2 once AckWait has passed, and the jobs
// queued behind it are worked on meanwhile by the other worker.
func TestLeaseExpiresAndTheQueueKeepsMoving(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobqueue.Config{Lease: time.Second, MaxDeliver: 3})
	var l log
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	require.NoError(t, e.d.Dispatch(t.Context(), job("a"), "corr-1"))
	// The "dead" worker takes a, and never acks nor extends.
	e.run(t, 1, func(ctx context.Context, d jobqueue.Delivery) error {
		l.add(d.JobID + ":" + string(rune('0'+d.Attempt)) + ":dead")
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return errors.New("never")
	})
	require.Eventually(t, func() bool { return l.has("a:1:dead") }, 5*time.Second, 10*time.Millisecond)
	for _, id := range []string{"b", "c"} {
		require.NoError(t, e.d.Dispatch(t.Context(), job(id), "corr-1"))
	}
	start := time.Now()
	e.run(t, 1, func(_ context.Context, d jobqueue.Delivery) error {
		l.add(d.JobID + ":" + string(rune('0'+d.Attempt)) + ":live")
		assert.Equal(t, "corr-1", d.CorrelationID)
		return nil
	})
	require.Eventually(t, func() bool { return l.has("b:1:live") && l.has("c:1:live") }, 5*time.Second, 10*time.Millisecond,
		"the jobs queued behind the held one are not blocked")
	require.Eventually(t, func() bool { return l.has("a:2:live") }, 10*time.Second, 20*time.Millisecond, "a is retried after the lease")
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "not before the lease expired")
}

// A worker that extends its lease keeps the job past AckWait: no second delivery.
func TestHeartbeatsExtendTheLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobqueue.Config{Lease: time.Second, MaxDeliver: 3})
	var l log
	require.NoError(t, e.d.Dispatch(t.Context(), job("long"), ""))
	e.run(t, 2, func(ctx context.Context, d jobqueue.Delivery) error {
		l.add(d.JobID + ":" + string(rune('0'+d.Attempt)))
		end := time.After(2500 * time.Millisecond)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-end:
				l.add("done")
				return nil
			case <-tick.C:
				require.NoError(t, d.Extend())
			}
		}
	})
	require.Eventually(t, func() bool { return l.has("done") }, 10*time.Second, 20*time.Millisecond)
	assert.False(t, l.has("long:2"), "an extended lease is not lost")
}

// A job whose handler keeps failing goes to the poison queue on its last
// delivery, and leaves the work queue.
func TestPoisonQueueAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobqueue.Config{Lease: time.Second, MaxDeliver: 2})
	var l log
	require.NoError(t, e.d.Dispatch(t.Context(), job("bad"), ""))
	e.run(t, 1, func(_ context.Context, d jobqueue.Delivery) error {
		l.add(d.JobID + ":" + string(rune('0'+d.Attempt)))
		return errors.New("the API is out of reach")
	})
	require.Eventually(t, func() bool {
		s, err := e.js.Stream(t.Context(), jobqueue.DefaultStream+"_POISON")
		if err != nil {
			return false
		}
		info, err := s.Info(t.Context())
		return err == nil && info.State.Msgs == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.True(t, l.has("bad:2"))
	require.Eventually(t, func() bool {
		s, _ := e.js.Stream(t.Context(), jobqueue.DefaultStream)
		info, err := s.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	}, 5*time.Second, 20*time.Millisecond, "the work queue holds it no more")
}

// Drop removes a run's queued jobs; a job re-dispatched is queued once.
func TestDropAndDeduplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobqueue.Config{})
	for _, id := range []string{"a", "b", "a"} {
		require.NoError(t, e.d.Dispatch(t.Context(), job(id), ""))
	}
	other := job("z")
	other.ScanID = "run-2"
	require.NoError(t, e.d.Dispatch(t.Context(), other, ""))
	n, err := e.d.Drop(t.Context(), "run-1")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), n, "a published twice is queued once; run-2 stays")
}

// Workers scale by count: two workers (two processes' routers) on one
// queue share its jobs, each job handled once, both at the same time.
func TestTwoWorkersShareTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, jobqueue.Config{Lease: 30 * time.Second, MaxDeliver: 3})
	const jobs = 20
	var (
		mu      sync.Mutex
		handled = map[string][]string{} // job -> workers that handled it
		busy    = map[string]bool{}     // worker -> holds its first job
		both    = make(chan struct{})
	)
	for i := range jobs {
		require.NoError(t, e.d.Dispatch(t.Context(), job("j"+string(rune('a'+i))), "corr-1"))
	}
	for _, w := range []string{"w1", "w2"} {
		e.run(t, 1, func(ctx context.Context, d jobqueue.Delivery) error {
			mu.Lock()
			handled[d.JobID] = append(handled[d.JobID], w)
			first := !busy[w]
			busy[w] = true
			if first && len(busy) == 2 {
				close(both)
			}
			mu.Unlock()
			if first { // hold the first job until the other worker holds one too
				select {
				case <-both:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == jobs
	}, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	per := map[string]int{}
	for id, ws := range handled {
		assert.Len(t, ws, 1, "job %s handled once", id)
		per[ws[0]]++
	}
	assert.Len(t, per, 2, "both workers worked: %v", per)
}
