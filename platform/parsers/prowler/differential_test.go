package prowler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// The differential tests check that the decoder of decision 35
// (go-json-experiment/json) gives what encoding/json gave (parseV1, kept in
// oldjson_test.go): the same observations, summary and errors (class,
// element, offset, field; messages too, but a syntax error's wording), on
// every JSON sample and on variants of them that take the decoders'
// corners: members reordered, unknown members, keys in other cases, every
// string escaped, duplicate keys (last wins, merging as encoding/json
// merged, null after a value), invalid UTF-8 and lone surrogates, every
// member replaced by a value of each JSON kind, truncations, and the broken
// shapes of TestParse_BrokenShapes.

type parseOutcome struct {
	obs []cloudsecurity.Observation
	sum Summary
	err error
}

func runParse(parse func(context.Context, []byte, Format, func(cloudsecurity.Observation) error) (Summary, error), data []byte, f Format) parseOutcome {
	var out parseOutcome
	out.sum, out.err = parse(context.Background(), data, f, func(o cloudsecurity.Observation) error {
		out.obs = append(out.obs, o)
		return nil
	})
	return out
}

func newParse(ctx context.Context, b []byte, f Format, emit func(cloudsecurity.Observation) error) (Summary, error) {
	return Parse(ctx, bytes.NewReader(b), f, emit)
}

func oldParse(ctx context.Context, b []byte, f Format, emit func(cloudsecurity.Observation) error) (Summary, error) {
	return parseV1(ctx, bytes.NewReader(b), f, emit)
}

var errorClasses = []error{ErrEmptyReport, ErrMalformed, ErrTruncated, ErrTooLarge, ErrMissingField, ErrInvalidValue, ErrTooManyDistinct}

func errorClass(err error) error {
	for _, c := range errorClasses {
		if errors.Is(err, c) {
			return c
		}
	}
	return err
}

// sameOutcome reports how the new decoder's outcome differs from the old
// one's ("" when it does not).
func sameOutcome(data []byte, f Format) string {
	old, got := runParse(oldParse, data, f), runParse(newParse, data, f)
	if !reflect.DeepEqual(old.obs, got.obs) {
		for i := range min(len(old.obs), len(got.obs)) {
			if !reflect.DeepEqual(old.obs[i], got.obs[i]) {
				return fmt.Sprintf("observation %d differs:\nold %+v\nnew %+v", i, old.obs[i], got.obs[i])
			}
		}
		return fmt.Sprintf("%d observations, %d before", len(got.obs), len(old.obs))
	}
	if !reflect.DeepEqual(old.sum, got.sum) {
		return fmt.Sprintf("summary differs:\nold %+v\nnew %+v", old.sum, got.sum)
	}
	if (old.err == nil) != (got.err == nil) {
		return fmt.Sprintf("error %v, before %v", got.err, old.err)
	}
	if old.err == nil {
		return ""
	}
	var ope, gpe *ParseError
	if errors.As(old.err, &ope) != errors.As(got.err, &gpe) {
		return fmt.Sprintf("error %v, before %v", got.err, old.err)
	}
	if ope == nil {
		return ""
	}
	if errorClass(ope) != errorClass(gpe) || ope.Element != gpe.Element || ope.Line != gpe.Line ||
		ope.Offset != gpe.Offset || ope.Field != gpe.Field {
		return fmt.Sprintf("error differs:\nold %v (element %d, line %d, offset %d, field %q)\nnew %v (element %d, line %d, offset %d, field %q)",
			ope, ope.Element, ope.Line, ope.Offset, ope.Field, gpe, gpe.Element, gpe.Line, gpe.Offset, gpe.Field)
	}
	// encoding/json names jsonCompliance, the map[string][]string it
	// replaced, by its new name.
	norm := strings.NewReplacer("prowler.jsonCompliance", "map[string][]string").Replace
	if errorClass(ope) != ErrMalformed && norm(ope.Error()) != norm(gpe.Error()) && !strings.Contains(ope.Error(), "number ") {
		// Syntax errors are worded by each decoder, and encoding/json
		// named a number it could not store with its digits.
		return fmt.Sprintf("message differs:\nold %v\nnew %v", ope, gpe)
	}
	return ""
}

