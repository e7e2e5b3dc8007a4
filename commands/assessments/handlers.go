// Package assessments holds the assessments module's command handlers:
// loading framework catalogues and requirement mappings (public data, one
// stream per framework, "catalog-<framework>", and per mapping set,
// "reqmapping-<id>"), and the team's assessments ("assessment-<id>").
package assessments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	as "github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Stream types and id prefixes.
const (
	StreamTypeCatalog     = "FrameworkCatalog"
	StreamTypeMapping     = "RequirementMapping"
	StreamTypeAssessment  = "Assessment"
	catalogStreamPrefix   = "catalog-"
	mappingStreamPrefix   = "reqmapping-"
	assessmentStreamPrefx = "assessment-"
	maxRetries            = 3
)

// CatalogStreamID is the stream of a framework's versions.
func CatalogStreamID(framework string) string { return catalogStreamPrefix + framework }

// MappingStreamID is the stream of a mapping set.
func MappingStreamID(id string) string { return mappingStreamPrefix + id }

// AssessmentStreamID is the stream of an assessment.
func AssessmentStreamID(id string) string { return assessmentStreamPrefx + id }

// Parsed is what a catalogue file holds: a framework version, mapping
// sets, or both.
type Parsed struct {
	Catalogue *as.Catalogue
	Mappings  []as.MappingSet
}

// Catalogs reads a catalogue file (the parsers of platform/parsers: CISO
// Assistant libraries, Prowler compliance frameworks). An error of the
// file's content is a *domain.ValidationError or wraps one the api maps
// to 400; the caller passes the parsers' errors through ParseError.
type Catalogs interface {
	ParseCatalog(ctx context.Context, r io.Reader) (Parsed, error)
}

// Handlers runs the assessments commands. Safe for concurrent use.
type Handlers struct {
	kit      *commands.Kit
	catalogs Catalogs
}

// New returns the handlers; it panics on a nil dependency (a wiring mistake).
func New(kit *commands.Kit, catalogs Catalogs) *Handlers {
	if kit == nil || catalogs == nil {
		panic("assessments.New: nil dependency")
	}
	return &Handlers{kit: kit, catalogs: catalogs}
}

// MaxCatalogBytes bounds a catalogue file.
const MaxCatalogBytes = 32 << 20

// LoadCatalog loads a catalogue file.
type LoadCatalog struct {
	FileName string
	Version  string // optional: the version to load it as (else its own, else one named by its content)
	Body     io.Reader
}

// LoadedVersion is one framework version a load produced (or found unchanged).
type LoadedVersion struct {
	Framework    string `json:"framework"`
	Version      string `json:"version"`
	Name         string `json:"name"`
	Source       string `json:"source"`
	Status       string `json:"status"` // loaded, unchanged
	Requirements int    `json:"requirements"`
	Assessable   int    `json:"assessable"`
	Position     int64  `json:"position,omitempty"`
}

// LoadedMapping is one mapping set a load produced.
type LoadedMapping struct {
	ID       string          `json:"id"`
	Source   as.FrameworkRef `json:"source"`
	Target   as.FrameworkRef `json:"target"`
	Pairs    int             `json:"pairs"`
	Status   string          `json:"status"`
	Position int64           `json:"position,omitempty"`
}

// CatalogLoadResult is what a load did.
type CatalogLoadResult struct {
	ContentHash string          `json:"content_hash"`
	Framework   *LoadedVersion  `json:"framework,omitempty"`
	Mappings    []LoadedMapping `json:"mappings,omitempty"`
	Position    int64           `json:"position"`
}

// Load statuses.
const (
	Loaded    = "loaded"
	Unchanged = "unchanged"
)

