package jobqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one delivery of a job to a worker.
type Delivery struct {
	Job
	// Attempt is JetStream's delivery count: 1 on the first delivery, 2
	// once the first worker's lease expired or it gave the job back...
	Attempt       int
	CorrelationID string
	msg           jetstream.Msg
}

// Extend renews the worker's lease on the job (a JetStream in-progress
// ack: AckWait starts again).
func (d Delivery) Extend() error {
	if d.msg == nil {
		return ErrNoDelivery
	}
	return d.msg.InProgress()
}

// LastAttempt reports whether JetStream will not deliver the job again.
func (d Delivery) LastAttempt(cfg Config) bool { return d.Attempt >= cfg.WithDefaults().MaxDeliver }

// Handler works on one delivery. It returns nil when the job is done with
// (succeeded, failed for good, or no longer wanted): the message is acked.
// An error (the API or the store out of reach) is retried in place with
// backoff, then the job is given back to the queue (another delivery,
// another attempt) or, on the last attempt, sent to the poison queue.
type Handler func(ctx context.Context, d Delivery) error

// WorkerConfig is a worker's side of the queue.
type WorkerConfig struct {
	Queue Config
	// Slots is how many jobs the worker runs at once (one pull
	// subscription each, one message pulled at a time). 1 when zero.
	Slots int
	// Retry is the in-place retry of a handler error. Zero: 3 retries from
	// 200ms, doubling, at most 5s apart.
	Retry middleware.Retry
	// Backoff is how long a job given back waits before its next delivery,
	// by delivery count (NakWithDelay). Zero: 1s, 5s, 30s.
	Backoff []time.Duration
	Logger  *slog.Logger
}

// NewRouter returns a Watermill router consuming the queue with handle:
// Slots handlers on the workers' durable consumer, behind the recoverer,
// the correlation id, the timeout (Queue.MaxDuration), the in-place retry
// and the poison queue. Run it with router.Run(ctx); close it to stop.
func NewRouter(nc *nats.Conn, cfg WorkerConfig, handle Handler) (*message.Router, error) {
	cfg.Queue = cfg.Queue.WithDefaults()
	q := cfg.Queue
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wlog := logAdapter(log)
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	retry := cfg.Retry
	if retry.MaxRetries == 0 && retry.InitialInterval == 0 {
		retry = middleware.Retry{MaxRetries: 3, InitialInterval: 200 * time.Millisecond, MaxInterval: 5 * time.Second, Multiplier: 2}
	}
	retry.Logger = wlog

	deliveries := &deliveryTable{m: map[string]jetstream.Msg{}}
	sub, err := wmjs.NewSubscriber(wmjs.SubscriberConfig{
		Conn:   nc,
		Logger: wlog,
		// Watermill's own wait for the handler: the whole job, not the lease
		// (the lease is JetStream's AckWait, renewed by heartbeats).
		AckWaitTimeout: q.MaxDuration + time.Minute,
		ResourceInitializer: func(ctx context.Context, js jetstream.JetStream, _ string) (jetstream.Consumer, func(context.Context, watermill.LoggerAdapter), error) {
			c, err := consumer(ctx, js, q)
			return c, nil, err // shared and durable: never deleted by a worker
		},
		NakDelay:       backoff(cfg.Backoff),
		ConsumeOptions: []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(1)},
		Unmarshaler:    deliveries,
	})
	if err != nil {
		return nil, fmt.Errorf("jobqueue: subscriber: %w", err)
	}
	d, err := NewDispatcher(nc, nil, q, log)
	if err != nil {
		return nil, err
	}
	poison, err := middleware.PoisonQueueWithFilter(d.pub, q.Poison, func(err error) bool {
		var last lastAttemptError
		return errors.As(err, &last)
	})
	if err != nil {
		return nil, err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, err
	}
	router.AddMiddleware(
		deliveries.forget,
		middleware.Recoverer,
		middleware.CorrelationID,
		middleware.Timeout(q.MaxDuration),
		poison,
		retry.Middleware,
	)
	h := func(msg *message.Message) error {
		var job Job
		if err := json.Unmarshal(msg.Payload, &job); err != nil {
			log.Warn("jobqueue: a job message that is not a job: dropped", "uuid", msg.UUID, "err", err)
			return nil
		}
		attempt, _ := strconv.Atoi(msg.Metadata.Get(deliveredKey))
		dl := Delivery{Job: job, Attempt: max(attempt, 1), CorrelationID: middleware.MessageCorrelationID(msg),
			msg: deliveries.get(msg.Metadata.Get(deliveryKey))}
		err := handle(msg.Context(), dl)
		if err != nil && dl.Attempt >= q.MaxDeliver {
			return lastAttemptError{err}
		}
		return err
	}
	for i := range cfg.Slots {
		router.AddConsumerHandler(fmt.Sprintf("scan-jobs-%d", i), q.Subject+".>", sub, h)
	}
	return router, nil
}

// lastAttemptError marks a handler error on the last delivery: the poison
// queue takes the job.
type lastAttemptError struct{ error }

func (e lastAttemptError) Unwrap() error { return e.error }

// backoff delays a job given back by its delivery count.
func backoff(steps []time.Duration) wmjs.Delay {
	return delayFunc(func(n uint64) time.Duration {
		i := int(n) - 1
		if i >= len(steps) {
			i = len(steps) - 1
		}
		return steps[max(i, 0)]
	})
}

type delayFunc func(uint64) time.Duration

func (f delayFunc) WaitTime(n uint64) time.Duration { return f(n) }

// Metadata keys the unmarshaler adds.
const (
	deliveredKey = "_jobqueue_delivered"
	deliveryKey  = "_jobqueue_delivery"
)

// deliveryTable is the subscriber's unmarshaler: it records each delivery's
// count in the Watermill message, and keeps the JetStream message so the
// handler can extend its lease (Watermill does not expose it).
type deliveryTable struct {
	mu sync.Mutex
	m  map[string]jetstream.Msg
	n  uint64
}

func (t *deliveryTable) Unmarshal(msg jetstream.Msg) (*message.Message, error) {
	m, err := wmjs.DefaultUnmarshaler{}.Unmarshal(msg)
	if err != nil {
		return nil, err
	}
	if md, err := msg.Metadata(); err == nil {
		m.Metadata.Set(deliveredKey, strconv.FormatUint(md.NumDelivered, 10))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	key := strconv.FormatUint(t.n, 10)
	t.m[key] = msg
	m.Metadata.Set(deliveryKey, key)
	if len(t.m) > 10_000 { // deliveries whose handler never ran (closing)
		clear(t.m)
		t.m[key] = msg
	}
	return m, nil
}

func (t *deliveryTable) get(key string) jetstream.Msg {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[key]
}

// forget is the outermost middleware: the delivery is dropped from the
// table once every retry of the handler is over.
func (t *deliveryTable) forget(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		defer func() {
			t.mu.Lock()
			delete(t.m, msg.Metadata.Get(deliveryKey))
			t.mu.Unlock()
		}()
		return h(msg)
	}
}
