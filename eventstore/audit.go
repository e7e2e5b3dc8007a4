package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// VerifyOptions are what Verify checks with, besides the store.
type VerifyOptions struct {
	// Key is the audit key. Without one (the zero key) the keyed checks
	// (global chain, checkpoint and idempotency MACs) run only on a store
	// chained with the empty key, where they prove nothing against a
	// forger: the report says what was not checked.
	Key AuditKey
	// AuditDir holds the latest checkpoint's copy (CheckpointFile); ""
	// skips it.
	AuditDir string
	// Progress, if not nil, is called after every page with the events
	// checked so far and the head read at the start.
	Progress func(done, total int64)
}

// VerifyReport is the outcome of Verify. Broken is nil when every check
// that could run passed; NotChecked says what could not run and why.
type VerifyReport struct {
	Head               int64 `json:"head"` // the head position when Verify started
	EventsChecked      int64 `json:"events_checked"`
	StreamsChecked     int64 `json:"streams_checked"`
	CheckpointsChecked int64 `json:"checkpoints_checked"`
	IdempotencyChecked int64 `json:"idempotency_records_checked"`
	// StoreID and KeyID identify the store and the audit key its global
	// chain is keyed with, as the store records them.
	StoreID string `json:"store_id,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	// Keyed: the global chain, the checkpoints' and the idempotency
	// records' MACs were checked with the store's key.
	Keyed bool `json:"keyed"`
	// LatestCheckpoint is the highest checkpoint found (in the audit
	// directory or the store); the EventsAfterCheckpoint events after it
	// are the unprotected window: a cut there is not detectable.
	LatestCheckpoint      *CheckpointSummary `json:"latest_checkpoint,omitempty"`
	EventsAfterCheckpoint int64              `json:"events_after_checkpoint"`
	NotChecked            []string           `json:"not_checked,omitempty"`
	Broken                *BrokenLink        `json:"broken,omitempty"`
}

// CheckpointSummary describes a checkpoint in a report. Source is
// "audit_dir" (the copy kept outside the store) or "store".
type CheckpointSummary struct {
	Position int64     `json:"position"`
	TakenAt  time.Time `json:"taken_at"`
	Reason   string    `json:"reason"`
	Source   string    `json:"source"`
}

// Kinds of broken links.
const (
	BrokenPosition    = "position"    // a position is missing or out of order
	BrokenEvent       = "event"       // an event's content, hash or stream chain link
	BrokenLogChain    = "log_chain"   // an event's link in the global (keyed) chain
	BrokenStreamHead  = "stream_head" // a stream head disagrees with its events
	BrokenCheckpoint  = "checkpoint"  // a checkpoint is forged, or the log no longer extends it
	BrokenIdempotency = "idempotency" // an idempotency record is forged or names other events
	BrokenAuditKey    = "audit_key"   // the store's audit key id
	BrokenArchive     = "archive"     // an archive segment or manifest (docs/archival.md)
)

// ArchiveChecker is a store read through an archive of events that left
// the live store (eventstore/archive.Store). Verify checks the archive's
// own chain first (its segments against their manifests): a problem is a
// BrokenArchive link, and the walk does not run (it would read the
// altered segment).
type ArchiveChecker interface {
	CheckArchive(ctx context.Context) (problem string, events int64, err error)
}

// BrokenLink names the first (lowest position) place where the stored log
// stops being what the store wrote. Position 0 means the problem is not at
// one position (a stream none of whose events is left, an idempotency
// record, the key): StreamID and Version then name what is missing when
// known. Kind is one of the Broken* constants.
type BrokenLink struct {
	Position int64  `json:"position"`
	StreamID string `json:"stream_id,omitempty"`
	Version  int64  `json:"version,omitempty"`
	EventID  string `json:"event_id,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Reason   string `json:"reason"`
}

// String is the link as `cspm events verify` prints it, naming only what
// is known.
func (b BrokenLink) String() string {
	s := "first broken link"
	if b.Position > 0 {
		s += fmt.Sprintf(" at position %d", b.Position)
	}
	s += ":"
	if b.StreamID != "" {
		s += " stream " + b.StreamID
		if b.Version > 0 {
			s += fmt.Sprintf(" version %d", b.Version)
		}
		if b.EventID != "" {
			s += ","
		}
	}
	if b.EventID != "" {
		s += " event " + b.EventID
	}
	if b.StreamID != "" || b.EventID != "" {
		s += ":"
	}
	return s + " " + b.Reason
}

