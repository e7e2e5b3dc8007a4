package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cspm-es/cspm-es/domain/access"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers"
)

// call is one command the fake received.
type call struct {
	Name string
	Meta commands.Meta
	Cmd  any
}

// fakeCommands records commands and answers with a canned result, error,
// panic, or by waiting for the request context to end.
type fakeCommands struct {
	mu        sync.Mutex
	calls     []call
	err       error
	panicWith any
	waitCtx   bool
	duplicate bool
}

func (f *fakeCommands) record(ctx context.Context, name string, m commands.Meta, cmd any) (commands.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, call{Name: name, Meta: m, Cmd: cmd})
	err, p, wait, dup := f.err, f.panicWith, f.waitCtx, f.duplicate
	f.mu.Unlock()
	if p != nil {
		panic(p)
	}
	if wait {
		<-ctx.Done()
		return commands.Result{}, ctx.Err()
	}
	if err != nil {
		return commands.Result{}, err
	}
	return commands.Result{ID: "scan-7", StreamID: "stream-1", Version: 1, Position: 7, EventIDs: []string{"ev-1"}, Duplicate: dup}, nil
}

func (f *fakeCommands) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeCommands) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeCommands) RequestScan(ctx context.Context, m commands.Meta, c orchcmd.RequestScan) (commands.Result, error) {
	return f.record(ctx, "RequestScan", m, c)
}

func (f *fakeCommands) StartScan(ctx context.Context, m commands.Meta, c orchcmd.StartScan) (commands.Result, error) {
	return f.record(ctx, "StartScan", m, c)
}

func (f *fakeCommands) CompleteScan(ctx context.Context, m commands.Meta, c orchcmd.CompleteScan) (commands.Result, error) {
	return f.record(ctx, "CompleteScan", m, c)
}

func (f *fakeCommands) FailScan(ctx context.Context, m commands.Meta, c orchcmd.FailScan) (commands.Result, error) {
	return f.record(ctx, "FailScan", m, c)
}

func (f *fakeCommands) RaiseFindings(ctx context.Context, m commands.Meta, c cscmd.RaiseFindings) (commands.BatchResult, error) {
	r, err := f.record(ctx, "RaiseFindings", m, c)
	if err != nil {
		return commands.BatchResult{}, err
	}
	items := make([]commands.Result, len(c.Findings))
	for i := range items {
		items[i] = r
		items[i].Position = r.Position + int64(i)
	}
	return commands.BatchResult{Items: items, Position: r.Position + int64(len(items)) - 1, Duplicate: r.Duplicate}, nil
}

func (f *fakeCommands) ResolveFinding(ctx context.Context, m commands.Meta, c cscmd.ResolveFinding) (commands.Result, error) {
	return f.record(ctx, "ResolveFinding", m, c)
}

