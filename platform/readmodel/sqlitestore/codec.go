package sqlitestore

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Documents are stored as JSON text without their _id (it is the id
// column). JSON has no time type and one number type, so:
//
//   - a time is the string "\x01T" + "2006-01-02T15:04:05.000Z": fixed
//     width, so text order is time order, and json_extract returns it as
//     text that compares and indexes correctly;
//   - a string whose first byte is \x00 or \x01 is stored behind the escape
//     "\x01S", so no string is ever mistaken for a time (and the relative
//     order of strings is kept);
//   - an int64 is a JSON integer; a float64 always carries a fraction or an
//     exponent ("3.0"), so each reads back with its own type.
//
// Every time sorts between the bounds [timeLo, timeHi), apart from every
// string.
const (
	timeMark   = "\x01T"
	escapeMark = "\x01S"
	timeLo     = "\x01T"
	timeHi     = "\x01U"
	maxDocSize = 16 << 20 // the MongoDB limit, enforced here too
)

// encodeDoc renders a normalized document as JSON, keys sorted, _id left out.
func encodeDoc(d readmodel.Doc) ([]byte, error) {
	buf := make([]byte, 0, 256)
	buf = append(buf, '{')
	first := true
	for _, k := range slices.Sorted(maps.Keys(d)) {
		if k == readmodel.IDField {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = appendValue(buf, d[k])
	}
	buf = append(buf, '}')
	if len(buf) > maxDocSize {
		return nil, readmodel.Invalidf("document %q: %d bytes encoded, above the %d limit", d.ID(), len(buf), maxDocSize)
	}
	return buf, nil
}

func appendValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendString(buf, encodeString(x))
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case float64:
		n := len(buf)
		buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		if !bytes.ContainsAny(buf[n:], ".eE") {
			buf = append(buf, ".0"...)
		}
		return buf
	case bool:
		return strconv.AppendBool(buf, x)
	case time.Time:
		return appendString(buf, encodeTime(x))
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		buf = append(buf, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendValue(buf, x[k])
		}
		return append(buf, '}')
	}
	panic(fmt.Sprintf("sqlitestore: non-canonical value %T", v)) // NormalizeDoc ran first
}

const hexDigits = "0123456789abcdef"

// appendString writes s (valid UTF-8) as a JSON string.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// encodeString is the stored form of a string value.
func encodeString(s string) string {
	if s != "" && s[0] <= 0x01 {
		return escapeMark + s
	}
	return s
}

// encodeTime is the stored form of a time value.
func encodeTime(t time.Time) string { return timeMark + t.UTC().Format(readmodel.TimeLayout) }

// decodeString turns a stored string back into a string or a time.
func decodeString(s string) (any, error) {
	switch {
	case strings.HasPrefix(s, timeMark):
		t, err := time.Parse(readmodel.TimeLayout, s[len(timeMark):])
		if err != nil {
			return nil, fmt.Errorf("stored time %q: %w", s[len(timeMark):], err)
		}
		return t, nil
	case strings.HasPrefix(s, escapeMark):
		return s[len(escapeMark):], nil
	}
	return s, nil
}

// decodeDoc parses a stored document and puts its _id back.
func decodeDoc(id string, data []byte) (readmodel.Doc, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("document %q: %w", id, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("document %q: stored JSON is not an object", id)
	}
	m[readmodel.IDField] = id
	return readmodel.Doc(m), nil
}

func parseNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("stored number %q: %w", s, err)
	}
	return f, nil
}

// bindValue is the SQL parameter that compares with json_extract of a
// stored canonical scalar.
func bindValue(v any) any {
	switch x := v.(type) {
	case string:
		return encodeString(x)
	case time.Time:
		return encodeTime(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return v // nil, int64, float64
}

// groupKey renders a (json_type, json_extract) pair as readmodel.GroupKey
// would render the decoded value.
func groupKey(jsonType *string, v any) (string, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if jsonType == nil {
		return "", nil
	}
	switch *jsonType {
	case "null":
		return "", nil
	case "true", "false":
		return *jsonType, nil
	case "integer", "real":
		return readmodel.GroupKey(v), nil
	case "text":
		s, _ := v.(string)
		d, err := decodeString(s)
		if err != nil {
			return "", err
		}
		return readmodel.GroupKey(d), nil
	}
	s, _ := v.(string) // array or object: its JSON text
	d, err := decodeJSON([]byte(s))
	if err != nil {
		return "", err
	}
	return readmodel.GroupKey(d), nil
}
