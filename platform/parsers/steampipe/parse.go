package steampipe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
)

// Format is the one format name of the package.
const Format = "steampipe-json"

// Tool is the tool's name as imports record it.
const Tool = "steampipe"

// Limits of one report.
const (
	// MaxRowBytes bounds one row's JSON; a larger row rejects the report.
	MaxRowBytes = 4 << 20
	// MaxRawBytes bounds the row a record keeps (Record.Raw): a larger row
	// is recorded without it (RawTruncated), its hash still over all of it.
	MaxRawBytes = 16 << 10
	// MaxIdentifierBytes bounds an asset's key, account, region, type, name.
	MaxIdentifierBytes = 2048
	// MaxTags bounds the tags a record keeps (the first, by key).
	MaxTags = 64
	// MaxColumns bounds the envelope's column list.
	MaxColumns = 4096
)

// Why a report is rejected; a *ParseError wraps one of these.
var (
	ErrEmptyReport  = errors.New("empty report")
	ErrMalformed    = errors.New("malformed report")
	ErrTruncated    = errors.New("truncated report")
	ErrTooLarge     = errors.New("row too large")
	ErrMissingField = errors.New("missing field")
	ErrInvalidValue = errors.New("invalid value")
)

// ParseError says why and where a report was rejected: Row is the 0-based
// row (-1 when the error is not about one), Field the column at fault.
type ParseError struct {
	Row   int
	Field string
	Err   error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(Format)
	if e.Row >= 0 {
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Summary is what a parse learnt of the whole report.
type Summary struct {
	Shape   string   // "array" or "envelope"
	Columns []string // the envelope's column names, in order
	Rows    int
}

// Shapes.
const (
	ShapeArray    = "array"
	ShapeEnvelope = "envelope"
)

// Detect reports whether head (a report's first bytes) is Steampipe's
// envelope: a JSON object whose first key is "columns", "rows" or
// "metadata". The plain array of rows is not told apart from other tools'
// arrays: name the format.
func Detect(head []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return false
	}
	tok, err = dec.Token()
	if err != nil {
		return false
	}
	k, _ := tok.(string)
	return k == "columns" || k == "rows" || k == "metadata"
}

// Parse streams the rows of a report to emit as records of table (the
// Steampipe table the query read, e.g. "aws_s3_bucket"; "" when unknown:
// the records then have no type). Any error rejects the whole report.
func Parse(ctx context.Context, r io.Reader, table string, emit func(cadomain.Record) error) (Summary, error) {
	var sum Summary
	if len(table) > MaxIdentifierBytes || !utf8.ValidString(table) {
		return sum, &ParseError{Row: -1, Field: "table", Err: fmt.Errorf("%w: not a table name", ErrInvalidValue)}
	}
	dec := json.NewDecoder(skipBOM(r))
	dec.UseNumber()
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return sum, &ParseError{Row: -1, Err: ErrEmptyReport}
	}
	if err != nil {
		return sum, &ParseError{Row: -1, Err: syntaxErr(err)}
	}
	rows := func() error {
		return readRows(ctx, dec, table, &sum, emit)
	}
	switch tok {
	case json.Delim('['):
		sum.Shape = ShapeArray
		if err := rowsAfterOpen(ctx, dec, table, &sum, emit); err != nil {
			return sum, err
		}
	case json.Delim('{'):
		sum.Shape = ShapeEnvelope
		sawRows := false
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return sum, &ParseError{Row: -1, Err: syntaxErr(err)}
			}
			key, _ := kt.(string)
			switch key {
			case "rows":
				if sawRows {
					return sum, &ParseError{Row: -1, Field: "rows", Err: fmt.Errorf("%w: twice", ErrMalformed)}
				}
				sawRows = true
				if err := rows(); err != nil {
					return sum, err
				}
			case "columns":
				if sum.Columns, err = readColumns(dec); err != nil {
					return sum, err
				}
			default: // metadata, and whatever later versions add
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return sum, &ParseError{Row: -1, Field: key, Err: syntaxErr(err)}
				}
			}
		}
		if _, err := dec.Token(); err != nil {
			return sum, &ParseError{Row: -1, Err: syntaxErr(err)}
		}
		if !sawRows {
			return sum, &ParseError{Row: -1, Field: "rows", Err: fmt.Errorf("%w: the envelope has no rows", ErrMissingField)}
		}
	default:
		return sum, &ParseError{Row: -1, Err: fmt.Errorf("%w: a JSON array of rows or an object with rows expected", ErrMalformed)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		// Several queries' results one after the other: each may be of
		// another table, which the import could not tell apart.
		return sum, &ParseError{Row: -1, Err: fmt.Errorf("%w: content after the report (the results of several queries? import one query's output at a time, with its table)", ErrMalformed)}
	}
	return sum, nil
}

