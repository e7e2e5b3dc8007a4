package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathsAt names the path of every kind of place a string can be.
func TestPathsAt(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a": "x", "b": {"c": [1, "y", {"d": ["z", "w"]}], "e": null}, "f": [[true, "v"], []], "g": "u", "h\u00e9": 1.5e300}`)
	var offs []int64
	for _, s := range []string{`"x"`, `"y"`, `"z"`, `"w"`, `"v"`, `"u"`, `"h\u00e9"`} {
		i := bytes.Index(body, []byte(s))
		require.GreaterOrEqual(t, i, 0, s)
		offs = append(offs, int64(i+1))
	}
	assert.Equal(t, []string{"a", "b.c[1]", "b.c[2].d[0]", "b.c[2].d[1]", "f[0][1]", "g", "hé"}, pathsAt(body, offs))
}

// loneSurrogates sees escapes only: a backslash escaped before a "u" is text.
func TestLoneSurrogates(t *testing.T) {
	t.Parallel()
	for body, want := range map[string][]int64{
		`{"a": "\ud800"}`:               {7},
		`{"a": "\\ud800"}`:              nil,
		`{"a": "\\\ud800"}`:             {9},
		`{"a": "\ud800\udc00\udc00"}`:   {19},
		`{"a": "\ud800\ud800\udc00"}`:   {7},
		`{"a": "\ud800\u0041"}`:         {7},
		`{"a": "\u00e9\"\n\t\/\ud800"}`: {21},
		`{"a": "\ud800"`:                {7}, // the decoder refuses it before: no panic either way
	} {
		var got []int64
		for _, p := range loneSurrogates([]byte(body), maxDetails) {
			got = append(got, p.off)
		}
		assert.Equal(t, want, got, body)
	}
}

// textBody is a findings batch of about size bytes: ASCII, UTF-8 beyond
// ASCII, escapes and surrogate pairs, as a scanner would send.
func textBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"findings": [`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"finding_id": "f-%d", "check_id": "s3_bucket_public_access", "title": "Bucket \"logs-%d\" is public — Zugriff für alle (日本)", `+
			`"severity": "high", "resource_id": "arn:aws:s3:::logs-%d", "region": "eu-west-1", `+
			`"description": "Line one.\nLine two \u00e9\u00e8 \ud83d\ude00 C:\\path\\to\\file %s"}`, i, i, i, strings.Repeat("lorem ipsum ", 20))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestTextBodyIsFine(t *testing.T) {
	t.Parallel()
	body := textBody(64 << 10)
	require.True(t, json.Valid(body))
	assert.Empty(t, badText(body))
}

// BenchmarkBadText is the check on a 16 MiB findings body (the ingest
// limit) with nothing wrong in it: the cost every accepted body pays.
func BenchmarkBadText(b *testing.B) {
	body := textBody(16 << 20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if p := badText(body); p != nil {
			b.Fatal(p)
		}
	}
}

// BenchmarkDecodeIngestBody is the whole strict decode of the same body,
// for scale.
func BenchmarkDecodeIngestBody(b *testing.B) {
	body := textBody(16 << 20)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var dst struct {
			Findings []struct {
				FindingID   string `json:"finding_id"`
				CheckID     string `json:"check_id"`
				Title       string `json:"title"`
				Severity    string `json:"severity"`
				ResourceID  string `json:"resource_id"`
				Region      string `json:"region"`
				Description string `json:"description"`
			} `json:"findings"`
		}
		if err := decodeJSON(body, &dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBadTextEscapes is the worst case of the surrogate scan: a
// 16 MiB string of nothing but escapes.
func BenchmarkBadTextEscapes(b *testing.B) {
	body := []byte(`{"description": "` + strings.Repeat(`\n\u00e9\ud83d\ude00`, (16<<20)/20) + `"}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if p := badText(body); p != nil {
			b.Fatal(p)
		}
	}
}
