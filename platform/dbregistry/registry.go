// Package dbregistry is the single source of truth for database names: the
// write side's event store and the 14 read-side module databases, their
// purposes, the optional prefix (CSPM_DB_PREFIX) and deprecated aliases.
// Nothing else in the code base spells a database name (docs/architecture.md §3).
package dbregistry

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Constant identifies a database independently of its (prefixed) name.
// Its value is the constant's own name, as docs/architecture.md §3 spells it.
type Constant string

// The databases. The identifiers follow docs/architecture.md §3 (upper snake case) so
// that code, docs and `cspm db list` use one vocabulary.
const (
	EVENTS              Constant = "EVENTS"
	PLATFORM            Constant = "PLATFORM"
	CLOUD_SECURITY      Constant = "CLOUD_SECURITY"
	CLOUD_ASSETS        Constant = "CLOUD_ASSETS"
	ORCHESTRATION       Constant = "ORCHESTRATION"
	VULNERABILITIES     Constant = "VULNERABILITIES"
	RISK_MANAGEMENT     Constant = "RISK_MANAGEMENT"
	ASSESSMENTS         Constant = "ASSESSMENTS"
	CONTAINER_REGISTRY  Constant = "CONTAINER_REGISTRY"
	SECURITY_SCANS      Constant = "SECURITY_SCANS"
	THREAT_INTELLIGENCE Constant = "THREAT_INTELLIGENCE"
	AI_GOVERNANCE       Constant = "AI_GOVERNANCE"
	INTEGRATIONS        Constant = "INTEGRATIONS"
	KNOWLEDGE_BASE      Constant = "KNOWLEDGE_BASE"
	BIA                 Constant = "BIA"
)

// Side tells which half of the system owns a database.
type Side string

const (
	// Write is the event store: the source of truth, appended by commands.
	Write Side = "write"
	// Read is a module database: read models written only by projectors.
	Read Side = "read"
)

// MaxNameLen is the longest effective database name accepted, in bytes,
// prefix included (MongoDB's limit is 64; one byte is kept in reserve).
const MaxNameLen = 63

// definition is one database as the code declares it.
type definition struct {
	constant Constant
	name     string
	side     Side
	purpose  string
}

// definitions is the registry's content, in presentation order: the write
// side first, then the 14 module databases in docs/architecture.md §3 order.
var definitions = []definition{
	{EVENTS, "cspm_events", Write, "the event store: every stream's events, hash-chained, with global positions and idempotency records"},
	{PLATFORM, "cspm_platform", Read, "users, sessions, API keys, audit log, templates, cross-module references"},
	{CLOUD_SECURITY, "cspm_cloud_security", Read, "cloud accounts (enhanced_cloud_accounts only: no cloud_accounts), findings, compliance scores"},
	{CLOUD_ASSETS, "cspm_cloud_assets", Read, "asset inventory (asset_cache, unique asset_id), discovery history"},
	{ORCHESTRATION, "cspm_orchestration", Read, "scan_runs, scan_jobs, sub_jobs, scan summaries with severity counts"},
	{VULNERABILITIES, "cspm_vulnerabilities", Read, "vulnerability catalog, occurrences and their lifecycle, SLA policies"},
	{RISK_MANAGEMENT, "cspm_risk_management", Read, "risk register, treatment plans, KRIs, scenarios"},
	{ASSESSMENTS, "cspm_assessments", Read, "assessments, answers, completion progress, evidence"},
	{CONTAINER_REGISTRY, "cspm_container_registries", Read, "registries, repository sync status, registry_images (unique account_id+repository_name+image_digest)"},
	{SECURITY_SCANS, "cspm_security_scans", Read, "Nuclei, SSL/TLS, ZAP and header scan results"},
	{THREAT_INTELLIGENCE, "cspm_threat_intelligence", Read, "indicators (IoC), CISA KEV entries, correlations"},
	{AI_GOVERNANCE, "cspm_ai_governance", Read, "AI model registry, bias tests, EU AI Act assessments"},
	{INTEGRATIONS, "cspm_integrations", Read, "connection_status (unique integration_id), health checks, wizard sessions"},
	{KNOWLEDGE_BASE, "cspm_knowledge_base", Read, "documents, embedding_cache (unique content_hash), search cache"},
	{BIA, "cspm_bia", Read, "business impact analyses, exercises"},
}

// deprecatedAliases maps old database names to the constant that replaced them.
var deprecatedAliases = map[string]Constant{
	"cspm_platform_core": PLATFORM,
}

// Entry is one database of the registry.
type Entry struct {
	Constant    Constant `json:"constant"`
	DefaultName string   `json:"default_name"`
	Name        string   `json:"name"` // effective name: prefix + default name
	Purpose     string   `json:"purpose"`
	Side        Side     `json:"side"`
}

// Resolution is the outcome of Resolve.
type Resolution struct {
	Entry
	// Requested is the name as given to Resolve.
	Requested string
	// Deprecated is true when Requested is a deprecated alias.
	Deprecated bool
}

// Warning is a deprecation message to log, or "" when the name is current.
func (r Resolution) Warning() string {
	if !r.Deprecated {
		return ""
	}
	return fmt.Sprintf("database name %q is deprecated: use %q (%s)", r.Requested, r.Name, r.Constant)
}

// Registry resolves database constants and names under one prefix.
// It is immutable and safe for concurrent use.
type Registry struct {
	prefix  string
	entries []Entry
	byConst map[Constant]int
	aliases map[string]Constant
	lookup  map[string]lookupTarget
}

type lookupTarget struct {
	constant   Constant
	deprecated bool
}