func requireSame(t *testing.T, data []byte, f Format, what string) {
	t.Helper()
	if d := sameOutcome(data, f); d != "" {
		t.Fatalf("%s: %s\ninput: %.600q", what, d, data)
	}
}

// jsonSamples are the JSON samples in testdata with their format, and the
// Prowler JSON reports in $CSPM_PROWLER_DIFF_DIR when it is set (reports
// that may not be copied here, such as real ones under another licence).
func jsonSamples(t *testing.T) map[string]Format {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	out := map[string]Format{}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := Detect(raw[:min(len(raw), DetectWindow)])
		require.NoError(t, err, name)
		out[name] = f
	}
	require.GreaterOrEqual(t, len(out), 10)
	if dir := os.Getenv("CSPM_PROWLER_DIFF_DIR"); dir != "" {
		more, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, name := range more {
			raw, err := os.ReadFile(name)
			require.NoError(t, err)
			if f, err := Detect(raw[:min(len(raw), DetectWindow)]); err == nil {
				out[name] = f
			}
		}
	}
	return out
}

func TestDifferential_Samples(t *testing.T) {
	t.Parallel()
	for name, f := range jsonSamples(t) {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		requireSame(t, raw, f, name)
		// and as each other JSON format (mostly rejected: the same way)
		for _, other := range []Format{FormatOCSF, FormatNativeJSON, FormatASFF} {
			requireSame(t, raw, other, name+" as "+string(other))
		}
	}
}

func TestDifferential_Variants(t *testing.T) {
	t.Parallel()
	for name, f := range jsonSamples(t) {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		doc := parseTree(t, raw)
		for vname, transform := range treeVariants {
			v := doc.clone()
			transform(v)
			requireSame(t, v.encode(nil), f, name+" "+vname)
		}
	}
}

// TestDifferential_EveryMember replaces each member of the first element,
// one at a time, by a value of each JSON kind (and removes it), then
// duplicates it with such a value after or before it.
func TestDifferential_EveryMember(t *testing.T) {
	t.Parallel()
	replacements := []string{`null`, `true`, `"x"`, `""`, `12.5`, `2004`, `1e400`, `{}`, `[]`, `["a",null]`, `[1]`, `{"a":1}`, `"\u00e9\ud800"`}
	before := map[string]bool{`null`: true, `"x"`: true, `{}`: true, `[1]`: true} // then overwritten by the real value
	for name, f := range jsonSamples(t) {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		doc := parseTree(t, raw)
		doc.kids = doc.kids[:min(len(doc.kids), 1)]
		paths := doc.memberPaths(nil)
		require.NotEmpty(t, paths)
		for pi, path := range paths {
			if testing.Short() && pi%4 != 0 {
				continue
			}
			for _, r := range replacements {
				rep := parseTree(t, []byte(r))
				for _, mode := range []string{"replace", "dup-after", "dup-before"} {
					if mode == "dup-before" && !before[r] {
						continue
					}
					v := doc.clone()
					v.at(path, func(obj *jnode, i int) {
						switch mode {
						case "replace":
							obj.kids[i] = rep.clone()
						case "dup-after":
							obj.insert(i+1, obj.names[i], rep.clone())
						case "dup-before":
							obj.insert(i, obj.names[i], rep.clone())
						}
					})
					requireSame(t, v.encode(nil), f, fmt.Sprintf("%s %s %v by %s", name, mode, path, r))
				}
			}
			v := doc.clone()
			v.at(path, func(obj *jnode, i int) { obj.remove(i) })
			requireSame(t, v.encode(nil), f, fmt.Sprintf("%s without %v", name, path))
		}
	}
}

