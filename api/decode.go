package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// maxDetails bounds the problems one error response lists.
const maxDetails = 20

// bodyRule says how a route reads its body.
type bodyRule struct {
	limit      int64 // bytes; larger bodies get 413
	allowEmpty bool  // an empty body reads as {} (routes whose fields are all optional)
}

// decodeBody reads the request body as exactly one JSON object into dst:
// Content-Type application/json, at most rule.limit bytes, no unknown
// fields, nothing after the object. Every failure is a *requestError (4xx).
func decodeBody(c echo.Context, rule bodyRule, dst any) error {
	req := c.Request()
	if req.ContentLength > rule.limit {
		return payloadTooLarge(rule.limit)
	}
	ct := req.Header.Get(echo.HeaderContentType)
	if ct != "" && !isJSONMediaType(ct) {
		return unsupportedMediaType(ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, rule.limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return payloadTooLarge(rule.limit)
		}
		return malformedBody(ErrorDetail{In: InBody, Message: "the body could not be read"})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if rule.allowEmpty {
			return nil
		}
		return malformedBody(ErrorDetail{In: InBody, Message: "the body is empty; send a JSON object"})
	}
	if ct == "" {
		return unsupportedMediaType("")
	}
	return decodeJSON(body, dst)
}

func isJSONMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeJSON decodes body, which must hold exactly one JSON object, into
// dst (a pointer to a struct) strictly. It never panics; it returns nil or
// a *requestError whose details name the offending field (or byte offset).
func decodeJSON(body []byte, dst any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return malformedBody(ErrorDetail{In: InBody, Message: "the body is empty; send a JSON object"})
	}
	if trimmed[0] != '{' {
		off := int64(len(body) - len(trimmed))
		return malformedBody(ErrorDetail{In: InBody, Offset: &off, Message: "the body must be a JSON object"})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(body, dst, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		off := dec.InputOffset()
		return malformedBody(ErrorDetail{In: InBody, Offset: &off, Message: "unexpected data after the JSON object"})
	}
	if problems := badText(body); len(problems) > 0 {
		return malformedBody(problems...)
	}
	return nil
}

// badText lists, with their JSON paths, the strings of body (valid JSON)
// that hold text which is not Unicode: bytes that are not UTF-8, and \u
// escapes of a UTF-16 surrogate that is not half of a pair (a high one not
// followed by a low one, or a low one alone). encoding/json would turn
// both into U+FFFD without a word, so the stored text would not be what
// the client sent. Both checks are linear and cheap on the bytes: the
// paths are only worked out when something is wrong.
func badText(body []byte) []ErrorDetail {
	var found []textProblem
	if !utf8.Valid(body) {
		for i := 0; i < len(body) && len(found) < maxDetails; {
			if body[i] < utf8.RuneSelf {
				i++
				continue
			}
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n == 1 {
				found = append(found, textProblem{off: int64(i), msg: "is not valid UTF-8"})
			}
			i += n
		}
	}
	found = append(found, loneSurrogates(body, maxDetails-len(found))...)
	if len(found) == 0 {
		return nil
	}
	slices.SortFunc(found, func(a, b textProblem) int { return cmp.Compare(a.off, b.off) })
	offs := make([]int64, len(found))
	for i, p := range found {
		offs[i] = p.off
	}
	paths := pathsAt(body, offs)
	var out []ErrorDetail
	for i, p := range found {
		if len(out) > 0 && out[len(out)-1].Field == paths[i] && out[len(out)-1].Message == p.msg {
			continue // one detail per string and problem
		}
		off := p.off
		out = append(out, ErrorDetail{Field: paths[i], In: InBody, Offset: &off, Message: p.msg})
	}
	return out
}

type textProblem struct {
	off int64 // byte offset into the body
	msg string
}

