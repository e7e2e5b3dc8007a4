package assessments

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the evidence projection and its collections.
const (
	EvidenceName       = "assessments.evidence"
	EvidenceCollection = "assessment_evidence" // one per assessment: the evidence as of its date

	evCatalogs    = "evidence_catalogs"    // framework@version: its assessable requirements and their checks
	evMappings    = "evidence_mappings"    // framework@version: its requirements mapped to other frameworks', per mapping set
	evAssessments = "evidence_assessments" // assessment: team, framework, date, accounts, answers
	evAccounts    = "evidence_accounts"    // team × account: the assessments that scope it
	evFrameworks  = "evidence_frameworks"  // framework@version: the assessments of it (every team)
	evChecks      = "evidence_checks"      // team × account × check: its evaluations, by (time, import)
	evWork        = "evidence_work"        // an import under way: its accounts and their tallies per check
	evAliases     = "evidence_aliases"     // team × cloud account id (acc-...): the provider's account id it names

	// MaxFailingIDs bounds the failing finding ids kept per evaluation of a
	// check in an account (the count is kept whole).
	MaxFailingIDs = 20
	// MaxFailingListed bounds a requirement's failing results listed in
	// its evidence (the counts are whole).
	MaxFailingListed = 50
)

// Evidence gathers, for each assessment, the cloud compliance results of
// its scope as they were at the assessment's date (as_of): for every
// requirement, the checks that evaluate it (its own, from a Prowler
// catalogue, and those of the requirements mapped to it by a mapping set),
// and for each scoped account and check the latest evaluation at or
// before as_of (by time, then import id), with the failing findings and
// the scan. An import evaluated after as_of never changes it; one that
// arrives late with an earlier evaluation time revises it (its revision
// counts the imports it rests on). Answers given to mapped requirements in
// the team's other assessments are listed beside each requirement.
//
// It folds the other modules' events itself (the report imports'
// ResultsRecorded and ImportCompleted) and the catalogue, mapping and
// assessment events: it never reads another projection nor another
// database, and converges whatever order its streams arrive in.
type Evidence struct{}

var _ projections.Projection = Evidence{}

// NewEvidence returns the "assessments.evidence" projection.
func NewEvidence() Evidence { return Evidence{} }

// Name implements projections.Projection.
func (Evidence) Name() string { return EvidenceName }

// Database implements projections.Projection.
func (Evidence) Database() dbregistry.Constant { return dbregistry.ASSESSMENTS }

// EventTypes implements projections.Projection.
func (Evidence) EventTypes() []string {
	return []string{as.FrameworkVersionLoaded{}.EventType(), as.RequirementMappingLoaded{}.EventType(),
		as.AssessmentCreated{}.EventType(), as.RequirementAnswered{}.EventType(), as.AssessmentRescheduled{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(), csdomain.ImportCompleted{}.EventType()}
}

// Collections implements projections.Projection.
func (Evidence) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		// GET /api/v1/assessments/{id}/evidence: one document by id (its team checked).
		{Name: EvidenceCollection},
		{Name: evCatalogs}, {Name: evMappings}, {Name: evAssessments}, {Name: evAccounts},
		{Name: evFrameworks}, {Name: evChecks}, {Name: evWork}, {Name: evAliases},
	}
}

type catReq struct {
	ID      string   `json:"id"`
	Label   string   `json:"label"`
	Section string   `json:"section,omitempty"`
	Checks  []string `json:"checks,omitempty"`
}

type catState struct {
	Reqs []catReq `json:"reqs"`
}

func (c catState) byID() map[string]catReq {
	out := make(map[string]catReq, len(c.Reqs))
	for _, r := range c.Reqs {
		out[r.ID] = r
	}
	return out
}

type mapSet struct {
	Other as.FrameworkRef `json:"other"`
	Pairs [][2]string     `json:"pairs"` // [this framework's requirement, the other's]
}

type mapState struct {
	Sets map[string]mapSet `json:"sets"` // by mapping id (and direction)
}

type asmState struct {
	Team      string            `json:"team"`
	Framework as.FrameworkRef   `json:"framework"`
	AsOf      time.Time         `json:"as_of"`
	Accounts  []string          `json:"accounts,omitempty"`
	Answers   map[string]string `json:"answers,omitempty"` // requirement -> status
}

