package eventstore

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testKey(t *testing.T, fill byte) AuditKey {
	t.Helper()
	k, err := NewAuditKey(bytes.Repeat([]byte{fill}, AuditKeySize))
	require.NoError(t, err)
	return k
}

func TestAuditKeyID(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	assert.Len(t, a.ID(), 16)
	assert.NotEqual(t, a.ID(), b.ID())
	assert.Equal(t, a.ID(), testKey(t, 1).ID(), "the id depends on the key only")
	assert.Equal(t, EmptyKeyID, AuditKey{}.ID())
	assert.NotEqual(t, EmptyKeyID, a.ID())
	assert.True(t, AuditKey{}.IsZero())
	assert.False(t, a.IsZero())
	assert.NotContains(t, a.String(), "0101", "String never shows the secret")
	_, err := NewAuditKey([]byte("short"))
	assert.Error(t, err)
	g1, err := GenerateAuditKey()
	require.NoError(t, err)
	g2, err := GenerateAuditKey()
	require.NoError(t, err)
	assert.NotEqual(t, g1.ID(), g2.ID())
}

// The global chain's hash is pinned: stored log hashes must keep verifying
// across releases.
func TestLogHash(t *testing.T) {
	k := testKey(t, 7)
	h := LogHash(k, "", 1, "abc")
	assert.Equal(t, goldenLogHash, h)
	hasher := k.LogHasher()
	assert.Equal(t, h, hasher.Next("", 1, "abc"), "the reusable hasher agrees")
	assert.Equal(t, h, hasher.Next("", 1, "abc"), "and keeps agreeing")
	for name, other := range map[string]string{
		"key":      LogHash(testKey(t, 8), "", 1, "abc"),
		"empty":    LogHash(AuditKey{}, "", 1, "abc"),
		"prev":     LogHash(k, "x", 1, "abc"),
		"position": LogHash(k, "", 2, "abc"),
		"hash":     LogHash(k, "", 1, "abd"),
		"boundary": LogHash(k, "1", 1, "bc"),
	} {
		assert.NotEqual(t, h, other, name)
	}
}

// HMAC-SHA256(0x07×32, "11:cspm-log-v1;0:;1:1;3:abc;"), computed independently.
const goldenLogHash = "b0345e71047e1b226b80c0a0f92cd31f2dc4e7becd69d51bc39be4b2b41924c6"

func TestIdempotencyMAC(t *testing.T) {
	k := testKey(t, 3)
	res := AppendResult{StreamID: "s", Version: 3, Positions: []int64{7, 8}, EventIDs: []string{"a", "b"}}
	m := IdempotencyMAC(k, "key", "fp", res)
	same := res
	same.Positions, same.Duplicate = nil, true
	assert.Equal(t, m, IdempotencyMAC(k, "key", "fp", same), "positions and duplicate are not covered")
	for name, mutate := range map[string]func(r *AppendResult) (string, string){
		"stream":   func(r *AppendResult) (string, string) { r.StreamID = "t"; return "key", "fp" },
		"version":  func(r *AppendResult) (string, string) { r.Version = 4; return "key", "fp" },
		"event id": func(r *AppendResult) (string, string) { r.EventIDs = []string{"a", "c"}; return "key", "fp" },
		"ids":      func(r *AppendResult) (string, string) { r.EventIDs = []string{"ab"}; return "key", "fp" },
		"key":      func(*AppendResult) (string, string) { return "kez", "fp" },
		"fp":       func(*AppendResult) (string, string) { return "key", "fq" },
	} {
		r := res
		key, fp := mutate(&r)
		assert.NotEqual(t, m, IdempotencyMAC(k, key, fp, r), name)
	}
	assert.NotEqual(t, m, IdempotencyMAC(testKey(t, 4), "key", "fp", res), "another key")
}