// Errors returned by New and Resolve (match with errors.Is).
var (
	ErrInvalidName  = errors.New("invalid database name")
	ErrUnknownName  = errors.New("unknown database")
	ErrNameConflict = errors.New("database names collide")
)

// New returns the registry with prefix applied to every name. The prefix is
// prepended as is (include your separator: "acme_" gives "acme_cspm_platform").
// It fails when the prefix or a resulting name is invalid or when two names collide.
func New(prefix string) (*Registry, error) {
	return newRegistry(prefix, definitions, deprecatedAliases)
}

// MustNew is New for prefixes known to be valid (tests, defaults); it panics on error.
func MustNew(prefix string) *Registry {
	r, err := New(prefix)
	if err != nil {
		panic(err)
	}
	return r
}

// ValidatePrefix reports every problem with prefix, or nil.
func ValidatePrefix(prefix string) error {
	_, err := New(prefix)
	return err
}

func newRegistry(prefix string, defs []definition, aliases map[string]Constant) (*Registry, error) {
	var errs []error
	if prefix != "" {
		if err := checkCharset(prefix); err != nil {
			errs = append(errs, fmt.Errorf("%w: prefix %q: %w", ErrInvalidName, prefix, err))
		}
	}
	r := &Registry{
		prefix:  prefix,
		entries: make([]Entry, 0, len(defs)),
		byConst: make(map[Constant]int, len(defs)),
		aliases: make(map[string]Constant, len(aliases)),
		lookup:  make(map[string]lookupTarget, 2*len(defs)+2*len(aliases)),
	}
	// claim registers a name under which Resolve finds c; the same spelling
	// must never lead to two databases.
	claim := func(name string, t lookupTarget) {
		prev, taken := r.lookup[name]
		switch {
		case !taken:
			r.lookup[name] = t
		case prev.constant != t.constant:
			errs = append(errs, fmt.Errorf("%w: %q names both %s and %s", ErrNameConflict, name, prev.constant, t.constant))
		}
	}
	for _, d := range defs {
		if _, dup := r.byConst[d.constant]; dup {
			errs = append(errs, fmt.Errorf("%w: constant %s declared twice", ErrNameConflict, d.constant))
			continue
		}
		if err := checkCharset(d.name); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s default name %q: %w", ErrInvalidName, d.constant, d.name, err))
		}
		name := prefix + d.name
		if len(name) > MaxNameLen {
			errs = append(errs, fmt.Errorf("%w: %q is %d bytes, more than %d (shorten the prefix %q)", ErrInvalidName, name, len(name), MaxNameLen, prefix))
		}
		r.byConst[d.constant] = len(r.entries)
		r.entries = append(r.entries, Entry{Constant: d.constant, DefaultName: d.name, Name: name, Purpose: d.purpose, Side: d.side})
	}
	// Effective names first, so a collision message names the real database.
	for _, e := range r.entries {
		claim(e.Name, lookupTarget{constant: e.Constant})
	}
	for _, e := range r.entries {
		claim(e.DefaultName, lookupTarget{constant: e.Constant})
	}
	for alias, c := range aliases {
		if _, ok := r.byConst[c]; !ok {
			errs = append(errs, fmt.Errorf("%w: alias %q points to undeclared constant %s", ErrUnknownName, alias, c))
			continue
		}
		r.aliases[alias] = c
		claim(alias, lookupTarget{constant: c, deprecated: true})
		if prefix != "" {
			claim(prefix+alias, lookupTarget{constant: c, deprecated: true})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// checkCharset accepts what is safe as a MongoDB database name and as a file
// name on every platform: lower-case ASCII letters, digits, '_' and '-'.
// Upper case is refused because MongoDB rejects names differing only by case
// and some file systems cannot tell them apart.
func checkCharset(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("character %q at byte %d is not allowed (use a-z, 0-9, '_' or '-')", rune(c), i)
		}
	}
	return nil
}

// Prefix is the prefix applied to every name ("" by default).
func (r *Registry) Prefix() string { return r.prefix }

// Entries lists every database: the event store first, then the 14 module
// databases in docs/architecture.md §3 order. The slice is a copy.
func (r *Registry) Entries() []Entry {
	out := make([]Entry, len(r.entries))
	copy(out, r.entries)
	return out
}

// Entry returns the entry of c.
func (r *Registry) Entry(c Constant) (Entry, bool) {
	i, ok := r.byConst[c]
	if !ok {
		return Entry{}, false
	}
	return r.entries[i], true
}

// Name is the effective (prefixed) name of c. It panics when c is not a
// declared constant: that is a programming error, not an input error.
func (r *Registry) Name(c Constant) string {
	e, ok := r.Entry(c)
	if !ok {
		panic(fmt.Sprintf("dbregistry: undeclared constant %q", string(c)))
	}
	return e.Name
}

// SQLiteFile is where the embedded backend keeps database c: <dataDir>/<name>.sqlite.
func (r *Registry) SQLiteFile(dataDir string, c Constant) string {
	return filepath.Join(dataDir, r.Name(c)+".sqlite")
}

// Resolve maps a database name to its entry. It accepts the effective name,
// the default (unprefixed) name and deprecated aliases (prefixed or not); a
// deprecated alias resolves with Deprecated set and a Warning to log.
func (r *Registry) Resolve(name string) (Resolution, error) {
	t, ok := r.lookup[name]
	if !ok {
		return Resolution{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownName, name, strings.Join(r.names(), ", "))
	}
	return Resolution{Entry: r.entries[r.byConst[t.constant]], Requested: name, Deprecated: t.deprecated}, nil
}

func (r *Registry) names() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.Name
	}
	return out
}
