// Package vulnerabilities holds the vulnerabilities module's command
// handlers: the import of a vulnerability scanner's report (Trivy JSON)
// on its own stream ("vulnscan-<import id>"), with the catalog entries it
// brings ("vulnerability-<id>") and the team's image tags it moves
// ("imagetag-<key>"), over the rules of domain/vulnerabilities
// (docs/vulnerabilities.md, decisions 46-50).
package vulnerabilities

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Stream types and prefixes of the module.
const (
	StreamTypeScanImport    = "VulnerabilityScanImport"
	StreamTypeVulnerability = "Vulnerability"
	StreamTypeImageTag      = "ImageTag"

	scanImportPrefix    = "vulnscan-"
	vulnerabilityPrefix = "vulnerability-"
	imageTagPrefix      = "imagetag-"
)

// ScanImportStreamID is the stream of an import.
func ScanImportStreamID(importID string) string { return scanImportPrefix + importID }

// VulnerabilityStreamID is the catalog stream of a vulnerability id.
func VulnerabilityStreamID(id string) string { return vulnerabilityPrefix + vuln.NormalizeID(id) }

// Item is one thing a scanner report says; one of its pointers is set.
type Item struct {
	Vulnerability    *vuln.Record // with Occurrence
	Occurrence       *vuln.Occurrence
	Misconfiguration *vuln.Misconfiguration
	Secret           *vuln.Secret
}

// ScanInfo is what a parse learnt of a whole report.
type ScanInfo struct {
	Format      string
	Tool        string
	ToolVersion string
	Artifact    vuln.Artifact
	CreatedAt   time.Time
}

// Reports is what the import needs of the scanner-report parsers
// (platform/parsers, adapted in cmd/cspm).
type Reports interface {
	// Parse streams a report's items to emit; any error rejects it whole.
	ParseScan(ctx context.Context, r io.Reader, format string, emit func(Item) error) (ScanInfo, error)
}

// Handlers runs the vulnerabilities commands. Safe for concurrent use.
type Handlers struct {
	kit                     *commands.Kit
	reports                 Reports
	batch                   commands.BatchStore
	chunkBytes, batchEvents int
}

// New returns the handlers; it panics on a nil dependency (a wiring
// mistake).
func New(kit *commands.Kit, reports Reports, batch commands.BatchStore) *Handlers {
	if kit == nil || reports == nil || batch == nil {
		panic("vulnerabilities.New: nil dependency")
	}
	return &Handlers{kit: kit, reports: reports, batch: batch, chunkBytes: 192 << 10, batchEvents: 64}
}

// ImportScan imports one report.
type ImportScan struct {
	Format   string // resolved by the caller (named or detected)
	FileName string
	Body     io.Reader
}

// ImportResult is what an import did.
type ImportResult struct {
	ImportID    string                 `json:"import_id"`
	Status      string                 `json:"status"` // completed, rejected
	Format      string                 `json:"format,omitempty"`
	Tool        string                 `json:"tool,omitempty"`
	ToolVersion string                 `json:"tool_version,omitempty"`
	ContentHash string                 `json:"content_hash"`
	Size        int64                  `json:"size"`
	Reason      string                 `json:"reason,omitempty"`
	ArtifactID  string                 `json:"artifact_id,omitempty"`
	Identity    *vuln.ArtifactIdentity `json:"artifact,omitempty"`
	Warnings    []string               `json:"warnings,omitempty"`
	Counts      *vuln.ScanCounts       `json:"counts,omitempty"`
	Events      int                    `json:"events"`
	Position    int64                  `json:"position"`
	Duplicate   bool                   `json:"duplicate,omitempty"`
}

// Statuses of an import.
const (
	StatusCompleted = "completed"
	StatusRejected  = "rejected"
)

// WarningUnpinned is the warning of an image report without a digest.
const WarningUnpinned = "the image has no ImageID and no repo digest: its identity is its name, which is not pinned to content (a later build under the same name is taken for the same artifact)"

// RejectedError is a report refused whole (ScanImportRejected recorded).
type RejectedError struct{ Result ImportResult }

func (e *RejectedError) Error() string { return "report rejected: " + e.Result.Reason }

