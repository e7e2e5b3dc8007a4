package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/domain/access"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
)

// TestBadInputIsRejectedBeforeTheCommand: whatever is wrong with a request,
// the answer is a 4xx naming the problem and no command runs.
func TestBadInputIsRejectedBeforeTheCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
		wantField  string // "" to skip; the first detail's field
		wantIn     string
		wantOffset bool
	}{
		{
			name:       "syntax error",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": }`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "truncated",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "wrong type",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": 5, "provider": "aws", "tool": "prowler"}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "account_id", wantIn: api.InBody,
		},
		{
			name:       "unknown field (the team never comes from the body)",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a", "team_id": "other-team"}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "team_id",
		},
		{
			name:       "trailing object",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"} {}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "trailing garbage",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"} x`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "empty body",
			req:        request{Path: "/api/v1/scans", ContentType: "application/json"},
			wantStatus: 400, wantCode: api.CodeMalformedBody,
		},
		{
			name:       "blank body",
			req:        request{Path: "/api/v1/scans", Body: " \n\t "},
			wantStatus: 400, wantCode: api.CodeMalformedBody,
		},
		{
			name:       "array instead of object",
			req:        request{Path: "/api/v1/scans", Body: `[{"account_id": "a"}]`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "null instead of object",
			req:        request{Path: "/api/v1/scans", Body: `null`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantOffset: true,
		},
		{
			name:       "empty body where fields are required",
			req:        request{Path: "/api/v1/scans/s1/fail"},
			wantStatus: 400, wantCode: api.CodeMalformedBody,
		},
		{
			name:       "oversize body",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "` + strings.Repeat("a", 2000) + `"}`},
			wantStatus: 413, wantCode: api.CodePayloadTooLarge,
		},
		{
			name:       "oversize findings batch",
			req:        request{Path: "/api/v1/scans/s1/findings", Body: `{"findings": [{"title": "` + strings.Repeat("a", 5000) + `"}]}`},
			wantStatus: 413, wantCode: api.CodePayloadTooLarge,
		},
		{
			name:       "wrong content type",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"}`, ContentType: "text/plain"},
			wantStatus: 415, wantCode: api.CodeUnsupportedMediaType, wantField: "Content-Type", wantIn: api.InHeader,
		},
		{
			name:       "form content type",
			req:        request{Path: "/api/v1/scans", Body: `account_id=a`, ContentType: "application/x-www-form-urlencoded"},
			wantStatus: 415, wantCode: api.CodeUnsupportedMediaType,
		},
		{
			name:       "no content type",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"}`, ContentType: "-"},
			wantStatus: 415, wantCode: api.CodeUnsupportedMediaType,
		},
		{
			name:       "charset other than utf-8",
			req:        request{Path: "/api/v1/scans", Body: `{"account_id": "a"}`, ContentType: "application/json; charset=latin1"},
			wantStatus: 415, wantCode: api.CodeUnsupportedMediaType,
		},
		{
			name:       "idempotency key too long",
			req:        request{Path: "/api/v1/scans", Body: `{}`, Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "Idempotency-Key", wantIn: api.InHeader,
		},
		{
			name:       "idempotency key not ascii",
			req:        request{Path: "/api/v1/scans/s1/start", Header: map[string]string{"Idempotency-Key": "clé"}},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "Idempotency-Key", wantIn: api.InHeader,
		},
		{
			name:       "idempotency key with a control character",
			req:        request{Path: "/api/v1/scans/s1/start", Header: map[string]string{"Idempotency-Key": "a\tb"}},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "Idempotency-Key", wantIn: api.InHeader,
		},
		{
			name:       "idempotency key empty",
			req:        request{Path: "/api/v1/scans/s1/start", Header: map[string]string{"Idempotency-Key": ""}},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "Idempotency-Key", wantIn: api.InHeader,
		},
		{
			name:       "path id with a forbidden character",
			req:        request{Path: "/api/v1/scans/a$b/start"},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "id", wantIn: api.InPath,
		},
		{
			name:       "path id with an encoded slash",
			req:        request{Path: "/api/v1/findings/a%2Fb/resolve"},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "id", wantIn: api.InPath,
		},
		{
			name:       "path id too long",
			req:        request{Path: "/api/v1/findings/" + strings.Repeat("f", 129) + "/suppress", Body: `{"reason": "x"}`},
			wantStatus: 400, wantCode: api.CodeValidationFailed, wantField: "id", wantIn: api.InPath,
		},
		{
			name:       "wrong type in item 3 names the item",
			req:        request{Path: "/api/v1/scans/s1/findings", Body: findingsBody(5, 3, `"severity": 3`)},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "findings[3].severity",
		},
		{
			name:       "unknown field in item 1 names the item",
			req:        request{Path: "/api/v1/scans/s1/findings", Body: findingsBody(2, 1, `"severity": "high", "cvss": 9.8`)},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "findings[1].cvss",
		},
		{
			name:       "findings not an array",
			req:        request{Path: "/api/v1/scans/s1/findings", Body: `{"findings": {"check_id": "c"}}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "findings",
		},
		{
			name:       "timestamp not RFC 3339",
			req:        request{Path: "/api/v1/scans/s1/start", Body: `{"started_at": "yesterday"}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "started_at",
		},
		{
			name:       "timestamp not a string",
			req:        request{Path: "/api/v1/findings/f1/suppress", Body: `{"reason": "fp", "until": 1767225600}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "until",
		},
		{
			name:       "fraction where an integer is expected",
			req:        request{Path: "/api/v1/scans/s1/complete", Body: `{"resource_count": 1.5}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "resource_count",
		},
		{
			name:       "integer overflow",
			req:        request{Path: "/api/v1/scans/s1/complete", Body: `{"resource_count": 99999999999999999999999}`},
			wantStatus: 400, wantCode: api.CodeMalformedBody, wantField: "resource_count",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFakeEnv(t)
			res := serve(t, env.srv.Handler(), tt.req)
			assert.Equal(t, tt.wantStatus, res.Status, "body: %s", res.Raw)
			require.NotNil(t, res.Env.Error, "body: %s", res.Raw)
			assert.True(t, utf8.Valid(res.Raw), "the answer is UTF-8 whatever the request held")
			assert.False(t, res.Env.Success)
			assert.Equal(t, tt.wantCode, res.Env.Error.Code)
			if tt.wantField != "" || tt.wantOffset {
				require.NotEmpty(t, res.Env.Error.Details, "details must say where: %s", res.Raw)
			}
			if tt.wantField != "" {
				assert.Equal(t, tt.wantField, res.Env.Error.Details[0].Field)
			}
			if tt.wantIn != "" {
				assert.Equal(t, tt.wantIn, res.Env.Error.Details[0].In)
			}
			if tt.wantOffset {
				assert.NotNil(t, res.Env.Error.Details[0].Offset, "a syntax problem names its byte offset: %s", res.Raw)
			}
			assert.Empty(t, env.cmds.Calls(), "nothing may reach the command service")
		})
	}
}

