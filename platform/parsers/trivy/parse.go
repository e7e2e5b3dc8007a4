package trivy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
)

// Format is a Trivy report format.
type Format string

const (
	// FormatJSON: `trivy ... --format json`, SchemaVersion 2 (Trivy 0.20
	// and later): an object with the artifact and its Results.
	FormatJSON Format = "trivy-json"
	// FormatLegacy: Trivy before 0.20: a JSON array of results, with no
	// artifact metadata.
	FormatLegacy Format = "trivy-legacy"
)

// Limits. They bound the memory a parse uses whatever the report's size.
const (
	// MaxElementBytes is the largest element accepted: one vulnerability,
	// package, misconfiguration or secret, or the report's Metadata. Real
	// vulnerabilities are 2-10 KB.
	MaxElementBytes = 4 << 20
	// MaxIdentifierBytes bounds vulnerability ids, package names, types,
	// versions, rule and check ids. A longer one is an error.
	MaxIdentifierBytes = 1024
	// MaxPathBytes bounds targets and package paths.
	MaxPathBytes = 4096
	// MaxHeldItems bounds the items of a result held until its Target,
	// Class and Type are read (only reports whose keys were reordered, as
	// a key-sorting tool does, hold any).
	MaxHeldItems = 10_000
	// MaxResults, MaxDistinctVulnerabilities and MaxDistinctPackages bound
	// the Summary's sets.
	MaxResults                 = 100_000
	MaxDistinctVulnerabilities = 500_000
	MaxDistinctPackages        = 1_000_000
)

// ItemKind says what an Item holds.
type ItemKind string

const (
	ItemVulnerability    ItemKind = "vulnerability"
	ItemPackage          ItemKind = "package"
	ItemMisconfiguration ItemKind = "misconfiguration"
	ItemSecret           ItemKind = "secret"
)

// Result is the part of a report an item was listed under.
type Result struct {
	Target string `json:"target"`
	// Class: os-pkgs, lang-pkgs, config, secret, license, custom (derived
	// from Type in reports that have no Class).
	Class string `json:"class"`
	Type  string `json:"type,omitempty"`
}

// Vulnerability is one vulnerability row: what it is (the catalog
// record) and where it occurs (the occurrence, in the report's artifact).
type Vulnerability struct {
	Record     vuln.Record     `json:"record"`
	Occurrence vuln.Occurrence `json:"occurrence"`
}

// Item is one thing a report says; exactly one of its pointers is set, as
// Kind says.
type Item struct {
	Kind             ItemKind               `json:"kind"`
	Result           Result                 `json:"result"`
	Vulnerability    *Vulnerability         `json:"vulnerability,omitempty"`
	Package          *vuln.Package          `json:"package,omitempty"`
	Misconfiguration *vuln.Misconfiguration `json:"misconfiguration,omitempty"`
	Secret           *vuln.Secret           `json:"secret,omitempty"`
}

// Summary describes what a parse read. After an error it covers the items
// emitted before it.
type Summary struct {
	Format        Format
	SchemaVersion int
	TrivyVersion  string // Trivy.Version, newer reports only
	ReportID      string // newer reports only
	CreatedAt     time.Time
	// Artifact is the scanned artifact (Metadata, ArtifactName,
	// ArtifactType). A legacy report names none: its Kind is "image" and
	// its Name the OS result's target without the "(family version)" when
	// it has an OS result, else Kind is "" and the caller must name it.
	Artifact vuln.Artifact
	// Results by class; SkippedResults are results of classes the parser
	// does not read (license, custom).
	Results        map[string]int
	SkippedResults int
	// Vulnerabilities counts occurrence rows; DistinctVulnerabilities the
	// distinct ids among them; VulnerablePackages the distinct packages
	// (class, type, name, version, location) they occur in.
	Vulnerabilities         int
	DistinctVulnerabilities int
	VulnerablePackages      int
	VulnerabilitiesBySev    map[vuln.Severity]int
	VulnerabilitiesByStatus map[vuln.Status]int
	// Packages counts package items (Results[].Packages, written with
	// --list-all-pkgs).
	Packages int
	// Misconfigurations by status and by severity; MisconfSummary adds up
	// Trivy's own per-result counts of checks (successes include the
	// passes it did not list).
	Misconfigurations         int
	MisconfigurationsByStatus map[vuln.MisconfigStatus]int
	MisconfigurationsBySev    map[vuln.Severity]int
	MisconfSummary            struct{ Successes, Failures, Exceptions int }
	Secrets                   int
	SecretsBySev              map[vuln.Severity]int
}

