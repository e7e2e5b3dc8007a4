package cloudassets

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Parsers is what the inventory import needs of the parsers
// (platform/parsers).
type Parsers interface {
	// ParseInventory streams an inventory report's records of table to
	// emit; any error rejects the whole report. tool names the tool.
	ParseInventory(ctx context.Context, r io.Reader, format, table string, emit func(cadomain.Record) error) (tool string, err error)
}

// Handlers runs the cloud assets commands. Safe for concurrent use.
type Handlers struct {
	kit                     *commands.Kit
	parsers                 Parsers
	batch                   commands.BatchStore
	chunkBytes, batchEvents int
}

// Limits of one inventory import's events.
const (
	defaultChunkBytes  = 192 << 10 // records of one InventoryRecorded
	defaultBatchEvents = 64        // events of one atomic append
	// MaxScopes bounds the distinct scopes (provider, account, region,
	// type) one import names: InventoryCompleted lists them.
	MaxScopes = 4096
)

// New returns the cloud assets command handlers. It panics on a nil
// dependency: a wiring mistake.
func New(kit *commands.Kit, parsers Parsers, batch commands.BatchStore) *Handlers {
	if kit == nil || parsers == nil || batch == nil {
		panic("cloudassets.New: nil dependency")
	}
	return &Handlers{kit: kit, parsers: parsers, batch: batch, chunkBytes: defaultChunkBytes, batchEvents: defaultBatchEvents}
}

// StreamTypeInventory is the stream type of an inventory import.
const StreamTypeInventory = "Inventory"

const streamPrefix = "inventory-"

// StreamID is the stream of an inventory import.
func StreamID(importID string) string { return streamPrefix + importID }

// ImportInventory imports an asset inventory report.
type ImportInventory struct {
	Format   string // a resolved inventory format name ("steampipe-json")
	Table    string // the tool's table ("aws_s3_bucket"); "" when unknown: the records have no type
	Sync     string // complete or partial ("" is partial)
	FileName string
	Body     io.Reader
}

var tableName = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

func (cmd *ImportInventory) validate() error {
	var v domain.Validator
	if cmd.Sync == "" {
		cmd.Sync = cadomain.SyncPartial
	}
	if !cadomain.ValidSync(cmd.Sync) {
		v.Add("sync", "must be %q or %q", cadomain.SyncComplete, cadomain.SyncPartial)
	}
	if cmd.Table != "" && !tableName.MatchString(cmd.Table) {
		v.Add("table", "must be a table name: letters, digits and '_', at most 128")
	}
	v.Text("file_name", cmd.FileName, domain.MaxShortText)
	return v.Err()
}

// Counts are what an inventory import held.
type Counts struct {
	Records    int `json:"records"`    // rows read
	Assets     int `json:"assets"`     // distinct assets (a row naming an asset again is counted once)
	Duplicates int `json:"duplicates"` // rows naming an asset an earlier row named
	Scopes     int `json:"scopes"`
	Chunks     int `json:"chunks"`
}

// Result is what an inventory import did.
type Result struct {
	ImportID    string  `json:"import_id"`
	Status      string  `json:"status"` // completed, rejected
	Format      string  `json:"format"`
	Tool        string  `json:"tool,omitempty"`
	Table       string  `json:"table,omitempty"`
	Sync        string  `json:"sync"`
	ContentHash string  `json:"content_hash"`
	Size        int64   `json:"size"`
	Reason      string  `json:"reason,omitempty"`
	Counts      *Counts `json:"counts,omitempty"`
	Events      int     `json:"events"`
	Position    int64   `json:"position"`
	Duplicate   bool    `json:"duplicate,omitempty"`
}

// Import statuses.
const (
	StatusCompleted = "completed"
	StatusRejected  = "rejected"
)

// RejectedError is an inventory refused whole (recorded as
// InventoryRejected, nothing else appended).
type RejectedError struct{ Result Result }

func (e *RejectedError) Error() string { return "inventory rejected: " + e.Result.Reason }