type idSet struct {
	IDs []string `json:"ids"`
}

func (s *idSet) add(id string) bool {
	i, found := slices.BinarySearch(s.IDs, id)
	if !found {
		s.IDs = slices.Insert(s.IDs, i, id)
	}
	return !found
}

func (s *idSet) remove(id string) {
	if i, found := slices.BinarySearch(s.IDs, id); found {
		s.IDs = slices.Delete(s.IDs, i, i+1)
	}
}

type tally struct {
	Pass         int      `json:"pass"`
	Fail         int      `json:"fail"`
	MutedFail    int      `json:"muted_fail"`
	Manual       int      `json:"manual"`
	Failing      []string `json:"failing,omitempty"`
	FailingCount int      `json:"failing_count"`
}

func (t tally) status() string {
	return string(csdomain.RequirementTally{Pass: t.Pass, Fail: t.Fail, MutedFail: t.MutedFail, Manual: t.Manual}.Status())
}

type evaluation struct {
	Import     string    `json:"import"`
	Scan       string    `json:"scan"`
	At         time.Time `json:"at"`
	Seq        string    `json:"seq"`
	Position   int64     `json:"position"`
	RecordedAt time.Time `json:"recorded_at"`
	tally
}

type checkState struct {
	Evals []evaluation `json:"evals"`
}

type workState struct {
	Accounts  []string          `json:"accounts"`
	Providers map[string]string `json:"providers,omitempty"` // account -> provider
}

func fwKey(r as.FrameworkRef) string { return r.Framework + "@" + r.Version }

func accountKey(team, account string) string { return key("acct", team, account) }

func checkKey(team, account, check string) string { return key("check", team, account, check) }

func aliasKey(team, id string) string { return key("alias", team, id) }

func workKey(importID, account string) string { return "w-" + importID + "-" + key(account) }

// Apply implements projections.Projection.
func (p Evidence) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case as.FrameworkVersionLoaded:
		err = p.catalog(ctx, tx, e)
	case as.RequirementMappingLoaded:
		err = p.mapping(ctx, tx, e)
	case as.AssessmentCreated:
		err = p.assessment(ctx, tx, e.AssessmentID, func(s *asmState) {
			s.Team, s.Framework, s.AsOf, s.Accounts = team, e.Framework, e.AsOf, e.Scope.Accounts
		})
	case as.AssessmentRescheduled:
		err = p.assessment(ctx, tx, e.AssessmentID, func(s *asmState) { s.AsOf, s.Accounts = e.AsOf, e.Scope.Accounts })
	case as.RequirementAnswered:
		err = p.answered(ctx, tx, e)
	case csdomain.ResultsRecorded:
		err = p.results(ctx, tx, team, e)
	case csdomain.ImportCompleted:
		err = p.completed(ctx, tx, team, ev, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", EvidenceName, err)
	}
	return nil
}

func (p Evidence) catalog(ctx context.Context, tx projections.Tx, e as.FrameworkVersionLoaded) error {
	ref := as.FrameworkRef{Framework: e.Framework, Version: e.Version}
	var c catState
	for _, r := range e.Requirements {
		if r.Assessable {
			c.Reqs = append(c.Reqs, catReq{ID: r.ID, Label: r.Label(), Section: r.Section, Checks: r.Checks})
		}
	}
	if err := putState(tx, evCatalogs, fwKey(ref), c, nil); err != nil {
		return err
	}
	// Its own assessments, and those of frameworks mapped to it.
	targets := []as.FrameworkRef{ref}
	var m mapState
	if _, err := getState(ctx, tx, evMappings, fwKey(ref), &m); err != nil {
		return err
	}
	for _, s := range m.Sets {
		targets = append(targets, s.Other)
	}
	return p.recomputeFrameworks(ctx, tx, targets...)
}