// Parse reads a Trivy report from r and calls emit with each item, in the
// report's order, holding at most one element at a time (and, for a result
// whose keys were reordered, up to MaxHeldItems of its items). The format
// is told by the first byte: an object is FormatJSON, an array
// FormatLegacy.
//
// A report that cannot be read is rejected with a *ParseError; emit may
// already have been called: the caller rejects the whole report. emit's and
// ctx's errors come back as they are; a failure reading r comes back
// wrapped and is not a *ParseError.
func Parse(ctx context.Context, r io.Reader, emit func(Item) error) (Summary, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Summary{}, &ParseError{Format: FormatJSON, Offset: 0, Err: ErrEmptyReport}
		}
		return Summary{}, fmt.Errorf("trivy: reading the report: %w", err)
	}
	p := &parser{ctx: ctx, emit: emit, src: &source{r: br, limit: MaxElementBytes}}
	p.sum = Summary{
		Results: map[string]int{}, VulnerabilitiesBySev: map[vuln.Severity]int{}, VulnerabilitiesByStatus: map[vuln.Status]int{},
		MisconfigurationsByStatus: map[vuln.MisconfigStatus]int{}, MisconfigurationsBySev: map[vuln.Severity]int{}, SecretsBySev: map[vuln.Severity]int{},
	}
	p.ids = map[string]struct{}{}
	p.pkgs = map[string]struct{}{}
	p.dec = json.NewDecoder(p.src)
	switch first {
	case '{':
		p.sum.Format = FormatJSON
		err = p.report()
	case '[':
		p.sum.Format = FormatLegacy
		err = p.legacy()
	default:
		p.sum.Format = FormatJSON
		err = &ParseError{Offset: 0, Err: fmt.Errorf("%w: a Trivy report is a JSON object (or, before Trivy 0.20, an array); this starts with %q", ErrMalformed, first)}
	}
	if err == nil {
		err = p.end()
	}
	p.sum.DistinctVulnerabilities = len(p.ids)
	p.sum.VulnerablePackages = len(p.pkgs)
	if err != nil {
		return p.sum, p.classify(err)
	}
	return p.sum, nil
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xef: // a UTF-8 byte order mark
			if rest, err := br.Peek(2); err == nil && rest[0] == 0xbb && rest[1] == 0xbf {
				_, _ = br.Discard(2)
				continue
			}
		}
		return b, br.UnreadByte()
	}
}

type parser struct {
	ctx  context.Context
	emit func(Item) error
	src  *source
	dec  *json.Decoder
	sum  Summary
	ids  map[string]struct{}
	pkgs map[string]struct{}
	// schema: SchemaVersion was read.
	schema bool
	// artifactType as written.
	artifactType string
	// firstOS: the first os-pkgs result's target and type (a legacy
	// report's artifact is named from it).
	firstOS, firstOSType string
	sawOS                bool
	results              int
}

// classify turns decoder errors into *ParseErrors; emit's, ctx's and the
// reader's errors pass through.
func (p *parser) classify(err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.Format == "" {
			pe.Format = p.sum.Format
		}
		if p.src.err != nil && (errors.Is(pe.Err, ErrTruncated) || errors.Is(pe.Err, ErrMalformed)) {
			return fmt.Errorf("trivy: reading the report: %w", p.src.err)
		}
		return pe
	}
	if p.src.err != nil {
		return fmt.Errorf("trivy: reading the report: %w", p.src.err)
	}
	return err
}

// offset is the decoder's position in the report.
func (p *parser) offset() int64 { return p.dec.InputOffset() }

// allow lets the reader go MaxElementBytes past the decoder's position.
func (p *parser) allow() { p.src.limit = p.offset() + MaxElementBytes + 1 }

