package lease

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BalancerConfig configures a Balancer.
type BalancerConfig struct {
	KV    jetstream.KeyValue
	Owner string // this process's node id
	// Group names the kind of process ("projector"): its members announce
	// themselves under member.<Group>.<owner>.
	Group string
	// Prefix of the work's lease keys: <Prefix>.<KeyToken(name)>.
	Prefix string
	// Names is the work to share.
	Names []string
	TTL   time.Duration // default DefaultTTL
	// Tick is how often membership is read, leases renewed, and free or
	// expired ones observed and taken. Default TTL/6.
	Tick time.Duration
	// Start hands a lease just acquired to its work (must not block long).
	// It is called again, without Stop, for a lease that lapsed and was
	// renewed (ErrLapsed): the work must take it as a fresh hand-over.
	Start func(name string, l *Lease)
	// Stop stops the work of name and returns once it has stopped: before
	// a lease is given up, and after one was lost.
	Stop   func(ctx context.Context, name string)
	Logger *slog.Logger
}

// Balancer shares Names over the live members of its group: each member
// holds at most ceil(len(Names)/live) leases, takes free or expired ones
// (in the order of a rendezvous hash, so each name has a preferred member
// and a restarted member gets much the same work back), and gives up the
// ones above its share when members join.
type Balancer struct {
	cfg    BalancerConfig
	log    *slog.Logger
	leases map[string]*Lease
	renew  map[string]time.Time // when each held lease was last renewed
	seen   map[string]seenRev   // member key -> revision and when first seen

	mu   sync.Mutex
	held map[string]uint64 // name -> term
	live int
}

// errRenewed marks a renewal that succeeded (tick's bookkeeping).
var errRenewed = errors.New("renewed")

type seenRev struct {
	rev uint64
	at  time.Time
}

// NewBalancer returns a balancer; Run it.
func NewBalancer(cfg BalancerConfig) *Balancer {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Tick <= 0 {
		cfg.Tick = cfg.TTL / 6
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Balancer{
		cfg: cfg, log: cfg.Logger.With("component", "lease", "group", cfg.Group, "node", cfg.Owner),
		leases: map[string]*Lease{}, renew: map[string]time.Time{}, seen: map[string]seenRev{},
		held: map[string]uint64{},
	}
	for _, n := range cfg.Names {
		b.leases[n] = New(cfg.KV, cfg.Prefix+"."+KeyToken(n), cfg.Owner, cfg.TTL)
	}
	return b
}

// Held returns the names this process holds, with their terms.
func (b *Balancer) Held() map[string]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]uint64, len(b.held))
	for k, v := range b.held {
		out[k] = v
	}
	return out
}

// Live is the number of live members last counted (this one included).
func (b *Balancer) Live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

func (b *Balancer) memberKey() string {
	return "member." + KeyToken(b.cfg.Group) + "." + KeyToken(b.cfg.Owner)
}

// Run balances until ctx ends, then stops the work it holds, releases its
// leases and withdraws its membership.
func (b *Balancer) Run(ctx context.Context) {
	t := time.NewTicker(b.cfg.Tick)
	defer t.Stop()
	for {
		b.tick(ctx)
		select {
		case <-ctx.Done():
			b.shutdown()
			return
		case <-t.C:
		}
	}
}

func (b *Balancer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.giveUp(ctx, b.heldNames(), "stopping")
	if err := b.cfg.KV.Delete(ctx, b.memberKey()); err != nil {
		b.log.Warn("lease: withdrawing membership failed", "error", err)
	}
}

func (b *Balancer) heldNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.held))
	for n := range b.held {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (b *Balancer) drop(name string) {
	b.mu.Lock()
	delete(b.held, name)
	b.mu.Unlock()
	delete(b.renew, name)
}

// score is the rendezvous hash of name for owner: the higher, the more
// owner prefers name.
func score(owner, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(owner))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(name))
	return h.Sum64()
}