func TestDifferential_Truncations(t *testing.T) {
	t.Parallel()
	for name, f := range jsonSamples(t) {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		step := max(1, len(raw)/100)
		for cut := 0; cut < len(raw); cut += step {
			requireSame(t, raw[:cut], f, fmt.Sprintf("%s cut at %d", name, cut))
		}
		// a byte flipped to each structural character
		for pos := step / 2; pos < len(raw); pos += step * 4 {
			for _, c := range []byte{'{', '}', '[', ']', ',', ':', '"', '\\', 0, 0xff} {
				b := bytes.Clone(raw)
				b[pos] = c
				requireSame(t, b, f, fmt.Sprintf("%s byte %d set to %q", name, pos, c))
			}
		}
	}
}

func TestDifferential_BrokenShapes(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", " ", "\ufeff[]", "[]", " [ ]\n", "[", "]", "[,]", "[1,]", "[null]", "[1]", "[1,2]", `["x"]`, "[true]", "[[]]", "[{}]", "[{},]",
		"[{}", "[{}][]", "[{}] x", "[{}]\n\n", "{}", `{"Findings":[]}`, "hello", "[" + okOCSF + ",", "[" + okOCSF + " " + okOCSF + "]",
		"[" + okOCSF, arr(okOCSF, okOCSF)[:len(okOCSF)+40], arr(okOCSF) + `{"x":1}`, arr(okOCSF, okNative, okASFF),
		`[{"time":1e400}]`, `[{"time_dt":"2024-13-45T99:99:99"}]`, `[{"class_uid":"2004"}]`, `[{"class_uid":2004.0}]`,
		`[{"severity_id":9999999999999999999999}]`, `[{"severity_id":1e0}]`, `[{"class_uid":2004e0}]`, `[{"class_uid":-0}]`, `[{"class_uid":2004.000}]`, `[{"severity_id":-1}]`,
		arr(strings.Replace(okOCSF, `"severity":"Critical"`, `"severity_id":5.0`, 1)), arr(strings.Replace(okOCSF, `"severity":"Critical"`, `"severity_id":05`, 1)),
		arr(strings.Replace(okOCSF, `1772442900`, `1772442900.5e0`, 1)), arr(strings.Replace(okOCSF, `1772442900`, `"1772442900"`, 1)), arr(strings.Replace(okOCSF, `1772442900`, `-1772442900`, 1)), `[{"metadata":[]}]`, `[{"resources":{}}]`, `[{"resources":[1]}]`,
		`[{"cloud":null}]`, `[{"cloud":"aws"}]`, `[{"unmapped":{"compliance":{"CIS":5}}}]`, `[{"unmapped":{"compliance":{"CIS":[5]}}}]`,
		`[{"unmapped":{"categories":5}}]`, `[{"unmapped":{"categories":[5]}}]`, `[{"unmapped":{"categories":[[]]}}]`, `[{"unmapped":{"categories":{"a":1}}}]`,
		`[{"ResourceTags":"x"}]`, `[{"ResourceTags":[1]}]`, `[{"ResourceTags":[{"Key":1,"Value":{"a":[1,2]}}]}]`, `[{"ResourceTags":{"a":1.5,"b":null,"c":true}}]`,
		`[{"Resources":[{"Tags":{"a":1}}]}]`, `[{"Resources":[{"Tags":[]}]}]`, `[{"Workflow":null}]`, `[{"Workflow":{"Status":null}}]`,
		`[{"class_uid":"x","metadata":` + "\n", `[{"class_uid":"x","metadata":{]}]`, `[{"class_uid":"x"} {}]`,
		// two faults in one element: which one encoding/json named
		`[{"severity":5,"unmapped":{"categories":5}}]`, `[{"unmapped":{"categories":5},"severity":5}]`,
		`[{"severity":5,"unmapped":{"categories":[1],"additional_urls":{}}}]`, `[{"severity":5,"unmapped":{"categories":"a|b","additional_urls":true}}]`,
		`[{"severity":5,"unmapped":{"compliance":"x","categories":5}}]`, `[{"severity":5,"unmapped":{"categories":5}},`, `[{"severity":5,"unmapped":{"categories":5}} x]`,
		`[{"severity":5,"unmapped":{"categories":5,"x":{{}}]`, `[{"Severity":5,"ResourceTags":"x"}]`, `[{"Severity":5,"ResourceTags":[1],"Categories":2}]`,
		`[{"Severity":5,"Compliance":"x","Categories":"ok"}]`, `[{"Severity":5,"Compliance":{"a":[1]},"ResourceTags":{"a":[]}}]`,
		`[{"time":{},"class_uid":"x","resources":[{"labels":5}],"unmapped":{"categories":{}}}]`, `[{"cloud":5,"unmapped":{"categories":[null,"a"]}}]`,
		`[{"a":"` + "\xff\xfe" + `"}]`, `[{"message":"\ud800"}]`, `[{"message":"\ud800\u0041"}]`, `[{"message":"\x00"}]`, "[{\"message\":\"a\tb\"}]",
	}
	// nesting deeper than both decoders' limit (10,000), and just under it
	for _, depth := range []int{9_990, 10_001, 20_000} {
		inputs = append(inputs, `[{"unknown":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}]`,
			`[{"unknown":`+strings.Repeat(`{"a":`, depth)+`1`+strings.Repeat("}", depth)+`}]`)
	}
	for _, in := range inputs {
		for _, f := range []Format{FormatOCSF, FormatNativeJSON, FormatASFF} {
			requireSame(t, []byte(in), f, fmt.Sprintf("%s %q", f, in))
		}
	}
}