// findingsBody is a batch of n valid findings whose item bad has fields
// replaced by badFields.
func findingsBody(n, bad int, badFields string) string {
	items := make([]string, n)
	for i := range items {
		fields := `"severity": "high"`
		if i == bad {
			fields = badFields
		}
		items[i] = `{"check_id": "c", "title": "t", "resource_id": "r", ` + fields + `}`
	}
	return `{"findings": [` + strings.Join(items, ", ") + `]}`
}

func TestEveryProblemIsListed(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	body := `{"findings": [{"severity": 1}, {"title": true, "nope": 1}, {"check_id": []}]}`
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/findings", Body: body})
	require.Equal(t, http.StatusBadRequest, res.Status)
	assert.Equal(t, []string{"findings[0].severity", "findings[1].title", "findings[1].nope", "findings[2].check_id"}, fields(res.Env))
}

// TestTextThatIsNotUnicodeIsRefused: bytes that are not UTF-8 and \u
// escapes of unpaired UTF-16 surrogates, which encoding/json would turn
// into U+FFFD silently, are a 400 naming the field (its JSON path) and
// the byte offset; nothing reaches the command.
func TestTextThatIsNotUnicodeIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body string
		want             []api.ErrorDetail
	}{
		{
			name: "a byte that is not UTF-8",
			path: "/api/v1/scans",
			body: "{\"account_id\": \"12\xff34\", \"provider\": \"aws\", \"tool\": \"t\"}",
			want: []api.ErrorDetail{{Field: "account_id", In: api.InBody, Offset: ptr[int64](18), Message: "is not valid UTF-8"}},
		},
		{
			name: "a truncated sequence, and an encoded surrogate (CESU-8)",
			path: "/api/v1/scans",
			body: "{\"account_id\": \"caf\xc3\", \"provider\": \"aws\", \"tool\": \"x\xed\xa0\x80\"}",
			want: []api.ErrorDetail{
				{Field: "account_id", In: api.InBody, Offset: ptr[int64](19), Message: "is not valid UTF-8"},
				{Field: "tool", In: api.InBody, Offset: ptr[int64](52), Message: "is not valid UTF-8"},
			},
		},
		{
			name: "a lone high surrogate",
			path: "/api/v1/scans/s1/fail",
			body: `{"reason": "a\ud800b"}`,
			want: []api.ErrorDetail{{Field: "reason", In: api.InBody, Offset: ptr[int64](13),
				Message: `holds \ud800, a UTF-16 high surrogate not followed by a low one (\udc00 to \udfff)`}},
		},
		{
			name: "a lone low surrogate, in upper case",
			path: "/api/v1/scans/s1/fail",
			body: `{"reason": "\uDC00"}`,
			want: []api.ErrorDetail{{Field: "reason", In: api.InBody, Offset: ptr[int64](12),
				Message: `holds \uDC00, a UTF-16 low surrogate without a high one before it`}},
		},
		{
			name: "a pair in the wrong order",
			path: "/api/v1/scans/s1/fail",
			body: `{"reason": "\ude00\ud83d"}`,
			want: []api.ErrorDetail{
				{Field: "reason", In: api.InBody, Offset: ptr[int64](12), Message: `holds \ude00, a UTF-16 low surrogate without a high one before it`},
				{Field: "reason", In: api.InBody, Offset: ptr[int64](18), Message: `holds \ud83d, a UTF-16 high surrogate not followed by a low one (\udc00 to \udfff)`},
			},
		},
		{
			name: "a high surrogate before an escaped backslash",
			path: "/api/v1/scans/s1/fail",
			body: `{"reason": "\ud83d\\ude00"}`,
			want: []api.ErrorDetail{{Field: "reason", In: api.InBody, Offset: ptr[int64](12),
				Message: `holds \ud83d, a UTF-16 high surrogate not followed by a low one (\udc00 to \udfff)`}},
		},
		{
			name: "in a findings batch, each item named",
			path: "/api/v1/scans/s1/findings",
			body: `{"findings": [` + strings.Join([]string{
				`{"check_id": "c", "title": "t", "severity": "high", "resource_id": "r"}`,
				`{"check_id": "c", "title": "t\ud800", "severity": "high", "resource_id": "r", "description": "\ud800 and \ud800"}`,
				"{\"check_id\": \"c\", \"title\": \"t\", \"severity\": \"high\", \"resource_id\": \"r\", \"region\": \"eu\x80\"}",
			}, ", ") + `]}`,
			want: []api.ErrorDetail{
				{Field: "findings[1].title", In: api.InBody, Offset: ptr[int64](116), Message: `holds \ud800, a UTF-16 high surrogate not followed by a low one (\udc00 to \udfff)`},
				{Field: "findings[1].description", In: api.InBody, Offset: ptr[int64](181), Message: `holds \ud800, a UTF-16 high surrogate not followed by a low one (\udc00 to \udfff)`},
				{Field: "findings[2].region", In: api.InBody, Offset: ptr[int64](287), Message: "is not valid UTF-8"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFakeEnv(t)
			res := serve(t, env.srv.Handler(), request{Path: tt.path, Body: tt.body})
			require.Equal(t, http.StatusBadRequest, res.Status, "body: %s", res.Raw)
			assert.Equal(t, api.CodeMalformedBody, res.Env.Error.Code)
			assert.Equal(t, tt.want, res.Env.Error.Details, "%s", res.Raw)
			for _, d := range tt.want { // the offset points at the escape, or at the byte
				if strings.HasPrefix(d.Message, "holds") {
					assert.Equal(t, `\u`, tt.body[*d.Offset:*d.Offset+2], "offset %d", *d.Offset)
				} else {
					assert.GreaterOrEqual(t, tt.body[*d.Offset], byte(utf8.RuneSelf), "offset %d", *d.Offset)
				}
			}
			assert.True(t, utf8.Valid(res.Raw))
			assert.Empty(t, env.cmds.Calls(), "nothing may reach the command service")
		})
	}
}