// loneSurrogates finds up to limit \u escapes of unpaired UTF-16
// surrogates in body (valid JSON, so every backslash is in a string and
// starts an escape).
func loneSurrogates(body []byte, limit int) []textProblem {
	var out []textProblem
	for i := 0; len(out) < limit; {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		if i+1 >= len(body) {
			break
		}
		if body[i+1] != 'u' {
			i += 2 // \" \\ \/ \b \f \n \r \t
			continue
		}
		r, ok := hex4(body, i+2)
		if !ok {
			i += 2
			continue
		}
		switch {
		case 0xD800 <= r && r <= 0xDBFF:
			if low, ok := escapeAt(body, i+6); ok && 0xDC00 <= low && low <= 0xDFFF {
				i += 12 // a pair
				continue
			}
			out = append(out, textProblem{off: int64(i), msg: "holds " + string(body[i:i+6]) +
				", a UTF-16 high surrogate not followed by a low one (\\udc00 to \\udfff)"})
		case 0xDC00 <= r && r <= 0xDFFF:
			out = append(out, textProblem{off: int64(i), msg: "holds " + string(body[i:i+6]) +
				", a UTF-16 low surrogate without a high one before it"})
		}
		i += 6
	}
	return out
}

// escapeAt reads a \uXXXX escape at body[i:].
func escapeAt(body []byte, i int) (rune, bool) {
	if i+1 >= len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	return hex4(body, i+2)
}

// hex4 reads the four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// pathsAt names the JSON path (findings[3].title) of the string token of
// body (valid JSON) that holds each offset of offs (ascending); a problem
// in an object key names the key's own path.
func pathsAt(body []byte, offs []int64) []string {
	out := make([]string, len(offs))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*jsonFrame
	for k := 0; k < len(offs); {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var top *jsonFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		var path string
		switch v := tok.(type) {
		case json.Delim:
			if v == '}' || v == ']' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 {
					stack[len(stack)-1].done()
				}
				continue
			}
			path = top.valuePath()
			stack = append(stack, &jsonFrame{path: path, array: v == '[', inKey: v == '{'})
		case string:
			if top != nil && top.inKey {
				path = join(top.path, v)
				top.key, top.inKey = v, false
				break
			}
			path = top.valuePath()
			top.done()
		default:
			path = top.valuePath()
			top.done()
		}
		for end := dec.InputOffset(); k < len(offs) && offs[k] < end; k++ {
			out[k] = path
		}
	}
	return out
}

// jsonFrame is an object or array pathsAt is inside.
type jsonFrame struct {
	path  string
	array bool
	index int    // arrays: the item being read
	key   string // objects: the key of the value being read
	inKey bool   // objects: a key comes next
}

// valuePath is the path of the value f reads next (nil f: the top level).
func (f *jsonFrame) valuePath() string {
	switch {
	case f == nil:
		return ""
	case f.array:
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	return join(f.path, f.key)
}

// done records that f has read a whole value.
func (f *jsonFrame) done() {
	switch {
	case f == nil:
	case f.array:
		f.index++
	default:
		f.inKey = true
	}
}

// decodeError turns a json.Decoder error into a *requestError naming
// where the problem is.
func decodeError(body []byte, dst any, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		off := syntax.Offset
		return malformedBody(ErrorDetail{In: InBody, Offset: &off, Message: "invalid JSON: " + strings.TrimPrefix(syntax.Error(), "json: ")})
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		off := int64(len(body))
		return malformedBody(ErrorDetail{In: InBody, Offset: &off, Message: "invalid JSON: the body ends before the object does"})
	}
	// The syntax is fine, so the shape is not: a wrong type, an unknown
	// field or a value a field's type rejects. The decoder's own errors
	// lose array indices (and, for custom types, the field), so walk the
	// body against dst's type to name every problem precisely.
	if problems := locate(body, reflect.TypeOf(dst)); len(problems) > 0 {
		return malformedBody(problems...)
	}
	// Not located (should not happen): fall back to what the decoder says.
	detail := ErrorDetail{In: InBody, Message: "invalid value"}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		detail.Field = typeErr.Field
		detail.Message = "must be " + jsonKind(typeErr.Type)
	} else if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		detail.Field, _ = strconv.Unquote(name)
		detail.Message = "unknown field"
	}
	return malformedBody(detail)
}