// ImportScan reads a report once (hashing it and spooling its facts to an
// unlinked temporary file), then answers an earlier import of the same
// bytes, records a rejection, or appends: the catalog entries the report
// brings, then the import's events in atomic batches (its completion last,
// with the tags it moves). An import cut off half way resumes when the
// same report is imported again.
func (h *Handlers) ImportScan(ctx context.Context, meta commands.Meta, cmd ImportScan) (ImportResult, error) {
	md, err := commands.Metadata(meta)
	if err != nil {
		return ImportResult{}, err
	}
	var v domain.Validator
	v.Text("file_name", cmd.FileName, domain.MaxShortText)
	if err := v.Err(); err != nil {
		return ImportResult{}, err
	}
	sp, err := newSpool(h.chunkBytes)
	if err != nil {
		return ImportResult{}, err
	}
	defer sp.close()
	hs := sha256.New()
	body := &countingReader{r: io.TeeReader(cmd.Body, hs)}
	p := &parsed{spool: sp, ids: map[string]struct{}{}, counts: vuln.ScanCounts{BySeverity: map[vuln.Severity]int{}}}
	info, parseErr := h.reports.ParseScan(ctx, body, cmd.Format, p.add)
	if _, err := io.Copy(io.Discard, body); err != nil || body.err != nil {
		return ImportResult{}, fmt.Errorf("import: read the report: %w", errors.Join(err, body.err))
	}
	if ctx.Err() != nil {
		return ImportResult{}, ctx.Err()
	}
	sum := hex.EncodeToString(hs.Sum(nil))
	importID := vuln.ScanImportID(meta.TeamID, sum)
	c := commands.Call{Name: "ImportScan", TargetID: importID, StreamID: ScanImportStreamID(importID), Type: StreamTypeScanImport}
	stored, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	if len(stored) > 0 && (stored[0].Metadata.TeamID != meta.TeamID || stored[0].StreamType != c.Type) {
		return ImportResult{}, fmt.Errorf("import: %w", &commands.IDInUseError{Field: "report", ID: importID})
	}
	if res, done, err := ImportState(h.kit.Codec(), stored); err != nil || done {
		res.Duplicate = true
		if err == nil && res.Status == StatusRejected {
			err = &RejectedError{Result: res}
		}
		return res, err
	}
	res := ImportResult{ImportID: importID, ContentHash: sum, Size: body.n, Format: orDefault(info.Format, cmd.Format), Tool: info.Tool, ToolVersion: info.ToolVersion}
	var id vuln.ArtifactIdentity
	if parseErr == nil {
		info.Artifact.Normalize()
		id, parseErr = info.Artifact.Identity()
	}
	if parseErr == nil && p.counts.Occurrences == 0 && p.counts.Misconfigurations == 0 && p.counts.Secrets == 0 && info.Artifact.Name == "" {
		parseErr = errors.New("empty report")
	}
	if parseErr != nil {
		return h.reject(ctx, md, c, res, cmd, parseErr)
	}
	var last error
	for range 3 {
		r, err := h.record(ctx, meta, md, c, res, cmd, p, info, id)
		if !errors.Is(err, eventstore.ErrConflict) {
			return r, err
		}
		last = err // a concurrent import of the same vulnerability or tag: decide again
	}
	return ImportResult{}, last
}

// ImportState reads an import's result from its events; done is false for
// an import not completed yet.
func ImportState(codec *eventstore.Codec, evs []eventstore.RecordedEvent) (res ImportResult, done bool, err error) {
	for _, r := range evs {
		v, err := codec.Decode(r)
		if err != nil {
			return ImportResult{}, false, err
		}
		res.Position = max(res.Position, r.Position)
		switch e := v.(type) {
		case vuln.ScanImportRejected:
			return ImportResult{ImportID: e.ImportID, Status: StatusRejected, Format: e.Format, ContentHash: e.ContentHash,
				Size: e.Size, Reason: e.Reason, Position: r.Position, Events: 1}, true, nil
		case vuln.ScanImportStarted:
			res.ImportID, res.Format, res.Tool, res.ToolVersion = e.ImportID, e.Format, e.Tool, e.ToolVersion
			res.ContentHash, res.Size, res.ArtifactID = e.ContentHash, e.Size, e.ArtifactID
			idn := e.Identity
			res.Identity = &idn
		case vuln.ArtifactScanned:
			counts := e.Counts
			res.Status, res.Counts, done = StatusCompleted, &counts, true
			if e.Unpinned {
				res.Warnings = []string{WarningUnpinned}
			}
		}
		res.Events++
	}
	return res, done, nil
}