// verifyPage is how many events Verify reads per ReadAll call.
var verifyPage = 1000

// chainHead is what Verify has seen of one stream so far.
type chainHead struct {
	version  int64
	hash     string
	firstPos int64
	lastPos  int64
	lastID   string
}

// verifier is one run of Verify.
type verifier struct {
	s     Store
	audit AuditStore // nil when the store keeps no audit metadata
	opts  VerifyOptions
	rep   VerifyReport
	info  AuditInfo
	key   AuditKey // valid when rep.Keyed
	cps   *checkpointQueue
}

func (v *verifier) found(b BrokenLink) {
	if v.rep.Broken == nil || earlier(b, *v.rep.Broken) {
		v.rep.Broken = &b
	}
}

func (v *verifier) notChecked(format string, args ...any) {
	v.rep.NotChecked = append(v.rep.NotChecked, fmt.Sprintf(format, args...))
}

// Verify walks the whole log once and checks the tamper-evidence
// invariants (docs/architecture.md, invariant 7; docs/tamper-evidence.md):
//   - positions are dense from 1 to the head read at the start (a gap is a
//     deleted event);
//   - within each stream versions are consecutive from 1, each event's
//     prev_hash is the previous event's hash and its hash is ComputeHash of
//     its content, every metadata key included (a changed or reordered
//     event breaks one of these);
//   - with the key, each event's log_hash chains from the previous
//     position's under the key (an event moved, inserted, removed before
//     it or re-hashed breaks it: nobody without the key can re-chain);
//   - each stream head listed by Streams matches the last version and hash
//     of its chain (an event deleted from, or forged onto, the end of a
//     stream);
//   - every checkpoint, in the store and the audit directory's copy, is
//     signed with the key and the log still has its log hash at its
//     position (a log cut below a checkpoint: "log truncated");
//   - every idempotency record is signed with the key and names the
//     events it says it appended.
//
// It reads the log once (ReadAll pages), the stream heads, the checkpoints
// (merged into the walk by position) and each idempotency record with one
// stream read: linear in the store. Appends made while Verify runs are
// tolerated. Verify keeps walking after a break so that the report names
// the lowest broken position.
func Verify(ctx context.Context, s Store, opts VerifyOptions) (VerifyReport, error) {
	v := &verifier{s: s, opts: opts}
	v.cps = &checkpointQueue{v: v}
	total, err := s.HeadPosition(ctx)
	if err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	v.rep.Head = total
	if ac, ok := s.(ArchiveChecker); ok {
		problem, _, err := ac.CheckArchive(ctx)
		if err != nil {
			return v.rep, fmt.Errorf("verify: %w", err)
		}
		if problem != "" {
			v.found(BrokenLink{Kind: BrokenArchive, Reason: problem})
			v.notChecked("the archive is broken: the log was not walked")
			return v.rep, nil
		}
	}
	if err := v.setup(ctx); err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	chains, last, err := v.walk(ctx, total)
	if err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	if err := v.checkTail(ctx, last); err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	if err := v.checkHeads(ctx, chains, total); err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	if err := v.checkIdempotency(ctx); err != nil {
		return v.rep, fmt.Errorf("verify: %w", err)
	}
	v.summarizeCheckpoints(total)
	return v.rep, nil
}

// setup decides which keyed checks can run and loads the checkpoints.
func (v *verifier) setup(ctx context.Context) error {
	as, ok := v.s.(AuditStore)
	if !ok {
		v.notChecked("this store keeps no audit metadata: global chain, checkpoints and idempotency records not checked")
		return nil
	}
	v.audit = as
	info, err := as.AuditInfo(ctx)
	if err != nil {
		return err
	}
	v.info = info
	v.rep.StoreID, v.rep.KeyID = info.StoreID, info.KeyID
	const keyed = "global chain, checkpoint MACs and idempotency record MACs not checked"
	switch {
	case info.KeyID == "":
		if v.rep.Head > 0 {
			// Judged on the first event: chained events without a key id
			// mean the id was removed.
			v.notChecked("the store records no audit key id (not chained yet): " + keyed)
		}
	case v.opts.Key.IsZero() && info.KeyID == EmptyKeyID:
		v.rep.Keyed, v.key = true, AuditKey{}
		v.notChecked("the store is chained with the empty audit key: the keyed checks ran but prove nothing against someone who can write the database")
	case v.opts.Key.IsZero():
		v.notChecked("no audit key given: " + keyed)
	case v.opts.Key.ID() == info.KeyID:
		v.rep.Keyed, v.key = true, v.opts.Key
	default:
		v.found(BrokenLink{Kind: BrokenAuditKey, Reason: (&KeyMismatchError{StoreKeyID: info.KeyID, GivenKeyID: v.opts.Key.ID()}).Error()})
		v.notChecked("the given audit key is not the store's: " + keyed)
	}
	v.loadCopy()
	return nil
}

