package sqlitestore

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 7e6, time.UTC)
	in, err := readmodel.NormalizeDoc(readmodel.Doc{
		"_id": "x", "s": "a\"b\\c\n\x02", "esc0": "\x00", "esc1": "\x01S", "t": at, "f": 3.0, "f2": -0.5, "big": 1e21,
		"i": int64(math.MinInt64), "b": false, "n": nil, "a": []any{at, "\x01Tx"}, "o": map[string]any{"z": 1, "a": 2},
	})
	require.NoError(t, err)
	enc, err := encodeDoc(in)
	require.NoError(t, err)
	require.Contains(t, string(enc), `"f":3.0`)
	require.Contains(t, string(enc), `"t":"\u0001T2025-06-01T12:00:00.007Z"`)
	require.Contains(t, string(enc), `"esc1":"\u0001S\u0001S"`)
	require.Contains(t, string(enc), `"o":{"a":2,"z":1}`, "keys sorted")
	require.NotContains(t, string(enc), `"_id"`)
	out, err := decodeDoc("x", enc)
	require.NoError(t, err)
	require.Equal(t, in, out)
}

func TestStoredTimesSortAsText(t *testing.T) {
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 1e6, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := encodeTime(times[i-1]), encodeTime(times[i])
		require.Less(t, a, b)
		require.Len(t, b, len(a), "fixed width")
		require.True(t, a >= timeLo && b < timeHi)
	}
	require.Less(t, encodeString(""), timeLo)
	require.Less(t, encodeString("\x00"), timeLo)
	require.Less(t, encodeString("\x01T"), timeLo, "escaped strings stay below the time band")
	require.Greater(t, encodeString("\x02"), timeHi)
}

func TestParserMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `{"a":[]}`, ` { "a" : [ 1 , -2.5e3 , true , false , null ] } `,
		`{"s":"\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","k\u0041":"x"}`,
		`{"big":123456789012345678901234567890,"neg":-0,"exp":1E2}`,
	} {
		got, err := decodeJSON([]byte(in))
		require.NoError(t, err, in)
		var want any
		require.NoError(t, json.Unmarshal([]byte(in), &want))
		require.Equal(t, normalizeNumbers(want), normalizeNumbers(got), in)
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `"x`, `"\x"`, `"\u12"`, "\"a\x01\"", `tru`, `{} x`, "\"\xff\""} {
		_, err := decodeJSON([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}

// normalizeNumbers makes every number a float64 for comparison.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"\u0001T2025-01-01T00:00:00.000Z",{"b":null}]}`))
	f.Add([]byte(`"\ud83d\ude00"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q as %v", data, got)
		}
	})
}