func (h *Handlers) reject(ctx context.Context, md eventstore.Metadata, c commands.Call, res ImportResult, cmd ImportScan, cause error) (ImportResult, error) {
	reason := domain.Clip(cause.Error(), domain.MaxReason)
	ev := vuln.ScanImportRejected{ImportID: res.ImportID, Format: res.Format, ContentHash: res.ContentHash, Size: res.Size,
		FileName: cmd.FileName, Reason: reason, RejectedAt: h.kit.Now()}
	req, err := h.kit.AppendRequest(c, eventstore.NoStream, md, eventstore.Idempotency{}, []any{ev})
	if err != nil {
		return ImportResult{}, err
	}
	ar, err := h.kit.Store().Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		evs, rerr := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if rerr != nil {
			return ImportResult{}, rerr
		}
		r, _, derr := ImportState(h.kit.Codec(), evs)
		r.Duplicate = true
		if derr == nil && r.Status == StatusRejected {
			derr = &RejectedError{Result: r}
		}
		return r, derr
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: append to %s: %w", c.StreamID, err)
	}
	res.Status, res.Reason, res.Position, res.Events = StatusRejected, reason, ar.LastPosition(), 1
	return res, &RejectedError{Result: res}
}

// record appends an accepted report's events.
func (h *Handlers) record(ctx context.Context, meta commands.Meta, md eventstore.Metadata, c commands.Call, res ImportResult, cmd ImportScan, p *parsed, info ScanInfo, id vuln.ArtifactIdentity) (ImportResult, error) {
	now := h.kit.Now()
	stored, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	scannedAt := eventstore.NormalizeTime(info.CreatedAt)
	if len(stored) > 0 {
		// A resumed import keeps the first attempt's times.
		v, err := h.kit.Codec().Decode(stored[0])
		if err != nil {
			return ImportResult{}, err
		}
		if s, ok := v.(vuln.ScanImportStarted); ok {
			scannedAt, now = s.ScannedAt, s.StartedAt
		}
	}
	if scannedAt.IsZero() {
		scannedAt = now
	}
	artifactID := id.ID()
	unpinned := id.Kind == vuln.ArtifactImage && !id.Pinned()
	res.ArtifactID, res.Identity = artifactID, &id
	if unpinned {
		res.Warnings = []string{WarningUnpinned}
	}

	// The catalog first: an entry per id the report brings, decided
	// against the entry's stream (the merge rule). Re-running it after a
	// cut appends nothing for what is stored.
	catalogEvents, err := h.catalog(ctx, md, p, res.ImportID, scannedAt, now)
	if err != nil {
		return ImportResult{}, err
	}

	// The tags the scan moves onto the artifact, appended with the
	// completion.
	var tagReqs []eventstore.AppendRequest
	for _, tag := range info.Artifact.Tags {
		req, err := h.tagMove(ctx, meta, md, tag, artifactID, res.ImportID, scannedAt)
		if err != nil {
			return ImportResult{}, err
		}
		if req != nil {
			tagReqs = append(tagReqs, *req)
		}
	}

	counts := p.counts
	counts.DistinctVulnerabilities = len(p.ids)
	counts.Chunks = p.spool.chunks()
	started := vuln.ScanImportStarted{ImportID: res.ImportID, Format: res.Format, Tool: res.Tool, ToolVersion: res.ToolVersion,
		ContentHash: res.ContentHash, Size: res.Size, FileName: cmd.FileName, ArtifactID: artifactID, Identity: id,
		ScannedAt: scannedAt, StartedAt: now}
	completed := vuln.ArtifactScanned{ImportID: res.ImportID, ArtifactID: artifactID, Identity: id, Artifact: info.Artifact,
		IdentityRule: vuln.IdentityTrivyV1, Unpinned: unpinned, ScannedAt: scannedAt, Counts: counts, CompletedAt: now}
	total := 2 + counts.Chunks
	chunks, err := p.spool.reader()
	if err != nil {
		return ImportResult{}, err
	}
	tmpl := vuln.ScanResultsRecorded{ImportID: res.ImportID, ArtifactID: artifactID, Identity: id, IdentityRule: vuln.IdentityTrivyV1, ScannedAt: scannedAt}
	done := len(stored)
	if done >= total {
		return ImportResult{}, fmt.Errorf("import %s: %d events stored, the report makes %d", res.ImportID, done, total)
	}
	var last int64
	batch := make([]any, 0, h.batchEvents)
	for i := 0; i < total; i++ {
		var ev any
		switch {
		case i == 0:
			ev = started
		case i < total-1:
			chunk, err := chunks.next(tmpl)
			if err != nil {
				return ImportResult{}, err
			}
			ev = chunk
		default:
			ev = completed
		}
		if i < done {
			continue
		}
		batch = append(batch, ev)
		if len(batch) < h.batchEvents && i < total-1 {
			continue
		}
		req, err := h.kit.AppendRequest(c, expectedAt(int64(i+1-len(batch))), md, eventstore.Idempotency{}, batch)
		if err != nil {
			return ImportResult{}, err
		}
		reqs := []eventstore.AppendRequest{req}
		if i == total-1 {
			reqs = append(reqs, tagReqs...)
		}
		results, err := h.batch.AppendBatch(ctx, reqs)
		if err != nil {
			return ImportResult{}, fmt.Errorf("import %s: append: %w", res.ImportID, err)
		}
		for _, r := range results {
			last = max(last, r.LastPosition())
		}
		batch = make([]any, 0, h.batchEvents)
	}
	res.Status, res.Counts, res.Position = StatusCompleted, &counts, last
	res.Events = total - done + len(tagReqs) + catalogEvents
	return res, nil
}