// ImportInventory reads the report once (hashing it, spooling its records
// to a temporary file), then, as report imports do (docs/imports.md):
//   - the same report (same team, content, table and sync) imported before
//     is answered with that import, nothing appended; one cut off half way
//     resumes;
//   - a report that does not parse is rejected whole (InventoryRejected);
//   - otherwise InventoryStarted, the records in InventoryRecorded chunks
//     and InventoryCompleted are appended, in atomic appends of a few
//     dozen events, the completion last.
func (h *Handlers) ImportInventory(ctx context.Context, meta commands.Meta, cmd ImportInventory) (Result, error) {
	md, err := commands.Metadata(meta)
	if err != nil {
		return Result{}, err
	}
	if err := cmd.validate(); err != nil {
		return Result{}, err
	}
	sp, err := newSpool()
	if err != nil {
		return Result{}, err
	}
	defer sp.close()
	hasher := sha256.New()
	counted := &countingReader{r: io.TeeReader(cmd.Body, hasher)}
	p := &parsed{team: meta.TeamID, spool: sp, assets: map[string]struct{}{}, scopes: map[cadomain.Scope]struct{}{}}
	tool, parseErr := h.parsers.ParseInventory(ctx, counted, cmd.Format, cmd.Table, p.add)
	if _, err := io.Copy(io.Discard, counted); err != nil || counted.err != nil {
		return Result{}, fmt.Errorf("inventory: read the report: %w", errors.Join(err, counted.err))
	}
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if parseErr == nil && counted.n == 0 {
		parseErr = errors.New("empty report")
	}
	sum := hex.EncodeToString(hasher.Sum(nil))
	id := cadomain.InventoryImportID(meta.TeamID, sum, cmd.Table, cmd.Sync)
	c := commands.Call{Name: "ImportInventory", TargetID: id, StreamID: StreamID(id), Type: StreamTypeInventory}
	stored, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("inventory: read %s: %w", c.StreamID, err)
	}
	if len(stored) > 0 {
		if stored[0].Metadata.TeamID != meta.TeamID || stored[0].StreamType != c.Type {
			return Result{}, fmt.Errorf("inventory: %w", &commands.IDInUseError{Field: "report", ID: id})
		}
		if res, done, err := State(h.kit.Codec(), stored); err != nil || done {
			res.Duplicate = true
			if err == nil && res.Status == StatusRejected {
				err = &RejectedError{Result: res}
			}
			return res, err
		}
	}
	res := Result{ImportID: id, Format: cmd.Format, Tool: tool, Table: cmd.Table, Sync: cmd.Sync, ContentHash: sum, Size: counted.n}
	if parseErr != nil {
		return h.reject(ctx, md, c, res, cmd, parseErr)
	}
	return h.record(ctx, md, c, res, cmd, p, len(stored))
}

// parsed is what a parse left.
type parsed struct {
	team   string
	spool  *spool
	assets map[string]struct{}
	scopes map[cadomain.Scope]struct{}
	counts Counts
}

func (p *parsed) add(r cadomain.Record) error {
	p.counts.Records++
	r.AssetID = cadomain.AssetID(p.team, cadomain.CurrentRule, r.Key)
	if _, dup := p.assets[r.AssetID]; dup {
		p.counts.Duplicates++
		return nil
	}
	s := r.Scope()
	if _, ok := p.scopes[s]; !ok {
		if len(p.scopes) == MaxScopes {
			return fmt.Errorf("row %d: more than %d scopes (provider, account, region, type) in one report", p.counts.Records-1, MaxScopes)
		}
		p.scopes[s] = struct{}{}
	}
	p.assets[r.AssetID] = struct{}{}
	p.counts.Assets++
	return p.spool.write(r)
}

func (h *Handlers) reject(ctx context.Context, md eventstore.Metadata, c commands.Call, res Result, cmd ImportInventory, cause error) (Result, error) {
	reason := domain.Clip(cause.Error(), domain.MaxReason)
	ev := cadomain.InventoryRejected{ImportID: res.ImportID, Format: res.Format, Table: res.Table, Sync: res.Sync,
		ContentHash: res.ContentHash, Size: res.Size, FileName: cmd.FileName, Reason: reason, RejectedAt: h.kit.Now()}
	req, err := h.kit.AppendRequest(c, eventstore.NoStream, md, eventstore.Idempotency{}, []any{ev})
	if err != nil {
		return Result{}, err
	}
	ar, err := h.kit.Store().Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		return h.again(ctx, c)
	}
	if err != nil {
		return Result{}, fmt.Errorf("inventory: append to %s: %w", c.StreamID, err)
	}
	res.Status, res.Reason, res.Position, res.Events = StatusRejected, reason, ar.LastPosition(), 1
	return res, &RejectedError{Result: res}
}