func readRows(ctx context.Context, dec *json.Decoder, table string, sum *Summary, emit func(cadomain.Record) error) error {
	tok, err := dec.Token()
	if err != nil {
		return &ParseError{Row: -1, Field: "rows", Err: syntaxErr(err)}
	}
	if tok == nil { // "rows": null — no rows
		return nil
	}
	if tok != json.Delim('[') {
		return &ParseError{Row: -1, Field: "rows", Err: fmt.Errorf("%w: an array expected", ErrMalformed)}
	}
	return rowsAfterOpen(ctx, dec, table, sum, emit)
}

func rowsAfterOpen(ctx context.Context, dec *json.Decoder, table string, sum *Summary, emit func(cadomain.Record) error) error {
	for dec.More() {
		if sum.Rows%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &ParseError{Row: sum.Rows, Err: syntaxErr(err)}
		}
		if len(raw) > MaxRowBytes {
			return &ParseError{Row: sum.Rows, Err: fmt.Errorf("%w: %d bytes (at most %d)", ErrTooLarge, len(raw), MaxRowBytes)}
		}
		rec, err := Record(raw, table)
		if err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				return &ParseError{Row: sum.Rows, Field: fe.field, Err: fe.err}
			}
			return &ParseError{Row: sum.Rows, Err: err}
		}
		if err := emit(rec); err != nil {
			return err
		}
		sum.Rows++
	}
	if _, err := dec.Token(); err != nil {
		return &ParseError{Row: -1, Err: syntaxErr(err)}
	}
	return nil
}

