package cloudsecurity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	vulndomain "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Reports is what the import needs of the report parsers (the adapters
// under platform/parsers, one package per tool).
type Reports interface {
	// Format names the format a caller gives by name (a format name or a
	// tool's own name for its output); an unknown one is an error that
	// says which are known.
	Format(name string) (string, error)
	// FormatForContentType names the format a Content-Type says, "" when
	// it says none (the report's first bytes decide).
	FormatForContentType(contentType string) (string, error)
	// Detect names the format of a report from its first bytes, or says
	// why it cannot.
	Detect(head []byte) (format string, err error)
	// Parse streams a report's observations to emit, in format. Any error
	// rejects the whole report.
	Parse(ctx context.Context, r io.Reader, format string, emit func(csdomain.Observation) error) (ReportInfo, error)
}

// ReportInfo is what a parser learnt of a whole report.
type ReportInfo struct {
	Format      string
	Tool        string
	ToolVersion string
	// Native scanners only (docs/security-scans.md): the scan problems the
	// report recorded (at most csdomain.MaxScanProblems kept, all counted).
	Problems      []csdomain.ScanProblem
	ProblemsCount int
	// Certificates the report showed (testssl.sh, SSLyze): recorded as
	// CertificatesObserved (decision 60).
	Certificates []csdomain.CertificateSeen
}

// Stream types of the import.
const StreamTypeImport = "Import"

const importStreamPrefix = "import-"

// ImportReport imports one scanner report.
type ImportReport struct {
	Format      string    // optional: a format name; else ContentType, else detected
	ContentType string    // optional: the report's media type
	ScanID      string    // optional: a requested or running scan the report completes
	FileName    string    // optional, recorded
	Body        io.Reader // the report, streamed
	Force       bool      // optional: a feed's guard lifted (a KEV feed withdrawing many entries)
	// Inventory formats only (WithInventories): the tool's table and
	// whether the report lists every asset of its scopes.
	Table string
	Sync  string
}

// validate checks what the caller said of the report, before any of it is
// read, and resolves its format ("" when the report's first bytes decide).
func (cmd ImportReport) validate(reports Reports) (string, error) {
	var v domain.Validator
	if cmd.ScanID != "" {
		orchdomain.CheckScanID(&v, "scan_id", cmd.ScanID)
	}
	v.Text("file_name", cmd.FileName, domain.MaxShortText)
	format := ""
	switch {
	case cmd.Format != "":
		f, err := reports.Format(cmd.Format)
		if err != nil {
			v.Add("format", "%v", err)
		}
		format = f
	case cmd.ContentType != "":
		f, err := reports.FormatForContentType(cmd.ContentType)
		if err != nil {
			if verr := v.Err(); verr != nil {
				return "", verr
			}
			return "", &UnsupportedMediaTypeError{ContentType: cmd.ContentType, Err: err}
		}
		format = f
	}
	return format, v.Err()
}

// UnsupportedMediaTypeError: the report was sent as a media type no
// parser reads (and no format was named).
type UnsupportedMediaTypeError struct {
	ContentType string
	Err         error
}

func (e *UnsupportedMediaTypeError) Error() string {
	return fmt.Sprintf("no report format is sent as %q: %v; or name the format", e.ContentType, e.Err)
}

func (e *UnsupportedMediaTypeError) Unwrap() error { return e.Err }

// ImportResult is what an import did.
type ImportResult struct {
	ImportID    string `json:"import_id"`
	ScanID      string `json:"scan_id,omitempty"`
	Status      string `json:"status"` // completed, rejected
	Format      string `json:"format,omitempty"`
	Tool        string `json:"tool,omitempty"`
	ToolVersion string `json:"tool_version,omitempty"`
	ContentHash string `json:"content_hash"`
	Size        int64  `json:"size"`
	Reason      string `json:"reason,omitempty"` // why it was rejected
	// Feed is what another module's import of its format did (a KEV
	// feed's published, updated, withdrawn counts...).
	Feed      any                    `json:"feed,omitempty"`
	Counts    *csdomain.ImportCounts `json:"counts,omitempty"`
	Events    int                    `json:"events"`   // events the import appended
	Position  int64                  `json:"position"` // read your writes
	Duplicate bool                   `json:"duplicate,omitempty"`
	// Inventory imports only (docs/assets.md).
	Table     string           `json:"table,omitempty"`
	Sync      string           `json:"sync,omitempty"`
	Inventory *InventoryCounts `json:"inventory,omitempty"`
	// A report another module records (ScanImports): the artifact it
	// scanned, its counts, warnings (an image without a digest).
	ArtifactID string                 `json:"artifact_id,omitempty"`
	ScanCounts *vulndomain.ScanCounts `json:"scan_counts,omitempty"`
	Warnings   []string               `json:"warnings,omitempty"`
	// Native scanners: the scan problems the report recorded (they fix
	// nothing; decision 59).
	Problems []csdomain.ScanProblem `json:"problems,omitempty"`
}