// again answers with the import a concurrent request recorded.
func (h *Handlers) again(ctx context.Context, c commands.Call) (Result, error) {
	evs, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("inventory: read %s: %w", c.StreamID, err)
	}
	res, _, err := State(h.kit.Codec(), evs)
	if err != nil {
		return Result{}, err
	}
	res.Duplicate = true
	if res.Status == StatusRejected {
		return res, &RejectedError{Result: res}
	}
	return res, nil
}

// State reads an inventory import's result from its events; done is false
// for one not completed yet.
func State(codec *eventstore.Codec, evs []eventstore.RecordedEvent) (res Result, done bool, err error) {
	for _, r := range evs {
		v, err := codec.Decode(r)
		if err != nil {
			return Result{}, false, err
		}
		res.Position = max(res.Position, r.Position)
		res.Events++
		switch e := v.(type) {
		case cadomain.InventoryRejected:
			return Result{ImportID: e.ImportID, Status: StatusRejected, Format: e.Format, Table: e.Table, Sync: e.Sync,
				ContentHash: e.ContentHash, Size: e.Size, Reason: e.Reason, Position: r.Position, Events: 1}, true, nil
		case cadomain.InventoryStarted:
			res.ImportID, res.Format, res.Tool, res.Table, res.Sync = e.ImportID, e.Format, e.Tool, e.Table, e.Sync
			res.ContentHash, res.Size = e.ContentHash, e.Size
		case cadomain.InventoryRecorded:
		case cadomain.InventoryCompleted:
			res.Status, done = StatusCompleted, true
			res.Counts = &Counts{Records: e.Records, Assets: e.Assets, Scopes: len(e.Scopes), Chunks: e.Chunks, Duplicates: e.Records - e.Assets}
		}
	}
	return res, done, nil
}

func (h *Handlers) record(ctx context.Context, md eventstore.Metadata, c commands.Call, res Result, cmd ImportInventory, p *parsed, done int) (Result, error) {
	now := h.kit.Now()
	scopes := make([]cadomain.Scope, 0, len(p.scopes))
	for s := range p.scopes {
		scopes = append(scopes, s)
	}
	slices.SortFunc(scopes, func(a, b cadomain.Scope) int {
		return strings.Compare(a.Provider+"\x00"+a.Account+"\x00"+a.Region+"\x00"+a.Type, b.Provider+"\x00"+b.Account+"\x00"+b.Region+"\x00"+b.Type)
	})
	p.counts.Scopes = len(scopes)
	chunks, err := p.spool.chunks(h.chunkBytes)
	if err != nil {
		return Result{}, err
	}
	p.counts.Chunks = len(chunks)
	started := cadomain.InventoryStarted{ImportID: res.ImportID, Format: res.Format, Tool: res.Tool, Table: res.Table, Sync: res.Sync,
		ContentHash: res.ContentHash, Size: res.Size, FileName: cmd.FileName, StartedAt: now}
	if done > 0 {
		// A resumed import keeps the times it started with.
		first, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return Result{}, err
		}
		if v, err := h.kit.Codec().Decode(first[0]); err == nil {
			if s, ok := v.(cadomain.InventoryStarted); ok {
				started, now = s, s.StartedAt
			}
		}
	}
	completed := cadomain.InventoryCompleted{ImportID: res.ImportID, ObservedAt: now, IdentityRule: cadomain.CurrentRule, Sync: res.Sync,
		Scopes: scopes, Records: p.counts.Records, Assets: p.counts.Assets, Chunks: len(chunks), CompletedAt: now}
	tmpl, err := recordsTemplate(h.kit.Codec(), cadomain.InventoryRecorded{ImportID: res.ImportID, ObservedAt: now, IdentityRule: cadomain.CurrentRule})
	if err != nil {
		return Result{}, err
	}
	total := len(chunks) + 2
	if done >= total {
		return Result{}, fmt.Errorf("inventory %s: %d events stored, the report makes %d", res.ImportID, done, total)
	}
	var last int64
	batch := make([]eventstore.NewEvent, 0, h.batchEvents)
	for i := done; i < total; i++ {
		var ev eventstore.NewEvent
		switch {
		case i == 0:
			ev, err = h.kit.Codec().Encode(started)
		case i < total-1:
			ev, err = p.spool.event(tmpl, chunks[i-1])
		default:
			ev, err = h.kit.Codec().Encode(completed)
		}
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		batch = append(batch, ev)
		if len(batch) < h.batchEvents && i < total-1 {
			continue
		}
		req, err := h.kit.AppendRequest(c, expectedAt(i+1-len(batch)), md, eventstore.Idempotency{}, nil)
		if err != nil {
			return Result{}, err
		}
		req.Events = batch
		out, err := h.batch.AppendBatch(ctx, []eventstore.AppendRequest{req})
		if errors.Is(err, eventstore.ErrConflict) {
			return h.again(ctx, c)
		}
		if err != nil {
			return Result{}, fmt.Errorf("inventory %s: append: %w", res.ImportID, err)
		}
		last = out[0].LastPosition()
		batch = make([]eventstore.NewEvent, 0, h.batchEvents)
	}
	counts := p.counts
	res.Status, res.Counts, res.Position, res.Events = StatusCompleted, &counts, last, total
	return res, nil
}