// loadCopy reads the audit directory's checkpoint copy into the queue.
func (v *verifier) loadCopy() {
	if v.opts.AuditDir == "" {
		v.notChecked("no audit directory given: the checkpoint copy kept outside the store not checked")
		return
	}
	if v.info.StoreID == "" {
		v.notChecked("the store records no store id: the checkpoint copy in %s not checked", v.opts.AuditDir)
		return
	}
	path := CheckpointFile(v.opts.AuditDir, v.info.StoreID)
	c, err := ReadCheckpointFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.notChecked("no checkpoint copy found at %s", path)
		return
	case err != nil:
		v.found(BrokenLink{Kind: BrokenCheckpoint, Reason: fmt.Sprintf("checkpoint copy unreadable: %v", err)})
		return
	}
	if b := v.checkSignature(c, "checkpoint copy "+path); b != nil {
		v.found(*b)
		return
	}
	v.rep.CheckpointsChecked++
	v.cps.copy = &c
}

// checkSignature checks a checkpoint's store and, when keyed, its MAC.
func (v *verifier) checkSignature(c Checkpoint, what string) *BrokenLink {
	switch {
	case c.StoreID != v.info.StoreID:
		return &BrokenLink{Kind: BrokenCheckpoint, Reason: fmt.Sprintf("%s is of store %q, not %q", what, c.StoreID, v.info.StoreID)}
	case v.rep.Keyed && !c.Valid(v.key):
		return &BrokenLink{Kind: BrokenCheckpoint, Reason: fmt.Sprintf("%s (position %d, %s): MAC does not match its content (forged or altered)",
			what, c.Position, c.TakenAt.UTC().Format(time.RFC3339))}
	}
	return nil
}

// walk reads the log up to total, checking every event, and returns the
// stream chains and the last position read.
func (v *verifier) walk(ctx context.Context, total int64) (map[string]*chainHead, int64, error) {
	chains := map[string]*chainHead{}
	var h *LogHasher
	if v.rep.Keyed {
		h = v.key.LogHasher()
	}
	var last int64
	prevLog := ""
	for last < total {
		page, err := v.s.ReadAll(ctx, last, verifyPage)
		if err != nil {
			return nil, 0, err
		}
		if len(page) == 0 {
			break // events deleted at the end of the log: checkpoints and stream heads tell
		}
		for _, e := range page {
			if e.Position > total {
				last = total
				break
			}
			if e.Position != last+1 {
				v.found(BrokenLink{Position: last + 1, Kind: BrokenPosition,
					Reason: fmt.Sprintf("position %d missing: position %d follows %d", last+1, e.Position, last)})
			}
			last = e.Position
			v.rep.EventsChecked++
			c := chains[e.StreamID]
			if c == nil {
				c = &chainHead{firstPos: e.Position}
				chains[e.StreamID] = c
			}
			if reason := checkLink(c.version, c.hash, e); reason != "" {
				v.found(linkAt(e, BrokenEvent, reason))
			}
			c.version, c.hash, c.lastPos, c.lastID = e.Version, e.Hash, e.Position, e.EventID
			switch {
			case h != nil:
				if e.LogHash == "" {
					v.found(linkAt(e, BrokenLogChain, "no log hash: the event is not in the global chain"))
				} else if !macEqual(e.LogHash, h.Next(prevLog, e.Position, e.Hash)) {
					v.found(linkAt(e, BrokenLogChain, "log hash does not chain from the previous position: "+
						"the event was moved, inserted, re-hashed, or an event before it removed"))
				}
			case v.audit != nil && v.info.KeyID == "" && e.LogHash != "":
				v.found(linkAt(e, BrokenAuditKey, "the event is chained but the store records no audit key id (removed?)"))
			}
			prevLog = e.LogHash
			if err := v.cps.at(ctx, e); err != nil {
				return nil, 0, err
			}
		}
		if v.opts.Progress != nil {
			v.opts.Progress(v.rep.EventsChecked, total)
		}
	}
	return chains, last, nil
}