func TestCheckpointMAC(t *testing.T) {
	k := testKey(t, 5)
	c := Checkpoint{StoreID: "st", Position: 9, LogHash: "lh", TakenAt: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Reason: CheckpointStop}
	c.MAC = CheckpointMAC(k, c)
	assert.True(t, c.Valid(k))
	assert.False(t, c.Valid(testKey(t, 6)))
	for name, mutate := range map[string]func(c *Checkpoint){
		"store":    func(c *Checkpoint) { c.StoreID = "su" },
		"position": func(c *Checkpoint) { c.Position = 10 },
		"log hash": func(c *Checkpoint) { c.LogHash = "lj" },
		"time":     func(c *Checkpoint) { c.TakenAt = c.TakenAt.Add(time.Millisecond) },
		"reason":   func(c *Checkpoint) { c.Reason = CheckpointCLI },
		"mac":      func(c *Checkpoint) { c.MAC = c.MAC[:len(c.MAC)-1] + "0" },
	} {
		x := c
		mutate(&x)
		assert.False(t, x.Valid(k), name)
	}

	// The copy round-trips through its file, mode 0600.
	dir := t.TempDir()
	path := CheckpointFile(dir, c.StoreID)
	require.NoError(t, writeCheckpointFile(path, c))
	back, err := ReadCheckpointFile(path)
	require.NoError(t, err)
	assert.True(t, back.Valid(k))
	assert.Equal(t, c, back)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = ReadCheckpointFile(filepath.Join(dir, "nope.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, leftovers)
}

func TestAuditKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	path := filepath.Join(dir, AuditKeyFile)
	_, err := ReadAuditKeyFile(path)
	require.ErrorIs(t, err, fs.ErrNotExist)

	k, err := CreateAuditKeyFile(path)
	require.NoError(t, err)
	back, err := ReadAuditKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, k.ID(), back.ID())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())

	_, err = CreateAuditKeyFile(path)
	require.ErrorIs(t, err, ErrAuditKeyExists, "a key is never overwritten")
	again, err := ReadAuditKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, k.ID(), again.ID())
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	assert.Empty(t, leftovers)

	require.NoError(t, os.WriteFile(path, []byte("not hex\n"), 0o600))
	_, err = ReadAuditKeyFile(path)
	assert.ErrorContains(t, err, "not 32 hex-encoded bytes")
}