func (p Evidence) mapping(ctx context.Context, tx projections.Tx, e as.RequirementMappingLoaded) error {
	for _, dir := range []struct {
		this, other as.FrameworkRef
		swap        bool
	}{{e.Source, e.Target, false}, {e.Target, e.Source, true}} {
		var m mapState
		if _, err := getState(ctx, tx, evMappings, fwKey(dir.this), &m); err != nil {
			return err
		}
		if m.Sets == nil {
			m.Sets = map[string]mapSet{}
		}
		s := mapSet{Other: dir.other}
		for _, pr := range e.Pairs {
			if dir.swap {
				s.Pairs = append(s.Pairs, [2]string{pr.Target, pr.Source})
			} else {
				s.Pairs = append(s.Pairs, [2]string{pr.Source, pr.Target})
			}
		}
		slices.SortFunc(s.Pairs, func(a, b [2]string) int { return strings.Compare(a[0]+"\x1f"+a[1], b[0]+"\x1f"+b[1]) })
		name := e.MappingID
		if dir.swap {
			name += "~reverse"
		}
		m.Sets[name] = s
		if err := putState(tx, evMappings, fwKey(dir.this), m, nil); err != nil {
			return err
		}
	}
	return p.recomputeFrameworks(ctx, tx, e.Source, e.Target)
}

