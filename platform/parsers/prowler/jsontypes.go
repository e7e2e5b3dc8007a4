package prowler

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The types below decode themselves from the jsontext stream
// (UnmarshalJSONFrom), keeping what encoding/json passed their
// UnmarshalJSON methods before decision 35: the raw value, strings without
// escapes taken as they are.

// typeError is a JSON value of a kind a field does not take; jsonError
// names the field.
type typeError struct {
	kind   jsontext.Kind
	goType reflect.Type
}

func (e *typeError) Error() string {
	return fmt.Sprintf("a JSON %s where the format has %s", kindName(e.kind), e.goType)
}

// flexTime is a time Prowler writes as Unix seconds (OCSF time,
// created_time in 4.5+) or as an ISO 8601 string (time_dt, event_time,
// created_time in 4.0-4.4, v3 AssessmentStartTime). It is parsed on first
// use (get): a finding names up to five times and the converter reads the
// first that is set. A value that is not a time is an error of get, for the
// converter to report with its field.
type flexTime struct {
	set    bool
	raw    string // the string, or the value as written
	quoted bool   // raw was a JSON string
	parsed bool   // t and err hold raw's time
	t      time.Time
	err    error
}

func (ft *flexTime) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*ft = flexTime{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		s, _ := unquote(b)
		*ft = flexTime{set: s != "", raw: s, quoted: true}
		return nil
	}
	*ft = flexTime{set: true, raw: string(b)}
	return nil
}

// get returns the time, parsing it the first time.
func (ft *flexTime) get() (time.Time, error) {
	if !ft.parsed {
		ft.parsed = true
		if ft.quoted {
			ft.t, ft.err = parseTime(ft.raw)
		} else if f, err := strconv.ParseFloat(ft.raw, 64); err != nil {
			ft.err = fmt.Errorf("%w: %s is not a time (want ISO 8601 or Unix seconds)", ErrInvalidValue, truncateForError([]byte(ft.raw)))
		} else {
			ft.t, ft.err = epochTime(f, ft.raw)
		}
	}
	return ft.t, ft.err
}

// flexStrings is a list Prowler writes as a JSON array of strings (5.x) or
// as one " | "-joined string (4.x: unmapped.categories "logging |
// forensics-ready").
type flexStrings []string

func (fs *flexStrings) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*fs = nil
	switch kind := dec.PeekKind(); kind {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '"':
		b, err := dec.ReadValue()
		if err != nil {
			return err
		}
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*fs = splitList(s)
		return nil
	case '[':
		list, err := readStringArray(dec)
		if err != nil {
			return err
		}
		*fs = list
		return nil
	case 0:
		_, err := dec.ReadToken()
		return err
	default:
		return &typeError{kind: kind, goType: reflect.TypeFor[[]string]()}
	}
}

// readStringArray reads a JSON array of strings (null is "", as
// encoding/json decoded it into a new []string); the next token must be
// its '['.
func readStringArray(dec *jsontext.Decoder) ([]string, error) {
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var buf [16]string // one allocation for the list, not one per growth
	list := buf[:0]
	for {
		switch kind := dec.PeekKind(); kind {
		case ']':
			_, err := dec.ReadToken()
			return append([]string{}, list...), err
		case '"', 'n':
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			s := ""
			if kind == '"' {
				s = tok.String()
			}
			list = append(list, s)
		case 0:
			_, err := dec.ReadToken()
			return nil, err
		default:
			return nil, &typeError{kind: kind, goType: reflect.TypeFor[string]()}
		}
	}
}

// jsonCompliance is a compliance object (framework → requirement ids: OCSF
// unmapped.compliance, Prowler 3 Compliance) decoded from the token stream
// without reflection; it is the largest object of a finding the parser
// keeps. It decodes as encoding/json decoded a map[string][]string: null
// empties it, a second object for the same field adds to it, a framework
// named twice keeps the last list.
type jsonCompliance map[string][]string

func (c *jsonCompliance) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch kind := dec.PeekKind(); kind {
	case '{':
	case 'n':
		*c = nil
		_, err := dec.ReadToken()
		return err
	case 0:
		_, err := dec.ReadToken()
		return err
	default:
		return &typeError{kind: kind, goType: reflect.TypeFor[map[string][]string]()}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if *c == nil {
		*c = jsonCompliance{}
	}
	for {
		if dec.PeekKind() == '}' {
			_, err := dec.ReadToken()
			return err
		}
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		framework := name.String()
		switch kind := dec.PeekKind(); kind {
		case '[':
			ids, err := readStringArray(dec)
			if err != nil {
				return err
			}
			(*c)[framework] = ids
		case 'n':
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
			(*c)[framework] = nil
		case 0:
			_, err := dec.ReadToken()
			return err
		default:
			return &typeError{kind: kind, goType: reflect.TypeFor[[]string]()}
		}
	}
}

// flexTags is a tag set written as an object ({"k": "v"}), or as a list of
// {"Key": k, "Value": v} / {"key": k, "value": v} / {"k": "v"} objects
// (Prowler 3 JSON ResourceTags).
type flexTags map[string]string

func (ft *flexTags) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*ft = nil
	if len(b) == 0 || b[0] == 'n' {
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
		if err := unmarshalValue(b, &m); err != nil {
			return err
		}
		for k, v := range m {
			put(k, v)
		}
	} else {
		var list []map[string]any
		if err := unmarshalValue(b, &list); err != nil {
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

// unmarshalValue decodes a value the decoder has already read, a value of
// the wrong type reported as a typeError.
func unmarshalValue(b []byte, v any) error {
	err := json.Unmarshal(b, v, decodeOptions)
	var sem *json.SemanticError
	if errors.As(err, &sem) && sem.GoType != nil {
		return &typeError{kind: sem.JSONKind, goType: sem.GoType}
	}
	return err
}

// unquote reads a JSON string the decoder has already validated; only
// strings with escapes need decoding (invalid UTF-8 in them becomes
// U+FFFD, as encoding/json did).
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	// The only error left is invalid UTF-8, already replaced in out.
	out, _ := jsontext.AppendUnquote(nil, b)
	return string(out), nil
}

func truncateForError(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