func readColumns(dec *json.Decoder) ([]string, error) {
	var cols []struct {
		Name     string `json:"name"`
		DataType string `json:"data_type"`
	}
	if err := dec.Decode(&cols); err != nil {
		return nil, &ParseError{Row: -1, Field: "columns", Err: syntaxErr(err)}
	}
	if len(cols) > MaxColumns {
		return nil, &ParseError{Row: -1, Field: "columns", Err: fmt.Errorf("%w: %d columns", ErrTooLarge, len(cols))}
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out, nil
}

func syntaxErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// skipBOM drops a UTF-8 byte order mark.
func skipBOM(r io.Reader) io.Reader {
	br := &bomReader{r: r}
	return br
}

type bomReader struct {
	r    io.Reader
	done bool
	buf  []byte
}

func (b *bomReader) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		head := make([]byte, 3)
		n, err := io.ReadFull(b.r, head)
		head = head[:n]
		if !bytes.Equal(head, []byte("\xef\xbb\xbf")) {
			b.buf = head
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	return b.r.Read(p)
}

type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// Record maps one row (a JSON object) of table to its inventory record:
//   - type: the table; provider: the table's prefix ("aws" of
//     "aws_s3_bucket"), else the ARN's, else "";
//   - the uid the identity rule keys on: "arn", else the first of "akas",
//     else "self_link", "id", "<last word of the table>_id" ("instance_id"
//     of aws_ec2_instance, "vpc_id" of aws_vpc), "resource_id", "name",
//     "title";
//   - account: "account_id", "subscription_id", "project", "owner_id",
//     else the ARN's; region: "region", "location", else the ARN's;
//   - name: "name", "title", "display_name"; tags: "tags" (an object), else
//     "tags_src" ([{Key, Value}]);
//   - hash: sha256 of the row's canonical JSON (keys sorted) without
//     Steampipe's own columns ("_ctx", "sp_*"), so the order of columns
//     and the connection never make a change.
//
// Early Steampipe versions wrote jsonb columns as JSON strings; "akas"
// and "tags" given as strings holding JSON are read as their JSON.
func Record(raw []byte, table string) (cadomain.Record, error) {
	var row map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&row); err != nil || row == nil {
		return cadomain.Record{}, fmt.Errorf("%w: a row is a JSON object", ErrMalformed)
	}
	if !utf8.Valid(raw) {
		return cadomain.Record{}, fmt.Errorf("%w: not UTF-8", ErrInvalidValue)
	}
	rec := cadomain.Record{Type: table}
	arn := str(row, "arn")
	akas := strs(row["akas"])
	uid := arn
	if uid == "" && len(akas) > 0 {
		uid = akas[0]
	}
	if arn == "" {
		for _, a := range akas {
			if strings.HasPrefix(a, "arn:") {
				arn = a
				break
			}
		}
	}
	if uid == "" {
		cands := []string{"self_link", "id"}
		if i := strings.LastIndexByte(table, '_'); i >= 0 && i < len(table)-1 {
			cands = append(cands, table[i+1:]+"_id")
		}
		cands = append(cands, "resource_id", "name", "title")
		for _, c := range cands {
			if uid = str(row, c); uid != "" {
				break
			}
		}
	}
	if uid == "" {
		return cadomain.Record{}, &fieldError{field: "arn", err: fmt.Errorf("%w: the row names no resource (arn, akas, id, name...)", ErrMissingField)}
	}
	arnRegion, arnAccount := cadomain.ARNParts(arn)
	if i := strings.IndexByte(table, '_'); i > 0 {
		rec.Provider = strings.ToLower(table[:i])
	} else {
		rec.Provider = cadomain.ProviderOfARN(arn)
	}
	rec.Account = first(str(row, "account_id"), str(row, "subscription_id"), str(row, "project"), str(row, "owner_id"), arnAccount)
	rec.Region = first(str(row, "region"), str(row, "location"), arnRegion)
	rec.Name = first(str(row, "name"), str(row, "title"), str(row, "display_name"))
	rec.Tags = tags(row)
	for f, v := range map[string]string{"arn": uid, "account_id": rec.Account, "region": rec.Region, "name": rec.Name} {
		if len(v) > MaxIdentifierBytes {
			return cadomain.Record{}, &fieldError{field: f, err: fmt.Errorf("%w: longer than %d bytes", ErrInvalidValue, MaxIdentifierBytes)}
		}
	}
	rec.Key = cadomain.Key(rec.Provider, rec.Account, rec.Region, rec.Type, uid)
	for k := range row {
		if k == "_ctx" || strings.HasPrefix(k, "sp_") {
			delete(row, k)
		}
	}
	canon, err := json.Marshal(row) // map keys sorted
	if err != nil {
		return cadomain.Record{}, fmt.Errorf("%w: %v", ErrInvalidValue, err)
	}
	h := sha256.Sum256(canon)
	rec.Hash = hex.EncodeToString(h[:16])
	if len(canon) <= MaxRawBytes {
		rec.Raw = canon
	} else {
		rec.RawTruncated = true
	}
	return rec, nil
}

func first(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// str is a column's text: a string as is, a number or bool written out,
// "" for anything else.
func str(row map[string]any, k string) string {
	switch v := row[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

func strs(v any) []string {
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "[") {
		var l []any
		if json.Unmarshal([]byte(s), &l) == nil {
			v = l
		}
	}
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

func tags(row map[string]any) map[string]string {
	out := map[string]string{}
	v := row["tags"]
	if s, ok := v.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "{") {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) == nil {
			v = m
		}
	}
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			out[k] = text(x)
		}
	} else if l, ok := row["tags_src"].([]any); ok {
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				if k, ok := m["Key"].(string); ok {
					out[k] = text(m["Value"])
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	if len(out) > MaxTags {
		keys := slices.Sorted(maps.Keys(out))
		for _, k := range keys[MaxTags:] {
			delete(out, k)
		}
	}
	for k, v := range out {
		if len(k) > MaxIdentifierBytes || len(v) > MaxIdentifierBytes {
			delete(out, k)
		}
	}
	return out
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