func expectedAt(version int) eventstore.ExpectedVersion {
	if version == 0 {
		return eventstore.NoStream
	}
	return eventstore.Exact(int64(version))
}

type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// spool keeps an import's records on disk, one JSON line each, encoded as
// the codec encodes them (no HTML escaping, decision 20).
type spool struct {
	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
	off int64
	// line offsets: where each line starts
	starts []int64
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "cspm-inventory-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("inventory: spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("inventory: spool: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	cw := &countWriter{w: w}
	enc := json.NewEncoder(cw)
	enc.SetEscapeHTML(false)
	s := &spool{f: f, w: w, enc: enc}
	cw.s = s
	return s, nil
}

type countWriter struct {
	w *bufio.Writer
	s *spool
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.s.off += int64(n)
	return n, err
}

func (s *spool) write(r cadomain.Record) error {
	s.starts = append(s.starts, s.off)
	if err := s.enc.Encode(r); err != nil {
		return fmt.Errorf("inventory: spool: %w", err)
	}
	return nil
}

func (s *spool) close() { _ = s.f.Close() }

// span is a chunk: bytes [from, to) of the spool, lines joined by '\n'.
type span struct{ from, to int64 }

// chunks splits the spool into spans of at most maxBytes (one line more
// when a single line is larger).
func (s *spool) chunks(maxBytes int) ([]span, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("inventory: spool: %w", err)
	}
	var out []span
	for i := 0; i < len(s.starts); {
		from := s.starts[i]
		j := i + 1
		for j < len(s.starts) && s.starts[j+0]-from <= int64(maxBytes) && s.lineEnd(j)-from <= int64(maxBytes) {
			j++
		}
		out = append(out, span{from: from, to: s.lineEnd(j - 1)})
		i = j
	}
	return out, nil
}

func (s *spool) lineEnd(i int) int64 {
	if i+1 < len(s.starts) {
		return s.starts[i+1]
	}
	return s.off
}

// template splits an encoded InventoryRecorded where its records go.
type template struct {
	typ            string
	schemaVersion  int
	prefix, suffix []byte
}

func recordsTemplate(codec *eventstore.Codec, e cadomain.InventoryRecorded) (template, error) {
	e.Records = []cadomain.Record{}
	ne, err := codec.Encode(e)
	if err != nil {
		return template{}, err
	}
	const tail = `"records":[]}`
	if !bytes.HasSuffix(ne.Data, []byte(tail)) {
		return template{}, fmt.Errorf("inventory: %s does not end with its records: %s", ne.Type, ne.Data)
	}
	cut := len(ne.Data) - len("]}")
	return template{typ: ne.Type, schemaVersion: ne.SchemaVersion, prefix: ne.Data[:cut], suffix: ne.Data[cut:]}, nil
}

// event is the InventoryRecorded of a chunk: its lines spliced into t.
func (s *spool) event(t template, sp span) (eventstore.NewEvent, error) {
	lines := make([]byte, sp.to-sp.from)
	if _, err := s.f.ReadAt(lines, sp.from); err != nil {
		return eventstore.NewEvent{}, fmt.Errorf("inventory: spool: %w", err)
	}
	lines = bytes.TrimSuffix(lines, []byte{'\n'})
	var b bytes.Buffer
	b.Grow(len(t.prefix) + len(lines) + len(t.suffix))
	b.Write(t.prefix)
	b.Write(bytes.ReplaceAll(lines, []byte{'\n'}, []byte{','}))
	b.Write(t.suffix)
	return eventstore.NewEvent{Type: t.typ, SchemaVersion: t.schemaVersion, Data: b.Bytes()}, nil
}
