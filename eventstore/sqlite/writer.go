package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/eventstore"
)

// maxGroup bounds how many appends share one transaction.
const maxGroup = 64

// appendCall is one Append (or, with op set, another write: a checkpoint,
// the audit key claim) waiting to be written.
type appendCall struct {
	ctx     context.Context
	req     eventstore.AppendRequest
	op      func(ctx context.Context) (write bool, err error) // runs instead of the append when set
	res     eventstore.AppendResult
	err     error
	done    chan struct{} // closed when res and err are set
	promote chan struct{} // closed when this call's goroutine must lead the next group
}

// Append implements eventstore.Store.
//
// Appends are written by one goroutine at a time, the leader, which owns the
// write connection. It runs each append (idempotency lookup, version check,
// inserts, head updates) inside one BEGIN IMMEDIATE transaction. Appends
// that queued up while a transaction was committing share the next one
// (group commit), each inside its own savepoint, so a failing append rolls
// back alone while one fsync acknowledges them all. An append returns only
// after its transaction committed (or failed).
//
// The caller's goroutine leads when nobody else does, so an uncontended
// append costs no goroutine hand-off. A leader writes one group, then hands
// the lead to the oldest waiting call, so nobody waits behind more than
// the groups queued ahead of it.
//
// ctx is checked when the append's turn comes; once started, the append
// runs to completion (interrupting a statement could abort the whole group),
// and a queued append waits for its turn.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := req.Validate(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.readOnly {
		return s.appendReadOnly(req)
	}
	if s.keyErr != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %q: %w", req.StreamID, s.keyErr)
	}
	c := &appendCall{ctx: ctx, req: req, done: make(chan struct{}), promote: make(chan struct{})}
	return c.res, s.enqueue(c)
}

// write runs op on the write connection, in a transaction of the writer
// like an append (op returns whether there is something to commit).
func (s *Store) write(ctx context.Context, what string, op func(ctx context.Context) (bool, error)) error {
	c := &appendCall{ctx: ctx, req: eventstore.AppendRequest{StreamID: what}, op: op, done: make(chan struct{}), promote: make(chan struct{})}
	return s.enqueue(c)
}

// enqueue queues c and returns once it is written (or failed).
func (s *Store) enqueue(c *appendCall) error {
	req := c.req
	s.qmu.Lock()
	if s.isClosed {
		s.qmu.Unlock()
		return fmt.Errorf("append to %q: %w", req.StreamID, ErrClosed)
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
	n := min(len(s.queue), maxGroup)
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
			c.err = fmt.Errorf("append to %q: begin: %w", c.req.StreamID, err)
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
			c.err = fmt.Errorf("append to %q: %w", c.req.StreamID, err)
			continue
		}
		if !single {
			if _, err := s.w.savepoint.ExecContext(bg); err != nil {
				s.abort(group[i:], written, fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		var (
			res   eventstore.AppendResult
			write bool
			err   error
		)
		if c.op != nil {
			write, err = c.op(context.WithoutCancel(c.ctx))
		} else {
			res, write, err = s.appendTx(context.WithoutCancel(c.ctx), c.req)
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
			last = max(last, res.LastPosition())
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
		c.res, c.err = eventstore.AppendResult{}, fmt.Errorf("append to %q: %w", c.req.StreamID, err)
	}
	for _, c := range rest {
		if c.err == nil {
			c.err = fmt.Errorf("append to %q: not attempted: %w", c.req.StreamID, err)
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
