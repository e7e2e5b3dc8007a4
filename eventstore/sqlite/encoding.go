package sqlite

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/cspm-es/cspm-es/eventstore"
)

// Stored forms of the events columns since migration 3 (decision 96).
// The envelope is unchanged: these are encodings of its strings, decoded
// back to the exact strings before anything (the hash, Verify, a reader)
// sees them, so what the hash chain covers does not change.
//
//   - event_id: a canonical UUID (36 characters, lower-case hex) is stored
//     as its 16 bytes (BLOB); any other id as its text.
//   - prev_hash, hash, log_hash: a 64-character lower-case hex digest is
//     stored as its 32 bytes (BLOB); anything else ('' for the first
//     event of a stream, or a log hash not assigned yet) as its text.
//   - metadata: the binary form below (BLOB) when written by this
//     version; a JSON document (TEXT) when written before migration 3
//     (decoded by eventstore.DecodeMetadata, extra keys included).
//
// The columns are declared ANY (STRICT tables keep the value's own
// type), so the type of the stored value says which form it is: a text
// value is never decoded as bytes, whatever its length.

// uuidValue is the stored form of an event id.
func uuidValue(id string) any {
	var b [16]byte
	if !parseUUID(id, &b) {
		return id
	}
	return b[:]
}

// parseUUID decodes a canonical lower-case UUID
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) into b.
func parseUUID(s string, b *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' { // at 8, 13, 18 and 23 (checked above); the groups have even lengths
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		b[j] = hi<<4 | lo
		j++
		i += 2
	}
	return j == 16
}

// hexValues maps a lower-case hex digit to its value, anything else to
// 0xff.
var hexValues = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

func lowerHex(c byte) (byte, bool) {
	v := hexValues[c]
	return v, v != 0xff
}

// formatUUID is the canonical text of a 16-byte UUID.
func formatUUID(b []byte) string {
	var out [36]byte
	formatUUIDInto(&out, b)
	return string(out[:])
}

func formatUUIDInto(out *[36]byte, b []byte) {
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
}

// hashValue is the stored form of a hash; buf, when it has room, holds
// the bytes (the caller's arena, so a batch allocates once).
func hashValue(h string, buf *[]byte) any {
	if len(h) != 64 {
		return h
	}
	var b [32]byte
	var bad byte
	for i := range 32 {
		hi, lo := hexValues[h[2*i]], hexValues[h[2*i+1]]
		bad |= hi | lo
		b[i] = hi<<4 | lo
	}
	if bad&0xf0 != 0 { // a value 0xff: not a lower-case hex digit
		return h
	}
	if buf == nil || cap(*buf)-len(*buf) < 32 {
		return b[:]
	}
	start := len(*buf)
	*buf = append(*buf, b[:]...)
	return (*buf)[start : start+32 : start+32]
}

// col receives a column stored as text or as bytes (ANY), keeping which.
// The bytes and the string are the driver's fresh copies of this row's
// value (decodeRow keeps the data's).
type col struct {
	blob bool
	b    []byte
	s    string
}

func (c *col) Scan(src any) error {
	switch v := src.(type) {
	case string:
		c.blob, c.s, c.b = false, v, nil
	case []byte:
		c.blob, c.b, c.s = true, v, ""
	case nil:
		c.blob, c.s, c.b = false, "", nil
	default:
		return fmt.Errorf("unexpected stored type %T", src)
	}
	return nil
}

// len is the length of the stored value.
func (c *col) len() int {
	if c.blob {
		return len(c.b)
	}
	return len(c.s)
}

// owned is the stored value as bytes, without a copy: the driver's
// buffer, which it made for this value alone (decodeRow), or nil for an
// empty value. The slice's capacity is its length.
func (c *col) owned() json.RawMessage {
	switch {
	case c.blob && len(c.b) > 0:
		return json.RawMessage(c.b[:len(c.b):len(c.b)])
	case !c.blob && len(c.s) > 0:
		return json.RawMessage(unsafe.Slice(unsafe.StringData(c.s), len(c.s)))
	}
	return nil
}

// textLen is the length of the text decodeRow makes for c (a blob's hex
// or UUID form); 0 for a stored text, used as it is.
func (c *col) textLen() int {
	if !c.blob {
		return 0
	}
	if len(c.b) == 16 {
		return 36 // a UUID, or hex of the same length
	}
	return 2 * len(c.b)
}

// textArena builds the text of one event in one buffer (decodeRow).
type textArena struct {
	buf   []byte
	start int // where the text begins in buf
}