func TestUnknownLengthBodyOverLimit(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/scans", strings.NewReader(`{"account_id": "`+strings.Repeat("a", 5000)+`"}`))
	req.ContentLength = -1 // chunked: only the reader can tell
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey(access.Analyst, "team-a"))
	rec := httptest.NewRecorder()
	env.srv.Handler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, rec.Body.String(), api.CodePayloadTooLarge)
	assert.Empty(t, env.cmds.Calls())
}

func TestIngestRouteHasTheLargerLimit(t *testing.T) {
	t.Parallel()
	env := newFakeEnv(t) // BodyLimit 1024, IngestBodyLimit 4096
	body := findingsBody(20, -1, "")
	require.Greater(t, len(body), 1024)
	require.Less(t, len(body), 4096)
	res := serve(t, env.srv.Handler(), request{Path: "/api/v1/scans/s1/findings", Body: body})
	assert.Equal(t, http.StatusAccepted, res.Status, "body: %s", res.Raw)
}

func TestBodiesThatAreFine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  request
		want any
	}{
		{
			name: "optional body may be empty",
			req:  request{Path: "/api/v1/scans/scan-1/start"},
			want: orchcmd.StartScan{ScanID: "scan-1"},
		},
		{
			name: "optional body may be {}",
			req:  request{Path: "/api/v1/findings/f-1/resolve", Body: `{}`},
			want: cscmd.ResolveFinding{FindingID: "f-1"},
		},
		{
			name: "charset utf-8 and trailing whitespace",
			req:  request{Path: "/api/v1/scans/s:1.a_b-c/complete", Body: "{\"resource_count\": 3}\n\n", ContentType: "application/json; charset=UTF-8"},
			want: orchcmd.CompleteScan{ScanID: "s:1.a_b-c", ResourceCount: 3},
		},
		{
			name: "timestamps",
			req:  request{Path: "/api/v1/scans/s1/start", Body: `{"started_at": "2026-01-02T15:04:05Z"}`},
			want: orchcmd.StartScan{ScanID: "s1", StartedAt: ptr(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC))},
		},
		{
			name: "text beyond ASCII: UTF-8, escapes, a surrogate pair, an escaped backslash",
			req:  request{Path: "/api/v1/scans/s1/fail", Body: `{"reason": "café 日本 \u00e9 \ud83d\ude00 \uD83D\uDE00 \\ud800 \"\\\ud83d\ude00"}`},
			want: orchcmd.FailScan{ScanID: "s1", Reason: `café 日本 é 😀 😀 \ud800 "\😀`},
		},
		{
			name: "path id of 128 characters",
			req:  request{Path: "/api/v1/findings/" + strings.Repeat("f", 128) + "/suppress", Body: `{"reason": "accepted risk"}`},
			want: cscmd.SuppressFinding{FindingID: strings.Repeat("f", 128), Reason: "accepted risk"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newFakeEnv(t)
			res := serve(t, env.srv.Handler(), tt.req)
			assert.Equal(t, http.StatusAccepted, res.Status, "body: %s", res.Raw)
			calls := env.cmds.Calls()
			require.Len(t, calls, 1)
			assert.Equal(t, tt.want, calls[0].Cmd)
		})
	}
}

func ptr[T any](v T) *T { return &v }