// TestDifferential_ElementLimit: elements around MaxElementBytes, with the
// bulk in a huge string (escaped or not) or in many members, in first or
// second place.
func TestDifferential_ElementLimit(t *testing.T) {
	t.Parallel()
	el := func(size int, escaped bool) string {
		head := strings.TrimSuffix(okOCSF, "}") + `,"resources_data":"`
		unit, n := "x", size-len(head)-2
		if escaped {
			unit, n = `\u00e9`, n/6
		}
		return head + strings.Repeat(unit, max(n, 0)) + `"}`
	}
	members := func(size int) string {
		var b strings.Builder
		b.WriteString(strings.TrimSuffix(okOCSF, "}"))
		for i := 0; b.Len() < size-40; i++ {
			fmt.Fprintf(&b, `,"m%d":[%d]`, i, i)
		}
		return b.String() + "}"
	}
	for _, size := range []int{MaxElementBytes - 2, MaxElementBytes, MaxElementBytes + 1, MaxElementBytes + 2, MaxElementBytes + 4096} {
		for _, big := range []string{el(size, false), el(size, true), members(size)} {
			requireSame(t, []byte(arr(big)), FormatOCSF, fmt.Sprintf("one element of %d bytes", len(big)))
			requireSame(t, []byte(arr(okOCSF, big, okOCSF)), FormatOCSF, fmt.Sprintf("second element of %d bytes", len(big)))
			requireSame(t, []byte(arr(okOCSF, big)[:len(okOCSF)+size/2]), FormatOCSF, fmt.Sprintf("second element of %d bytes cut", len(big)))
		}
	}
	pad := strings.Repeat(" ", MaxElementBytes+10)
	for _, in := range []string{"[" + okOCSF + pad + "]", "[" + okOCSF + "," + pad + okOCSF + "]", "[" + pad + okOCSF + "]", arr(okOCSF) + pad, arr(okOCSF) + pad + "x"} {
		requireSame(t, []byte(in), FormatOCSF, fmt.Sprintf("%d bytes of white space", len(pad)))
	}
}

// FuzzDifferential: on any bytes, old and new decoders agree. Inputs over
// 16 KB are left out: minimising them took the fuzzer's whole time.
func FuzzDifferential(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		for _, format := range []Format{FormatOCSF, FormatNativeJSON, FormatASFF} {
			if d := sameOutcome(data, format); d != "" {
				t.Fatalf("%s: %s", format, d)
			}
		}
	})
}

// A jnode is a JSON value kept in order (duplicate names included), to
// write variants of a report.
type jnode struct {
	kind  jsontext.Kind // '{', '[' or 0 for a scalar
	raw   []byte        // a scalar as written
	names []string      // an object's member names, in order
	kids  []*jnode      // an object's values or an array's elements
}

func parseTree(t *testing.T, b []byte) *jnode {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	n, err := readNode(dec)
	require.NoError(t, err)
	return n
}