// expectedAt is the expected version of a stream holding n events.
func expectedAt(n int64) eventstore.ExpectedVersion {
	if n == 0 {
		return eventstore.NoStream
	}
	return eventstore.Exact(n)
}

// catalogBatch is how many catalog streams one atomic append holds (one
// event of a few KB each: far within the store's batch limits). Larger
// batches mean fewer commits: a report of 5,000 new ids is 20 appends.
const catalogBatch = 256

// catalog appends the catalog events the report's records decide, in
// atomic batches of streams; it returns how many.
func (h *Handlers) catalog(ctx context.Context, md eventstore.Metadata, p *parsed, importID string, reportedAt, now time.Time) (int, error) {
	recs, err := p.spool.records()
	if err != nil {
		return 0, err
	}
	defer recs.close()
	n := 0
	var reqs []eventstore.AppendRequest
	flush := func() error {
		if len(reqs) == 0 {
			return nil
		}
		if _, err := h.batch.AppendBatch(ctx, reqs); err != nil {
			return fmt.Errorf("import %s: catalog: %w", importID, err)
		}
		reqs = reqs[:0]
		return nil
	}
	for {
		rec, ok, err := recs.next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		c := commands.Call{Name: "ImportScan", TargetID: rec.ID, StreamID: VulnerabilityStreamID(rec.ID), Type: StreamTypeVulnerability}
		hist, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return 0, fmt.Errorf("import: read %s: %w", c.StreamID, err)
		}
		evs := make([]any, len(hist))
		for i, r := range hist {
			if evs[i], err = h.kit.Codec().Decode(r); err != nil {
				return 0, err
			}
		}
		ev, err := vuln.CatalogDecision(evs, rec, importID, reportedAt, now)
		if err != nil || ev == nil {
			if err != nil {
				return 0, err
			}
			continue
		}
		req, err := h.kit.AppendRequest(c, expectedAt(int64(len(hist))), md, eventstore.Idempotency{}, []any{ev})
		if err != nil {
			return 0, err
		}
		reqs = append(reqs, req)
		n++
		if len(reqs) == catalogBatch {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, flush()
}

// tagMove is the append moving a team's tag onto artifact, nil when the
// tag names it already (or a later scan placed it elsewhere).
func (h *Handlers) tagMove(ctx context.Context, meta commands.Meta, md eventstore.Metadata, tag, artifact, importID string, at time.Time) (*eventstore.AppendRequest, error) {
	key := vuln.TagKey(meta.TeamID, tag)
	c := commands.Call{Name: "ImportScan", TargetID: key, StreamID: imageTagPrefix + key, Type: StreamTypeImageTag}
	hist, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	moves, err := commands.Decode[vuln.ImageTagMoved](h.kit.Codec(), hist)
	if err != nil {
		return nil, err
	}
	mv := vuln.TagDecision(moves, tag, artifact, importID, at)
	if mv == nil {
		return nil, nil
	}
	req, err := h.kit.AppendRequest(c, expectedAt(int64(len(hist))), md, eventstore.Idempotency{}, []any{*mv})
	if err != nil {
		return nil, err
	}
	return &req, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parsed is what a parse left: facts spooled, distinct ids, counts.
type parsed struct {
	spool  *spool
	ids    map[string]struct{}
	counts vuln.ScanCounts
}

func (p *parsed) add(it Item) error {
	switch {
	case it.Occurrence != nil:
		o := *it.Occurrence
		if o.Package.Name == "" || o.VulnerabilityID == "" {
			return fmt.Errorf("occurrence %d: no package or no vulnerability id", p.counts.Occurrences)
		}
		o.VulnerabilityID = vuln.NormalizeID(o.VulnerabilityID)
		if _, seen := p.ids[o.VulnerabilityID]; !seen && it.Vulnerability != nil {
			p.ids[o.VulnerabilityID] = struct{}{}
			r := *it.Vulnerability
			r.ID = o.VulnerabilityID
			if err := p.spool.writeRecord(r); err != nil {
				return err
			}
		}
		p.counts.Occurrences++
		p.counts.BySeverity[o.Severity]++
		return p.spool.write(row{O: &o})
	case it.Misconfiguration != nil:
		p.counts.Misconfigurations++
		return p.spool.write(row{M: it.Misconfiguration})
	case it.Secret != nil:
		p.counts.Secrets++
		return p.spool.write(row{S: it.Secret})
	}
	return nil
}

// countingReader counts what it reads and keeps the first read error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// row is one spooled fact.
type row struct {
	O *vuln.Occurrence       `json:"o,omitempty"`
	M *vuln.Misconfiguration `json:"m,omitempty"`
	S *vuln.Secret           `json:"s,omitempty"`
}

// spool keeps an import's facts (and the first record of each id) on
// disk, one JSON line each, until they are chunked into events.
type spool struct {
	facts, recs  *os.File
	fw, rw       *bufio.Writer
	chunkBytes   int
	nChunks, cur int // chunk boundaries, counted as the lines are written
	lines        int
}

func newSpool(chunkBytes int) (*spool, error) {
	s := &spool{chunkBytes: chunkBytes}
	for _, f := range []**os.File{&s.facts, &s.recs} {
		tf, err := os.CreateTemp("", "cspm-vulnscan-*.jsonl")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("import: spool: %w", err)
		}
		_ = os.Remove(tf.Name()) // unlinked at once: a killed process leaves nothing
		*f = tf
	}
	s.fw, s.rw = bufio.NewWriterSize(s.facts, 256<<10), bufio.NewWriterSize(s.recs, 64<<10)
	return s, nil
}

func (s *spool) close() {
	for _, f := range []*os.File{s.facts, s.recs} {
		if f != nil {
			_ = f.Close()
		}
	}
}

func (s *spool) write(r row) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("import: spool: %w", err)
	}
	if s.lines == 0 || (s.cur+len(b) > s.chunkBytes && s.cur > 0) {
		s.nChunks++
		s.cur = 0
	}
	s.cur += len(b) + 1
	s.lines++
	b = append(b, '\n')
	_, err = s.fw.Write(b)
	return err
}