func TestMetadataExtraKeys(t *testing.T) {
	plain := Metadata{TeamID: "t", Actor: "a<b>", Route: "POST /x"}
	stored, err := json.Marshal(plain)
	require.NoError(t, err)
	assert.JSONEq(t, `{"team_id":"t","actor":"a\u003cb\u003e","route":"POST /x"}`, string(stored))
	back, err := DecodeMetadata(stored)
	require.NoError(t, err)
	assert.Equal(t, plain, back, "the stored form has no extra")

	for name, tc := range map[string]struct {
		stored string
		want   Metadata
	}{
		"added key":        {`{"team_id":"t","x":{"b":1,"a":2}}`, Metadata{TeamID: "t", Extra: map[string]json.RawMessage{"x": json.RawMessage(`{"a":2,"b":1}`)}}},
		"other case":       {`{"team_id":"t","TEAM_ID":"t"}`, Metadata{TeamID: "t", Extra: map[string]json.RawMessage{"TEAM_ID": json.RawMessage(`"t"`)}}},
		"known key number": {`{"team_id":1}`, Metadata{Extra: map[string]json.RawMessage{"team_id": json.RawMessage(`1`)}}},
		"known key null":   {`{"actor":null,"team_id":"t"}`, Metadata{TeamID: "t", Extra: map[string]json.RawMessage{"actor": json.RawMessage(`null`)}}},
		"known key empty":  {`{"actor":"","team_id":"t"}`, Metadata{TeamID: "t", Extra: map[string]json.RawMessage{"actor": json.RawMessage(`""`)}}},
		"spacing only":     {` { "team_id" : "t" } `, Metadata{TeamID: "t"}},
		"escaped value":    {`{"actor":"a\"b\u003c"}`, Metadata{Actor: `a"b<`}},
		"escaped key":      {`{"team\u005fid":"t"}`, Metadata{TeamID: "t"}},
		"duplicate key":    {`{"team_id":"a","team_id":"b"}`, Metadata{TeamID: "b"}},
		"empty object":     {`{}`, Metadata{}},
		"null":             {`null`, Metadata{}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeMetadata([]byte(tc.stored))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			var viaJSON Metadata
			require.NoError(t, json.Unmarshal([]byte(tc.stored), &viaJSON))
			assert.Equal(t, tc.want, viaJSON, "UnmarshalJSON agrees")
			// Extras are exported as stored and read back the same.
			again, err := json.Marshal(got)
			require.NoError(t, err)
			back, err := DecodeMetadata(again)
			require.NoError(t, err)
			assert.Equal(t, got, back, "%s", again)
			// An extra changes the hash; none keeps it.
			e := sampleEvent()
			e.Metadata = got
			withExtra := ComputeHash(e)
			e.Metadata.Extra = nil
			if len(got.Extra) > 0 {
				assert.NotEqual(t, ComputeHash(e), withExtra)
			}
		})
	}
	_, err = DecodeMetadata([]byte(`[1]`))
	assert.Error(t, err)

	err = AppendRequest{StreamID: "s", StreamType: "t", Events: []NewEvent{{Type: "E", SchemaVersion: 1, Data: json.RawMessage(`{}`)}},
		Metadata: Metadata{Extra: map[string]json.RawMessage{"x": json.RawMessage(`1`)}}}.Validate()
	assert.ErrorIs(t, err, ErrInvalidAppend, "the store never writes extra keys")
}

func TestBrokenLinkString(t *testing.T) {
	for want, b := range map[string]BrokenLink{
		"first broken link at position 3: stream s version 2, event e: r": {Position: 3, StreamID: "s", Version: 2, EventID: "e", Reason: "r"},
		"first broken link at position 5: log truncated":                  {Position: 5, Reason: "log truncated"},
		"first broken link: stream s version 1: r":                        {StreamID: "s", Version: 1, Reason: "r"},
		"first broken link: audit key does not match":                     {Reason: "audit key does not match"},
	} {
		assert.Equal(t, want, b.String())
	}
}

// BenchmarkLogHash is the cost the global chain adds to each appended event.
func BenchmarkLogHash(b *testing.B) {
	k, err := GenerateAuditKey()
	if err != nil {
		b.Fatal(err)
	}
	h := k.LogHasher()
	prev, hash := LogHash(k, "", 1, "x"), LogHash(k, "", 2, "y")
	b.ReportAllocs()
	for i := range b.N {
		prev = h.Next(prev, int64(i), hash)
	}
}

// BenchmarkDecodeMetadata is what reading an event's metadata costs now
// that every stored key is found ("plain" is encoding/json alone, before).
func BenchmarkDecodeMetadata(b *testing.B) {
	raw, err := json.Marshal(Metadata{TeamID: "team-1", Actor: "key:0190b3c4", CorrelationID: "corr-1", CommandID: "0190b3c4-7a2b-7c3d-8e4f-5a6b7c8d9e14", Route: "POST /api/v1/scans"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var m metadataFields
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeMetadata", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := DecodeMetadata(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Metadata's JSON follows the caller's HTML escaping, like a plain struct.
func TestMetadataJSONEscaping(t *testing.T) {
	m := Metadata{Actor: "a<b>&c"}
	escaped, err := json.Marshal(m)
	require.NoError(t, err)
	assert.Equal(t, `{"actor":"a\u003cb\u003e\u0026c"}`, string(escaped))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(m))
	assert.Equal(t, `{"actor":"a<b>&c"}`+"\n", buf.String())
}
