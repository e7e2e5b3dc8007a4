package eventstore

import (
	"context"
	"fmt"
	"time"
)

// VerifyReport is the outcome of Verify. Broken is nil when every check passed.
type VerifyReport struct {
	EventsChecked  int64       `json:"events_checked"`
	StreamsChecked int64       `json:"streams_checked"`
	Broken         *BrokenLink `json:"broken,omitempty"`
}

// BrokenLink names the first (lowest position) place where the stored log
// stops being what the store wrote. For a missing position only Position is
// known; for a stream whose stored head is ahead of its events (events
// deleted at the end of the stream) the link names the last event still
// present (Position 0 when none is).
type BrokenLink struct {
	Position int64  `json:"position"`
	StreamID string `json:"stream_id,omitempty"`
	Version  int64  `json:"version,omitempty"`
	EventID  string `json:"event_id,omitempty"`
	Reason   string `json:"reason"`
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

// Verify walks the whole log and checks the tamper-evidence invariants
// (docs/architecture.md, invariant 7):
//   - positions are dense from 1 to the head read at the start (a gap is a
//     deleted event);
//   - within each stream versions are consecutive from 1, each event's
//     prev_hash is the previous event's hash and its hash is ComputeHash of
//     its content (a changed or reordered event breaks one of these);
//   - each stream head listed by Streams matches the last version and hash
//     of its chain (an event deleted from, or forged onto, the end of a
//     stream).
//
// Appends made while Verify runs are tolerated: events past the starting
// head are only used to reconcile stream heads that moved on. progress, if
// not nil, is called after every page with the events checked so far and
// the starting head. Verify keeps walking after a break so that the report
// names the lowest broken position.
func Verify(ctx context.Context, s Store, progress func(done, total int64)) (VerifyReport, error) {
	var rep VerifyReport
	total, err := s.HeadPosition(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	found := func(b BrokenLink) {
		if rep.Broken == nil || earlier(b, *rep.Broken) {
			rep.Broken = &b
		}
	}

	chains := map[string]*chainHead{}
	var last int64
	for last < total {
		page, err := s.ReadAll(ctx, last, verifyPage)
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		if len(page) == 0 {
			break // events deleted at the end of the log: stream heads tell
		}
		for _, e := range page {
			if e.Position > total {
				last = total
				break
			}
			if e.Position != last+1 {
				found(BrokenLink{Position: last + 1, Reason: fmt.Sprintf("position %d missing: position %d follows %d", last+1, e.Position, last)})
			}
			last = e.Position
			rep.EventsChecked++
			c := chains[e.StreamID]
			if c == nil {
				c = &chainHead{firstPos: e.Position}
				chains[e.StreamID] = c
			}
			if reason := checkLink(c.version, c.hash, e); reason != "" {
				found(linkAt(e, reason))
			}
			c.version, c.hash, c.lastPos, c.lastID = e.Version, e.Hash, e.Position, e.EventID
		}
		if progress != nil {
			progress(rep.EventsChecked, total)
		}
	}

	// Stream heads: every listed head must match its chain, and every chain
	// must have a head.
	seen := map[string]bool{}
	after := ""
	for {
		heads, err := s.Streams(ctx, after, verifyPage)
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		for _, h := range heads {
			seen[h.StreamID] = true
			rep.StreamsChecked++
			b, err := checkHead(ctx, s, h, chains[h.StreamID], total)
			if err != nil {
				return rep, fmt.Errorf("verify: %w", err)
			}
			if b != nil {
				found(*b)
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
		rep.StreamsChecked++
		b, err := checkHead(ctx, s, StreamInfo{StreamID: id}, c, total)
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		if b != nil {
			b.Reason = "stream has no head record: " + b.Reason
			found(*b)
		}
	}
	return rep, nil
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

func linkAt(e RecordedEvent, reason string) BrokenLink {
	return BrokenLink{Position: e.Position, StreamID: e.StreamID, Version: e.Version, EventID: e.EventID, Reason: reason}
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
			return &BrokenLink{Position: c.lastPos, StreamID: h.StreamID, Version: c.version, EventID: c.lastID,
				Reason: fmt.Sprintf("stream head hash %.12s does not match the chain's %.12s", h.LastHash, c.hash)}, nil
		}
		return nil, nil

	case h.Version < c.version:
		// Events past the head: forged onto the end of the stream.
		b := &BrokenLink{Position: c.firstPos, StreamID: h.StreamID, Version: h.Version + 1,
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
		return &BrokenLink{Position: c.lastPos, StreamID: h.StreamID, Version: c.version, EventID: c.lastID,
			Reason: fmt.Sprintf("stream head is at version %d but the chain ends at version %d: later events missing", h.Version, c.version)}, nil
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
