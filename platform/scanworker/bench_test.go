package scanworker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	orch "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/platform/bus"
	"github.com/cspm-es/cspm-es/platform/jobqueue"
	"github.com/cspm-es/cspm-es/platform/scanworker"
)

// Benchmarks of the scan engine's queue (docs/scan-jobs.md, "Figures"),
// on an embedded nats-server with memory streams:
//
//   - BenchmarkJobThroughput: jobs dispatched and completed per second.
//     jetstream_publish_ack is the baseline (plain JetStream: publish,
//     pull, ack); watermill_noop the same jobs through the Dispatcher and
//     the Watermill router with its middleware and a handler that returns
//     at once; worker_exec the whole worker (start recorded, a stand-in
//     tool that exits at once exec'd, its report imported, success
//     recorded, against the real ScanRun aggregate in memory).
//   - BenchmarkLeaseRecovery: from a worker's death (its connection gone
//     right after a heartbeat) to its job running again on another
//     worker: p50/p99 against the lease.

type benchBus struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

func newBenchBus(b *testing.B) *benchBus {
	b.Helper()
	e, err := bus.StartEmbedded(b.Context(), bus.Options{StoreDir: b.TempDir(), Port: -1, Logger: quiet})
	require.NoError(b, err)
	b.Cleanup(e.Shutdown)
	return &benchBus{url: e.ClientURL()}
}

func (bb *benchBus) connect(b *testing.B) (*nats.Conn, jetstream.JetStream) {
	b.Helper()
	nc, js, err := bus.Connect(b.Context(), bb.url, bus.ConnectOptions{WaitConnected: 5 * time.Second, Logger: quiet})
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	return nc, js
}

// startRouter runs a job router on nc until the returned stop is called.
func startRouter(b *testing.B, nc *nats.Conn, q jobqueue.Config, slots int, handle jobqueue.Handler) (stop func()) {
	b.Helper()
	r, err := jobqueue.NewRouter(nc, jobqueue.WorkerConfig{Queue: q, Slots: slots, Logger: quiet,
		Retry: middleware.Retry{MaxRetries: 1, InitialInterval: 10 * time.Millisecond}}, handle)
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	<-r.Running()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	b.Cleanup(stop)
	return stop
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

func BenchmarkJobThroughput(b *testing.B) {
	b.Run("jetstream_publish_ack", func(b *testing.B) {
		bb := newBenchBus(b)
		_, js := bb.connect(b)
		ctx := b.Context()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.MemoryStorage, Duplicates: 10 * time.Minute})
		require.NoError(b, err)
		c, err := js.CreateOrUpdateConsumer(ctx, "BENCH", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxAckPending: -1})
		require.NoError(b, err)
		var acked atomic.Int64
		all := make(chan struct{})
		n := int64(b.N)
		cc, err := c.Consume(func(m jetstream.Msg) {
			if m.Ack() == nil && acked.Add(1) == n {
				close(all)
			}
		}, jetstream.PullMaxMessages(2))
		require.NoError(b, err)
		defer cc.Stop()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			_, err := js.Publish(ctx, fmt.Sprintf("bench.run-%d.j0001", i), []byte(`{"team_id":"t","scan_id":"s","job_id":"j"}`),
				jetstream.WithMsgID(fmt.Sprintf("run-%d/j0001", i)))
			require.NoError(b, err)
		}
		<-all
		reportRate(b, start)
	})

	b.Run("watermill_noop", func(b *testing.B) {
		bb := newBenchBus(b)
		nc, js := bb.connect(b)
		q := jobqueue.Config{Lease: 30 * time.Second, MaxDeliver: 3, Memory: true}
		require.NoError(b, jobqueue.EnsureStreams(b.Context(), js, q))
		d, err := jobqueue.NewDispatcher(nc, js, q, quiet)
		require.NoError(b, err)
		var done atomic.Int64
		all := make(chan struct{})
		n := int64(b.N)
		startRouter(b, nc, q, 2, func(context.Context, jobqueue.Delivery) error {
			if done.Add(1) == n {
				close(all)
			}
			return nil
		})
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			require.NoError(b, d.Dispatch(b.Context(), jobqueue.Job{TeamID: "t", ScanID: fmt.Sprintf("run-%d", i), JobID: "j0001",
				Tool: "t", Target: "x", MaxAttempts: 3}, ""))
		}
		<-all
		reportRate(b, start)
	})

	b.Run("worker_exec", func(b *testing.B) {
		bb := newBenchBus(b)
		nc, js := bb.connect(b)
		q := jobqueue.Config{Lease: 30 * time.Second, MaxDeliver: 3, Memory: true}
		require.NoError(b, jobqueue.EnsureStreams(b.Context(), js, q))
		d, err := jobqueue.NewDispatcher(nc, js, q, quiet)
		require.NoError(b, err)
		rs := &runs{events: map[string][]orch.Event{}}
		imp := &importer{keys: map[string]int{}}
		// The stand-in tool exits at once; its standard output is its report.
		tools := map[string]scanworker.Tool{"echo": {Command: []string{"echo", "{}"}, Timeout: time.Minute}}
		w := scanworker.New(scanworker.Config{WorkerID: "w1", Tools: tools, Heartbeat: time.Minute, WorkDir: b.TempDir(), Logger: quiet}, rs, imp)
		var done atomic.Int64
		all := make(chan struct{})
		n := int64(b.N)
		startRouter(b, nc, q, 2, func(ctx context.Context, dl jobqueue.Delivery) error {
			err := w.Handle(ctx, dl)
			if err == nil && done.Add(1) == n {
				close(all)
			}
			return err
		})
		jobs := make([]jobqueue.Job, b.N)
		for i := range b.N {
			id := fmt.Sprintf("run-%d", i)
			evs, err := orch.Plan(orch.PlanRequest{ScanID: id, AccountID: "web", Provider: "other", Tools: []string{"echo"},
				Targets: []string{"https://x.example"}, RequestedAt: time.Now()})
			require.NoError(b, err)
			rs.events[id] = evs
			jobs[i] = jobqueue.Job{TeamID: "t", ScanID: id, JobID: evs[1].(orch.ScanJobsPlanned).Jobs[0].JobID, Tool: "echo", Target: "https://x.example", MaxAttempts: 3}
		}
		b.ResetTimer()
		start := time.Now()
		for _, j := range jobs {
			require.NoError(b, d.Dispatch(b.Context(), j, j.ScanID))
		}
		<-all
		reportRate(b, start)
		b.StopTimer()
		for _, j := range jobs[:min(len(jobs), 50)] {
			s, _ := rs.state(j.ScanID)
			require.Equal(b, orch.StatusCompleted, s.Status)
		}
	})
}