// Import statuses.
const (
	ImportCompleted = "completed"
	ImportRejected  = "rejected"
)

// RejectedError is an import refused whole: its result (recorded as
// ImportRejected, nothing else appended) says why.
type RejectedError struct{ Result ImportResult }

func (e *RejectedError) Error() string { return "report rejected: " + e.Result.Reason }

// Limits of one import's events (each within the store's event limit).
const (
	defaultChunkBytes  = 192 << 10 // data of one ResultsRecorded or ChecksDescribed
	defaultBatchEvents = 64        // events of one atomic append (12 MiB of results at most)
	detectHeadBytes    = 64 << 10
)

// ImportReport reads a report once (hashing it and spooling its results to
// a temporary file, so memory stays bounded whatever its size), then:
//   - the same report imported before (same team, same content hash) is
//     answered with that import, nothing appended;
//   - a report that does not parse, or whose results break a rule, is
//     rejected whole: ImportRejected is recorded, nothing else;
//   - otherwise the import's events (its checks, its results in chunks,
//     its completion) and the scan's (requested, started, completed, or
//     the remaining steps of the requested scan it names) are appended:
//     in one atomic append across both streams when they fit, else in a
//     few, the completion last (an import cut off half way is resumed by
//     importing the same report again).
func (h *Handlers) ImportReport(ctx context.Context, meta commands.Meta, cmd ImportReport) (ImportResult, error) {
	if h.reports == nil || h.batch == nil {
		return ImportResult{}, errors.New("commands: imports are not configured (WithImports)")
	}
	md, err := commands.Metadata(meta)
	if err != nil {
		return ImportResult{}, err
	}
	format, err := cmd.validate(h.reports)
	if err != nil {
		return ImportResult{}, err
	}
	if res, handled, err := h.inventory(ctx, meta, &cmd, format); handled || err != nil {
		return res, err
	}
	if imp, ok := h.formatImporters[format]; ok {
		return imp(ctx, meta, format, cmd)
	}
	if res, done, err := h.importElsewhere(ctx, meta, &cmd, format); done {
		return res, err
	}
	spool, err := newResultSpool(h.chunkBytes)
	if err != nil {
		return ImportResult{}, err
	}
	defer spool.close()
	p := &parsedReport{spool: spool, checks: map[string]csdomain.CheckInfo{}, undatedAt: eventstore.NormalizeTime(h.kit.Now())}
	body := readAhead(cmd.Body)
	parseErr := h.parse(ctx, body, format, p)
	sum, size, err := body.finish() // reads the rest of the body, for the hash
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read the report: %w", err)
	}
	if ctx.Err() != nil {
		return ImportResult{}, ctx.Err()
	}
	importID := csdomain.ImportID(meta.TeamID, sum)
	c := commands.Call{Name: "ImportReport", TargetID: importID, StreamID: importStreamPrefix + importID, Type: StreamTypeImport}
	if res, done, err := h.earlierImport(ctx, meta, c); err != nil || done {
		return res, err
	}
	res := ImportResult{ImportID: importID, ContentHash: sum, Size: size, Format: p.info.Format, Tool: p.info.Tool, ToolVersion: p.info.ToolVersion}
	if parseErr == nil && p.results == 0 && len(p.checks) == 0 && p.info.Format == "" {
		parseErr = errors.New("empty report")
	}
	if parseErr != nil {
		return h.reject(ctx, md, c, res, cmd, parseErr)
	}
	return h.record(ctx, meta, md, c, res, cmd, p)
}

// ScanImports imports the reports of formats another module records
// (Trivy's: commands/vulnerabilities, adapted in cmd/cspm): the same
// route, CLI, idempotency and rejected-whole rules, another stream. A
// rejection is a *RejectedError.
type ScanImports interface {
	Handles(format string) bool
	ImportScan(ctx context.Context, meta commands.Meta, format, fileName string, body io.Reader) (ImportResult, error)
}

