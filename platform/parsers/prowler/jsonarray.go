package prowler

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// decodeOptions make github.com/go-json-experiment/json (decision 35) accept
// what encoding/json, the parser's decoder before it, accepted, with the
// same meaning:
//   - keys match a field case-insensitively (exact match first), as
//     encoding/json does ("Severity" fills severity), but without its
//     v2-only folding of '-' and '_';
//   - a duplicate key is accepted and the last one wins, merging into what
//     the earlier one filled (structs, slice elements), as encoding/json;
//   - a JSON null leaves a string, number or struct as it is;
//   - invalid UTF-8 in a string becomes U+FFFD instead of an error.
//
// Unknown keys are skipped without being kept, as before.
var decodeOptions = json.JoinOptions(
	json.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsonv1.MergeWithLegacySemantics(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// convertFunc turns one decoded element into an observation and the
// report's scan id; skip is true for an element that is deliberately not an
// observation.
type convertFunc[T any] func(el *T) (obs cloudsecurity.Observation, scanID string, skip bool, err error)

// parseJSONArray streams a top-level JSON array, decoding one element at a
// time into a T with a jsontext decoder: the decoder holds at most one
// element (bounded by MaxElementBytes) plus its read-ahead, and skips the
// members T has no field for without keeping them.
func parseJSONArray[T any](p *parser, convert convertFunc[T]) error {
	rest, base, _, err := p.src.readPrefix()
	if err != nil {
		return err
	}
	if rest[0] != '[' {
		return notArrayError(p.format, base, rest)
	}
	elemType := reflect.TypeFor[T]()
	p.src.limit = p.src.pos + MaxElementBytes
	dec := jsontext.NewDecoder(io.MultiReader(bytes.NewReader(rest), p.src), decodeOptions)
	if _, err := dec.ReadToken(); err != nil { // the '['
		return jsonError(p.format, elemType, -1, base, err)
	}
	for i := 0; ; i++ {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		end := base + dec.InputOffset()
		p.src.limit = end + MaxElementBytes + 1
		switch dec.PeekKind() {
		case ']':
			return closeJSONArray(p, dec, elemType, base)
		case 0, '}': // the error is kept for the next read
			buffered := dec.UnreadBuffer()
			next := bytes.TrimLeft(buffered, " \t\r\n")
			skipped := int64(len(buffered) - len(next))
			_, err := dec.ReadToken()
			return peekError(p.format, elemType, next, skipped, i, end, err)
		}
		start := end
		var el T
		if err := json.UnmarshalDecode(dec, &el, decodeOptions); err != nil {
			return jsonError(p.format, elemType, i, start, nameExpected(dec, afterSemanticError(dec, elemType, err)))
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
}

// closeJSONArray reads the array's ']' and checks that nothing follows it.
func closeJSONArray(p *parser, dec *jsontext.Decoder, elemType reflect.Type, base int64) error {
	end := base + dec.InputOffset()
	if _, err := dec.ReadToken(); err != nil {
		return jsonError(p.format, elemType, -1, end, err)
	}
	end = base + dec.InputOffset()
	p.src.limit = end + MaxElementBytes
	if _, err := dec.ReadToken(); err != io.EOF {
		return &ParseError{Format: p.format, Element: -1, Offset: end, Err: fmt.Errorf("%w: content after the JSON array", ErrMalformed)}
	}
	return nil
}

// peekError places an error met looking for the next element as
// encoding/json's Decoder.More did: after an element, the report ending
// (or growing past the limit) or a '}' is the array's fault ("not closed");
// anything else (a comma, then whatever is wrong) is the next element's.
// next is what the decoder had buffered after the last element, past
// skipped bytes of white space.
func peekError(f Format, elemType reflect.Type, next []byte, skipped int64, index int, end int64, err error) error {
	switch {
	case len(next) == 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return &ParseError{Format: f, Element: -1, Offset: end, Err: fmt.Errorf("%w: the JSON array is not closed", ErrTruncated)}
	case len(next) == 0:
		return jsonError(f, elemType, -1, end, err)
	case next[0] == '}': // More had skipped the white space before it
		return jsonError(f, elemType, -1, end+skipped, err)
	}
	return jsonError(f, elemType, index, end, err)
}

// afterSemanticError reads the rest of the element after a value of the
// wrong type, and returns the error encoding/json reported: it read an
// element whole before decoding it, so a syntax error, the report's end or
// the size limit anywhere in the element came first; then it went on
// decoding, and an error of a later field with its own UnmarshalJSON
// (flexStrings, flexTags: their errors stopped it) came before the type
// error it had kept.
func afterSemanticError(dec *jsontext.Decoder, elemType reflect.Type, err error) error {
	var sem *json.SemanticError
	if !errors.As(err, &sem) {
		return err
	}
	var methodErr error
	for dec.StackDepth() > 1 {
		if kind, n := dec.StackIndex(dec.StackDepth()); methodErr == nil && kind == '{' && n%2 == 1 {
			ptr := dec.StackPointer()
			if t, ok := typeAt(elemType, ptr); ok && (t == flexStringsType || t == flexTagsType) {
				v := reflect.New(t).Interface().(json.UnmarshalerFrom)
				if merr := v.UnmarshalJSONFrom(dec); merr != nil {
					var te *typeError
					if !errors.As(merr, &te) {
						return merr // syntax, the report's end, the limit
					}
					methodErr = &json.SemanticError{JSONPointer: ptr, Err: merr}
				}
				continue
			}
		}
		if _, rerr := dec.ReadToken(); rerr != nil {
			return rerr
		}
	}
	if methodErr != nil {
		return methodErr
	}
	return err
}

var (
	flexStringsType = reflect.TypeFor[flexStrings]()
	flexTagsType    = reflect.TypeFor[flexTags]()
)

// typeAt returns the type of the field a JSON pointer in the report's
// array (/<index>/unmapped/categories) leads to in elemType, if it leads to
// one.
func typeAt(t reflect.Type, ptr jsontext.Pointer) (reflect.Type, bool) {
	first := true
	for tok := range ptr.Tokens() {
		if first {
			first = false
			continue
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			t = t.Elem()
		case reflect.Struct:
			f, _, ok := fieldByJSONName(t, tok)
			if !ok {
				return nil, false
			}
			t = f.Type
		default:
			return nil, false
		}
	}
	return t, !first
}

// nameExpected turns the report's end into the syntax error encoding/json
// saw first where an object or array starts in place of a member name
// (`{{`): jsontext reads that value whole before saying it is not a name,
// so a report ending inside it read as truncated.
func nameExpected(dec *jsontext.Decoder, err error) error {
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	kind, n := dec.StackIndex(dec.StackDepth())
	if kind != '{' || n%2 != 0 {
		return err
	}
	next := bytes.TrimLeft(dec.UnreadBuffer(), " \t\r\n")
	if n > 0 {
		var comma bool
		if next, comma = bytes.CutPrefix(next, []byte(",")); !comma {
			return err
		}
		next = bytes.TrimLeft(next, " \t\r\n")
	}
	if len(next) == 0 || (next[0] != '{' && next[0] != '[') {
		return err
	}
	return &jsontext.SyntacticError{
		ByteOffset: dec.InputOffset() + int64(len(dec.UnreadBuffer())-len(next)),
		Err:        fmt.Errorf("invalid character %q looking for beginning of object key string", next[0]),
	}
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
// wrong type (naming its field as encoding/json did: the path of JSON
// names of the format's fields, without array indexes or map keys), or the
// element limit.
func jsonError(f Format, elemType reflect.Type, index int, offset int64, err error) error {
	pe := &ParseError{Format: f, Element: index, Offset: offset}
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.Is(err, errPastLimit):
		pe.Err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxElementBytes)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		pe.Err = fmt.Errorf("%w: the report ends inside this element", ErrTruncated)
	case errors.As(err, &syn):
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, syn)
	case errors.As(err, &sem):
		kind, goType := sem.JSONKind, sem.GoType
		var te *typeError
		if errors.As(sem.Err, &te) {
			kind, goType = te.kind, te.goType
		}
		pe.Field = fieldPath(elemType, sem.JSONPointer)
		switch {
		case pe.Field == "":
			pe.Err = fmt.Errorf("%w: the element is a JSON %s, not an object", ErrMalformed, kindName(kind))
		case goType == nil:
			pe.Err = fmt.Errorf("%w: %v", ErrInvalidValue, sem.Err)
		default:
			pe.Err = fmt.Errorf("%w: a JSON %s where the format has %s", ErrInvalidValue, kindName(kind), goType)
		}
	default:
		pe.Err = err // reading r failed; classify reports it
	}
	return pe
}

// fieldPath turns the JSON pointer of a value in the report's array
// (/<index>/resources/0/uid) into the field encoding/json named
// (resources.uid): the JSON names of the format's struct fields, matched as
// the decoder matches them; no array index, no map key, nothing inside a
// field with its own decoding method.
func fieldPath(t reflect.Type, ptr jsontext.Pointer) string {
	var names []string
	first := true
	for tok := range ptr.Tokens() {
		if first { // the element's index in the report
			first = false
			continue
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if reflect.PointerTo(t).Implements(unmarshalerFromType) {
			break
		}
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
			continue
		}
		if t.Kind() != reflect.Struct {
			break
		}
		f, name, ok := fieldByJSONName(t, tok)
		if !ok {
			break
		}
		names = append(names, name)
		t = f.Type
	}
	return strings.Join(names, ".")
}

var unmarshalerFromType = reflect.TypeFor[json.UnmarshalerFrom]()

// fieldByJSONName finds the field of struct t a JSON member name fills: the
// exact name first, else the first that matches case-insensitively.
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, string, bool) {
	var folded reflect.StructField
	foldedName, found := "", false
	for i := range t.NumField() {
		f := t.Field(i)
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if jsonName == "" {
			jsonName = f.Name
		}
		if jsonName == name {
			return f, jsonName, true
		}
		if !found && strings.EqualFold(jsonName, name) {
			folded, foldedName, found = f, jsonName, true
		}
	}
	return folded, foldedName, found
}

// kindName names a JSON kind as encoding/json's errors did.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "bool"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}
