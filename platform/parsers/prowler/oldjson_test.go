package prowler

// The encoding/json decoding the parser used before decision 35, kept for
// the differential tests (differential_test.go): the same streaming loop and
// the same UnmarshalJSON methods, so old and new decoders can be compared
// on any input.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// parseJSONArrayV1 streams a top-level JSON array, decoding one element at a
// time into a T: the decoder holds at most one element (bounded by
// MaxElementBytes) plus its read-ahead.
func parseJSONArrayV1[T any](p *parser, convert convertFunc[T]) error {
	rest, base, _, err := p.src.readPrefix()
	if err != nil {
		return err
	}
	if rest[0] != '[' {
		return notArrayError(p.format, base, rest)
	}
	p.src.limit = p.src.pos + MaxElementBytes
	dec := json.NewDecoder(io.MultiReader(bytes.NewReader(rest), p.src))
	if _, err := dec.Token(); err != nil { // the '['
		return jsonErrorV1(p.format, -1, base, err)
	}
	for i := 0; ; i++ {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		start := base + dec.InputOffset()
		p.src.limit = start + MaxElementBytes + 1
		if !dec.More() {
			break
		}
		var el T
		if err := dec.Decode(&el); err != nil {
			return jsonErrorV1(p.format, i, start, err)
		}
		if size := base + dec.InputOffset() - start; size > MaxElementBytes {
			return &ParseError{Format: p.format, Element: i, Offset: start, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, size, MaxElementBytes)}
		}
		obs, scanID, skip, err := convert(&el)
		if err == nil && skip {
			p.sum.s.Skipped++
			continue
		}
		if err == nil {
			err = p.accept(&obs, scanID)
		}
		if err != nil {
			return p.elementError(i, 0, start, err)
		}
	}
	end := base + dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return &ParseError{Format: p.format, Element: -1, Offset: end, Err: fmt.Errorf("%w: the JSON array is not closed", ErrTruncated)}
		}
		return jsonErrorV1(p.format, -1, end, err)
	}
	if tok != json.Delim(']') {
		return &ParseError{Format: p.format, Element: -1, Offset: end, Err: fmt.Errorf("%w: expected ']' or an element, found %v", ErrMalformed, tok)}
	}
	end = base + dec.InputOffset()
	p.src.limit = end + MaxElementBytes
	if _, err := dec.Token(); err != io.EOF {
		return &ParseError{Format: p.format, Element: -1, Offset: end, Err: fmt.Errorf("%w: content after the JSON array", ErrMalformed)}
	}
	return nil
}

// jsonErrorV1 places a decoder error: truncation, syntax, a value of the
// wrong type (naming its field), or the element limit.
func jsonErrorV1(f Format, index int, offset int64, err error) error {
	pe := &ParseError{Format: f, Element: index, Offset: offset}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errPastLimit):
		pe.Err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxElementBytes)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		pe.Err = fmt.Errorf("%w: the report ends inside this element", ErrTruncated)
	case errors.As(err, &syn):
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, syn)
	case errors.As(err, &typ):
		pe.Field = typ.Field
		if pe.Field == "" {
			pe.Err = fmt.Errorf("%w: the element is a JSON %s, not an object", ErrMalformed, typ.Value)
		} else {
			pe.Err = fmt.Errorf("%w: a JSON %s where the format has %s", ErrInvalidValue, typ.Value, typ.Type)
		}
	default:
		pe.Err = err // reading r failed; classify reports it
	}
	return pe
}
func (ft *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*ft = flexTime{parsed: true}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	ft.set = true
	if b[0] == '"' {
		s, err := unquoteV1(b)
		if err != nil {
			ft.err = fmt.Errorf("%w: %v", ErrInvalidValue, err)
			return nil
		}
		if s == "" {
			ft.set = false
			return nil
		}
		ft.t, ft.err = parseTime(s)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		ft.err = fmt.Errorf("%w: %s is not a time (want ISO 8601 or Unix seconds)", ErrInvalidValue, truncateForError(b))
		return nil
	}
	ft.t, ft.err = epochTime(f, string(b))
	return nil
}

func (fs *flexStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*fs = nil
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] == '"' {
		s, err := unquoteV1(b)
		if err != nil {
			return err
		}
		*fs = splitList(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*fs = list
	return nil
}

func (ft *flexTags) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*ft = nil
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	tags := map[string]string{}
	put := func(k string, v any) {
		if k == "" {
			return
		}
		switch x := v.(type) {
		case nil:
			tags[k] = ""
		case string:
			tags[k] = x
		default:
			tags[k] = fmt.Sprint(x)
		}
	}
	if b[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for k, v := range m {
			put(k, v)
		}
	} else {
		var list []map[string]any
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		for _, item := range list {
			key, hasKey := item["Key"]
			if !hasKey {
				key, hasKey = item["key"]
			}
			if hasKey {
				v, ok := item["Value"]
				if !ok {
					v = item["value"]
				}
				k, _ := key.(string)
				put(k, v)
				continue
			}
			for k, v := range item {
				put(k, v)
			}
		}
	}
	if len(tags) > 0 {
		*ft = tags
	}
	return nil
}

// unquoteV1 reads a JSON string the decoder has already validated; only
// strings with escapes need the full decoder.
func unquoteV1(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// parseV1 is Parse with the encoding/json decoder for the JSON formats.
func parseV1(ctx context.Context, r io.Reader, f Format, emit func(cloudsecurity.Observation) error) (Summary, error) {
	p := &parser{ctx: ctx, format: f, src: &source{r: r, limit: -1}, sum: newSummary(f), emit: emit}
	if !f.Valid() {
		return p.sum.finish(), fmt.Errorf("prowler: %w %q", ErrUnknownFormatName, f)
	}
	var err error
	switch f {
	case FormatOCSF:
		err = parseJSONArrayV1(p, p.fromOCSF)
	case FormatNativeJSON:
		err = parseJSONArrayV1(p, p.fromNative)
	case FormatASFF:
		err = parseJSONArrayV1(p, p.fromASFF)
	case FormatCSV:
		err = p.parseCSV()
	}
	return p.sum.finish(), p.classify(err)
}
