package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/access"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
)

// FuzzImportReport sends any bytes as a report to the real import (real
// parsers, a real store). Whatever they are, the route never panics and
// never answers 5xx; a 202 is an import (events appended, or the same
// report's earlier import); a 422 REPORT_REJECTED records the rejection
// and nothing else; any other 4xx appends nothing.
func FuzzImportReport(f *testing.F) {
	before := prowlerReport(f, "ours_v5.34_shaped_ocsf_cloudtrail_scan1_before.ocsf.json")
	for _, s := range []string{
		before, before[:len(before)/2], prowlerReport(f, "ours_v3_shaped_csv_aws.csv"),
		prowlerReport(f, "prowler_v3_native_json_aws.json"), ``, `[]`, `{}`, `[{}]`, `null`, `[{"status_code":"FAIL"}]`,
		"\xff\xfe", `[{"metadata":{"event_code":"x"},"status_code":"FAIL","severity":"High","cloud":{"provider":"aws"}}]`,
	} {
		f.Add([]byte(s))
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "cspm_events.sqlite"),
		sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(f, err)
	f.Cleanup(func() { _ = store.Close() })
	srv := api.NewServer(api.ServerConfig{ImportBodyLimit: 1 << 20}, api.Deps{
		Commands: moduleCommands(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now)),
		Auth:     testAuth,
	})
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		head, err := store.HeadPosition(context.Background())
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/imports", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testKey(access.Analyst, "team-a"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var out api.Envelope
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), "always an envelope: %s", rec.Body.Bytes())
		after, err := store.HeadPosition(context.Background())
		require.NoError(t, err)
		replay := rec.Header().Get("Idempotent-Replayed") == "true"
		switch {
		case rec.Code == http.StatusAccepted:
			require.True(t, replay || after > head, "an import appends its events")
		case rec.Code == http.StatusUnprocessableEntity && out.Error != nil && out.Error.Code == api.CodeReportRejected:
			if !replay {
				require.Equal(t, head+1, after, "a rejection records itself and nothing else")
			}
		case rec.Code >= 400 && rec.Code < 500:
			require.NotNil(t, out.Error)
			require.Equal(t, head, after, "nothing appended: %s", rec.Body.Bytes())
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.Bytes())
		}
	})
}