// span is a field's text: stored as text (s), or at [from, to) of the
// arena's string.
type span struct {
	s        string
	from, to int
}

func (sp span) get(str string) string {
	if sp.to > sp.from {
		return str[sp.from:sp.to]
	}
	return sp.s
}

// add appends c's text (a UUID when uuid and c is 16 bytes, else hex)
// unless c was stored as text.
func (t *textArena) add(c *col, uuid bool) span {
	if !c.blob {
		return span{s: c.s}
	}
	from := len(t.buf)
	if uuid && len(c.b) == 16 {
		var out [36]byte
		formatUUIDInto(&out, c.b)
		t.buf = append(t.buf, out[:]...)
	} else {
		t.buf = appendHex(t.buf, c.b)
	}
	return span{from: from - t.start, to: len(t.buf) - t.start}
}

// done is the text as one string sharing the buffer's memory: nothing
// writes to that part of the buffer afterwards.
func (t *textArena) done() string {
	if len(t.buf) == t.start {
		return ""
	}
	return unsafe.String(&t.buf[t.start], len(t.buf)-t.start)
}

// hexPairs holds the two lower-case hex digits of every byte value.
var hexPairs = func() (t [512]byte) {
	const digits = "0123456789abcdef"
	for i := range 256 {
		t[2*i], t[2*i+1] = digits[i>>4], digits[i&0x0f]
	}
	return t
}()

// appendHex appends the lower-case hex text of b (hex.AppendEncode, two
// digits per lookup: a catch-up decodes three hashes per event).
func appendHex(dst, b []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, 2*len(b))[:n+2*len(b)]
	out := dst[n:]
	for i, v := range b {
		out[2*i], out[2*i+1] = hexPairs[2*int(v)], hexPairs[2*int(v)+1]
	}
	return dst
}

// hash is the hex text of a stored hash.
func (c *col) hash() string {
	if c.blob {
		return hex.EncodeToString(c.b)
	}
	return c.s
}

// uuid is the text of a stored event id (a blob of another length than
// 16, which this store never writes, reads as hex).
func (c *col) uuid() string {
	if !c.blob {
		return c.s
	}
	if len(c.b) == 16 {
		return formatUUID(c.b)
	}
	return hex.EncodeToString(c.b)
}

// The binary metadata form: a format byte (metaFormat1), then the seven
// known fields in the order of metaFields, each as its length (uvarint)
// and its bytes. It has no room for extra keys: the store never writes
// any (eventstore.AppendRequest.Validate), and a document with extras can
// only be text (JSON), which DecodeMetadata reads whole.
const metaFormat1 = 1

func metaFields(m *eventstore.Metadata) [7]*string {
	return [7]*string{&m.TeamID, &m.Actor, &m.CorrelationID, &m.CausationID, &m.CommandID, &m.Route, &m.IdempotencyKey}
}

// encodeMetadata is the stored form of an append's metadata.
func encodeMetadata(m eventstore.Metadata) ([]byte, error) {
	if len(m.Extra) > 0 {
		return nil, errors.New("metadata: extra keys are read-only")
	}
	fields := metaFields(&m)
	n := 1
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(*f)
	}
	b := make([]byte, 1, n)
	b[0] = metaFormat1
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(*f)))
		b = append(b, *f...)
	}
	return b, nil
}

// decodeMetadataBinary reads the binary form b; s is b as a string (the
// fields are substrings of it).
func decodeMetadataBinary(b []byte, s string) (eventstore.Metadata, error) {
	var m eventstore.Metadata
	if len(b) == 0 || b[0] != metaFormat1 || len(s) != len(b) {
		return m, errors.New("metadata: unknown binary format")
	}
	b, s = b[1:], s[1:]
	i := 0
	for _, f := range metaFields(&m) {
		n, k := binary.Uvarint(b[i:])
		if k <= 0 || n > uint64(len(s)-i-k) {
			return eventstore.Metadata{}, errors.New("metadata: truncated binary form")
		}
		i += k
		*f = s[i : i+int(n)]
		i += int(n)
	}
	if i != len(s) {
		return eventstore.Metadata{}, errors.New("metadata: trailing bytes after the binary form")
	}
	return m, nil
}

// metadata decodes a stored metadata column (binary or JSON).
func (c *col) metadata() (eventstore.Metadata, error) {
	if c.blob {
		return decodeMetadataBinary(c.b, string(c.b))
	}
	if c.s == "" {
		return eventstore.Metadata{}, nil
	}
	return eventstore.DecodeMetadata([]byte(c.s))
}
