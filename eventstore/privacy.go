package eventstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Crypto-shredding (docs/privacy.md, decisions 91-93). Personal fields of
// events are sealed at the codec, each under the key of its data subject,
// held outside the event store (SubjectKeys, platform/privacy). The stored
// data holds {"$pii":{"s":"<subject id>","c":"<ciphertext>"}} in place of
// the clear value; the hash chain covers those bytes, so destroying a key
// (forgetting the subject) erases the data without rewriting an event and
// `cspm events verify` still passes. Decoding opens every sealed value it
// meets, whatever the event type: the clear value when the key exists,
// Erased when it was destroyed.

// Erased is what a personal value reads as once its subject was forgotten.
const Erased = "[erased]"

// Sealed is what a personal value reads as in a process holding no keys
// (a codec without SubjectKeys): it is neither shown nor called erased.
const Sealed = "[sealed]"

// piiKey marks a sealed value in stored event data.
const piiKey = "$pii"

// ErrSubjectErased: the subject's key was destroyed (SubjectKeys.Open).
var ErrSubjectErased = errors.New("the data subject was forgotten")

// SubjectKeys seals and opens personal values under their subject's key.
// A subject is scoped by its team (the events' metadata team): the same
// person in two teams has two keys, and forgetting them in one team leaves
// the other's data alone (no team acts on another's, decision 92).
// Open returns an error wrapping ErrSubjectErased when the key is gone.
type SubjectKeys interface {
	Seal(team, subject string, plain []byte) (subjectID, ciphertext string, err error)
	Open(subjectID, ciphertext string) ([]byte, error)
}

// PersonalField names one personal field of an event type by its JSON
// path: object keys joined by '.', a key ending in "[]" for each string of
// an array ("assignees[]", "process.owner"). A field naming a person has
// an empty SubjectFrom: its value is its own subject. A free-text field
// that may hold personal data written by or about the person of the
// event names that person's field in SubjectFrom: it is sealed under the
// same subject (and stays clear when that field is empty).
type PersonalField struct {
	Path        string
	SubjectFrom string
}

// sealedValue is the stored form of a personal value.
type sealedValue struct {
	S string `json:"s"`
	C string `json:"c"`
}

// SetSubjectKeys makes the codec seal the registered personal fields on
// Encode and open sealed values on Upcast and Decode. Call it before use.
func (c *Codec) SetSubjectKeys(keys SubjectKeys) { c.keys = keys }

// HasSubjectKeys reports whether the codec seals personal fields.
func (c *Codec) HasSubjectKeys() bool { return c.keys != nil }

// RegisterPersonal declares the personal fields of the registered event
// type name.
func (c *Codec) RegisterPersonal(name string, fields ...PersonalField) {
	if _, ok := c.types[name]; !ok {
		panic(fmt.Sprintf("eventstore: personal fields of unregistered event type %q", name))
	}
	if c.personal == nil {
		c.personal = map[string][]PersonalField{}
	}
	c.personal[name] = append(c.personal[name], fields...)
}

// PersonalFields lists the personal fields of each event type that has any.
func (c *Codec) PersonalFields() map[string][]PersonalField {
	out := make(map[string][]PersonalField, len(c.personal))
	for k, v := range c.personal {
		out[k] = append([]PersonalField(nil), v...)
	}
	return out
}

// seal replaces the personal fields of data (the JSON of an event of type
// name) with their sealed form.
func (c *Codec) seal(team, name string, data json.RawMessage) (json.RawMessage, error) {
	fields := c.personal[name]
	if c.keys == nil || len(fields) == 0 {
		return data, nil
	}
	doc, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	// Subjects are read before anything is sealed: a text names its
	// person's field, which may itself be sealed below.
	subjects := map[string]string{}
	for _, f := range fields {
		if f.SubjectFrom != "" {
			if s, ok := lookupString(doc, f.SubjectFrom); ok {
				subjects[f.SubjectFrom] = s
			}
		}
	}
	for _, f := range fields {
		var serr error
		doc = rewrite(doc, strings.Split(f.Path, "."), func(v string) any {
			subject := v
			if f.SubjectFrom != "" {
				subject = subjects[f.SubjectFrom]
			}
			if v == "" || strings.TrimSpace(subject) == "" {
				return v
			}
			id, ct, err := c.keys.Seal(team, subject, []byte(v))
			if err != nil {
				serr = err
				return v
			}
			return map[string]any{piiKey: sealedValue{S: id, C: ct}}
		})
		if serr != nil {
			return nil, fmt.Errorf("seal %s: %w", f.Path, serr)
		}
	}
	return marshalData(doc)
}

// Unseal returns data with every sealed value replaced by its clear value,
// Erased (the key is gone) or Sealed (the codec holds no keys). Data with
// no sealed value is returned as is.
func (c *Codec) Unseal(data json.RawMessage) (json.RawMessage, error) {
	if !bytes.Contains(data, []byte(`"`+piiKey+`"`)) {
		return data, nil
	}
	doc, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	var oerr error
	doc = c.open(doc, &oerr)
	if oerr != nil {
		return nil, oerr
	}
	return marshalData(doc)
}

func (c *Codec) open(v any, oerr *error) any {
	switch t := v.(type) {
	case map[string]any:
		if sv, ok := asSealed(t); ok {
			if c.keys == nil {
				return Sealed
			}
			plain, err := c.keys.Open(sv.S, sv.C)
			if errors.Is(err, ErrSubjectErased) {
				return Erased
			}
			if err != nil {
				if *oerr == nil {
					*oerr = fmt.Errorf("unseal: %w", err)
				}
				return Sealed
			}
			return string(plain)
		}
		for k, x := range t {
			t[k] = c.open(x, oerr)
		}
	case []any:
		for i, x := range t {
			t[i] = c.open(x, oerr)
		}
	}
	return v
}

// asSealed recognizes {"$pii":{"s":"...","c":"..."}} and nothing else.
func asSealed(m map[string]any) (sealedValue, bool) {
	if len(m) != 1 {
		return sealedValue{}, false
	}
	inner, ok := m[piiKey].(map[string]any)
	if !ok || len(inner) != 2 {
		return sealedValue{}, false
	}
	s, ok1 := inner["s"].(string)
	ct, ok2 := inner["c"].(string)
	if !ok1 || !ok2 {
		return sealedValue{}, false
	}
	return sealedValue{S: s, C: ct}, true
}

// IsSealed reports whether data holds a sealed personal value.
func IsSealed(data []byte) bool {
	if !bytes.Contains(data, []byte(`"`+piiKey+`"`)) {
		return false
	}
	doc, err := decodeTree(data)
	if err != nil {
		return false
	}
	found := false
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if _, ok := asSealed(t); ok {
				found = true
				return
			}
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(doc)
	return found
}

func decodeTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	return doc, nil
}

// lookupString is the string at a path of object keys (no arrays).
func lookupString(doc any, path string) (string, bool) {
	cur := doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur = m[k]
	}
	s, ok := cur.(string)
	return s, ok
}

// rewrite applies f to every string at path in v.
func rewrite(v any, path []string, f func(string) any) any {
	if len(path) == 0 {
		if s, ok := v.(string); ok {
			return f(s)
		}
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	key, each := strings.CutSuffix(path[0], "[]")
	x, ok := m[key]
	if !ok {
		return v
	}
	if each {
		arr, ok := x.([]any)
		if !ok {
			return v
		}
		for i := range arr {
			arr[i] = rewrite(arr[i], path[1:], f)
		}
		return v
	}
	m[key] = rewrite(x, path[1:], f)
	return v
}
