package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/eventstore"
)

// maxGroup bounds how many calls share one transaction, maxGroupEvents
// how many events: a leader takes calls from the queue while both hold
// (always at least one call, which holds at most
// eventstore.MaxBatchEvents), so no transaction holds more events than
// the largest batch may.
const (
	maxGroup       = 64
	maxGroupEvents = eventstore.MaxBatchEvents
)

// appendCall is one Append or AppendBatch (or, with op set, another write:
// a checkpoint, the audit key claim) waiting to be written.
type appendCall struct {
	ctx     context.Context
	reqs    []eventstore.AppendRequest                        // one for an Append
	events  int                                               // events of reqs
	what    string                                            // for errors: "append to \"s\"", "append batch of n requests"
	op      func(ctx context.Context) (write bool, err error) // runs instead of the append when set
	res     []eventstore.AppendResult
	err     error
	done    chan struct{} // closed when res and err are set
	promote chan struct{} // closed when this call's goroutine must lead the next group
}

// Append implements eventstore.Store: the batch of one request.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	res, err := s.AppendBatch(ctx, []eventstore.AppendRequest{req})
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	return res[0], nil
}

// AppendBatch implements eventstore.Store.
//
// Appends are written by one goroutine at a time, the leader, which owns the
// write connection. It runs each call (an Append is a batch of one request:
// idempotency lookup, version checks, inserts, head updates) inside one
// BEGIN IMMEDIATE transaction. Calls that queued up while a transaction was
// committing share the next one (group commit), each inside its own
// savepoint, so a failing call (a whole batch) rolls back alone while one
// fsync acknowledges them all. A call returns only after its transaction
// committed (or failed). A batch is one call: its requests succeed
// together or its savepoint rolls them all back, and its events take
// consecutive positions in request order (sequence), so no reader's
// snapshot holds part of it.
//
// The caller's goroutine leads when nobody else does, so an uncontended
// append costs no goroutine hand-off. A leader writes one group, then hands
// the lead to the oldest waiting call, so nobody waits behind more than
// the groups queued ahead of it.
//
// ctx is checked when the call's turn comes; once started, the call runs
// to completion (interrupting a statement could abort the whole group),
// and a queued call waits for its turn.
func (s *Store) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	if err := eventstore.ValidateBatch(reqs); err != nil {
		return nil, err
	}
	what := describe(reqs)
	if s.readOnly {
		return nil, fmt.Errorf("%s: %w", what, ErrReadOnly)
	}
	if s.keyErr != nil {
		return nil, fmt.Errorf("%s: %w", what, s.keyErr)
	}
	c := &appendCall{ctx: ctx, reqs: reqs, what: what, done: make(chan struct{}), promote: make(chan struct{})}
	for _, r := range reqs {
		c.events += len(r.Events)
	}
	if err := s.enqueue(c); err != nil {
		return nil, err
	}
	return c.res, nil
}

// write runs op on the write connection, in a transaction of the writer
// like an append (op returns whether there is something to commit).
func (s *Store) write(ctx context.Context, what string, op func(ctx context.Context) (bool, error)) error {
	c := &appendCall{ctx: ctx, what: fmt.Sprintf("append to %q", what), op: op, done: make(chan struct{}), promote: make(chan struct{})}
	return s.enqueue(c)
}

// enqueue queues c and returns once it is written (or failed).
func (s *Store) enqueue(c *appendCall) error {
	s.qmu.Lock()
	if s.isClosed {
		s.qmu.Unlock()
		return fmt.Errorf("%s: %w", c.what, ErrClosed)
	}
	s.queue = append(s.queue, c)
	lead := !s.leading
	s.leading = true
	s.qmu.Unlock()

	if !lead {
		select {
		case <-c.done:
			return unavailable(c.err)
		case <-c.promote:
		}
	}
	s.lead() // c is the oldest call queued, so it is in this group
	return unavailable(c.err)
}

