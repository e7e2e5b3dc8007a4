package prowler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// convertFunc turns one decoded element into an observation and the
// report's scan id; skip is true for an element that is deliberately not an
// observation.
type convertFunc[T any] func(el *T) (obs cloudsecurity.Observation, scanID string, skip bool, err error)

// parseJSONArray streams a top-level JSON array, decoding one element at a
// time into a T: the decoder holds at most one element (bounded by
// MaxElementBytes) plus its read-ahead.
func parseJSONArray[T any](p *parser, convert convertFunc[T]) error {
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
		return jsonError(p.format, -1, base, err)
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
			return jsonError(p.format, i, start, err)
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
		return jsonError(p.format, -1, end, err)
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

// notArrayError explains a JSON report that is not an array.
func notArrayError(f Format, offset int64, head []byte) error {
	var what string
	switch head[0] {
	case '{':
		what = "a JSON object; Prowler writes its JSON reports as an array of findings"
		if bytes.Contains(head[:min(len(head), 512)], []byte(`"Findings"`)) {
			what += " (a Security Hub export {\"Findings\": [...]}: pass its Findings array)"
		}
	default:
		what = fmt.Sprintf("not a JSON array (starts with %q)", head[:min(len(head), 16)])
	}
	return &ParseError{Format: f, Element: -1, Offset: offset, Err: fmt.Errorf("%w: %s", ErrMalformed, what)}
}

// jsonError places a decoder error: truncation, syntax, a value of the
// wrong type (naming its field), or the element limit.
func jsonError(f Format, index int, offset int64, err error) error {
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