// token reads the next token (a delimiter, key or scalar).
func (p *parser) token(path string) (json.Token, error) {
	p.allow()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.decodeError(path, p.offset(), err)
	}
	return tok, nil
}

// key reads the next object key, or reports the object's end.
func (p *parser) key(path string) (string, bool, error) {
	if !p.dec.More() {
		if _, err := p.token(path); err != nil { // '}'
			return "", false, err
		}
		return "", false, nil
	}
	tok, err := p.token(path)
	if err != nil {
		return "", false, err
	}
	k, ok := tok.(string)
	if !ok {
		return "", false, &ParseError{Path: path, Offset: p.offset(), Err: fmt.Errorf("%w: expected a key, found %v", ErrMalformed, tok)}
	}
	return k, true, nil
}

// decode reads one value into v, bounded by MaxElementBytes.
func (p *parser) decode(path string, v any) error {
	p.allow()
	start := p.offset()
	if err := p.dec.Decode(v); err != nil {
		return p.decodeError(path, start, err)
	}
	if size := p.offset() - start; size > MaxElementBytes {
		return &ParseError{Path: path, Offset: start, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, size, MaxElementBytes)}
	}
	return nil
}

// skip reads and drops one value token by token (an array of any length,
// elements bounded).
func (p *parser) skip(path string) error {
	depth := 0
	for {
		tok, err := p.token(path)
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// array walks an array value (null is an empty one), calling each with
// the element's path for every element.
func (p *parser) array(path string, each func(path string) error) error {
	tok, err := p.token(path)
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return &ParseError{Path: path, Offset: p.offset(), Err: fmt.Errorf("%w: expected an array, found %v", ErrMalformed, tok)}
	}
	for i := 0; p.dec.More(); i++ {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		if err := each(path + "[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	_, err = p.token(path) // ']'
	return err
}

func (p *parser) decodeError(path string, offset int64, err error) error {
	pe := &ParseError{Path: path, Offset: offset}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errPastLimit):
		pe.Err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxElementBytes)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		pe.Err = fmt.Errorf("%w: the report ends inside %s", ErrTruncated, orReport(path))
	case errors.As(err, &syn):
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, syn)
	case errors.As(err, &typ):
		pe.Field = typ.Field
		if pe.Field == "" {
			pe.Err = fmt.Errorf("%w: a JSON %s where Trivy writes %s", ErrMalformed, typ.Value, typ.Type)
		} else {
			pe.Err = fmt.Errorf("%w: a JSON %s where Trivy writes %s", ErrInvalidValue, typ.Value, typ.Type)
		}
	default:
		pe.Err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return pe
}

func orReport(path string) string {
	if path == "" {
		return "the report"
	}
	return path
}

// end checks nothing follows the report.
func (p *parser) end() error {
	p.allow()
	if _, err := p.dec.Token(); err != io.EOF {
		if err != nil && !errors.Is(err, errPastLimit) {
			return p.decodeError("", p.offset(), err)
		}
		return &ParseError{Offset: p.offset(), Err: fmt.Errorf("%w: content after the report", ErrMalformed)}
	}
	return nil
}

