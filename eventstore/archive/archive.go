// Package archive keeps the events that left the live event store
// (docs/archival.md, decision 89): compressed JSON Lines segment files,
// one stored event per line exactly as the store held it, each with a
// manifest that chains it to the segment before. Store (through.go) reads
// the archive and the live store as one log, so verify, replay, export,
// audit, projection rebuilds and the command side see every event.
package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Format names the segment format in every manifest.
const Format = "cspm-archive-segment-v1"

// manifestSuffix ends every manifest file name; the segment file is the
// same name with segmentSuffix.
const (
	manifestSuffix = ".manifest.json"
	segmentSuffix  = ".jsonl.gz"
)

// StreamRange is the versions of one stream a segment holds.
type StreamRange struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
}

// Manifest describes one segment file. A segment holds the events of
// positions FirstPosition..LastPosition, all of them, in position order.
type Manifest struct {
	Format string `json:"format"`
	// StoreID is the live store's id (eventstore.AuditInfo) the events
	// came from: an archive belongs to one store.
	StoreID string `json:"store_id"`
	Segment int    `json:"segment"` // 1, 2, ... in position order
	File    string `json:"file"`    // the segment file's name, in the archive directory
	// FirstPosition..LastPosition are the global positions held (dense).
	FirstPosition int64 `json:"first_position"`
	LastPosition  int64 `json:"last_position"`
	Events        int64 `json:"events"`
	// PrevLogHash is the log hash of position FirstPosition-1 ("" at
	// position 1): the previous segment's LastLogHash. FirstPrevHash is the
	// first event's prev_hash (its stream's chain).
	PrevLogHash   string `json:"prev_log_hash"`
	FirstPrevHash string `json:"first_prev_hash"`
	LastHash      string `json:"last_hash"`
	LastLogHash   string `json:"last_log_hash"`
	// FirstRecordedAt and LastRecordedAt bound the events' record times.
	FirstRecordedAt time.Time `json:"first_recorded_at"`
	LastRecordedAt  time.Time `json:"last_recorded_at"`
	// SHA256 and Bytes are those of the compressed segment file.
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// PrevManifestSHA256 is the sha256 of the previous segment's manifest
	// file ("" for segment 1): the segments form a chain of their own.
	PrevManifestSHA256 string                 `json:"prev_manifest_sha256"`
	CreatedAt          time.Time              `json:"created_at"`
	Streams            map[string]StreamRange `json:"streams"` // stream id → versions held
	sum                string                 // sha256 of the manifest file as read
}

// Archive is an archive directory. It is safe for concurrent use; other
// processes may add segments meanwhile (Refresh sees them).
type Archive struct {
	dir string

	mu      sync.Mutex
	segs    []Manifest
	seen    time.Time // the directory's modification time at the last load
	loaded  bool
	cache   []cachedSegment // the last segments decoded, most recent first
	writeMu sync.Mutex
}

type cachedSegment struct {
	segment int
	events  []eventstore.RecordedEvent
}

// cacheSegments is how many decoded segments an Archive keeps.
const cacheSegments = 2

// Open returns the archive of dir; dir need not exist yet (an empty archive).
func Open(dir string) (*Archive, error) {
	a := &Archive{dir: dir}
	if err := a.Refresh(); err != nil {
		return nil, err
	}
	return a, nil
}

// StoreID is the id of the store the archive's events came from ("" when empty).
func (a *Archive) StoreID() string {
	m, ok := a.last()
	if !ok {
		return ""
	}
	return m.StoreID
}

// Dir is the archive directory.
func (a *Archive) Dir() string { return a.dir }

// Refresh reloads the manifests when the directory changed since the last
// load (one stat otherwise).
func (a *Archive) Refresh() error {
	st, err := os.Stat(a.dir)
	if errors.Is(err, fs.ErrNotExist) {
		a.mu.Lock()
		a.segs, a.loaded = nil, true
		a.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", a.dir, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded && st.ModTime().Equal(a.seen) {
		return nil
	}
	segs, err := loadManifests(a.dir)
	if err != nil {
		return err
	}
	a.segs, a.seen, a.loaded = segs, st.ModTime(), true
	return nil
}

