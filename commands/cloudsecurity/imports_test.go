package cloudsecurity_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/parsers"
)

// parsersPort adapts the real parser registry to the import's port.
type parsersPort struct{ parsers.Registry }

func (p parsersPort) Parse(ctx context.Context, r io.Reader, format string, emit func(csdomain.Observation) error) (cloudsecurity.ReportInfo, error) {
	info, err := p.Registry.Parse(ctx, r, format, emit)
	return cloudsecurity.ReportInfo{Format: info.Format, Tool: info.Tool, ToolVersion: info.ToolVersion}, err
}

// sample reads one of the parsers' test reports.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "prowler", "testdata", name))
	require.NoError(t, err)
	return b
}

const (
	before = "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json"
	after  = "ours_v5.34_shaped_ocsf_cloudtrail_scan2_after.ocsf.json"
)

func importer(t *testing.T) (*commandstest.Deps, *cloudsecurity.Handlers) {
	t.Helper()
	d := commandstest.New(t)
	return d, cloudsecurity.New(d.Kit).WithImports(parsersPort{}, d.Store)
}

func imp(t *testing.T, h *cloudsecurity.Handlers, meta commands.Meta, body []byte, scanID string) (cloudsecurity.ImportResult, error) {
	t.Helper()
	return h.ImportReport(t.Context(), meta, cloudsecurity.ImportReport{Body: bytes.NewReader(body), ScanID: scanID, FileName: "report.json"})
}

func TestImportReport(t *testing.T) {
	t.Parallel()
	d, h := importer(t)
	res, err := imp(t, h, commandstest.TeamA, sample(t, before), "")
	require.NoError(t, err)
	assert.Equal(t, cloudsecurity.ImportCompleted, res.Status)
	assert.Equal(t, "prowler-ocsf", res.Format)
	assert.Equal(t, "prowler", res.Tool)
	assert.Equal(t, "5.34.0", res.ToolVersion)
	assert.Equal(t, 4, res.Counts.ByResult[csdomain.ResultFail])
	assert.False(t, res.Duplicate)
	assert.Equal(t, d.Head(t), res.Position)

	imported := d.Decoded(t, "import-"+res.ImportID)
	require.IsType(t, csdomain.ImportStarted{}, imported[0])
	completed, ok := imported[len(imported)-1].(csdomain.ImportCompleted)
	require.True(t, ok)
	assert.Equal(t, csdomain.IdentityProwlerV1, completed.IdentityRule)
	assert.NotEmpty(t, completed.Scopes)
	assert.Equal(t, res.ScanID, completed.ScanID)

	// The import created its scan run, completed.
	scan := d.Decoded(t, commands.ScanStreamID(res.ScanID))
	require.Len(t, scan, 3)
	assert.IsType(t, orchdomain.ScanRequested{}, scan[0])
	assert.IsType(t, orchdomain.ScanCompleted{}, scan[2])
	commandstest.AssertMetadata(t, commandstest.TeamA, d.Stream(t, commands.ScanStreamID(res.ScanID))...)

	// The same report again: the first import, nothing appended.
	head := d.Head(t)
	again, err := imp(t, h, commandstest.TeamA, sample(t, before), "")
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, res.ImportID, again.ImportID)
	assert.Equal(t, res.ScanID, again.ScanID)
	assert.Equal(t, head, d.Head(t))

	// Another team importing the same bytes gets its own import.
	other, err := imp(t, h, commandstest.TeamB, sample(t, before), "")
	require.NoError(t, err)
	assert.NotEqual(t, res.ImportID, other.ImportID)
	assert.False(t, other.Duplicate)
}

// A report that does not parse whole is rejected whole: ImportRejected,
// alone, says why; nothing else is appended, and sending it again changes
// nothing.
func TestImportReport_RejectedWhole(t *testing.T) {
	t.Parallel()
	good := sample(t, after)
	for name, body := range map[string][]byte{
		"truncated":      good[:len(good)/2],
		"an object":      []byte(`{"findings": []}`),
		"empty":          {},
		"not a report":   []byte("hello;world\n1;2\n"),
		"unknown result": bytes.Replace(good, []byte(`"status_code": "PASS"`), []byte(`"status_code": "MAYBE"`), 1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, h := importer(t)
			res, err := imp(t, h, commandstest.TeamA, body, "")
			var rejected *cloudsecurity.RejectedError
			require.ErrorAs(t, err, &rejected)
			assert.Equal(t, cloudsecurity.ImportRejected, res.Status)
			assert.NotEmpty(t, res.Reason)
			assert.Equal(t, int64(1), d.Head(t), "only the rejection is recorded")
			evs := d.Decoded(t, "import-"+res.ImportID)
			require.Len(t, evs, 1)
			assert.Equal(t, res.Reason, evs[0].(csdomain.ImportRejected).Reason)

			again, err := imp(t, h, commandstest.TeamA, body, "")
			require.ErrorAs(t, err, &rejected)
			assert.True(t, again.Duplicate)
			assert.Equal(t, int64(1), d.Head(t))
		})
	}
}