// checkTail judges the checkpoints past the last position read: taken
// while Verify ran (the log has the event), or the log was cut below them.
func (v *verifier) checkTail(ctx context.Context, last int64) error {
	rest, err := v.cps.remaining(ctx)
	if err != nil || len(rest) == 0 {
		return err
	}
	head, err := v.s.HeadPosition(ctx)
	if err != nil {
		return err
	}
	for _, c := range rest {
		if c.cp.Position == 0 {
			continue
		}
		if c.cp.Position <= head { // taken after the walk started
			evs, err := v.s.ReadAll(ctx, c.cp.Position-1, 1)
			if err != nil {
				return err
			}
			if len(evs) == 1 && evs[0].Position == c.cp.Position {
				v.compare(c, evs[0])
				continue
			}
		}
		v.found(BrokenLink{Position: last + 1, Kind: BrokenCheckpoint, Reason: fmt.Sprintf(
			"log truncated: %s says the log reached position %d, the log now ends at %d",
			c.what(), c.cp.Position, last)})
		return nil // the lowest is named; the others say the same
	}
	return nil
}

// compare checks that the event at a checkpoint's position has its log hash.
func (v *verifier) compare(c queuedCheckpoint, e RecordedEvent) {
	if !macEqual(e.LogHash, c.cp.LogHash) {
		v.found(linkAt(e, BrokenCheckpoint, fmt.Sprintf("%s says position %d had log hash %.12s, the event there has %.12s",
			c.what(), c.cp.Position, c.cp.LogHash, e.LogHash)))
	}
}

func (v *verifier) summarizeCheckpoints(total int64) {
	if v.audit == nil {
		return
	}
	if l := v.cps.latest; l != nil {
		v.rep.LatestCheckpoint = &CheckpointSummary{Position: l.cp.Position, TakenAt: l.cp.TakenAt.UTC(), Reason: l.cp.Reason, Source: l.source}
		v.rep.EventsAfterCheckpoint = max(total-l.cp.Position, 0)
		return
	}
	v.rep.EventsAfterCheckpoint = total
	if total > 0 {
		v.notChecked("no checkpoint found: a cut at the end of the log would go unnoticed")
	}
}

// checkHeads compares every stream head with its chain, and every chain
// with its head.
func (v *verifier) checkHeads(ctx context.Context, chains map[string]*chainHead, total int64) error {
	seen := map[string]bool{}
	after := ""
	for {
		heads, err := v.s.Streams(ctx, after, verifyPage)
		if err != nil {
			return err
		}
		for _, h := range heads {
			seen[h.StreamID] = true
			v.rep.StreamsChecked++
			b, err := checkHead(ctx, v.s, h, chains[h.StreamID], total)
			if err != nil {
				return err
			}
			if b != nil {
				v.found(*b)
			}
		}
		if len(heads) < verifyPage {
			break
		}
		after = heads[len(heads)-1].StreamID
	}
	for id, c := range chains {
		if seen[id] {
			continue
		}
		v.rep.StreamsChecked++
		b, err := checkHead(ctx, v.s, StreamInfo{StreamID: id}, c, total)
		if err != nil {
			return err
		}
		if b != nil {
			b.Reason = "stream has no head record: " + b.Reason
			v.found(*b)
		}
	}
	return nil
}

// checkIdempotency checks every idempotency record: its MAC (with the key)
// and that the events it names are stored as it says.
func (v *verifier) checkIdempotency(ctx context.Context) error {
	if v.audit == nil {
		return nil
	}
	after := ""
	for {
		recs, err := v.audit.IdempotencyRecords(ctx, after, verifyPage)
		if err != nil {
			return err
		}
		for _, r := range recs {
			v.rep.IdempotencyChecked++
			b, err := v.checkRecord(ctx, r)
			if err != nil {
				return err
			}
			if b != nil {
				v.found(*b)
			}
		}
		if len(recs) < verifyPage {
			return nil
		}
		after = recs[len(recs)-1].Key
	}
}