// locate re-reads body (valid JSON) against t and lists up to maxDetails
// problems in document order, each with its path, e.g. findings[3].severity.
func locate(body []byte, t reflect.Type) []ErrorDetail {
	var out []ErrorDetail
	walk(body, t, "", &out)
	return out
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

func walk(raw []byte, t reflect.Type, path string, out *[]ErrorDetail) {
	if len(*out) >= maxDetails {
		return
	}
	add := func(p, msg string) {
		if len(*out) < maxDetails {
			*out = append(*out, ErrorDetail{Field: p, In: InBody, Message: msg})
		}
	}
	raw = bytes.TrimSpace(raw)
	for t.Kind() == reflect.Pointer {
		if string(raw) == "null" {
			return
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			add(path, valueMessage(t, err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if string(raw) == "null" {
			return
		}
		if len(raw) == 0 || raw[0] != '{' {
			add(path, "must be an object")
			return
		}
		walkObject(raw, t, path, out, add)
	case reflect.Slice, reflect.Array:
		if string(raw) == "null" && t.Kind() == reflect.Slice {
			return
		}
		if len(raw) == 0 || raw[0] != '[' {
			add(path, "must be an array")
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return
		}
		for i := 0; dec.More(); i++ {
			var item json.RawMessage
			if err := dec.Decode(&item); err != nil {
				return
			}
			if t.Kind() == reflect.Array && i >= t.Len() {
				add(path, fmt.Sprintf("must have at most %d items", t.Len()))
				return
			}
			walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			add(path, "must be "+jsonKind(t))
		}
	}
}

func walkObject(raw []byte, t reflect.Type, path string, out *[]ErrorDetail, add func(p, msg string)) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return
		}
		field, ok := fieldByJSONName(t, key)
		if !ok {
			add(join(path, key), "unknown field")
			continue
		}
		walk(value, field.Type, join(path, key), out)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByJSONName finds the field encoding/json would fill from key:
// the exact name first, then a case-insensitive match.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	var folded *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" && !strings.HasPrefix(tag, "-,") {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		if name == key {
			return f, true
		}
		if folded == nil && strings.EqualFold(name, key) {
			folded = &f
		}
	}
	if folded != nil {
		return *folded, true
	}
	return reflect.StructField{}, false
}

// valueMessage explains why a value of a type with its own decoder failed.
func valueMessage(t reflect.Type, err error) string {
	if t == reflect.TypeFor[time.Time]() {
		return "must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z"
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return "must be " + jsonKind(typeErr.Type)
	}
	return "invalid value"
}

// jsonKind names what JSON a Go type reads.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%d-bit)", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer (%d-bit)", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a valid value"
	}
}

// Path ids: what a stream or aggregate id in a URL may look like.
const maxPathIDLen = 128

// pathID reads and validates the route parameter name.
func pathID(c echo.Context, name string) (string, error) {
	id := c.Param(name)
	switch {
	case id == "":
		return "", invalidInput(InPath, name, "is empty")
	case len(id) > maxPathIDLen:
		return "", invalidInput(InPath, name, "is longer than %d characters", maxPathIDLen)
	case !isIDChars(id):
		return "", invalidInput(InPath, name, "may contain only A-Z, a-z, 0-9 and . _ : -")
	}
	return id, nil
}

func isIDChars(s string) bool {
	for i := range len(s) {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyKey reads the optional Idempotency-Key header: absent is "",
// otherwise 1..255 printable ASCII characters, sent once.
func idempotencyKey(r *http.Request) (string, error) {
	values := r.Header.Values(HeaderIdempotencyKey)
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", invalidInput(InHeader, HeaderIdempotencyKey, "must be sent once")
	}
	key := values[0]
	switch {
	case key == "":
		return "", invalidInput(InHeader, HeaderIdempotencyKey, "is empty")
	case len(key) > maxIdempotencyKeyLen:
		return "", invalidInput(InHeader, HeaderIdempotencyKey, "is longer than %d characters", maxIdempotencyKeyLen)
	case !isPrintableASCII(key):
		return "", invalidInput(InHeader, HeaderIdempotencyKey, "may contain only printable ASCII characters")
	}
	return key, nil
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