func BenchmarkLeaseRecovery(b *testing.B) {
	const lease = 500 * time.Millisecond
	bb := newBenchBus(b)
	nc, js := bb.connect(b)
	q := jobqueue.Config{Lease: lease, MaxDeliver: 5, Memory: true}
	require.NoError(b, jobqueue.EnsureStreams(b.Context(), js, q))
	d, err := jobqueue.NewDispatcher(nc, js, q, quiet)
	require.NoError(b, err)

	var samples []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// The victim: its own connection, one slot; it takes the job,
		// extends its lease (a heartbeat), and dies: its connection is
		// closed, as the kernel closes a SIGKILLed process's sockets.
		vc, _ := bb.connect(b)
		took := make(chan jobqueue.Delivery, 1)
		release := make(chan struct{})
		stopVictim := startRouter(b, vc, q, 1, func(ctx context.Context, dl jobqueue.Delivery) error {
			took <- dl
			select {
			case <-release:
			case <-ctx.Done():
			}
			return fmt.Errorf("dead")
		})
		require.NoError(b, d.Dispatch(b.Context(), jobqueue.Job{TeamID: "t", ScanID: fmt.Sprintf("run-%d", i), JobID: "j0001",
			Tool: "t", Target: "x", MaxAttempts: 5}, ""))
		dl := <-took
		// The live worker, started once the victim holds the job (the
		// queue is otherwise empty): when does attempt 2 start?
		reran := make(chan time.Time, 1)
		stopLive := startRouter(b, nc, q, 1, func(_ context.Context, dl jobqueue.Delivery) error {
			if dl.Attempt >= 2 {
				reran <- time.Now()
			}
			return nil
		})
		require.NoError(b, dl.Extend())
		b.StartTimer()
		died := time.Now()
		vc.Close()
		at := <-reran
		b.StopTimer()
		samples = append(samples, at.Sub(died))
		close(release)
		stopVictim()
		stopLive()
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(samples)
	pct := func(p float64) time.Duration { return samples[min(len(samples)-1, int(p*float64(len(samples))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lease.Milliseconds()), "lease-ms")
}