// WithScanImports hands the formats scans handles to it.
func (h *Handlers) WithScanImports(scans ScanImports) *Handlers {
	h.scans = scans
	return h
}

// importElsewhere hands a report of a format h.scans handles (named, or
// detected from its first bytes) to it; done is false for the others,
// whose body is then read from cmd.Body as before.
func (h *Handlers) importElsewhere(ctx context.Context, meta commands.Meta, cmd *ImportReport, format string) (ImportResult, bool, error) {
	if h.scans == nil {
		return ImportResult{}, false, nil
	}
	br := bufio.NewReaderSize(cmd.Body, detectHeadBytes)
	cmd.Body = br
	if format == "" {
		head, _ := br.Peek(detectHeadBytes)
		if f, err := h.reports.Detect(head); err == nil {
			format = f
		}
	}
	if !h.scans.Handles(format) {
		return ImportResult{}, false, nil
	}
	if cmd.ScanID != "" {
		return ImportResult{}, true, &domain.ValidationError{Fields: []domain.FieldError{{Field: "scan_id", Message: "a " + format + " report scans one artifact and completes no scan run: leave scan_id out"}}}
	}
	res, err := h.scans.ImportScan(ctx, meta, format, cmd.FileName, br)
	return res, true, err
}

// parsedReport is what a parse left: results spooled, checks, scope, counts.
type parsedReport struct {
	info       ReportInfo
	spool      *resultSpool
	checks     map[string]csdomain.CheckInfo
	scope      csdomain.ImportScope
	counts     csdomain.ImportCounts
	resources  map[[16]byte]struct{} // digests: 16 bytes a resource, whatever its id's length
	accounts   map[string]bool
	from, to   time.Time
	results    int
	ruleOfTool csdomain.IdentityRule
	// undatedAt dates a native scanner's results that carry no time (a
	// flat testssl.sh report): the time the import began (decision 59).
	undatedAt time.Time
}

// parse reads the report into p; an error rejects it.
func (h *Handlers) parse(ctx context.Context, r io.Reader, format string, p *parsedReport) error {
	br := bufio.NewReaderSize(r, detectHeadBytes)
	if format == "" {
		head, err := br.Peek(detectHeadBytes)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("read the report: %w", err)
		}
		if len(head) == 0 {
			return errors.New("empty report")
		}
		if format, err = h.reports.Detect(head); err != nil {
			return err
		}
	}
	p.counts = csdomain.ImportCounts{ByResult: map[csdomain.Result]int{}, FailBySev: map[csdomain.Severity]int{}}
	p.resources = map[[16]byte]struct{}{}
	p.accounts = map[string]bool{}
	// The parser decodes on this goroutine; what the import does with
	// each observation (checks, normalization, spooling) runs beside it.
	w := newObservationWorker(p.add)
	info, err := h.reports.Parse(ctx, br, format, w.emit)
	if werr := w.close(); werr != nil {
		// About a result before any the parser read after it.
		err = werr
	}
	p.info = info
	if p.info.Format == "" {
		p.info.Format = format
	}
	p.counts.Checks, p.counts.Resources, p.counts.Accounts = len(p.checks), len(p.resources), len(p.accounts)
	return err
}

// add takes one observation of the report; an error rejects the report.
func (p *parsedReport) add(o csdomain.Observation) error {
	n := p.results
	rule, ok := csdomain.RuleFor(o.Tool)
	if !ok {
		return fmt.Errorf("result %d: no identity rule for tool %q", n, o.Tool)
	}
	if p.ruleOfTool == "" {
		p.ruleOfTool = rule
	} else if rule != p.ruleOfTool {
		return fmt.Errorf("result %d: a report holds the results of one tool", n)
	}
	if o.ObservedAt.IsZero() && csdomain.IsNativeScannerRule(rule) {
		o.ObservedAt = p.undatedAt
	}
	r, err := csdomain.ResultOf(o)
	if err != nil {
		return fmt.Errorf("result %d (check %s): %w", n, o.CheckID, err)
	}
	if _, seen := p.checks[o.CheckID]; !seen {
		ci, err := csdomain.CheckInfoOf(o)
		if err != nil {
			return fmt.Errorf("result %d (check %s): %w", n, o.CheckID, err)
		}
		p.checks[o.CheckID] = ci
	}
	if err := p.spool.write(r); err != nil {
		return err
	}
	p.results++
	p.scope.Add(r)
	if o.AccountName != "" || o.Organization != "" || len(o.AccountTags) > 0 { // accounts (decision 37)
		a, err := csdomain.SeenAccount(o)
		if err != nil {
			return fmt.Errorf("result %d (check %s): %w", n, o.CheckID, err)
		}
		p.scope.Describe(a)
	}
	p.counts.Results++
	p.counts.ByResult[r.Result]++
	if r.Result == csdomain.ResultFail {
		p.counts.FailBySev[r.Severity]++
		if r.Muted {
			p.counts.Muted++
		}
	}
	p.resources[resourceKey(r)] = struct{}{}
	p.accounts[r.Provider+"\x00"+r.Account] = true
	if p.from.IsZero() || r.ObservedAt.Before(p.from) {
		p.from = r.ObservedAt
	}
	p.to = maxTime(p.to, r.ObservedAt)
	return nil
}