func (p Evidence) recomputeFrameworks(ctx context.Context, tx projections.Tx, refs ...as.FrameworkRef) error {
	done := map[string]bool{}
	for _, ref := range refs {
		var ids idSet
		if _, err := getState(ctx, tx, evFrameworks, fwKey(ref), &ids); err != nil {
			return err
		}
		for _, id := range ids.IDs {
			if done[id] {
				continue
			}
			done[id] = true
			if err := p.recompute(ctx, tx, id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p Evidence) assessment(ctx context.Context, tx projections.Tx, id string, change func(*asmState)) error {
	var s asmState
	if _, err := getState(ctx, tx, evAssessments, id, &s); err != nil {
		return err
	}
	before := slices.Clone(s.Accounts)
	change(&s)
	if err := putState(tx, evAssessments, id, s, readmodel.Doc{"team_id": s.Team}); err != nil {
		return err
	}
	if err := p.index(ctx, tx, evFrameworks, fwKey(s.Framework), id, true); err != nil {
		return err
	}
	for _, a := range before {
		if !slices.Contains(s.Accounts, a) {
			if err := p.index(ctx, tx, evAccounts, accountKey(s.Team, a), id, false); err != nil {
				return err
			}
		}
	}
	for _, a := range s.Accounts {
		if err := p.index(ctx, tx, evAccounts, accountKey(s.Team, a), id, true); err != nil {
			return err
		}
	}
	if err := p.recompute(ctx, tx, id); err != nil {
		return err
	}
	if len(s.Answers) == 0 {
		return nil
	}
	// Answers that arrived before the creation: the assessments of mapped
	// frameworks list them now.
	return p.recomputeMapped(ctx, tx, s.Framework)
}

func (p Evidence) recomputeMapped(ctx context.Context, tx projections.Tx, ref as.FrameworkRef) error {
	var m mapState
	if _, err := getState(ctx, tx, evMappings, fwKey(ref), &m); err != nil {
		return err
	}
	var others []as.FrameworkRef
	for _, name := range slices.Sorted(maps.Keys(m.Sets)) {
		others = append(others, m.Sets[name].Other)
	}
	return p.recomputeFrameworks(ctx, tx, others...)
}

func (p Evidence) index(ctx context.Context, tx projections.Tx, coll, docID, id string, add bool) error {
	var ids idSet
	if _, err := getState(ctx, tx, coll, docID, &ids); err != nil {
		return err
	}
	if add {
		ids.add(id)
	} else {
		ids.remove(id)
	}
	return putState(tx, coll, docID, ids, nil)
}

// answered keeps the answer and revises the evidence of the team's
// assessments of frameworks mapped to this one (they list it).
func (p Evidence) answered(ctx context.Context, tx projections.Tx, e as.RequirementAnswered) error {
	var s asmState
	if _, err := getState(ctx, tx, evAssessments, e.AssessmentID, &s); err != nil {
		return err
	}
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	s.Answers[e.RequirementID] = string(e.Status)
	if err := putState(tx, evAssessments, e.AssessmentID, s, readmodel.Doc{"team_id": s.Team}); err != nil {
		return err
	}
	if s.Framework.Framework == "" {
		return nil // the creation has not arrived yet: it will recompute
	}
	return p.recomputeMapped(ctx, tx, s.Framework)
}

func (p Evidence) results(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	var w workState
	if _, err := getState(ctx, tx, evWork, "w-"+e.ImportID, &w); err != nil {
		return err
	}
	byAccount := map[string]map[string]*tally{}
	for _, r := range e.Results {
		t, ok := byAccount[r.Account]
		if !ok {
			t = map[string]*tally{}
			if _, err := getState(ctx, tx, evWork, workKey(e.ImportID, r.Account), &t); err != nil {
				return err
			}
			byAccount[r.Account] = t
			if i, found := slices.BinarySearch(w.Accounts, r.Account); !found {
				w.Accounts = slices.Insert(w.Accounts, i, r.Account)
				if w.Providers == nil {
					w.Providers = map[string]string{}
				}
				w.Providers[r.Account] = r.Provider
			}
		}
		c := t[r.Check]
		if c == nil {
			c = &tally{}
			t[r.Check] = c
		}
		switch r.Result {
		case csdomain.ResultPass:
			c.Pass++
		case csdomain.ResultFail:
			c.Fail++
			if r.Muted {
				c.MutedFail++
			}
			c.FailingCount++
			id := r.Identity(e.IdentityRule).FindingID(team)
			if i, found := slices.BinarySearch(c.Failing, id); !found {
				c.Failing = slices.Insert(c.Failing, i, id)
				if len(c.Failing) > MaxFailingIDs {
					c.Failing = c.Failing[:MaxFailingIDs]
				}
			}
		case csdomain.ResultManual:
			c.Manual++
		}
	}
	for account, t := range byAccount {
		if err := putState(tx, evWork, workKey(e.ImportID, account), t, readmodel.Doc{"team_id": team}); err != nil {
			return err
		}
	}
	return putState(tx, evWork, "w-"+e.ImportID, w, readmodel.Doc{"team_id": team})
}

// completed turns the import's tallies into one evaluation per account and
// check, and revises the evidence of the assessments scoping those
// accounts whose date is at or after the evaluation.
func (p Evidence) completed(ctx context.Context, tx projections.Tx, team string, ev projections.Event, e csdomain.ImportCompleted) error {
	var w workState
	if _, err := getState(ctx, tx, evWork, "w-"+e.ImportID, &w); err != nil {
		return err
	}
	tx.Delete(evWork, "w-"+e.ImportID)
	affected := idSet{}
	for _, account := range w.Accounts {
		t := map[string]*tally{}
		if _, err := getState(ctx, tx, evWork, workKey(e.ImportID, account), &t); err != nil {
			return err
		}
		tx.Delete(evWork, workKey(e.ImportID, account))
		for _, check := range slices.Sorted(maps.Keys(t)) {
			var cs checkState
			id := checkKey(team, account, check)
			if _, err := getState(ctx, tx, evChecks, id, &cs); err != nil {
				return err
			}
			evn := evaluation{Import: e.ImportID, Scan: e.ScanID, At: readmodel.NormalizeTime(e.EvaluatedAt),
				Seq: fold.ComplianceSeq(e.EvaluatedAt, e.ImportID), Position: ev.Position,
				RecordedAt: readmodel.NormalizeTime(ev.RecordedAt), tally: *t[check]}
			i, found := slices.BinarySearchFunc(cs.Evals, evn.Seq, func(x evaluation, s string) int { return strings.Compare(x.Seq, s) })
			if found {
				cs.Evals[i] = evn
			} else {
				cs.Evals = slices.Insert(cs.Evals, i, evn)
			}
			if err := putState(tx, evChecks, id, cs, readmodel.Doc{"team_id": team}); err != nil {
				return err
			}
		}
		// The cloud accounts module's id of the account (acc-...) names it too.
		alias := csdomain.AccountID(team, w.Providers[account], account)
		if err := putState(tx, evAliases, aliasKey(team, alias), account, readmodel.Doc{"team_id": team}); err != nil {
			return err
		}
		for _, name := range []string{account, alias} {
			var ids idSet
			if _, err := getState(ctx, tx, evAccounts, accountKey(team, name), &ids); err != nil {
				return err
			}
			for _, id := range ids.IDs {
				affected.add(id)
			}
		}
	}
	for _, id := range affected.IDs {
		var s asmState
		if _, err := getState(ctx, tx, evAssessments, id, &s); err != nil {
			return err
		}
		if e.EvaluatedAt.After(s.AsOf) {
			continue // later than the assessment's date: its evidence does not change
		}
		if err := p.recompute(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
