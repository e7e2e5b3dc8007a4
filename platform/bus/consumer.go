package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrFilterChanged is returned by EnsureDurableConsumer when an existing
// consumer filters other subjects than asked: its position was reached
// under the old filter, so continuing would silently skip the history of
// the newly added subjects. Rebuild the projection (or pass
// AllowFilterChange when that is what you want).
var ErrFilterChanged = errors.New("bus: consumer filter subjects changed")

// ConsumerOptions tunes a durable pull consumer.
type ConsumerOptions struct {
	// MaxAckPending is how many delivered, unacknowledged messages the
	// server allows; it bounds a projector's batch. Default 4096.
	MaxAckPending int
	// AckWait is how long the server waits for an ack before redelivering
	// (from the last acked message on, with AckAll). It must exceed the
	// time to apply and commit one batch. Default 60s.
	AckWait time.Duration
	// StartAfter is the position the projection has already applied; a new
	// consumer starts at StartAfter+1 (stream sequence == position). It is
	// only used when the consumer is created: an existing consumer keeps
	// its own position.
	StartAfter int64
	// AllowFilterChange lets an existing consumer switch to new filter
	// subjects instead of failing with ErrFilterChanged.
	AllowFilterChange bool
	// Description is shown by `nats consumer info`.
	Description string
}

var consumerNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ValidateConsumerName checks a durable name: 1 to 100 of A-Z a-z 0-9 _ -.
// Names are not rewritten (two projections must never map to one
// consumer), so a projection name outside that set is an error.
func ValidateConsumerName(name string) error {
	if !consumerNameRE.MatchString(name) {
		return fmt.Errorf("bus: consumer name %q: want 1 to 100 of A-Z a-z 0-9 _ -", name)
	}
	return nil
}

// EnsureDurableConsumer creates, or updates in place, the durable pull
// consumer name on stream, delivering the messages of filterSubjects with
// AckAll (acking message n acks everything before it: a projector acks once
// per committed batch), an explicit MaxAckPending and unlimited
// redeliveries (a poison event is parked by the projector, never dropped by
// the server).
//
// The name is part of the contract: it is the consumer's identity and
// position on the server. Renaming a projection creates a new consumer
// that starts at opts.StartAfter+1, and leaves the old one behind; derive
// the name from a stable projection name, never from a Go type or handler
// name.
func EnsureDurableConsumer(ctx context.Context, js jetstream.JetStream, stream, name string, filterSubjects []string, opts ConsumerOptions) (jetstream.Consumer, error) {
	if err := ValidateConsumerName(name); err != nil {
		return nil, err
	}
	if len(filterSubjects) == 0 {
		return nil, fmt.Errorf("bus: consumer %s: no filter subjects", name)
	}
	if opts.MaxAckPending <= 0 {
		opts.MaxAckPending = 4096
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 60 * time.Second
	}
	filters := slices.Clone(filterSubjects)
	slices.Sort(filters)
	cfg := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   opts.Description,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: opts.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(filters) == 1 {
		cfg.FilterSubject = filters[0]
	} else {
		cfg.FilterSubjects = filters
	}
	if opts.StartAfter > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = uint64(opts.StartAfter) + 1
	}

	existing, err := js.Consumer(ctx, stream, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		c, err := js.CreateConsumer(ctx, stream, cfg)
		if err != nil {
			return nil, fmt.Errorf("bus: create consumer %s on %s: %w", name, stream, err)
		}
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("bus: look up consumer %s on %s: %w", name, stream, err)
	}

	old := existing.CachedInfo().Config
	oldFilters := old.FilterSubjects
	if old.FilterSubject != "" {
		oldFilters = []string{old.FilterSubject}
	}
	oldFilters = slices.Clone(oldFilters)
	slices.Sort(oldFilters)
	if !slices.Equal(oldFilters, filters) && !opts.AllowFilterChange {
		return nil, fmt.Errorf("%w: consumer %s on %s filters %v, asked %v", ErrFilterChanged, name, stream, oldFilters, filters)
	}
	// Where to start is fixed at creation; keep it so the update is accepted.
	cfg.DeliverPolicy = old.DeliverPolicy
	cfg.OptStartSeq = old.OptStartSeq
	cfg.OptStartTime = old.OptStartTime
	c, err := js.UpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: update consumer %s on %s: %w", name, stream, err)
	}
	return c, nil
}
