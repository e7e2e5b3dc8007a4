// Package jobqueue is the scan-job work queue: a JetStream stream with
// WorkQueue retention (CSPM_JOBS), distinct from the domain-event stream,
// that jobs are published to as commands and that workers consume through
// a Watermill router (docs/scan-jobs.md).
//
// A worker's lease on a job is the message's ack deadline (the durable
// consumer's AckWait), extended by heartbeats (JetStream in-progress acks).
// A worker that dies holds no lease once AckWait has passed: JetStream
// delivers the job again, to any worker, with its delivery count as the
// job's attempt. One message is pulled at a time per slot, so a job waiting
// on a dead worker's lease never holds up the jobs queued behind it.
package jobqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Config.
const (
	DefaultStream      = "CSPM_JOBS"
	DefaultSubject     = "cspm.jobs.run"
	DefaultPoison      = "cspm.jobs.poison"
	DefaultConsumer    = "cspm_workers"
	DefaultLease       = 30 * time.Second
	DefaultMaxDeliver  = 3
	DefaultMaxDuration = 30 * time.Minute
)

// Config is the work queue's shape, shared by the dispatcher and the workers.
type Config struct {
	Stream   string // stream name; DefaultStream
	Subject  string // job subjects are <Subject>.<scan id>.<job id>; DefaultSubject
	Poison   string // the poison queue's subject (its own stream <Stream>_POISON); DefaultPoison
	Consumer string // the durable consumer all workers share; DefaultConsumer
	// Lease is the consumer's AckWait: how long a job stays with a worker
	// that stopped sending heartbeats. DefaultLease.
	Lease time.Duration
	// MaxDeliver bounds the deliveries of a job (the attempts); the last
	// attempt that fails for want of infrastructure goes to the poison queue.
	MaxDeliver int
	// MaxDuration bounds how long one delivery may be worked on (Watermill's
	// own ack timeout and the handler's deadline). DefaultMaxDuration.
	MaxDuration time.Duration
	// Replicas and memory storage for tests; file storage otherwise.
	Memory bool
	// Replicas of the queue's streams on a NATS cluster (0: 1;
	// --stream-replicas).
	Replicas int
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Poison == "" {
		c.Poison = DefaultPoison
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	return c
}

// Job is the command a job message carries.
type Job struct {
	TeamID      string `json:"team_id"`
	ScanID      string `json:"scan_id"`
	JobID       string `json:"job_id"`
	Tool        string `json:"tool"`
	Target      string `json:"target"`
	Region      string `json:"region,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	MaxAttempts int    `json:"max_attempts"`
}

// Key is the job's identity on the queue: "<scan>/<job>", the message id
// JetStream de-duplicates a re-published job by.
func (j Job) Key() string { return j.ScanID + "/" + j.JobID }

// subject is the job's subject: tokens of the ids with '.' replaced, so a
// run's queued jobs are purged by <Subject>.<scan>.>.
func (c Config) subject(scanID, jobID string) string {
	return c.Subject + "." + token(scanID) + "." + token(jobID)
}

func token(s string) string {
	return strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_").Replace(s)
}

// EnsureStreams creates or updates the work-queue stream and the poison
// stream, and the workers' durable consumer.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg = cfg.WithDefaults()
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Subjects:    []string{cfg.Subject + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     storage,
		Replicas:    max(1, cfg.Replicas),
		Duplicates:  10 * time.Minute,
		Description: "cspm scan jobs (work queue; docs/scan-jobs.md)",
	}); err != nil {
		return fmt.Errorf("jobqueue: stream %s: %w", cfg.Stream, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     cfg.Stream + "_POISON",
		Subjects: []string{cfg.Poison},
		Storage:  storage,
		Replicas: max(1, cfg.Replicas),
		MaxAge:   30 * 24 * time.Hour,
	}); err != nil {
		return fmt.Errorf("jobqueue: poison stream: %w", err)
	}
	_, err := consumer(ctx, js, cfg)
	return err
}

func consumer(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.Lease,
		MaxDeliver:    cfg.MaxDeliver,
		FilterSubject: cfg.Subject + ".>",
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("jobqueue: consumer %s: %w", cfg.Consumer, err)
	}
	return c, nil
}

// Dispatcher publishes jobs through a Watermill publisher.
type Dispatcher struct {
	cfg Config
	js  jetstream.JetStream
	pub message.Publisher
}

// NewDispatcher returns a dispatcher on nc (the streams must exist:
// EnsureStreams). The publisher sets each message's Nats-Msg-Id to the
// job's key, so a job published twice within the stream's duplicate window
// is queued once.
func NewDispatcher(nc *nats.Conn, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Dispatcher, error) {
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, logAdapter(log))
	if err != nil {
		return nil, fmt.Errorf("jobqueue: publisher: %w", err)
	}
	return &Dispatcher{cfg: cfg.WithDefaults(), js: js, pub: pub}, nil
}

// Dispatch queues job; correlationID (the run's) follows it to the worker.
func (d *Dispatcher) Dispatch(_ context.Context, job Job, correlationID string) error {
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	msg := message.NewMessage(job.Key(), body)
	if correlationID != "" {
		msg.Metadata.Set(CorrelationIDKey, correlationID)
	}
	if err := d.pub.Publish(d.cfg.subject(job.ScanID, job.JobID), msg); err != nil {
		return fmt.Errorf("jobqueue: dispatch %s: %w", job.Key(), err)
	}
	return nil
}

// Drop removes a run's queued jobs from the queue (a cancelled run). A job
// being worked on is not dropped: its worker learns of the cancellation
// from its next heartbeat.
func (d *Dispatcher) Drop(ctx context.Context, scanID string) (uint64, error) {
	s, err := d.js.Stream(ctx, d.cfg.Stream)
	if err != nil {
		return 0, err
	}
	before, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(d.cfg.Subject+"."+token(scanID)+".>")); err != nil {
		return 0, fmt.Errorf("jobqueue: drop %s: %w", scanID, err)
	}
	after, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return before.State.Msgs - after.State.Msgs, nil
}

// CorrelationIDKey is the metadata key of the correlation id (Watermill's
// middleware.CorrelationID uses the same).
const CorrelationIDKey = "correlation_id"

// logAdapter turns slog into Watermill's logger (debug and trace are dropped
// below slog's debug level).
func logAdapter(log *slog.Logger) watermill.LoggerAdapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Watermill logs every message received at info: that is debug here.
	return watermill.NewSlogLoggerWithLevelMapping(log.With("component", "jobqueue"), map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
}

// ErrNoDelivery is returned when a message lacks its JetStream delivery.
var ErrNoDelivery = errors.New("jobqueue: message has no JetStream delivery")