// lead writes one group from the head of the queue, then passes the lead on.
func (s *Store) lead() {
	s.qmu.Lock()
	n, events := 1, s.queue[0].events
	for n < min(len(s.queue), maxGroup) && events+s.queue[n].events <= maxGroupEvents {
		events += s.queue[n].events
		n++
	}
	group := append(s.group[:0], s.queue[:n]...)
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	s.qmu.Unlock()

	s.runGroup(group)
	for _, c := range group {
		close(c.done)
	}
	clear(group)

	s.qmu.Lock()
	s.group = group[:0]
	if len(s.queue) > 0 {
		close(s.queue[0].promote)
	} else {
		s.leading = false
		s.idle.Broadcast()
	}
	s.qmu.Unlock()
}

// runGroup appends every call of group in one transaction and sets each
// call's outcome.
func (s *Store) runGroup(group []*appendCall) {
	if err := s.checkFile(); err != nil {
		failLost(group, err)
		return
	}
	bg := context.Background()
	if _, err := s.w.begin.ExecContext(bg); err != nil {
		for _, c := range group {
			c.err = fmt.Errorf("%s: begin: %w", c.what, err)
		}
		return
	}
	single := len(group) == 1
	var written []*appendCall // appends to acknowledge once committed
	var last int64
	// The first transaction that writes claims the store for this
	// Store's audit key (and chains what an older version stored).
	claiming := !s.chained
	if claiming {
		if err := s.claimTx(bg); err != nil {
			s.abort(group, nil, err)
			return
		}
	}
	for i, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.err = fmt.Errorf("%s: %w", c.what, err)
			continue
		}
		if !single {
			if _, err := s.w.savepoint.ExecContext(bg); err != nil {
				s.abort(group[i:], written, fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		var (
			res   []eventstore.AppendResult
			write bool
			err   error
		)
		if c.op != nil {
			write, err = c.op(context.WithoutCancel(c.ctx))
		} else {
			res, write, err = s.appendTx(context.WithoutCancel(c.ctx), c.reqs)
		}
		c.res, c.err = res, err
		switch {
		case single:
		case err != nil:
			if _, rerr := s.w.rollbackTo.ExecContext(bg); rerr != nil {
				// The failure took the whole transaction with it.
				s.abort(group[i+1:], written, fmt.Errorf("after %w: rollback to savepoint: %w", err, rerr))
				return
			}
			fallthrough
		default:
			if _, rerr := s.w.releaseSavepoint.ExecContext(bg); rerr != nil {
				s.abort(group[i+1:], append(written, c), fmt.Errorf("release savepoint: %w", rerr))
				return
			}
		}
		if err == nil && write {
			written = append(written, c)
			for _, r := range res {
				last = max(last, r.LastPosition())
			}
		}
	}
	if len(written) == 0 {
		s.rollback()
		return
	}
	if _, err := s.w.commit.ExecContext(bg); err != nil {
		s.abort(nil, written, fmt.Errorf("commit: %w", err))
		return
	}
	if claiming {
		s.chained = true // only the leader reads or writes it
	}
	if err := s.checkFile(); err != nil {
		failLost(written, err) // committed into a file that is gone: never acknowledged
		return
	}
	if last > s.committed.Load() {
		s.committed.Store(last) // only the leader stores
	}
	s.appended.notify()
}

// abort rolls the transaction back: the appends already done in it
// (written) and those not yet started (rest) all fail with err.
func (s *Store) abort(rest, written []*appendCall, err error) {
	s.rollback()
	for _, c := range written {
		c.res, c.err = nil, fmt.Errorf("%s: %w", c.what, err)
	}
	for _, c := range rest {
		if c.err == nil {
			c.err = fmt.Errorf("%s: not attempted: %w", c.what, err)
		}
	}
}

// rollback ends the open transaction. ROLLBACK after a failed COMMIT (or
// with no transaction left) errors harmlessly; anything else would leave
// the write connection unusable.
func (s *Store) rollback() {
	if _, err := s.w.rollback.ExecContext(context.Background()); err != nil &&
		!strings.Contains(err.Error(), "no transaction is active") {
		s.opts.Logger.Error("event store rollback failed", "err", err)
	}
}