// LoadCatalog parses the file and appends its framework version and
// mapping sets. Catalogues are public: any team reads them; the loader's
// team only signs the events.
func (h *Handlers) LoadCatalog(ctx context.Context, meta commands.Meta, cmd LoadCatalog) (CatalogLoadResult, error) {
	b, err := io.ReadAll(io.LimitReader(cmd.Body, MaxCatalogBytes+1))
	if err != nil {
		return CatalogLoadResult{}, fmt.Errorf("LoadCatalog: read: %w", err)
	}
	if len(b) > MaxCatalogBytes {
		var v domain.Validator
		v.Add("file", "larger than %d bytes", MaxCatalogBytes)
		return CatalogLoadResult{}, v.Err()
	}
	sum := sha256.Sum256(b)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	parsed, err := h.catalogs.ParseCatalog(ctx, bytes.NewReader(b))
	if err != nil {
		return CatalogLoadResult{}, err
	}
	out := CatalogLoadResult{ContentHash: hash}
	if c := parsed.Catalogue; c != nil {
		version := cmd.Version
		if version == "" {
			version = c.Version
		}
		if version == "" {
			version = "c-" + hash[len("sha256:"):][:12]
		}
		lv := LoadedVersion{Framework: c.Framework, Version: version, Name: c.Name, Source: c.Source,
			Requirements: len(c.Requirements), Assessable: c.Assessable(), Status: Loaded}
		pos, err := h.appendPublic(ctx, meta, "LoadCatalog", CatalogStreamID(c.Framework), StreamTypeCatalog, func(history []as.Event) ([]as.Event, error) {
			return as.RehydrateFramework(history...).LoadVersion(*c, version, hash, cmd.FileName, h.kit.Now())
		})
		switch {
		case errors.Is(err, as.ErrUnchanged):
			lv.Status = Unchanged
		case err != nil:
			return CatalogLoadResult{}, err
		}
		lv.Position, out.Position = pos, max(out.Position, pos)
		out.Framework = &lv
	}
	for i, m := range parsed.Mappings {
		lm, err := h.loadMapping(ctx, meta, m, hash, i)
		if err != nil {
			return CatalogLoadResult{}, err
		}
		out.Position = max(out.Position, lm.Position)
		out.Mappings = append(out.Mappings, lm)
	}
	return out, nil
}

// loadMapping pins the mapping's frameworks to their latest versions
// (when the file names none), checks its pairs against them and appends it.
func (h *Handlers) loadMapping(ctx context.Context, meta commands.Meta, m as.MappingSet, hash string, i int) (LoadedMapping, error) {
	var reqs [2][]as.Requirement
	for k, ref := range []*as.FrameworkRef{&m.Source, &m.Target} {
		v, err := h.Version(ctx, ref.Framework, ref.Version)
		if errors.Is(err, domain.ErrNotFound) {
			var val domain.Validator
			val.Add(fmt.Sprintf("mappings[%d].%s", i, []string{"source", "target"}[k]), "framework %q (version %q) is not loaded", ref.Framework, ref.Version)
			return LoadedMapping{}, val.Err()
		}
		if err != nil {
			return LoadedMapping{}, err
		}
		ref.Version, reqs[k] = v.Version, v.Requirements
	}
	if err := m.Validate(); err != nil {
		return LoadedMapping{}, err
	}
	if err := m.CheckAgainst(reqs[0], reqs[1]); err != nil {
		return LoadedMapping{}, err
	}
	lm := LoadedMapping{ID: m.ID, Source: m.Source, Target: m.Target, Pairs: len(m.Pairs), Status: Loaded}
	pos, err := h.appendPublic(ctx, meta, "LoadRequirementMapping", MappingStreamID(m.ID), StreamTypeMapping, func(history []as.Event) ([]as.Event, error) {
		current := ""
		for _, e := range history {
			if e, ok := e.(as.RequirementMappingLoaded); ok {
				current = e.ContentHash
			}
		}
		return as.LoadMapping(m, current, hash, h.kit.Now())
	})
	if errors.Is(err, as.ErrUnchanged) {
		lm.Status = Unchanged
		err = nil
	}
	lm.Position = pos
	return lm, err
}