func (b *Balancer) tick(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	live := b.members(ctx)
	n := len(b.cfg.Names)
	target := (n + live - 1) / live
	b.mu.Lock()
	changed := b.live != live
	b.live = live
	b.mu.Unlock()
	if changed {
		b.log.Info("lease: members", "live", live, "share", target)
	}

	// Keep what we hold: renew every TTL/3, concurrently.
	now := time.Now()
	held0 := b.heldNames()
	errs := make([]error, len(held0))
	var rwg sync.WaitGroup
	sem0 := make(chan struct{}, 8)
	for i, name := range held0 {
		// Renew every TTL/3, and at once a lease that expired by our
		// clock (a stall): if nobody took it, the renewal says it lapsed
		// and the work is handed over again, without a stop.
		if now.Sub(b.renew[name]) < b.cfg.TTL/3 && b.leases[name].Valid() {
			continue
		}
		rwg.Go(func() {
			sem0 <- struct{}{}
			defer func() { <-sem0 }()
			rctx, cancel := context.WithTimeout(ctx, b.cfg.TTL/3)
			defer cancel()
			errs[i] = b.leases[name].Renew(rctx)
			if errs[i] == nil {
				errs[i] = errRenewed
			}
		})
	}
	rwg.Wait()
	var lost, lapsed []string
	for i, name := range held0 {
		err := errs[i]
		if err == errRenewed {
			b.renew[name], err = now, nil
		}
		switch {
		case errors.Is(err, ErrLost) || !b.leases[name].Valid():
			b.log.Warn("lease: lost; stopping its work", "name", name, "error", err)
			lost = append(lost, name)
		case errors.Is(err, ErrLapsed):
			// Renewed, but its fence said no meanwhile: the work may have
			// stopped on a refused commit. Hand it over again (nobody
			// else held the lease: the renewal would have failed). Start
			// only: stopping first would hold the tick while the work
			// reaches a pause, and the other leases would lapse waiting.
			b.renew[name] = now
			b.log.Warn("lease: lapsed before it was renewed; handing its work over again", "name", name)
			lapsed = append(lapsed, name)
		}
	}
	for _, name := range lapsed {
		b.cfg.Start(name, b.leases[name])
	}
	if len(lost) > 0 {
		var swg sync.WaitGroup
		for _, name := range lost {
			swg.Go(func() { b.cfg.Stop(ctx, name) })
		}
		swg.Wait()
		for _, name := range lost {
			b.drop(name)
		}
	}

	// Give up what is above our share, least preferred first.
	held := b.heldNames()
	if len(held) > target {
		slices.SortFunc(held, func(x, y string) int { return cmp.Compare(score(b.cfg.Owner, x), score(b.cfg.Owner, y)) })
		b.giveUp(ctx, held[:len(held)-target], "rebalancing")
	}

	// Observe the rest (so an expired lease is recognised a TTL after its
	// holder's last write) and take free or expired ones up to our share,
	// most preferred first.
	free := make([]string, 0, n)
	b.mu.Lock()
	for _, name := range b.cfg.Names {
		if _, ok := b.held[name]; !ok {
			free = append(free, name)
		}
	}
	room := target - len(b.held)
	b.mu.Unlock()
	slices.SortFunc(free, func(x, y string) int { return cmp.Compare(score(b.cfg.Owner, y), score(b.cfg.Owner, x)) })
	// One observation of each, concurrently (a tick must stay short
	// however many there are), then attempts on the takeable ones in
	// order of preference while there is room.
	takeable := make([]bool, len(free))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, name := range free {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok, err := b.leases[name].Observe(ctx)
			if err != nil {
				b.log.Debug("lease: observation failed", "name", name, "error", err)
			}
			takeable[i] = ok
		})
	}
	wg.Wait()
	for i, name := range free {
		if ctx.Err() != nil || room <= 0 {
			return
		}
		if !takeable[i] {
			continue
		}
		l := b.leases[name]
		ok, err := l.TryAcquire(ctx)
		if err != nil {
			b.log.Debug("lease: attempt failed", "name", name, "error", err)
			continue
		}
		if ok {
			room--
			term := l.Term()
			b.mu.Lock()
			b.held[name] = term
			b.mu.Unlock()
			b.renew[name] = time.Now()
			b.log.Info("lease: acquired", "name", name, "term", term)
			b.cfg.Start(name, l)
		}
	}
}

// giveUp stops the work of names, all at once (each may wait for a batch
// in hand), and releases their leases.
func (b *Balancer) giveUp(ctx context.Context, names []string, why string) {
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			b.cfg.Stop(ctx, name)
			if err := b.leases[name].Release(ctx); err != nil {
				b.log.Warn("lease: release failed", "name", name, "error", err)
			}
			b.log.Info("lease: released ("+why+")", "name", name)
		})
	}
	wg.Wait()
	for _, name := range names {
		b.drop(name)
	}
}

// memberRecord is a member key's value.
type memberRecord struct {
	Owner string    `json:"owner"`
	At    time.Time `json:"at"`
}

// members announces this process and counts the live members: those whose
// key changed within the last TTL (as seen here), this one included.
func (b *Balancer) members(ctx context.Context) int {
	rec, _ := json.Marshal(memberRecord{Owner: b.cfg.Owner, At: time.Now().UTC()})
	if _, err := b.cfg.KV.Put(ctx, b.memberKey(), rec); err != nil {
		b.log.Debug("lease: heartbeat failed", "error", err)
	}
	lister, err := b.cfg.KV.ListKeysFiltered(ctx, "member."+KeyToken(b.cfg.Group)+".*")
	if err != nil {
		return max(1, b.Live())
	}
	defer func() { _ = lister.Stop() }()
	now := time.Now()
	live := 1
	present := map[string]bool{}
	for k := range lister.Keys() {
		present[k] = true
		if k == b.memberKey() {
			continue
		}
		e, err := b.cfg.KV.Get(ctx, k)
		if err != nil {
			continue
		}
		s, ok := b.seen[k]
		if !ok || s.rev != e.Revision() {
			s = seenRev{rev: e.Revision(), at: now}
			b.seen[k] = s
		}
		age := now.Sub(s.at)
		switch {
		case age < b.cfg.TTL:
			live++
		case age > 3*b.cfg.TTL: // long dead: tidy up
			_ = b.cfg.KV.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
		}
	}
	for k := range b.seen {
		if !present[k] {
			delete(b.seen, k)
		}
	}
	return live
}