// report reads a SchemaVersion 2 report.
func (p *parser) report() error {
	if _, err := p.token(""); err != nil { // '{'
		return err
	}
	var name string
	var meta reportMetadata
	for {
		k, ok, err := p.key("")
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch k {
		case "SchemaVersion":
			var v int
			if err := p.decode(k, &v); err != nil {
				return err
			}
			if v != 2 {
				return &ParseError{Field: k, Offset: p.offset(), Err: fmt.Errorf("%w: SchemaVersion %d; this parser reads 2 (Trivy 0.20 and later) and the legacy array", ErrInvalidValue, v)}
			}
			p.sum.SchemaVersion, p.schema = v, true
		case "CreatedAt":
			var s string
			if err := p.decode(k, &s); err != nil {
				return err
			}
			t, err := parseTime(k, s)
			if err != nil {
				return &ParseError{Offset: p.offset(), Field: k, Err: errors.Unwrap(err)}
			}
			p.sum.CreatedAt = t
		case "ArtifactName":
			if err := p.decode(k, &name); err != nil {
				return err
			}
		case "ArtifactType":
			if err := p.decode(k, &p.artifactType); err != nil {
				return err
			}
		case "ReportID":
			if err := p.decode(k, &p.sum.ReportID); err != nil {
				return err
			}
		case "Trivy":
			var info trivyInfo
			if err := p.decode(k, &info); err != nil {
				return err
			}
			p.sum.TrivyVersion = info.Version
		case "Metadata":
			if err := p.decode(k, &meta); err != nil {
				return err
			}
		case "Results":
			if err := p.array(k, p.result); err != nil {
				return err
			}
		default:
			if err := p.skip(k); err != nil {
				return err
			}
		}
	}
	if !p.schema {
		return &ParseError{Offset: -1, Field: "SchemaVersion", Err: fmt.Errorf("%w: a Trivy JSON object names its SchemaVersion", ErrMissingField)}
	}
	kind, ok := vuln.ParseArtifactKind(p.artifactType)
	if !ok {
		if p.artifactType == "" {
			return &ParseError{Offset: -1, Field: "ArtifactType", Err: fmt.Errorf("%w: absent or empty", ErrMissingField)}
		}
		return &ParseError{Offset: -1, Field: "ArtifactType", Err: fmt.Errorf("%w: %q; supported: container_image, filesystem, repository, rootfs", ErrInvalidValue, p.artifactType)}
	}
	p.sum.Artifact = artifactOf(kind, name, meta)
	return nil
}

func artifactOf(kind vuln.ArtifactKind, name string, m reportMetadata) vuln.Artifact {
	a := vuln.Artifact{Kind: kind, Name: strings.TrimSpace(name), Tags: m.RepoTags, Commit: m.Commit, Branch: m.Branch}
	if vuln.IsDigest(strings.TrimSpace(m.ImageID)) {
		a.ImageID = strings.ToLower(strings.TrimSpace(m.ImageID))
	}
	for _, s := range m.RepoDigests {
		if d, ok := vuln.ParseRepoDigest(s); ok {
			a.RepoDigests = append(a.RepoDigests, d)
		}
	}
	if m.OS != nil {
		a.OS = vuln.OS{Family: m.OS.Family, Name: m.OS.Name, EOSL: m.OS.EOSL}
	}
	a.Normalize()
	return a
}

// legacy reads a pre-0.20 report: an array of results.
func (p *parser) legacy() error {
	if err := p.array("", p.result); err != nil {
		return err
	}
	if p.sawOS {
		p.sum.Artifact = legacyArtifact(p.firstOS, p.firstOSType)
	}
	return nil
}

// osFamilies are Trivy's OS package types: a result of one of these types
// without a Class is os-pkgs.
var osFamilies = []string{"alma", "alpine", "amazon", "azurelinux", "bottlerocket", "cbl-mariner", "centos", "chainguard",
	"debian", "echo", "fedora", "minimos", "opensuse", "opensuse.leap", "opensuse.tumbleweed", "oracle", "photon",
	"redhat", "rocky", "sles", "slem", "suse linux enterprise server", "suse linux enterprise micro", "ubuntu", "wolfi"}

func classOfType(typ string) string {
	if slices.Contains(osFamilies, strings.ToLower(typ)) {
		return string(vuln.ClassOS)
	}
	return string(vuln.ClassLang)
}

// resultState is one result being read: its header as far as read, and
// the items held until the header is complete.
type resultState struct {
	res                         Result
	target, class, typ, skipped bool
	held                        []heldItem
}

// ready: Target, Class and Type are known (Type is absent for secret,
// license and custom results; Class is absent in legacy reports).
func (r *resultState) ready() bool {
	if !r.target {
		return false
	}
	if r.class {
		switch r.res.Class {
		case "secret", "license", "license-file", "custom":
			return true
		}
		return r.typ
	}
	return r.typ
}

func (r *resultState) complete() {
	if r.res.Class == "" && r.res.Type != "" {
		r.res.Class = classOfType(r.res.Type)
	}
}