// An import may complete a requested (or running) scan of the caller's
// team; not a completed one, and not another team's.
func TestImportReport_IntoRequestedScan(t *testing.T) {
	t.Parallel()
	d, h := importer(t)
	scanID := d.RequestScan(t, commandstest.TeamA)
	res, err := imp(t, h, commandstest.TeamA, sample(t, before), scanID)
	require.NoError(t, err)
	assert.Equal(t, scanID, res.ScanID)
	scan := d.Decoded(t, commands.ScanStreamID(scanID))
	require.Len(t, scan, 3)
	assert.IsType(t, orchdomain.ScanStarted{}, scan[1])
	assert.IsType(t, orchdomain.ScanCompleted{}, scan[2])

	head := d.Head(t)
	_, err = imp(t, h, commandstest.TeamA, sample(t, after), scanID)
	commandstest.RequireRule(t, err, orchdomain.CodeScanAlreadyCompleted)
	assert.Equal(t, head, d.Head(t), "nothing appended")

	other := d.RequestScan(t, commandstest.TeamA)
	_, err = imp(t, h, commandstest.TeamB, sample(t, after), other)
	require.ErrorIs(t, err, domain.ErrNotFound)
}

// An import cut off half way (the process died between two appends) is
// resumed by importing the same report again: the rest is appended, the
// completion last, and the events are those of an import done in one go.
func TestImportReport_ResumesACutImport(t *testing.T) {
	t.Parallel()
	d := commandstest.New(t)
	body := sample(t, after)
	failing := &failingBatches{BatchStore: d.Store, after: 1}
	h := cloudsecurity.New(d.Kit).WithImports(parsersPort{}, failing)
	h.SetImportLimits(400, 2) // a result per chunk, two events per append
	_, err := imp(t, h, commandstest.TeamA, body, "")
	require.ErrorIs(t, err, errCut)
	cut := d.Head(t)
	require.Equal(t, int64(2), cut, "one append of two events went through")

	failing.after = -1
	res, err := imp(t, h, commandstest.TeamA, body, "")
	require.NoError(t, err)
	assert.Equal(t, cloudsecurity.ImportCompleted, res.Status)
	evs := d.Decoded(t, "import-"+res.ImportID)
	assert.Greater(t, len(evs), 6, "several chunks")
	assert.IsType(t, csdomain.ImportCompleted{}, evs[len(evs)-1])
	var results int
	for _, e := range evs {
		if rr, ok := e.(csdomain.ResultsRecorded); ok {
			results += len(rr.Results)
		}
	}
	assert.Equal(t, res.Counts.Results, results, "every result once")

	// The same report in one go elsewhere makes the same import events.
	d2, h2 := importer(t)
	h2.SetImportLimits(400, 2)
	res2, err := imp(t, h2, commandstest.TeamA, body, "")
	require.NoError(t, err)
	assert.Len(t, d2.Decoded(t, "import-"+res2.ImportID), len(evs))
}

var errCut = errors.New("the process died here")

// failingBatches lets after batch appends through, then fails (after < 0:
// never fails).
type failingBatches struct {
	commands.BatchStore
	after int
}

func (f *failingBatches) AppendBatch(ctx context.Context, reqs []eventstore.AppendRequest) ([]eventstore.AppendResult, error) {
	if f.after == 0 {
		return nil, errCut
	}
	f.after--
	return f.BatchStore.AppendBatch(ctx, reqs)
}

// A report that cannot be read in full (the client went away, the body
// limit stopped it) is not the sender's report: it is neither recorded nor
// rejected, whether the parser or the hashing meets the error.
func TestImportReport_UnreadableBodyRecordsNothing(t *testing.T) {
	t.Parallel()
	good := sample(t, after)
	broken := errors.New("connection reset")
	for name, at := range map[string]int{"while parsing": 100, "after the parser stopped": len(good) - 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, h := importer(t)
			body := io.MultiReader(bytes.NewReader(good[:at]), iotest.ErrReader(broken))
			_, err := h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{Body: body})
			require.ErrorIs(t, err, broken)
			var rejected *cloudsecurity.RejectedError
			assert.NotErrorAs(t, err, &rejected)
			assert.Zero(t, d.Head(t), "nothing recorded")
		})
	}
}

