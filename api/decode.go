package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

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
	return nil
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