// resourceKey is a digest of r's resource (its provider, account and id):
// the distinct resources of a report are counted in 16 bytes each.
func resourceKey(r csdomain.CheckResult) [16]byte {
	h := fnv.New128a()
	for _, s := range []string{r.Provider, r.Account, r.Resource} {
		_, _ = io.WriteString(h, s)
		_, _ = h.Write([]byte{0})
	}
	var k [16]byte
	h.Sum(k[:0])
	return k
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earlierImport answers an import of a report this team imported before.
// An import cut off before its completion is not done: it resumes.
func (h *Handlers) earlierImport(ctx context.Context, meta commands.Meta, c commands.Call) (ImportResult, bool, error) {
	evs, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return ImportResult{}, false, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	if len(evs) == 0 {
		return ImportResult{}, false, nil
	}
	if evs[0].Metadata.TeamID != meta.TeamID || evs[0].StreamType != c.Type {
		return ImportResult{}, false, fmt.Errorf("import: %w", &commands.IDInUseError{Field: "report", ID: c.TargetID})
	}
	res, done, err := ImportState(h.kit.Codec(), evs)
	if err != nil || !done {
		return ImportResult{}, false, err
	}
	res.Duplicate = true
	if res.Status == ImportRejected {
		return res, true, &RejectedError{Result: res}
	}
	return res, true, nil
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
		case csdomain.ImportRejected:
			return ImportResult{ImportID: e.ImportID, Status: ImportRejected, Format: e.Format, ContentHash: e.ContentHash,
				Size: e.Size, Reason: e.Reason, Position: r.Position, Events: 1}, true, nil
		case csdomain.ImportStarted:
			res.ImportID, res.ScanID, res.Format, res.Tool, res.ToolVersion = e.ImportID, e.ScanID, e.Format, e.Tool, e.ToolVersion
			res.ContentHash, res.Size = e.ContentHash, e.Size
		case csdomain.ImportCompleted:
			counts := e.Counts
			res.Status, res.Counts, done = ImportCompleted, &counts, true
			res.Problems = e.Problems
		}
		res.Events++
	}
	return res, done, nil
}

// reject records why a report was refused, and nothing else.
func (h *Handlers) reject(ctx context.Context, md eventstore.Metadata, c commands.Call, res ImportResult, cmd ImportReport, cause error) (ImportResult, error) {
	reason := domain.Clip(cause.Error(), domain.MaxReason)
	ev := csdomain.ImportRejected{ImportID: res.ImportID, Format: res.Format, ContentHash: res.ContentHash, Size: res.Size,
		FileName: cmd.FileName, Reason: reason, RejectedAt: h.kit.Now()}
	req, err := h.kit.AppendRequest(c, eventstore.NoStream, md, eventstore.Idempotency{}, []any{ev})
	if err != nil {
		return ImportResult{}, err
	}
	ar, err := h.kit.Store().Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		// The same report, rejected (or imported) by a concurrent request.
		return h.againAfterRace(ctx, c)
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: append to %s: %w", c.StreamID, err)
	}
	res.Status, res.Reason, res.Position, res.Events = ImportRejected, reason, ar.LastPosition(), 1
	return res, &RejectedError{Result: res}
}

// againAfterRace answers with the import a concurrent request recorded.
func (h *Handlers) againAfterRace(ctx context.Context, c commands.Call) (ImportResult, error) {
	evs, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	res, _, err := ImportState(h.kit.Codec(), evs)
	if err != nil {
		return ImportResult{}, err
	}
	res.Duplicate = true
	if res.Status == ImportRejected {
		return res, &RejectedError{Result: res}
	}
	return res, nil
}

