package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowFingerprint is Fingerprint without canonicalPlain's fast path.
func slowFingerprint(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	canon, err := CanonicalJSON(raw)
	require.NoError(t, err)
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

type fpFinding struct {
	FindingID   string `json:"finding_id,omitempty"`
	CheckID     string `json:"check_id"`
	Title       string `json:"title"`
	Severity    string `json:"severity"`
	ResourceID  string `json:"resource_id"`
	Region      string `json:"region,omitempty"`
	Description string `json:"description,omitempty"`
}

type fpInput struct {
	Command string `json:"command"`
	ID      string `json:"id,omitempty"`
	Body    any    `json:"body"`
}

// Fingerprint's fast path gives the bytes CanonicalJSON gives, so the
// fingerprints stored by earlier versions still match: for every value,
// fast path taken or not, the fingerprint is the slow path's.
func TestFingerprintFastPathIsCanonicalJSON(t *testing.T) {
	t.Parallel()
	batch := make([]fpFinding, 100)
	for i := range batch {
		batch[i] = fpFinding{CheckID: "s3_bucket_default_encryption", Title: "S3 bucket has no default encryption", Severity: "high",
			ResourceID: "arn:aws:s3:::logs-" + string(rune('a'+i%26)), Region: "eu-west-1", Description: "Enable SSE-S3 or SSE-KMS."}
	}
	values := map[string]struct {
		v    any
		fast bool // the fast path applies
	}{
		"a batch of findings": {fpInput{Command: "RaiseFindings", ID: "scan-1", Body: map[string]any{"findings": batch}}, true},
		"struct fields out of key order": {struct {
			Z int    `json:"z"`
			A string `json:"a"`
			M []any  `json:"m"`
		}{Z: 1, A: "x", M: []any{map[string]any{"b": 1, "a": []int{}}, nil, true, false, 1.5, -2, 1e21, math.SmallestNonzeroFloat64}}, true},
		"nested maps and empty values":         {map[string]any{"b": map[string]any{}, "a": []any{}, "c": map[string]any{"z": map[string]any{"y": 1, "x": 2}}, "": "empty key"}, true},
		"keys that sort by bytes":              {map[string]any{"a_b": 1, "aB": 2, "a": 3, "A": 4, "é": 5, "e": 6}, true},
		"a bare string":                        {"plain", true},
		"a number":                             {42, true},
		"null":                                 {nil, true},
		"HTML characters (escaped by Marshal)": {map[string]string{"t": "<b>&</b>"}, false},
		"quotes and newlines":                  {map[string]string{"t": "say \"hi\"\nbye\t!"}, false},
		"U+2028 and U+2029":                    {map[string]string{"t": "a\u2028b\u2029c"}, false},
		"invalid UTF-8":                        {map[string]string{"t": "a\xffb"}, false},
		"an escaped key":                       {map[string]int{"k\"ey": 1, "key": 2}, false},
		"raw JSON with a repeated key":         {json.RawMessage(`{"a":1,"a":2}`), false},
		"raw JSON numbers as written":          {json.RawMessage(`{"n":1.0,"m":-0,"e":1E5}`), true},
	}
	for name, tc := range values {
		t.Run(name, func(t *testing.T) {
			raw, err := json.Marshal(tc.v)
			require.NoError(t, err)
			_, fast := canonicalPlain(raw)
			assert.Equal(t, tc.fast, fast, "fast path taken: %s", raw)
			got, err := Fingerprint(tc.v)
			require.NoError(t, err)
			assert.Equal(t, slowFingerprint(t, tc.v), got)
		})
	}
}

// FuzzCanonicalPlain: whenever the fast path accepts valid JSON, its bytes
// are CanonicalJSON's.
func FuzzCanonicalPlain(f *testing.F) {
	for _, seed := range []string{`{"b":1,"a":[{"d":null,"c":true}]}`, `[1,-2.5e3,"x",{}]`, `{"a":1,"a":2}`, `"s"`, `{"<":"&"}`,
		`{"k":"v","":{"z":[],"y":{}}}`, `01`, `{"a":tru}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		fast, ok := canonicalPlain(in)
		if !ok {
			return
		}
		slow, err := CanonicalJSON(in)
		if err != nil {
			t.Fatalf("fast path accepted %q, CanonicalJSON refused it: %v", in, err)
		}
		if string(fast) != string(slow) {
			t.Fatalf("%q: fast %q, CanonicalJSON %q", in, fast, slow)
		}
	})
}

// BenchmarkFingerprint: a batch of 100 findings' fingerprint, with the
// fast path (canonicalPlain) and without it (CanonicalJSON), same run.
func BenchmarkFingerprint(b *testing.B) {
	batch := make([]fpFinding, 100)
	for i := range batch {
		batch[i] = fpFinding{CheckID: "s3_bucket_default_encryption", Title: "S3 bucket has no default encryption", Severity: "high",
			ResourceID: "arn:aws:s3:::logs-" + string(rune('a'+i%26)), Region: "eu-west-1", Description: "Enable SSE-S3 or SSE-KMS."}
	}
	v := fpInput{Command: "RaiseFindings", ID: "scan-1", Body: map[string]any{"findings": batch}}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := Fingerprint(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("canonical_json", func(b *testing.B) {
		for b.Loop() {
			raw, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			canon, err := CanonicalJSON(raw)
			if err != nil {
				b.Fatal(err)
			}
			_ = sha256.Sum256(canon)
		}
	})
}