// loadManifests reads every manifest of dir, ordered by segment.
func loadManifests(dir string) ([]Manifest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	var segs []Manifest
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), manifestSuffix) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("archive manifest %s: %w", e.Name(), err)
		}
		var m Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("archive manifest %s: %w", e.Name(), err)
		}
		if m.Format != Format {
			return nil, fmt.Errorf("archive manifest %s: format %q, want %q", e.Name(), m.Format, Format)
		}
		m.sum = sha256Hex(raw)
		segs = append(segs, m)
	}
	slices.SortFunc(segs, func(x, y Manifest) int { return int(x.FirstPosition - y.FirstPosition) })
	return segs, nil
}

// forget makes the next Refresh reload the manifests (a directory's
// modification time may not change within its clock's resolution).
func (a *Archive) forget() {
	a.mu.Lock()
	a.loaded = false
	a.mu.Unlock()
}

// Segments returns the manifests in position order.
func (a *Archive) Segments() []Manifest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.segs)
}

// LastPosition is the highest archived position (0 when empty).
func (a *Archive) LastPosition() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.segs) == 0 {
		return 0
	}
	return a.segs[len(a.segs)-1].LastPosition
}

// last returns the last manifest, if any.
func (a *Archive) last() (Manifest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.segs) == 0 {
		return Manifest{}, false
	}
	return a.segs[len(a.segs)-1], true
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// segmentName is the base name of a segment's files.
func segmentName(seg int, first, last int64) string {
	return fmt.Sprintf("segment-%06d-%012d-%012d", seg, first, last)
}

// Write adds one segment holding evs, which must continue the archive:
// dense positions from LastPosition()+1. The segment file is written to a
// temporary name, synced, read back and checked against evs (sha256,
// every field of every event), then renamed; the manifest follows the
// same way, and the directory is synced. Only then are the events safe to
// delete from the live store. An event whose hash does not match its
// content is refused (the archive never takes in a tampered event).
func (a *Archive) Write(ctx context.Context, storeID string, evs []eventstore.RecordedEvent) (Manifest, error) {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	if len(evs) == 0 {
		return Manifest{}, errors.New("archive: no events to write")
	}
	if err := a.Refresh(); err != nil {
		return Manifest{}, err
	}
	prev, hasPrev := a.last()
	m := Manifest{Format: Format, StoreID: storeID, Segment: 1, FirstPosition: evs[0].Position, Streams: map[string]StreamRange{}}
	if hasPrev && prev.StoreID != storeID {
		return Manifest{}, fmt.Errorf("archive %s holds the events of store %q, not of %q: give each store its own --archive-dir", a.dir, prev.StoreID, storeID)
	}
	if hasPrev {
		m.Segment, m.PrevLogHash, m.PrevManifestSHA256 = prev.Segment+1, prev.LastLogHash, prev.sum
	}
	if want := a.LastPosition() + 1; m.FirstPosition != want {
		return Manifest{}, fmt.Errorf("archive: segment starts at position %d, the archive continues at %d", m.FirstPosition, want)
	}
	for i, e := range evs {
		if e.Position != m.FirstPosition+int64(i) {
			return Manifest{}, fmt.Errorf("archive: position %d follows %d (positions must be dense)", e.Position, m.FirstPosition+int64(i)-1)
		}
		if eventstore.ComputeHash(e) != e.Hash {
			return Manifest{}, fmt.Errorf("archive: event at position %d (stream %s version %d): hash does not match its content; refusing to archive it (run cspm events verify)", e.Position, e.StreamID, e.Version)
		}
		r, ok := m.Streams[e.StreamID]
		if !ok {
			r.First = e.Version
		}
		r.Last = e.Version
		m.Streams[e.StreamID] = r
	}
	first, last := evs[0], evs[len(evs)-1]
	m.LastPosition, m.Events = last.Position, int64(len(evs))
	m.FirstPrevHash, m.LastHash, m.LastLogHash = first.PrevHash, last.Hash, last.LogHash
	m.FirstRecordedAt, m.LastRecordedAt = first.RecordedAt.UTC(), last.RecordedAt.UTC()
	m.CreatedAt = eventstore.NormalizeTime(time.Now())
	name := segmentName(m.Segment, m.FirstPosition, m.LastPosition)
	m.File = name + segmentSuffix

	if err := os.MkdirAll(a.dir, 0o750); err != nil {
		return Manifest{}, fmt.Errorf("archive: %w", err)
	}
	var gz bytes.Buffer
	if err := encodeSegment(&gz, evs); err != nil {
		return Manifest{}, err
	}
	m.SHA256, m.Bytes = sha256Hex(gz.Bytes()), int64(gz.Len())
	if err := ctx.Err(); err != nil {
		return Manifest{}, err
	}
	segPath := filepath.Join(a.dir, m.File)
	if err := writeSynced(segPath, gz.Bytes()); err != nil {
		return Manifest{}, err
	}
	if err := checkWritten(segPath, m, evs); err != nil {
		_ = os.Remove(segPath)
		return Manifest{}, err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("archive: encode manifest: %w", err)
	}
	raw = append(raw, '\n')
	if err := writeSynced(filepath.Join(a.dir, name+manifestSuffix), raw, true); err != nil {
		return Manifest{}, err
	}
	if err := syncDir(a.dir); err != nil {
		return Manifest{}, err
	}
	m.sum = sha256Hex(raw)
	a.mu.Lock()
	a.segs = append(a.segs, m)
	a.mu.Unlock()
	return m, nil
}