func (v *verifier) checkRecord(ctx context.Context, r IdempotencyRecord) (*BrokenLink, error) {
	res := r.Result
	broken := func(format string, args ...any) *BrokenLink {
		return &BrokenLink{StreamID: res.StreamID, Kind: BrokenIdempotency,
			Reason: fmt.Sprintf("idempotency record %q: ", r.Key) + fmt.Sprintf(format, args...)}
	}
	if v.rep.Keyed && !macEqual(r.MAC, IdempotencyMAC(v.key, r.Key, r.Fingerprint, res)) {
		return broken("MAC does not match its content (result rewritten?)"), nil
	}
	n := int64(len(res.EventIDs))
	if n == 0 || res.Version < n || res.StreamID == "" || (res.Positions != nil && len(res.Positions) != len(res.EventIDs)) {
		return broken("malformed result (stream %q, version %d, %d event ids, %d positions)", res.StreamID, res.Version, n, len(res.Positions)), nil
	}
	evs, err := v.s.ReadStream(ctx, res.StreamID, ReadStreamOptions{FromVersion: res.Version - n + 1, ToVersion: res.Version})
	if err != nil {
		return nil, err
	}
	if int64(len(evs)) != n {
		return broken("names versions %d..%d of stream %s, %d of them stored", res.Version-n+1, res.Version, res.StreamID, len(evs)), nil
	}
	for i, e := range evs {
		if e.EventID != res.EventIDs[i] {
			return broken("names event %s as version %d of stream %s, which is event %s", res.EventIDs[i], e.Version, res.StreamID, e.EventID), nil
		}
		if res.Positions != nil && e.Position != res.Positions[i] {
			return broken("says event %s is at position %d, it is at %d", e.EventID, res.Positions[i], e.Position), nil
		}
	}
	return nil, nil
}

// queuedCheckpoint is a checkpoint and where it was found.
type queuedCheckpoint struct {
	cp     Checkpoint
	source string
}

// what names the checkpoint in a reason.
func (c queuedCheckpoint) what() string {
	at := c.cp.TakenAt.UTC().Format(time.RFC3339)
	if c.source == "audit_dir" {
		return "the checkpoint copy of " + at + " (audit directory)"
	}
	return "the stored checkpoint of " + at
}

// checkpointQueue feeds the walk with the checkpoints in position order:
// the audit directory's copy and the store's history, paged.
type checkpointQueue struct {
	v      *verifier
	copy   *Checkpoint
	page   []Checkpoint
	after  Checkpoint
	done   bool // the store's history is exhausted
	latest *queuedCheckpoint
}

// next returns the lowest checkpoint not yet consumed, without consuming it.
func (q *checkpointQueue) next(ctx context.Context) (*queuedCheckpoint, error) {
	for len(q.page) == 0 && !q.done && q.v.audit != nil {
		page, err := q.v.audit.Checkpoints(ctx, q.after, verifyPage)
		if err != nil {
			return nil, err
		}
		if len(page) < verifyPage {
			q.done = true
		}
		if len(page) > 0 {
			q.after = page[len(page)-1]
		}
		for _, c := range page {
			q.v.rep.CheckpointsChecked++
			if b := q.v.checkSignature(c, "stored checkpoint"); b != nil {
				q.v.found(*b)
				continue
			}
			q.page = append(q.page, c)
		}
	}
	switch {
	case q.copy != nil && (len(q.page) == 0 || q.copy.Position <= q.page[0].Position):
		return &queuedCheckpoint{cp: *q.copy, source: "audit_dir"}, nil
	case len(q.page) > 0:
		return &queuedCheckpoint{cp: q.page[0], source: "store"}, nil
	}
	return nil, nil
}

func (q *checkpointQueue) pop(c *queuedCheckpoint) {
	if c.source == "audit_dir" {
		q.copy = nil
	} else {
		q.page = q.page[1:]
	}
	if q.latest == nil || c.cp.Position > q.latest.cp.Position ||
		(c.cp.Position == q.latest.cp.Position && c.cp.TakenAt.After(q.latest.cp.TakenAt)) {
		q.latest = c
	}
}

// at consumes the checkpoints up to e's position, checking those at it.
func (q *checkpointQueue) at(ctx context.Context, e RecordedEvent) error {
	for {
		c, err := q.next(ctx)
		if err != nil || c == nil || c.cp.Position > e.Position {
			return err
		}
		q.pop(c)
		if c.cp.Position == e.Position {
			q.v.compare(*c, e)
		} else if c.cp.Position == 0 && c.cp.LogHash != "" {
			q.v.found(BrokenLink{Kind: BrokenCheckpoint, Reason: c.what() + " is at position 0 but has a log hash"})
		}
		// A checkpoint at a missing position: the gap is reported.
	}
}

// remaining consumes and returns the checkpoints the walk did not reach.
func (q *checkpointQueue) remaining(ctx context.Context) ([]queuedCheckpoint, error) {
	var out []queuedCheckpoint
	for {
		c, err := q.next(ctx)
		if err != nil || c == nil {
			return out, err
		}
		q.pop(c)
		out = append(out, *c)
	}
}