func readNode(dec *jsontext.Decoder) (*jnode, error) {
	switch k := dec.PeekKind(); k {
	case '{', '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		n := &jnode{kind: k}
		for dec.PeekKind() != k+2 { // '}' is '{'+2, ']' is '['+2
			if k == '{' {
				tok, err := dec.ReadToken()
				if err != nil {
					return nil, err
				}
				n.names = append(n.names, tok.String())
			}
			kid, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		_, err := dec.ReadToken()
		return n, err
	default:
		v, err := dec.ReadValue()
		return &jnode{raw: bytes.Clone(v)}, err
	}
}

func (n *jnode) clone() *jnode {
	c := &jnode{kind: n.kind, raw: n.raw, names: append([]string(nil), n.names...)}
	for _, k := range n.kids {
		c.kids = append(c.kids, k.clone())
	}
	return c
}

func (n *jnode) encode(b []byte) []byte {
	switch n.kind {
	case '{', '[':
		b = append(b, byte(n.kind))
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			if n.kind == '{' {
				b = appendName(b, n.names[i])
				b = append(b, ':')
			}
			b = k.encode(b)
		}
		return append(b, byte(n.kind+2))
	}
	return append(b, n.raw...)
}

func appendName(b []byte, s string) []byte {
	q, err := jsontext.AppendQuote(b, s)
	if err != nil { // invalid UTF-8 kept as it is
		return append(append(append(b, '"'), s...), '"')
	}
	return q
}

func (n *jnode) insert(i int, name string, v *jnode) {
	n.names = append(n.names[:i], append([]string{name}, n.names[i:]...)...)
	n.kids = append(n.kids[:i], append([]*jnode{v}, n.kids[i:]...)...)
}

func (n *jnode) remove(i int) {
	n.names = append(n.names[:i], n.names[i+1:]...)
	n.kids = append(n.kids[:i], n.kids[i+1:]...)
}

// memberPaths lists the paths (child indexes) of every object member
// under n.
func (n *jnode) memberPaths(prefix []int) [][]int {
	var out [][]int
	for i, k := range n.kids {
		p := append(append([]int(nil), prefix...), i)
		if n.kind == '{' {
			out = append(out, p)
		}
		out = append(out, k.memberPaths(p)...)
	}
	return out
}

// at calls f with the object holding the member at path and its index.
func (n *jnode) at(path []int, f func(obj *jnode, i int)) {
	for _, i := range path[:len(path)-1] {
		n = n.kids[i]
	}
	f(n, path[len(path)-1])
}

// walk calls f on n and every node under it, parents first.
func (n *jnode) walk(f func(*jnode)) {
	f(n)
	for _, k := range n.kids {
		k.walk(f)
	}
}

func (n *jnode) isString() bool { return n.kind == 0 && len(n.raw) > 0 && n.raw[0] == '"' }

// decoy is a copy of n with other scalar values.
func (n *jnode) decoy() *jnode {
	c := n.clone()
	c.walk(func(x *jnode) {
		switch {
		case x.isString():
			x.raw = []byte(`"decoy"`)
		case x.kind == 0 && len(x.raw) > 0 && (x.raw[0] == '-' || (x.raw[0] >= '0' && x.raw[0] <= '9')):
			x.raw = []byte(`7`)
		}
	})
	return c
}

// escapeAll writes a string with every character as a \u escape
// (surrogate pairs beyond the BMP).
func escapeAll(s string) []byte {
	b := []byte{'"'}
	for _, r := range s {
		if r == utf8.RuneError {
			b = append(b, `\ufffd`...)
			continue
		}
		if r > 0xffff {
			r -= 0x10000
			b = fmt.Appendf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			continue
		}
		b = fmt.Appendf(b, `\u%04X`, r)
	}
	return append(b, '"')
}

func unquoted(raw []byte) string {
	s, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		panic(err)
	}
	return string(s)
}