// record appends an accepted report's events and its scan's.
func (h *Handlers) record(ctx context.Context, meta commands.Meta, md eventstore.Metadata, c commands.Call, res ImportResult, cmd ImportReport, p *parsedReport) (ImportResult, error) {
	now := h.kit.Now()
	evaluatedAt := eventstore.NormalizeTime(p.from)
	if evaluatedAt.IsZero() {
		evaluatedAt = now
	}
	scanCall, scanExpected, scanEvents, scanID, err := h.scanSteps(ctx, meta, cmd.ScanID, res, p, evaluatedAt, now)
	if err != nil {
		return ImportResult{}, err
	}
	res.ScanID = scanID

	// The import stream's events: the start and the checks, the results
	// read back from the spool one chunk at a time (never all in memory),
	// the completion.
	head := []any{csdomain.ImportStarted{ImportID: res.ImportID, ScanID: scanID, Format: res.Format,
		Tool: res.Tool, ToolVersion: res.ToolVersion, ContentHash: res.ContentHash, Size: res.Size,
		FileName: cmd.FileName, StartedAt: now}}
	if certs := p.info.Certificates; len(certs) > 0 {
		head = append(head, csdomain.CertificatesObserved{ImportID: res.ImportID, ScanID: scanID, Tool: res.Tool,
			EvaluatedAt: evaluatedAt, Certificates: certs[:min(len(certs), csdomain.MaxCertificates)]})
	}
	for _, chunk := range checkChunks(p.checks, res.ImportID, evaluatedAt, h.chunkBytes) {
		head = append(head, chunk)
		p.counts.CheckInfos++
	}
	if p.counts.Chunks, err = p.spool.countChunks(); err != nil {
		return ImportResult{}, err
	}
	completed := csdomain.ImportCompleted{ImportID: res.ImportID, ScanID: scanID,
		EvaluatedAt: evaluatedAt, IdentityRule: p.ruleOfTool, ObservedFrom: p.from, ObservedTo: p.to,
		Scopes: csdomain.WholeTargets(p.ruleOfTool, p.scope.Scopes()), Accounts: p.scope.Accounts(), Counts: p.counts, CompletedAt: now,
		Problems: p.info.Problems, ProblemsCount: p.info.ProblemsCount}
	res.Problems = p.info.Problems
	total := len(head) + p.counts.Chunks + 1
	chunkTmpl, err := resultsTemplate(h.kit.Codec(), csdomain.ResultsRecorded{ImportID: res.ImportID, ScanID: scanID,
		EvaluatedAt: evaluatedAt, IdentityRule: p.ruleOfTool})
	if err != nil {
		return ImportResult{}, err
	}
	chunks, err := p.spool.reader()
	if err != nil {
		return ImportResult{}, err
	}
	// next is the i-th event of the import stream, encoded. The results'
	// chunks are spliced from the spool's lines (the bytes the codec
	// would write), never decoded and encoded again.
	next := func(i int, skip bool) (eventstore.NewEvent, error) {
		switch {
		case i < len(head):
			return h.kit.Codec().Encode(head[i])
		case i < total-1:
			return chunks.next(chunkTmpl, skip)
		}
		return h.kit.Codec().Encode(completed)
	}

	// Resume an import cut off half way: skip what is stored.
	stored, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: read %s: %w", c.StreamID, err)
	}
	done := len(stored)
	if done >= total {
		return ImportResult{}, fmt.Errorf("import %s: %d events stored, the report makes %d", res.ImportID, done, total)
	}
	var last int64
	batch := make([]eventstore.NewEvent, 0, h.batchEvents)
	for i := 0; i < total; i++ {
		ev, err := next(i, i < done)
		if err != nil {
			return ImportResult{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		if i < done {
			continue
		}
		batch = append(batch, ev)
		if len(batch) < h.batchEvents && i < total-1 {
			continue
		}
		req, err := h.kit.AppendRequest(c, eventstore.Exact(int64(i+1-len(batch))), md, eventstore.Idempotency{}, nil)
		if err != nil {
			return ImportResult{}, err
		}
		req.Events = batch
		reqs := []eventstore.AppendRequest{req}
		if i == total-1 && len(scanEvents) > 0 {
			// The scan completes with the import, atomically.
			sreq, err := h.kit.AppendRequest(scanCall, scanExpected, md, eventstore.Idempotency{}, scanEvents)
			if err != nil {
				return ImportResult{}, err
			}
			reqs = append([]eventstore.AppendRequest{sreq}, reqs...)
		}
		results, err := h.batch.AppendBatch(ctx, reqs)
		if errors.Is(err, eventstore.ErrConflict) {
			return h.againAfterRace(ctx, c)
		}
		if err != nil {
			return ImportResult{}, fmt.Errorf("import %s: append: %w", res.ImportID, err)
		}
		for _, r := range results {
			last = max(last, r.LastPosition())
		}
		batch = make([]eventstore.NewEvent, 0, h.batchEvents) // the store may keep the last one's
	}
	counts := p.counts
	res.Status, res.Counts, res.Position, res.Events = ImportCompleted, &counts, last, total+len(scanEvents)
	return res, nil
}

// scanSteps are the events the import appends to its scan's stream: a new
// scan (requested, started, completed at the report's times) unless it
// names a requested or running scan of the caller's team, which it starts
// (when needed) and completes.
func (h *Handlers) scanSteps(ctx context.Context, meta commands.Meta, scanID string, res ImportResult, p *parsedReport, from, now time.Time) (commands.Call, eventstore.ExpectedVersion, []any, string, error) {
	to := eventstore.NormalizeTime(p.to)
	if to.Before(from) {
		to = from
	}
	resources := len(p.resources)
	if scanID == "" {
		scanID = csdomain.ScanIDForImport(meta.TeamID, res.ContentHash)
		c := commands.ScanCall("ImportReport", scanID, nil)
		scopes := p.scope.Scopes()
		account, provider := "unknown", "other"
		if len(scopes) > 0 {
			account, provider = scopes[0].Account, scopes[0].Provider
		}
		if _, ok := orchdomain.ParseProvider(provider); !ok {
			provider = string(orchdomain.ProviderOther)
		}
		req, err := orchdomain.Request(orchdomain.ScanRequest{ScanID: scanID, AccountID: account, Provider: provider,
			Tool: orDefault(res.Tool, "unknown"), Target: "import " + res.ImportID, RequestedAt: from})
		if err != nil {
			return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
		}
		run := orchdomain.Rehydrate(req...)
		started, err := run.Start(from)
		if err != nil {
			return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
		}
		run.Apply(started[0])
		completed, err := run.Complete(resources, to)
		if err != nil {
			return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
		}
		return c, eventstore.NoStream, commands.Anys(slices.Concat(req, started, completed)), scanID, nil
	}
	c := commands.ScanCall("ImportReport", scanID, nil)
	recorded, err := h.kit.Load(ctx, meta, c)
	if err != nil {
		return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
	}
	history, err := commands.Decode[orchdomain.Event](h.kit.Codec(), recorded)
	if err != nil {
		return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
	}
	run := orchdomain.Rehydrate(history...)
	var out []orchdomain.Event
	if run.State().Status == orchdomain.StatusRequested {
		started, err := run.Start(maxTime(from, run.State().RequestedAt))
		if err != nil {
			return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
		}
		run.Apply(started[0])
		out = append(out, started...)
	}
	st := run.State()
	completed, err := run.Complete(resources, maxTime(now, maxTime(st.RequestedAt, st.StartedAt)))
	if err != nil {
		return commands.Call{}, eventstore.ExpectedVersion{}, nil, "", err
	}
	out = append(out, completed...)
	return c, eventstore.Exact(recorded[len(recorded)-1].Version), commands.Anys(out), scanID, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkChunks splits the checks into ChecksDescribed events within the
// chunk size, sorted by check id (the same report gives the same events).
func checkChunks(checks map[string]csdomain.CheckInfo, importID string, at time.Time, maxChunkBytes int) []csdomain.ChecksDescribed {
	ids := make([]string, 0, len(checks))
	for id := range checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []csdomain.ChecksDescribed
	cur := csdomain.ChecksDescribed{ImportID: importID, EvaluatedAt: at}
	size := 0
	for _, id := range ids {
		b, _ := json.Marshal(checks[id])
		if size+len(b) > maxChunkBytes && len(cur.Checks) > 0 {
			out = append(out, cur)
			cur = csdomain.ChecksDescribed{ImportID: importID, EvaluatedAt: at}
			size = 0
		}
		cur.Checks = append(cur.Checks, checks[id])
		size += len(b) + 1
	}
	if len(cur.Checks) > 0 {
		out = append(out, cur)
	}
	return out
}

// countingReader counts what it reads and keeps the first read error
// (not EOF): a report that could not be read in full (the client went
// away, the body limit) is not the sender's report, and is neither
// recorded nor rejected.
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

// hashedBody reads a report's body ahead of the parser, on a goroutine of
// its own, hashing and counting it on the way: the parser reads it through
// a pipe, and hashing the next block runs beside parsing the last.
type hashedBody struct {
	pr      *io.PipeReader
	hash    hash.Hash
	counted *countingReader
	done    chan struct{}
	err     error // reading the rest once the parser stopped
}

// readAhead starts reading body; call finish once the parser is done.
func readAhead(body io.Reader) *hashedBody {
	hb := &hashedBody{hash: sha256.New(), done: make(chan struct{})}
	hb.counted = &countingReader{r: io.TeeReader(body, hb.hash)}
	pr, pw := io.Pipe()
	hb.pr = pr
	go func() {
		defer close(hb.done)
		_, err := io.CopyBuffer(pw, hb.counted, make([]byte, 64<<10))
		pw.CloseWithError(err) // nil: the parser reads EOF
		if err != nil && hb.counted.err == nil {
			// The parser stopped before the end: the rest is only hashed.
			_, hb.err = io.Copy(io.Discard, hb.counted)
		}
	}()
	return hb
}

func (hb *hashedBody) Read(p []byte) (int, error) { return hb.pr.Read(p) }

// finish reads the rest of the body and returns its hash and size, or
// the error that stopped reading it.
func (hb *hashedBody) finish() (sum string, size int64, err error) {
	_ = hb.pr.Close() // unblocks the reader if the parser stopped early
	<-hb.done
	if hb.counted.err != nil {
		return "", 0, hb.counted.err
	}
	if hb.err != nil {
		return "", 0, hb.err
	}
	return hex.EncodeToString(hb.hash.Sum(nil)), hb.counted.n, nil
}

// observationWorker runs what the import does with each observation on a
// goroutine of its own, beside the parser, in order. emit hands it
// observations a batch at a time; the first error it meets is returned by
// the next emit (which stops the parser) and by close.
type observationWorker struct {
	add     func(csdomain.Observation) error
	pending []csdomain.Observation
	batches chan []csdomain.Observation
	free    chan []csdomain.Observation
	done    chan struct{}
	failed  atomic.Bool
	err     error // the worker's; read after done
}

const observationBatch = 256

func newObservationWorker(add func(csdomain.Observation) error) *observationWorker {
	w := &observationWorker{add: add, batches: make(chan []csdomain.Observation, 4),
		free: make(chan []csdomain.Observation, 6), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for batch := range w.batches {
			for i := 0; i < len(batch) && w.err == nil; i++ {
				if err := w.add(batch[i]); err != nil {
					w.err = err
					w.failed.Store(true)
				}
			}
			clear(batch)
			select {
			case w.free <- batch[:0]:
			default:
			}
		}
	}()
	return w
}

// errStopped stops the parser once the worker has failed; close returns
// the worker's own error.
var errStopped = errors.New("import: a result was refused")

func (w *observationWorker) emit(o csdomain.Observation) error {
	if w.failed.Load() {
		return errStopped
	}
	if w.pending == nil {
		select {
		case w.pending = <-w.free:
		default:
			w.pending = make([]csdomain.Observation, 0, observationBatch)
		}
	}
	w.pending = append(w.pending, o)
	if len(w.pending) == observationBatch {
		w.batches <- w.pending
		w.pending = nil
	}
	return nil
}

// close hands over what is pending, waits for the worker and returns its
// error.
func (w *observationWorker) close() error {
	if len(w.pending) > 0 {
		w.batches <- w.pending
		w.pending = nil
	}
	close(w.batches)
	<-w.done
	return w.err
}

// resultSpool keeps an import's results on disk, one JSON line each
// (encoded as the event codec encodes them: no HTML escaping, decision 20
// of docs/decisions.md), until they are chunked into events.
type resultSpool struct {
	f          *os.File
	w          *bufio.Writer
	enc        *json.Encoder
	chunkBytes int // the most result bytes one ResultsRecorded holds
}

func newResultSpool(chunkBytes int) (*resultSpool, error) {
	f, err := os.CreateTemp("", "cspm-import-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	// Unlinked at once: the open file is all the spool needs, and a
	// process killed mid-import leaves nothing behind.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // as the codec (eventstore.Codec) does
	return &resultSpool{f: f, w: w, enc: enc, chunkBytes: chunkBytes}, nil
}

func (s *resultSpool) write(r csdomain.CheckResult) error {
	if err := s.enc.Encode(r); err != nil { // a line, '\n' ended
		return fmt.Errorf("import: spool: %w", err)
	}
	return nil
}

// countChunks is how many ResultsRecorded events the spool makes.
func (s *resultSpool) countChunks() (int, error) {
	r, err := s.reader()
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		lines, err := r.nextLines()
		if err != nil {
			return 0, err
		}
		if lines == 0 {
			return n, nil
		}
		n++
	}
}

// reader reads the spool from the start, one chunk at a time.
func (s *resultSpool) reader() (*chunkReader, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import: spool: %w", err)
	}
	sc := bufio.NewScanner(s.f)
	sc.Buffer(make([]byte, 0, 64<<10), max(s.chunkBytes, 1<<20))
	return &chunkReader{sc: sc, maxBytes: s.chunkBytes}, nil
}

// chunkTemplate is a ResultsRecorded event without its results: its
// encoding is prefix, the results' encodings separated by commas, suffix.
type chunkTemplate struct {
	typ            string
	schemaVersion  int
	prefix, suffix []byte
}

// resultsTemplate encodes e (its results left out) with codec, and splits
// the encoding where the results go.
func resultsTemplate(codec *eventstore.Codec, e csdomain.ResultsRecorded) (chunkTemplate, error) {
	e.Results = []csdomain.CheckResult{}
	ne, err := codec.Encode(e)
	if err != nil {
		return chunkTemplate{}, err
	}
	const tail = `"results":[]}`
	if !bytes.HasSuffix(ne.Data, []byte(tail)) {
		return chunkTemplate{}, fmt.Errorf("import: %s does not end with its results: %s", ne.Type, ne.Data)
	}
	cut := len(ne.Data) - len("]}")
	return chunkTemplate{typ: ne.Type, schemaVersion: ne.SchemaVersion, prefix: ne.Data[:cut], suffix: ne.Data[cut:]}, nil
}

// chunkReader yields the spool's results in chunks of at most maxBytes.
type chunkReader struct {
	sc       *bufio.Scanner
	pending  []byte // a line read past the previous chunk
	buf      bytes.Buffer
	maxBytes int
}

// next encodes the next chunk as a ResultsRecorded event of t (nothing
// when skip: the event is stored already).
func (r *chunkReader) next(t chunkTemplate, skip bool) (eventstore.NewEvent, error) {
	r.buf.Reset()
	if !skip {
		r.buf.Write(t.prefix)
	}
	lines, err := r.nextLines()
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	if lines == 0 {
		return eventstore.NewEvent{}, errors.New("import: the spool ended early")
	}
	if skip {
		return eventstore.NewEvent{}, nil
	}
	r.buf.Write(t.suffix)
	return eventstore.NewEvent{Type: t.typ, SchemaVersion: t.schemaVersion, Data: bytes.Clone(r.buf.Bytes())}, nil
}

// nextLines reads the next chunk's lines (into buf, comma separated, when
// buf is not empty) and says how many it read: 0 at the end.
func (r *chunkReader) nextLines() (int, error) {
	write := r.buf.Len() > 0
	size, n := 0, 0
	for {
		line := r.pending
		r.pending = nil
		if line == nil {
			if !r.sc.Scan() {
				if err := r.sc.Err(); err != nil {
					return 0, fmt.Errorf("import: spool: %w", err)
				}
				break
			}
			line = r.sc.Bytes()
		}
		if size+len(line) > r.maxBytes && n > 0 {
			r.pending = slices.Clone(line)
			break
		}
		if write {
			if n > 0 {
				r.buf.WriteByte(',')
			}
			r.buf.Write(line)
		}
		size += len(line) + 1
		n++
	}
	return n, nil
}

func (s *resultSpool) close() { _ = s.f.Close() }

// Formats another module imports. The same route and CLI take every
// report; a format whose facts are another module's (the KEV catalogue:
// commands/threatintel) is handed to that module's import, which cmd/cspm
// adapts. It answers with an ImportResult (Feed saying what it did), a
// refusal of the feed whole as a *RejectedError.

// FormatImporter imports a report of format for another module.
type FormatImporter func(ctx context.Context, meta commands.Meta, format string, cmd ImportReport) (ImportResult, error)

// WithFormatImporter hands the reports of formats to imp.
func (h *Handlers) WithFormatImporter(formats []string, imp FormatImporter) *Handlers {
	if h.formatImporters == nil {
		h.formatImporters = map[string]FormatImporter{}
	}
	for _, f := range formats {
		h.formatImporters[f] = imp
	}
	return h
}