func (s *spool) writeRecord(r vuln.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("import: spool: %w", err)
	}
	_, err = s.rw.Write(append(b, '\n'))
	return err
}

func (s *spool) chunks() int { return s.nChunks }

func rewind(f *os.File, w *bufio.Writer) (*bufio.Scanner, error) {
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	return sc, nil
}

type recordReader struct{ sc *bufio.Scanner }

func (s *spool) records() (*recordReader, error) {
	sc, err := rewind(s.recs, s.rw)
	return &recordReader{sc: sc}, err
}

func (r *recordReader) next() (vuln.Record, bool, error) {
	if !r.sc.Scan() {
		return vuln.Record{}, false, r.sc.Err()
	}
	var rec vuln.Record
	if err := json.Unmarshal(r.sc.Bytes(), &rec); err != nil {
		return vuln.Record{}, false, fmt.Errorf("import: spool: %w", err)
	}
	return rec, true, nil
}

func (r *recordReader) close() {}

type chunkReader struct {
	sc         *bufio.Scanner
	pending    []byte
	chunkBytes int
}

func (s *spool) reader() (*chunkReader, error) {
	sc, err := rewind(s.facts, s.fw)
	return &chunkReader{sc: sc, chunkBytes: s.chunkBytes}, err
}

// next is the next chunk: the same boundaries write counted.
func (r *chunkReader) next(tmpl vuln.ScanResultsRecorded) (vuln.ScanResultsRecorded, error) {
	out := tmpl
	size, n := 0, 0
	for {
		line := r.pending
		r.pending = nil
		if line == nil {
			if !r.sc.Scan() {
				if err := r.sc.Err(); err != nil {
					return out, fmt.Errorf("import: spool: %w", err)
				}
				break
			}
			line = r.sc.Bytes()
		}
		if size+len(line) > r.chunkBytes && size > 0 {
			r.pending = append([]byte(nil), line...)
			break
		}
		var rw row
		if err := json.Unmarshal(line, &rw); err != nil {
			return out, fmt.Errorf("import: spool: %w", err)
		}
		switch {
		case rw.O != nil:
			out.Occurrences = append(out.Occurrences, *rw.O)
		case rw.M != nil:
			out.Misconfigurations = append(out.Misconfigurations, *rw.M)
		case rw.S != nil:
			out.Secrets = append(out.Secrets, *rw.S)
		}
		size += len(line) + 1
		n++
	}
	if n == 0 {
		return out, errors.New("import: the spool ended early")
	}
	return out, nil
}