// earlier orders broken links by position, unknown positions (0) last.
func earlier(a, b BrokenLink) bool {
	switch {
	case a.Position == 0:
		return false
	case b.Position == 0:
		return true
	default:
		return a.Position < b.Position
	}
}

func linkAt(e RecordedEvent, kind, reason string) BrokenLink {
	return BrokenLink{Position: e.Position, StreamID: e.StreamID, Version: e.Version, EventID: e.EventID, Kind: kind, Reason: reason}
}

// checkLink checks e against the chain head (version, hash) before it.
func checkLink(version int64, hash string, e RecordedEvent) string {
	switch {
	case e.Version != version+1:
		return fmt.Sprintf("version %d follows version %d", e.Version, version)
	case e.PrevHash != hash:
		return fmt.Sprintf("prev_hash %.12s does not match the hash %.12s of version %d", e.PrevHash, hash, version)
	case ComputeHash(e) != e.Hash:
		return "hash does not match the event's content"
	}
	return ""
}

// checkHead compares a stream head with the chain Verify walked up to
// position total. A head ahead of the chain is fine when the missing events
// were appended after the walk started and continue the chain.
func checkHead(ctx context.Context, s Store, h StreamInfo, c *chainHead, total int64) (*BrokenLink, error) {
	if c == nil {
		c = &chainHead{}
	}
	switch {
	case h.Version == c.version:
		if h.LastHash != c.hash {
			return &BrokenLink{Position: c.lastPos, StreamID: h.StreamID, Version: c.version, EventID: c.lastID, Kind: BrokenStreamHead,
				Reason: fmt.Sprintf("stream head hash %.12s does not match the chain's %.12s", h.LastHash, c.hash)}, nil
		}
		return nil, nil

	case h.Version < c.version:
		// Events past the head: forged onto the end of the stream.
		b := &BrokenLink{Position: c.firstPos, StreamID: h.StreamID, Version: h.Version + 1, Kind: BrokenStreamHead,
			Reason: fmt.Sprintf("events past the stream head (head at version %d, chain at version %d)", h.Version, c.version)}
		evs, err := s.ReadStream(ctx, h.StreamID, ReadStreamOptions{FromVersion: h.Version + 1, ToVersion: h.Version + 1})
		if err != nil {
			return nil, err
		}
		if len(evs) == 1 {
			b.Position, b.EventID = evs[0].Position, evs[0].EventID
		}
		return b, nil

	default:
		// Head ahead of the chain: the rest must have been appended after
		// the walk, else it was deleted.
		evs, err := s.ReadStream(ctx, h.StreamID, ReadStreamOptions{FromVersion: c.version + 1, ToVersion: h.Version})
		if err != nil {
			return nil, err
		}
		version, hash := c.version, c.hash
		for _, e := range evs {
			if e.Position <= total || checkLink(version, hash, e) != "" {
				break
			}
			version, hash = e.Version, e.Hash
		}
		if version == h.Version && hash == h.LastHash {
			return nil, nil
		}
		if c.lastPos == 0 {
			// Nothing of the stream is left to point at: name the stream
			// and the first missing version.
			return &BrokenLink{StreamID: h.StreamID, Version: 1, Kind: BrokenStreamHead,
				Reason: fmt.Sprintf("stream head is at version %d but none of its events is stored: versions 1..%d missing", h.Version, h.Version)}, nil
		}
		return &BrokenLink{Position: c.lastPos, StreamID: h.StreamID, Version: c.version, EventID: c.lastID, Kind: BrokenStreamHead,
			Reason: fmt.Sprintf("stream head is at version %d but the chain ends at version %d: versions %d..%d missing",
				h.Version, c.version, c.version+1, h.Version)}, nil
	}
}

// AsOf selects a past state of a stream: the events up to Version and
// recorded at or before Time. Zero fields do not bound.
type AsOf struct {
	Time    time.Time
	Version int64
}

// ReplayStream returns the events of a stream as they stood at asOf, in
// version order, for audit views that rebuild a past state.
func ReplayStream(ctx context.Context, s Store, streamID string, asOf AsOf) ([]RecordedEvent, error) {
	evs, err := s.ReadStream(ctx, streamID, ReadStreamOptions{ToVersion: asOf.Version, Until: asOf.Time})
	if err != nil {
		return nil, fmt.Errorf("replay stream %q: %w", streamID, err)
	}
	return evs, nil
}