// encodeSegment writes evs as gzip-compressed JSON Lines.
func encodeSegment(w io.Writer, evs []eventstore.RecordedEvent) error {
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false) // data byte for byte as stored
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("archive: encode event at position %d: %w", e.Position, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("archive: compress: %w", err)
	}
	return nil
}

// writeSynced writes path through a synced temporary file renamed into
// place. Exclusive fails when path exists (a concurrent writer made it).
func writeSynced(path string, b []byte, exclusive ...bool) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("archive: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("archive: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("archive: write %s: %w", path, err)
	}
	if len(exclusive) > 0 && exclusive[0] {
		defer os.Remove(f.Name())
		if err := os.Link(f.Name(), path); err != nil {
			return fmt.Errorf("archive: %w (another archival run wrote this segment)", err)
		}
		return nil
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("archive: sync %s: %w", dir, err)
	}
	return nil
}

// checkWritten reads a written segment back and compares it with evs.
func checkWritten(path string, m Manifest, evs []eventstore.RecordedEvent) error {
	got, err := readSegmentFile(path, m)
	if err != nil {
		return fmt.Errorf("archive: the written segment does not read back: %w", err)
	}
	if len(got) != len(evs) {
		return fmt.Errorf("archive: the written segment holds %d events, %d were written", len(got), len(evs))
	}
	for i := range got {
		g, e := got[i], evs[i]
		if g.Position != e.Position || g.Hash != e.Hash || g.LogHash != e.LogHash || g.PrevHash != e.PrevHash ||
			eventstore.ComputeHash(g) != e.Hash {
			return fmt.Errorf("archive: the written segment differs from the store at position %d", e.Position)
		}
	}
	return nil
}

