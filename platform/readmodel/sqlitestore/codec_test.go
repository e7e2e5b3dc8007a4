package sqlitestore

import (
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
