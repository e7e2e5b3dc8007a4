package assessments

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	as "github.com/cspm-es/cspm-es/domain/assessments"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// recompute builds an assessment's evidence from the projection's own
// documents (a pure function of them: the same inputs in any order build
// the same document).
func (p Evidence) recompute(ctx context.Context, tx projections.Tx, id string) error {
	var s asmState
	if _, err := getState(ctx, tx, evAssessments, id, &s); err != nil {
		return err
	}
	if s.Framework.Framework == "" {
		return nil // answers arrived before the creation
	}
	v := as.EvidenceView{AssessmentID: id, Framework: s.Framework, AsOf: readmodel.NormalizeTime(s.AsOf), Accounts: s.Accounts,
		Sources: []as.EvidenceSource{}, Checks: []as.CheckEvidence{}, Requirements: []as.RequirementEvidence{}}
	if v.Accounts == nil {
		v.Accounts = []string{}
	}
	var cat catState
	found, err := getState(ctx, tx, evCatalogs, fwKey(s.Framework), &cat)
	if err != nil {
		return err
	}
	v.Catalogue = found
	var m mapState
	if _, err := getState(ctx, tx, evMappings, fwKey(s.Framework), &m); err != nil {
		return err
	}
	// Mapped requirements: requirement -> the other frameworks' requirements.
	mapped := map[string][]as.MappedRequirement{}
	for _, name := range slices.Sorted(maps.Keys(m.Sets)) {
		set := m.Sets[name]
		var other catState
		if _, err := getState(ctx, tx, evCatalogs, fwKey(set.Other), &other); err != nil {
			return err
		}
		otherReqs := other.byID()
		answers, err := p.teamAnswers(ctx, tx, s.Team, id, set.Other)
		if err != nil {
			return err
		}
		for _, pr := range set.Pairs {
			r := otherReqs[pr[1]]
			mr := as.MappedRequirement{Framework: set.Other, Requirement: pr[1], Label: r.Label, Checks: r.Checks}
			for _, aid := range slices.Sorted(maps.Keys(answers)) {
				if st, ok := answers[aid][pr[1]]; ok {
					mr.Answers = append(mr.Answers, as.MappedAnswer{AssessmentID: aid, Status: st})
				}
			}
			mapped[pr[0]] = append(mapped[pr[0]], mr)
		}
	}
	// The evaluations in force at the date, per account × check.
	inForce := map[[2]string]*as.CheckEvidence{}
	sources := map[string]*as.EvidenceSource{}
	// A scope's account is the provider's account id, or the cloud
	// accounts module's id of it (acc-...), resolved once an import named it.
	accounts := make([]string, 0, len(v.Accounts))
	for _, a := range v.Accounts {
		var uid string
		found, err := getState(ctx, tx, evAliases, aliasKey(s.Team, a), &uid)
		if err != nil {
			return err
		}
		if found {
			a = uid
		}
		if !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	lookup := func(account, check string) (*as.CheckEvidence, error) {
		k := [2]string{account, check}
		if ce, ok := inForce[k]; ok {
			return ce, nil
		}
		var cs checkState
		if _, err := getState(ctx, tx, evChecks, checkKey(s.Team, account, check), &cs); err != nil {
			return nil, err
		}
		var sel *evaluation
		for i := range cs.Evals {
			e := &cs.Evals[i]
			if e.At.After(v.AsOf) {
				break // sorted by time then import
			}
			sel = e
			if _, ok := sources[e.Import]; !ok {
				sources[e.Import] = &as.EvidenceSource{ImportID: e.Import, ScanID: e.Scan, EvaluatedAt: e.At, Position: e.Position, RecordedAt: e.RecordedAt}
			}
		}
		if sel == nil {
			inForce[k] = nil
			return nil, nil
		}
		sources[sel.Import].Selected = true
		ce := &as.CheckEvidence{Account: account, Check: check, Status: sel.status(), ImportID: sel.Import, ScanID: sel.Scan,
			EvaluatedAt: sel.At, Pass: sel.Pass, Fail: sel.Fail, MutedFail: sel.MutedFail, Manual: sel.Manual,
			Findings: sel.Failing, FailingCount: sel.FailingCount}
		inForce[k] = ce
		return ce, nil
	}
	for _, r := range cat.Reqs {
		re := as.RequirementEvidence{ID: r.ID, Label: r.Label, Section: r.Section, Mapped: mapped[r.ID]}
		checks := slices.Clone(r.Checks)
		for _, mr := range re.Mapped {
			checks = append(checks, mr.Checks...)
			if len(mr.Answers) > 0 {
				v.Counts.MappedAnswer++
			}
		}
		slices.Sort(checks)
		re.Checks = slices.Compact(checks)
		var t csdomain.RequirementTally
		for _, account := range accounts {
			for _, check := range re.Checks {
				ce, err := lookup(account, check)
				if err != nil {
					return err
				}
				if ce == nil {
					continue
				}
				re.Evaluated++
				t.Merge(csdomain.RequirementTally{Pass: ce.Pass, Fail: ce.Fail, MutedFail: ce.MutedFail, Manual: ce.Manual})
				if ce.Fail > 0 && len(re.Failing) < MaxFailingListed {
					re.Failing = append(re.Failing, *ce)
				}
			}
		}
		re.Pass, re.Fail, re.MutedFail, re.Manual = t.Pass, t.Fail, t.MutedFail, t.Manual
		switch {
		case len(re.Checks) == 0:
			re.Status = as.EvidenceNoChecks
			v.Counts.NoChecks++
		default:
			re.Status = string(t.Status())
			switch re.Status {
			case as.EvidencePass:
				v.Counts.Pass++
			case as.EvidenceFail:
				v.Counts.Fail++
			case as.EvidenceManual:
				v.Counts.Manual++
			default:
				re.Status = as.EvidenceNotEvaluated
				v.Counts.NotEvaluated++
			}
		}
		v.Counts.Requirements++
		v.Requirements = append(v.Requirements, re)
	}
	for _, k := range slices.SortedFunc(maps.Keys(inForce), func(a, b [2]string) int {
		return strings.Compare(a[0]+"\x1f"+a[1], b[0]+"\x1f"+b[1])
	}) {
		if ce := inForce[k]; ce != nil {
			v.Checks = append(v.Checks, *ce)
		}
	}
	for _, src := range sources {
		v.Sources = append(v.Sources, *src)
	}
	slices.SortFunc(v.Sources, func(a, b as.EvidenceSource) int {
		if a.Position != b.Position {
			return int(a.Position - b.Position)
		}
		return strings.Compare(a.ImportID, b.ImportID)
	})
	v.Revision = len(v.Sources)
	for _, src := range v.Sources {
		if v.RevisedAt == nil || src.RecordedAt.After(*v.RevisedAt) {
			t := src.RecordedAt
			v.RevisedAt = &t
		}
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tx.Put(EvidenceCollection, readmodel.Doc{"_id": id, "team_id": s.Team, "framework": s.Framework.Framework,
		"version": s.Framework.Version, "as_of": v.AsOf, "revision": int64(v.Revision), "revised_at": revisedAt(v),
		"body": string(body)})
	return nil
}

func revisedAt(v as.EvidenceView) any {
	if v.RevisedAt == nil {
		return nil
	}
	return *v.RevisedAt
}

// teamAnswers are the answers of the team's assessments of framework ref
// (but self), by assessment.
func (p Evidence) teamAnswers(ctx context.Context, tx projections.Tx, team, self string, ref as.FrameworkRef) (map[string]map[string]string, error) {
	var ids idSet
	if _, err := getState(ctx, tx, evFrameworks, fwKey(ref), &ids); err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, id := range ids.IDs {
		if id == self {
			continue
		}
		var s asmState
		if _, err := getState(ctx, tx, evAssessments, id, &s); err != nil {
			return nil, err
		}
		if s.Team == team && len(s.Answers) > 0 {
			out[id] = s.Answers
		}
	}
	return out, nil
}