// treeVariants rewrite a whole report.
var treeVariants = map[string]func(*jnode){
	"members reversed": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i, j := 0, len(n.kids)-1; i < j; i, j = i+1, j-1 {
					n.kids[i], n.kids[j] = n.kids[j], n.kids[i]
					n.names[i], n.names[j] = n.names[j], n.names[i]
				}
			}
		})
	},
	"unknown members": func(doc *jnode) {
		extra := &jnode{raw: []byte(`{"a":[1,{"b":null,"c":"\u00e9"}],"d":true}`)}
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				n.insert(0, "zz_unknown", extra.clone())
				n.insert(len(n.kids), "unknown_after", &jnode{raw: []byte(`[[],{}]`)})
			}
		})
	},
	"names upper case": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			for i := range n.names {
				n.names[i] = strings.ToUpper(n.names[i])
			}
		})
	},
	"names with unicode folds": func(doc *jnode) { // ſ folds to s, K (Kelvin) to k
		doc.walk(func(n *jnode) {
			for i := range n.names {
				n.names[i] = strings.NewReplacer("s", "ſ", "k", "\u212a").Replace(n.names[i])
			}
		})
	},
	"names without underscores": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			for i := range n.names {
				n.names[i] = strings.ReplaceAll(n.names[i], "_", "")
			}
		})
	},
	"names with dashes": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			for i := range n.names {
				n.names[i] = strings.ReplaceAll(n.names[i], "_", "-")
			}
		})
	},
	"every string escaped": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.isString() {
				n.raw = escapeAll(unquoted(n.raw))
			}
		})
	},
	"non-ASCII and emoji in strings": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.isString() && len(n.raw) > 2 {
				n.raw = append([]byte(`"é☃😀\u00e9\ud83d\ude00`), n.raw[1:]...)
			}
		})
	},
	"invalid UTF-8 in strings": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.isString() && len(n.raw) > 2 {
				n.raw = append([]byte("\"\xff\xc3("), n.raw[1:]...)
			}
		})
	},
	"invalid UTF-8 in escaped strings": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.isString() && len(n.raw) > 2 {
				n.raw = append([]byte("\"\xff\\n"), n.raw[1:]...)
			}
		})
	},
	"lone surrogates": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.isString() && len(n.raw) > 2 {
				n.raw = append([]byte(`"\ud800x\udc00`), n.raw[1:]...)
			}
		})
	},
	"duplicates before, of another value": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i := len(n.kids) - 1; i >= 0; i-- {
					n.insert(i, n.names[i], n.kids[i].decoy())
				}
			}
		})
	},
	"duplicates before, merged": func(doc *jnode) {
		// the first of two objects has a member the second lacks: it stays
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i := len(n.kids) - 1; i >= 0; i-- {
					if k := n.kids[i]; k.kind == '{' && len(k.kids) > 1 {
						real := k.clone()
						real.remove(len(real.kids) - 1)
						n.kids[i] = real
						n.insert(i, n.names[i], k.decoy())
					}
				}
			}
		})
	},
	"duplicates after, null": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i := len(n.kids) - 1; i >= 0; i-- {
					n.insert(i+1, n.names[i], &jnode{raw: []byte(`null`)})
				}
			}
		})
	},
	"duplicates before, in upper case": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i := len(n.kids) - 1; i >= 0; i-- {
					n.insert(i, strings.ToUpper(n.names[i]), n.kids[i].decoy())
				}
			}
		})
	},
	"arrays longer then shorter": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == '{' {
				for i := len(n.kids) - 1; i >= 0; i-- {
					if k := n.kids[i]; k.kind == '[' && len(k.kids) > 0 {
						long := k.decoy()
						long.kids = append(long.kids, long.kids[0].clone())
						n.insert(i, n.names[i], long)
					}
				}
			}
		})
	},
	"every scalar null": func(doc *jnode) {
		for _, el := range doc.kids {
			el.walk(func(n *jnode) {
				if n.kind == 0 {
					n.raw = []byte(`null`)
				}
			})
		}
	},
	"white space everywhere": func(doc *jnode) {
		doc.walk(func(n *jnode) {
			if n.kind == 0 {
				n.raw = append(append([]byte(" \n\t\r"), n.raw...), " \r\n"...)
			}
		})
	},
}