// What the caller says of a report is checked before any of it is read: a
// bad format, media type, scan id or file name is a validation error
// naming the field, and nothing is recorded.
func TestImportReport_InvalidRequestRecordsNothing(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		cmd   cloudsecurity.ImportReport
		field string
	}{
		"unknown format": {cloudsecurity.ImportReport{Format: "nessus"}, "format"},
		"bad scan id":    {cloudsecurity.ImportReport{ScanID: "scan/1"}, "scan_id"},
		"long file name": {cloudsecurity.ImportReport{FileName: strings.Repeat("x", domain.MaxShortText+1)}, "file_name"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, h := importer(t)
			body := &countReads{r: bytes.NewReader(sample(t, after))}
			tc.cmd.Body = body
			_, err := h.ImportReport(t.Context(), commandstest.TeamA, tc.cmd)
			var verr *domain.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Fields, 1)
			assert.Equal(t, tc.field, verr.Fields[0].Field)
			assert.Zero(t, body.n, "the report is not read")
			assert.Zero(t, d.Head(t), "nothing recorded")
		})
	}
	for name, ct := range map[string]string{"unknown media type": "image/png", "bad media type": "a;;b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, h := importer(t)
			body := &countReads{r: bytes.NewReader(sample(t, after))}
			_, err := h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{ContentType: ct, Body: body})
			var unsupported *cloudsecurity.UnsupportedMediaTypeError
			require.ErrorAs(t, err, &unsupported)
			assert.Zero(t, body.n, "the report is not read")
			assert.Zero(t, d.Head(t), "nothing recorded")
		})
	}
	for name, cmd := range map[string]cloudsecurity.ImportReport{
		"format by name":          {Format: "json-ocsf"},
		"format by media type":    {ContentType: "application/vnd.prowler.ocsf+json"},
		"detected from json":      {ContentType: "application/json; charset=utf-8"},
		"detected from no header": {},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, h := importer(t)
			cmd.Body = bytes.NewReader(sample(t, after))
			res, err := h.ImportReport(t.Context(), commandstest.TeamA, cmd)
			require.NoError(t, err)
			assert.Equal(t, "prowler-ocsf", res.Format)
		})
	}
}

type countReads struct {
	r io.Reader
	n int
}

func (c *countReads) Read(p []byte) (int, error) { c.n++; return c.r.Read(p) }

// A report that holds no result but whose format is certain (a CSV with
// its header only; an empty JSON array of a named format) is an empty
// scan: imported, its scan completed, evaluating nothing (so it fixes
// nothing). An empty array of no named format is ambiguous: rejected.
func TestImportReport_EmptyReportIsAnEmptyScan(t *testing.T) {
	t.Parallel()
	csv := sample(t, "ours_v3_shaped_csv_aws.csv")
	header := csv[:bytes.IndexByte(csv, '\n')+1]
	for name, cmd := range map[string]cloudsecurity.ImportReport{
		"header-only csv":           {Body: bytes.NewReader(header)},
		"empty array, format named": {Body: strings.NewReader("[]"), Format: "prowler-ocsf"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, h := importer(t)
			res, err := h.ImportReport(t.Context(), commandstest.TeamA, cmd)
			require.NoError(t, err)
			assert.Equal(t, cloudsecurity.ImportCompleted, res.Status)
			require.NotNil(t, res.Counts)
			assert.Zero(t, res.Counts.Results)
			var completed csdomain.ImportCompleted
			for _, ev := range d.Decoded(t, "import-"+res.ImportID) {
				if c, ok := ev.(csdomain.ImportCompleted); ok {
					completed = c
				}
			}
			assert.Empty(t, completed.Scopes, "it evaluated nothing")
			scan := d.Decoded(t, "scan-"+res.ScanID)
			assert.IsType(t, orchdomain.ScanCompleted{}, scan[len(scan)-1])
		})
	}
	t.Run("empty array, no format", func(t *testing.T) {
		t.Parallel()
		_, h := importer(t)
		_, err := h.ImportReport(t.Context(), commandstest.TeamA, cloudsecurity.ImportReport{Body: strings.NewReader("[]")})
		var rejected *cloudsecurity.RejectedError
		require.ErrorAs(t, err, &rejected)
		assert.Contains(t, rejected.Result.Reason, "ambiguous")
	})
}