func (f *fakeCommands) SuppressFinding(ctx context.Context, m commands.Meta, c cscmd.SuppressFinding) (commands.Result, error) {
	return f.record(ctx, "SuppressFinding", m, c)
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fakeEnv struct {
	srv      *api.Server
	cmds     *fakeCommands
	logs     *logBuffer
	registry *prometheus.Registry
}

func newFakeEnv(t testing.TB, mutate ...func(*api.ServerConfig, *api.Deps)) *fakeEnv {
	t.Helper()
	env := &fakeEnv{cmds: &fakeCommands{}, logs: &logBuffer{}, registry: prometheus.NewRegistry()}
	cfg := api.ServerConfig{
		BodyLimit:       1024,
		IngestBodyLimit: 4096,
		Logger:          slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	deps := api.Deps{Commands: env.cmds, Auth: testAuth, Metrics: env.registry}
	for _, m := range mutate {
		m(&cfg, &deps)
	}
	env.srv = api.NewServer(cfg, deps)
	return env
}

// request describes one HTTP call; a zero ContentType means JSON when
// there is a body.
type request struct {
	Method      string
	Path        string
	Body        string
	ContentType string
	Header      map[string]string
}

type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Env    api.Envelope
	Data   json.RawMessage
}

func newRequest(t testing.TB, target string, r request) *http.Request {
	t.Helper()
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	var body io.Reader = http.NoBody
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequest(r.Method, target+r.Path, body)
	require.NoError(t, err)
	switch {
	case r.ContentType == "-":
	case r.ContentType != "":
		req.Header.Set("Content-Type", r.ContentType)
	case r.Body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	if _, ok := r.Header["Authorization"]; !ok {
		req.Header.Set("Authorization", "Bearer "+testKey(access.Admin, "team-a"))
	}
	for k, v := range r.Header {
		if k == "Authorization" && v == "-" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// testKey is a token testAuth accepts: a key of role for team.
func testKey(role access.Role, team string) string { return "test." + string(role) + "." + team }

// testAuth accepts testKey tokens: key id "k-<role>-<team>". Requests
// carry testKey(admin, team-a) unless the request sets Authorization
// ("-" sends none).
var testAuth = api.AuthenticatorFunc(func(_ context.Context, token string) (access.Principal, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != "test" {
		return access.Principal{}, access.ErrUnauthenticated
	}
	role, err := access.ParseRole(parts[1])
	if err != nil {
		return access.Principal{}, access.ErrUnauthenticated
	}
	return access.Principal{KeyID: "k-" + parts[1] + "-" + parts[2], Name: "test key", TeamID: parts[2], Role: role}, nil
})

func readResponse(t testing.TB, status int, header http.Header, raw []byte) response {
	t.Helper()
	res := response{Status: status, Header: header, Raw: raw}
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		var data struct {
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(raw, &res.Env), "body: %s", raw)
		require.NoError(t, json.Unmarshal(raw, &data))
		res.Data = data.Data
	}
	return res
}

// serve runs r through h in process.
func serve(t testing.TB, h http.Handler, r request) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(t, "http://example.test", r))
	return readResponse(t, rec.Code, rec.Header(), rec.Body.Bytes())
}

// send runs r against a listening server at baseURL.
func send(t testing.TB, baseURL string, r request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(newRequest(t, baseURL, r))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return readResponse(t, resp.StatusCode, resp.Header, raw)
}

// fields lists the field of every error detail.
func fields(env api.Envelope) []string {
	if env.Error == nil {
		return nil
	}
	out := make([]string, len(env.Error.Details))
	for i, d := range env.Error.Details {
		out[i] = d.Field
	}
	return out
}

// moduleCommands is every module's command handlers on kit behind
// Deps.Commands, as the process wires them.
func moduleCommands(kit *commands.Kit) api.CommandModules {
	findings := cscmd.New(kit)
	if batch, ok := kit.Store().(commands.BatchStore); ok {
		findings = findings.WithImports(reportParsers{}, batch)
	}
	return api.CommandModules{OrchestrationCommands: orchcmd.New(kit), CloudSecurityCommands: findings}
}

// reportParsers adapts the parser registry to the import's port, as
// cmd/cspm does.
type reportParsers struct{ parsers.Registry }

func (p reportParsers) Parse(ctx context.Context, r io.Reader, format string, emit func(csdomain.Observation) error) (cscmd.ReportInfo, error) {
	info, err := p.Registry.Parse(ctx, r, format, emit)
	return cscmd.ReportInfo{Format: info.Format, Tool: info.Tool, ToolVersion: info.ToolVersion, Problems: info.Problems, ProblemsCount: info.ProblemsCount, Certificates: info.Certificates}, err
}

// importCall is what the fake's ImportReport received: the command with
// the report it read.
type importCall struct {
	Format, ContentType, ScanID, FileName string
	Report                                []byte
}

func (f *fakeCommands) ImportReport(ctx context.Context, m commands.Meta, c cscmd.ImportReport) (cscmd.ImportResult, error) {
	report, readErr := io.ReadAll(c.Body)
	r, err := f.record(ctx, "ImportReport", m, importCall{Format: c.Format, ContentType: c.ContentType, ScanID: c.ScanID, FileName: c.FileName, Report: report})
	if readErr != nil {
		return cscmd.ImportResult{}, readErr
	}
	if err != nil {
		return cscmd.ImportResult{}, err
	}
	return cscmd.ImportResult{ImportID: "imp-1", ScanID: "scn-1", Status: cscmd.ImportCompleted, ContentHash: "abc",
		Size: int64(len(report)), Events: 3, Position: r.Position, Duplicate: r.Duplicate}, nil
}