func (p *parser) result(path string) error {
	if p.results >= MaxResults {
		return &ParseError{Path: path, Offset: p.offset(), Err: fmt.Errorf("%w: more than %d results", ErrTooManyDistinct, MaxResults)}
	}
	p.results++
	tok, err := p.token(path)
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return &ParseError{Path: path, Offset: p.offset(), Err: fmt.Errorf("%w: a result is an object, found %v", ErrMalformed, tok)}
	}
	rs := &resultState{}
	for {
		k, ok, err := p.key(path)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		kp := path + "." + k
		switch k {
		case "Target", "Class", "Type":
			var s *string
			if err := p.decode(kp, &s); err != nil {
				return err
			}
			v := ""
			if s != nil {
				v = *s
			}
			if len(v) > MaxPathBytes {
				return &ParseError{Path: path, Offset: p.offset(), Field: k, Err: fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(v), MaxPathBytes)}
			}
			switch k {
			case "Target":
				rs.res.Target, rs.target = v, true
			case "Class":
				rs.res.Class, rs.class = v, true
			case "Type":
				rs.res.Type, rs.typ = v, true
			}
			if rs.ready() {
				rs.complete()
				if err := p.flush(rs); err != nil {
					return err
				}
			}
		case "Vulnerabilities":
			err = p.array(kp, func(ep string) error {
				var v vulnerabilityJSON
				if err := p.decode(ep, &v); err != nil {
					return err
				}
				return p.item(rs, ep, ItemVulnerability, &v)
			})
		case "Packages":
			err = p.array(kp, func(ep string) error {
				var v packageJSON
				if err := p.decode(ep, &v); err != nil {
					return err
				}
				return p.item(rs, ep, ItemPackage, &v)
			})
		case "Misconfigurations":
			err = p.array(kp, func(ep string) error {
				var v misconfigurationJSON
				if err := p.decode(ep, &v); err != nil {
					return err
				}
				return p.item(rs, ep, ItemMisconfiguration, &v)
			})
		case "Secrets":
			err = p.array(kp, func(ep string) error {
				var v secretJSON
				if err := p.decode(ep, &v); err != nil {
					return err
				}
				return p.item(rs, ep, ItemSecret, &v)
			})
		case "MisconfSummary":
			var ms *misconfSummary
			if err = p.decode(kp, &ms); err == nil && ms != nil {
				p.sum.MisconfSummary.Successes += ms.Successes
				p.sum.MisconfSummary.Failures += ms.Failures
				p.sum.MisconfSummary.Exceptions += ms.Exceptions
			}
		default:
			err = p.skip(kp)
		}
		if err != nil {
			return err
		}
	}
	rs.complete()
	if err := p.flush(rs); err != nil {
		return err
	}
	class := rs.res.Class
	p.sum.Results[class]++
	if class == string(vuln.ClassOS) && !p.sawOS {
		p.firstOS, p.firstOSType, p.sawOS = rs.res.Target, rs.res.Type, true
	}
	switch class {
	case "license", "license-file", "custom":
		p.sum.SkippedResults++
	}
	return nil
}

// heldItem is an element whose conversion waits for its result's header.
type heldItem struct {
	path string
	kind ItemKind
	raw  any
}

// item converts and emits an element, or holds it until the result's
// header is complete.
func (p *parser) item(rs *resultState, path string, kind ItemKind, raw any) error {
	if !rs.ready() {
		if len(rs.held) >= MaxHeldItems {
			return &ParseError{Path: path, Offset: p.offset(), Err: fmt.Errorf("%w: more than %d items before the result's Target, Class and Type", ErrTooLarge, MaxHeldItems)}
		}
		rs.held = append(rs.held, heldItem{path: path, kind: kind, raw: raw})
		return nil
	}
	return p.convertEmit(rs.res, path, kind, raw)
}

// flush emits the held items of a result whose header is now known.
func (p *parser) flush(rs *resultState) error {
	for i, h := range rs.held {
		if err := p.convertEmit(rs.res, h.path, h.kind, h.raw); err != nil {
			return err
		}
		rs.held[i] = heldItem{}
	}
	rs.held = rs.held[:0]
	return nil
}
