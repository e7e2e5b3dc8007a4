package cloudsecurity_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
)

// The results' chunks are spliced from the import's spool, not encoded by
// the codec: their stored bytes are what the codec writes for the same
// events, texts holding <, > and & included (no HTML escaping).
func TestImportReport_ChunksAreTheCodecsEncoding(t *testing.T) {
	t.Parallel()
	var report bytes.Buffer
	_, err := prowlergen.GenerateOCSF(&report, 300, prowlergen.Options{Seed: 3})
	require.NoError(t, err)
	body := bytes.ReplaceAll(report.Bytes(), []byte(" evidence "), []byte(" <evidence> & proof "))
	require.NotEqual(t, report.Bytes(), body, "the texts hold <, > and &")
	d, h := importer(t)
	h.SetImportLimits(8<<10, 5) // many chunks, several appends
	res, err := imp(t, h, commandstest.TeamA, body, "")
	require.NoError(t, err)
	raw := 0

	results := 0
	for _, rec := range d.Stream(t, "import-"+res.ImportID) {
		v, err := d.Codec.Decode(rec)
		require.NoError(t, err)
		rr, ok := v.(csdomain.ResultsRecorded)
		if !ok {
			continue
		}
		results += len(rr.Results)
		again, err := d.Codec.Encode(rr)
		require.NoError(t, err)
		require.Equal(t, string(again.Data), string(rec.Data))
		require.Equal(t, again.SchemaVersion, rec.SchemaVersion)
		require.NotContains(t, string(rec.Data), `\u0026`)
		if bytes.Contains(rec.Data, []byte("<evidence> & proof")) {
			raw++
		}
	}
	assert.Equal(t, 300, results)
	assert.Greater(t, res.Counts.Chunks, 10)
	assert.Positive(t, raw, "some chunks hold <, > and & as they are")
}

// A result the domain refuses, deep in a report the parser reads on,
// rejects the report with that result's reason; the whole body is hashed
// all the same (the rejection answers the same bytes sent again).
func TestImportReport_RefusedResultDeepInAReport(t *testing.T) {
	t.Parallel()
	var report bytes.Buffer
	_, err := prowlergen.GenerateOCSF(&report, 1000, prowlergen.Options{Seed: 4})
	require.NoError(t, err)
	var els []json.RawMessage
	require.NoError(t, json.Unmarshal(report.Bytes(), &els))
	var el map[string]any
	require.NoError(t, json.Unmarshal(els[700], &el))
	el["resources"].([]any)[0].(map[string]any)["uid"] = "arn:aws:s3:::" + strings.Repeat("x", 3000)
	els[700], err = json.Marshal(el)
	require.NoError(t, err)
	body, err := json.Marshal(els)
	require.NoError(t, err)

	d, h := importer(t)
	res, err := imp(t, h, commandstest.TeamA, body, "")
	var rejected *cloudsecurity.RejectedError
	require.ErrorAs(t, err, &rejected)
	assert.Contains(t, res.Reason, "result 700 ")
	assert.Contains(t, res.Reason, "resource")
	sum := sha256.Sum256(body)
	assert.Equal(t, hex.EncodeToString(sum[:]), res.ContentHash)
	assert.Equal(t, int64(len(body)), res.Size)
	assert.Equal(t, int64(1), d.Head(t), "only the rejection")
}