// Version reads a framework version from its stream ("" is the latest
// loaded): domain.ErrNotFound when there is none.
func (h *Handlers) Version(ctx context.Context, framework, version string) (as.FrameworkVersionLoaded, error) {
	if !as.ValidFramework(framework) {
		return as.FrameworkVersionLoaded{}, fmt.Errorf("framework %q: %w", framework, domain.ErrNotFound)
	}
	recorded, err := h.kit.Store().ReadStream(ctx, CatalogStreamID(framework), eventstore.ReadStreamOptions{})
	if err != nil {
		return as.FrameworkVersionLoaded{}, fmt.Errorf("read catalogue %s: %w", framework, err)
	}
	if len(recorded) > 0 && recorded[0].StreamType != StreamTypeCatalog {
		return as.FrameworkVersionLoaded{}, fmt.Errorf("framework %q: %w", framework, domain.ErrNotFound)
	}
	events, err := commands.Decode[as.Event](h.kit.Codec(), recorded)
	if err != nil {
		return as.FrameworkVersionLoaded{}, err
	}
	var found *as.FrameworkVersionLoaded
	for _, e := range events {
		if e, ok := e.(as.FrameworkVersionLoaded); ok && (version == "" || e.Version == version) {
			found = &e
		}
	}
	if found == nil {
		return as.FrameworkVersionLoaded{}, fmt.Errorf("framework %q version %q: %w", framework, version, domain.ErrNotFound)
	}
	return *found, nil
}

// appendPublic decides on a public stream (any team's history counts) and
// appends, retrying a lost race. It returns the last position appended (0
// with the decision's error).
func (h *Handlers) appendPublic(ctx context.Context, meta commands.Meta, name, streamID, typ string, decide func([]as.Event) ([]as.Event, error)) (int64, error) {
	md, err := commands.Metadata(meta)
	if err != nil {
		return 0, err
	}
	c := commands.Call{Name: name, StreamID: streamID, Type: typ}
	for attempt := 0; ; attempt++ {
		recorded, err := h.kit.Store().ReadStream(ctx, streamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return 0, fmt.Errorf("%s: read %s: %w", name, streamID, err)
		}
		expected := eventstore.NoStream
		if len(recorded) > 0 {
			if recorded[0].StreamType != typ {
				return 0, fmt.Errorf("%s: %w", name, &commands.IDInUseError{Field: "framework", ID: streamID})
			}
			expected = eventstore.Exact(recorded[len(recorded)-1].Version)
		}
		history, err := commands.Decode[as.Event](h.kit.Codec(), recorded)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		events, err := decide(history)
		if err != nil {
			return 0, err
		}
		req, err := h.kit.AppendRequest(c, expected, md, eventstore.Idempotency{}, commands.Anys(events))
		if err != nil {
			return 0, err
		}
		res, err := h.kit.Store().Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%s: append to %s: %w", name, streamID, err)
		}
		return res.LastPosition(), nil
	}
}

func assessmentCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: AssessmentStreamID(id), Type: StreamTypeAssessment}
}

// CreateAssessment starts an assessment of the caller's team.
type CreateAssessment struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Framework   string     `json:"framework"`
	Version     string     `json:"version,omitempty"` // absent: the latest loaded
	Scope       as.Scope   `json:"scope"`
	Assignees   []string   `json:"assignees,omitempty"`
	DueDate     *time.Time `json:"due_date,omitempty"`
	AsOf        *time.Time `json:"as_of,omitempty"` // the date evidence is taken as of; absent: now
}

// CreateAssessment creates an assessment under a new id (Result.ID).
func (h *Handlers) CreateAssessment(ctx context.Context, meta commands.Meta, cmd CreateAssessment) (commands.Result, error) {
	var v domain.Validator
	v.Check(as.ValidFramework(cmd.Framework), "framework", "%q is not a framework id", cmd.Framework)
	if err := v.Err(); err != nil {
		return commands.Result{}, err
	}
	fv, err := h.Version(ctx, cmd.Framework, cmd.Version)
	if errors.Is(err, domain.ErrNotFound) {
		v.Add("framework", "%q (version %q) is not a loaded catalogue", cmd.Framework, cmd.Version)
		return commands.Result{}, v.Err()
	}
	if err != nil {
		return commands.Result{}, err
	}
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := assessmentCall("CreateAssessment", "", cmd)
	c.StreamID = AssessmentStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]as.Event, error) {
		return as.CreateAssessment(id, as.AssessmentSpec{Name: cmd.Name, Description: cmd.Description,
			Framework: as.FrameworkRef{Framework: fv.Framework, Version: fv.Version}, Requirements: as.AssessedRequirements(fv.Requirements),
			Scope: cmd.Scope, Assignees: cmd.Assignees, DueDate: timeOr0(cmd.DueDate), AsOf: timeOr0(cmd.AsOf)}, h.kit.Now())
	})
	if err == nil {
		res.ID = id // the stream id's prefix is this module's (commands.AggregateID does not know it)
	}
	return res, err
}

