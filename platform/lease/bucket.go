package lease

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// healingBucket is the leases' bucket, made again when it is gone: a NATS
// server that lost its storage (wiped, or replaced by an empty one) no
// longer has it, and every lease would fail for ever. The operations the
// leases use (Get, Create, Update, Put, Delete, ListKeysFiltered) recreate
// the bucket on "not found" and try once more; the others are the
// bucket's as it was opened.
type healingBucket struct {
	jetstream.KeyValue
	js       jetstream.JetStream
	bucket   string
	replicas int

	mu sync.Mutex
}

// gone reports an error saying the bucket (its stream) does not exist.
func gone(err error) bool {
	if err == nil {
		return false
	}
	// A read of a bucket whose stream is gone finds no responder (the
	// direct get has no stream to answer it).
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) {
		return true
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamNotFound {
		return true
	}
	return strings.Contains(err.Error(), "stream not found")
}

// heal makes the bucket again and uses it from now on.
func (b *healingBucket) heal(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	kv, err := createBucket(ctx, b.js, b.bucket, b.replicas)
	if err != nil {
		return err
	}
	b.KeyValue = kv
	return nil
}

func (b *healingBucket) current() jetstream.KeyValue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.KeyValue
}

// retry runs op; when the bucket is gone it makes it again and runs op once more.
func retry[T any](ctx context.Context, b *healingBucket, op func(kv jetstream.KeyValue) (T, error)) (T, error) {
	v, err := op(b.current())
	if !gone(err) {
		return v, err
	}
	if herr := b.heal(ctx); herr != nil {
		return v, errors.Join(err, herr)
	}
	return op(b.current())
}

func (b *healingBucket) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	return retry(ctx, b, func(kv jetstream.KeyValue) (jetstream.KeyValueEntry, error) { return kv.Get(ctx, key) })
}

func (b *healingBucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	return retry(ctx, b, func(kv jetstream.KeyValue) (uint64, error) { return kv.Create(ctx, key, value, opts...) })
}

func (b *healingBucket) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	return retry(ctx, b, func(kv jetstream.KeyValue) (uint64, error) { return kv.Update(ctx, key, value, revision) })
}

func (b *healingBucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	return retry(ctx, b, func(kv jetstream.KeyValue) (uint64, error) { return kv.Put(ctx, key, value) })
}

func (b *healingBucket) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retry(ctx, b, func(kv jetstream.KeyValue) (struct{}, error) { return struct{}{}, kv.Delete(ctx, key, opts...) })
	return err
}

func (b *healingBucket) ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error) {
	return retry(ctx, b, func(kv jetstream.KeyValue) (jetstream.KeyLister, error) { return kv.ListKeysFiltered(ctx, filters...) })
}