// readSegmentFile decodes a segment file, checking its sha256 and size
// against m and that it holds m's positions.
func readSegmentFile(path string, m Manifest) ([]eventstore.RecordedEvent, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != m.Bytes || sha256Hex(raw) != m.SHA256 {
		return nil, fmt.Errorf("segment %s: sha256 or size does not match its manifest (altered or truncated)", m.File)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", m.File, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), eventstore.MaxEnvelopeBytes*2)
	out := make([]eventstore.RecordedEvent, 0, m.Events)
	for sc.Scan() {
		var e eventstore.RecordedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("segment %s line %d: %w", m.File, len(out)+1, err)
		}
		if want := m.FirstPosition + int64(len(out)); e.Position != want {
			return nil, fmt.Errorf("segment %s line %d: position %d, want %d", m.File, len(out)+1, e.Position, want)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("segment %s: %w", m.File, err)
	}
	if int64(len(out)) != m.Events || (len(out) > 0 && out[len(out)-1].Position != m.LastPosition) {
		return nil, fmt.Errorf("segment %s: holds %d events, its manifest says %d (positions %d..%d)", m.File, len(out), m.Events, m.FirstPosition, m.LastPosition)
	}
	return out, nil
}

// ReadSegment returns a segment's events (checked against its manifest),
// from a small cache of the segments read last.
func (a *Archive) ReadSegment(m Manifest) ([]eventstore.RecordedEvent, error) {
	a.mu.Lock()
	for _, c := range a.cache {
		if c.segment == m.Segment {
			a.mu.Unlock()
			return c.events, nil
		}
	}
	a.mu.Unlock()
	evs, err := readSegmentFile(filepath.Join(a.dir, m.File), m)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", a.dir, err)
	}
	a.mu.Lock()
	a.cache = append([]cachedSegment{{segment: m.Segment, events: evs}}, a.cache...)
	if len(a.cache) > cacheSegments {
		a.cache = a.cache[:cacheSegments]
	}
	a.mu.Unlock()
	return evs, nil
}

// Problem is one thing Check found wrong with the archive.
type Problem struct {
	Segment int    `json:"segment"`
	File    string `json:"file"`
	Reason  string `json:"reason"`
}

func (p Problem) String() string {
	return fmt.Sprintf("archive segment %d (%s): %s", p.Segment, p.File, p.Reason)
}

// Check checks the archive's own chain: every segment file matches its
// manifest (sha256, size, positions), the segments are dense from position
// 1, each manifest names the previous one's sha256 and log hash, and every
// event's hash matches its content. The events' stream and global chains
// are checked by eventstore.Verify reading through the archive (Store).
// It returns the first problem, or nil, and the events checked.
func (a *Archive) Check(ctx context.Context) (*Problem, int64, error) {
	if err := a.Refresh(); err != nil {
		return nil, 0, err
	}
	var (
		n        int64
		prevPos  int64
		prevSum  string
		prevLog  string
		segments = a.Segments()
	)
	for i, m := range segments {
		if err := ctx.Err(); err != nil {
			return nil, n, err
		}
		bad := func(format string, args ...any) (*Problem, int64, error) {
			return &Problem{Segment: m.Segment, File: m.File, Reason: fmt.Sprintf(format, args...)}, n, nil
		}
		switch {
		case m.Segment != i+1:
			return bad("segment number %d, want %d (a segment is missing)", m.Segment, i+1)
		case m.FirstPosition != prevPos+1:
			return bad("starts at position %d, the archive before it ends at %d", m.FirstPosition, prevPos)
		case m.PrevManifestSHA256 != prevSum:
			return bad("names %.12s as the previous manifest's sha256, it is %.12s", m.PrevManifestSHA256, prevSum)
		case m.PrevLogHash != prevLog:
			return bad("names %.12s as the previous log hash, the segment before ends with %.12s", m.PrevLogHash, prevLog)
		}
		evs, err := readSegmentFile(filepath.Join(a.dir, m.File), m)
		if err != nil {
			return bad("%v", err)
		}
		for _, e := range evs {
			if eventstore.ComputeHash(e) != e.Hash {
				return bad("event at position %d: hash does not match its content", e.Position)
			}
		}
		last := evs[len(evs)-1]
		if last.Hash != m.LastHash || last.LogHash != m.LastLogHash || evs[0].PrevHash != m.FirstPrevHash {
			return bad("its first or last event does not match the manifest")
		}
		n += int64(len(evs))
		prevPos, prevSum, prevLog = m.LastPosition, m.sum, m.LastLogHash
	}
	return nil, n, nil
}