func timeOr0(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return eventstore.NormalizeTime(*t)
}

// AnswerRequirement answers one requirement of the team's assessment.
type AnswerRequirement struct {
	AssessmentID  string          `json:"-"`
	RequirementID string          `json:"requirement_id"`
	Status        as.AnswerStatus `json:"status"`
	Comment       string          `json:"comment,omitempty"`
	Evidence      []string        `json:"evidence,omitempty"`
}

// AnswerRequirement records the answer (the same answer again appends
// nothing: Result.EventIDs is empty).
func (h *Handlers) AnswerRequirement(ctx context.Context, meta commands.Meta, cmd AnswerRequirement) (commands.Result, error) {
	return h.decide(ctx, meta, assessmentCall("AnswerRequirement", cmd.AssessmentID, cmd), func(a *as.Assessment) ([]as.Event, error) {
		return a.AnswerRequirement(cmd.RequirementID, cmd.Status, cmd.Comment, cmd.Evidence, meta.Actor, h.kit.Now())
	})
}

// RescheduleAssessment changes what is given of the evidence date, the
// due date, the scope and the assignees.
type RescheduleAssessment struct {
	AssessmentID string     `json:"-"`
	AsOf         *time.Time `json:"as_of,omitempty"`
	DueDate      *time.Time `json:"due_date,omitempty"`
	Scope        *as.Scope  `json:"scope,omitempty"`
	Assignees    *[]string  `json:"assignees,omitempty"`
}

// RescheduleAssessment applies the changes.
func (h *Handlers) RescheduleAssessment(ctx context.Context, meta commands.Meta, cmd RescheduleAssessment) (commands.Result, error) {
	var asOf, due *time.Time
	if cmd.AsOf != nil {
		t := eventstore.NormalizeTime(*cmd.AsOf)
		asOf = &t
	}
	if cmd.DueDate != nil {
		t := eventstore.NormalizeTime(*cmd.DueDate)
		due = &t
	}
	return h.decide(ctx, meta, assessmentCall("RescheduleAssessment", cmd.AssessmentID, cmd), func(a *as.Assessment) ([]as.Event, error) {
		return a.Reschedule(asOf, due, cmd.Scope, cmd.Assignees, h.kit.Now())
	})
}

// CloseAssessment ends the team's assessment (every requirement answered).
type CloseAssessment struct {
	AssessmentID string `json:"-"`
}

// CloseAssessment closes it.
func (h *Handlers) CloseAssessment(ctx context.Context, meta commands.Meta, cmd CloseAssessment) (commands.Result, error) {
	return h.decide(ctx, meta, assessmentCall("CloseAssessment", cmd.AssessmentID, cmd), func(a *as.Assessment) ([]as.Event, error) {
		return a.Close(meta.Actor, h.kit.Now())
	})
}

func (h *Handlers) decide(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*as.Assessment) ([]as.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("assessment_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	res, err := commands.Update(ctx, h.kit, meta, c, func(history []as.Event) ([]as.Event, error) {
		events, err := decide(as.RehydrateAssessment(history...))
		if err == nil && len(events) == 0 {
			return nil, errNoChange
		}
		return events, err
	})
	if !errors.Is(err, errNoChange) {
		if err == nil {
			res.ID = c.TargetID
		}
		return res, err
	}
	// Nothing changed: the answer names the stream as it is.
	recorded, err := h.kit.Load(ctx, meta, c)
	if err != nil {
		return commands.Result{}, err
	}
	last := recorded[len(recorded)-1]
	return commands.Result{ID: c.TargetID, StreamID: c.StreamID, Version: last.Version, Position: last.Position, EventIDs: []string{}}, nil
}

// errNoChange: the decision changes nothing; nothing is appended.
var errNoChange = errors.New("no change")
