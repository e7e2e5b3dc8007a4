package fold

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
)

// ComplianceTally folds an import's results into one compliance
// evaluation per account and framework (the requirements' statuses from
// the results of the checks mapped to them), for every projection that
// shows compliance: the compliance read model (projections/cloudsecurity)
// and the dashboard (projections/platform). It reads the results
// themselves, never the findings' lifecycle: a requirement's status in an
// evaluation depends on that evaluation's results only.
//
// An import under way is kept in small working documents of collection
// Work, so that a chunk of results reads only what it touches (a Prowler
// report maps ~500 checks to ~20 frameworks; an organisation's report
// holds many accounts):
//   - "cw-<import>": the format, the file name, the mapped checks and the
//     accounts seen (JSON in "state");
//   - "cwm-<import>-<check>": one check's mapping (JSON);
//   - "cwt-<import>-<account>": one account's tally per check (JSON).
//
// All are removed when the import completes.
type ComplianceTally struct {
	Work string // the working documents' collection
}

// CollectionSpecs are the tally's collections.
func (c ComplianceTally) CollectionSpecs() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{{Name: c.Work}}
}

type complianceWork struct {
	Format   string            `json:"format"`
	FileName string            `json:"file_name,omitempty"`
	Checks   []string          `json:"checks,omitempty"`   // mapped checks, sorted
	Accounts map[string]string `json:"accounts,omitempty"` // account -> provider, of results of mapped checks
}

func complianceWorkID(importID string) string { return "cw-" + importID }

func complianceWorkPartID(kind, importID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return kind + "-" + importID + "-" + hex.EncodeToString(sum[:12])
}

func (c ComplianceTally) getJSON(ctx context.Context, tx projections.Tx, id string, v any) (bool, error) {
	d, found, err := Get(ctx, tx, c.Work, id)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal([]byte(Str(d, "state")), v); err != nil {
		return false, fmt.Errorf("work state %s: %w", id, err)
	}
	return true, nil
}

func (c ComplianceTally) putJSON(tx projections.Tx, team, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tx.Put(c.Work, readmodel.Doc{"_id": id, "team_id": team, "state": string(b)})
	return nil
}

func (c ComplianceTally) load(ctx context.Context, tx projections.Tx, importID string) (*complianceWork, error) {
	w := &complianceWork{}
	if _, err := c.getJSON(ctx, tx, complianceWorkID(importID), w); err != nil {
		return nil, err
	}
	if w.Accounts == nil {
		w.Accounts = map[string]string{}
	}
	return w, nil
}

// Started notes the import's format and file name.
func (c ComplianceTally) Started(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportStarted) error {
	w, err := c.load(ctx, tx, e.ImportID)
	if err != nil {
		return err
	}
	w.Format, w.FileName = e.Format, e.FileName
	return c.putJSON(tx, team, complianceWorkID(e.ImportID), w)
}

// Checks keeps the import's mapping of checks to frameworks' requirements.
func (c ComplianceTally) Checks(ctx context.Context, tx projections.Tx, team string, e csdomain.ChecksDescribed) error {
	w, err := c.load(ctx, tx, e.ImportID)
	if err != nil {
		return err
	}
	report := csdomain.ComplianceSourceOf(w.Format) == csdomain.ComplianceFromReport
	for _, m := range csdomain.MappingOf(e.Checks).Checks() {
		fws := m.Frameworks
		if report {
			// A compliance report may name its framework without its
			// version (Prowler's CIS reports): the file name gives it.
			renamed := make(map[string][]string, len(fws))
			for fw, ids := range fws {
				renamed[csdomain.ReportFramework(fw, w.FileName)] = ids
			}
			fws = renamed
		}
		if err := c.putJSON(tx, team, complianceWorkPartID("cwm", e.ImportID, m.Check), fws); err != nil {
			return err
		}
		if i, found := slices.BinarySearch(w.Checks, m.Check); !found {
			w.Checks = slices.Insert(w.Checks, i, m.Check)
		}
	}
	return c.putJSON(tx, team, complianceWorkID(e.ImportID), w)
}

// Results tallies a chunk's results of mapped checks, and returns which of
// the chunk's checks are mapped (the caller may keep more of them).
func (c ComplianceTally) Results(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) (mapped map[string]bool, err error) {
	w, err := c.load(ctx, tx, e.ImportID)
	if err != nil {
		return nil, err
	}
	mapped = map[string]bool{}
	tallies := map[string]map[string]*csdomain.RequirementTally{} // account -> check -> tally
	newAccount := false
	for _, r := range e.Results {
		m, seen := mapped[r.Check]
		if !seen {
			_, m = slices.BinarySearch(w.Checks, r.Check)
			mapped[r.Check] = m
		}
		if !m {
			continue
		}
		byCheck := tallies[r.Account]
		if byCheck == nil {
			byCheck = map[string]*csdomain.RequirementTally{}
			if _, err := c.getJSON(ctx, tx, complianceWorkPartID("cwt", e.ImportID, r.Account), &byCheck); err != nil {
				return nil, err
			}
			tallies[r.Account] = byCheck
			if _, ok := w.Accounts[r.Account]; !ok {
				w.Accounts[r.Account], newAccount = r.Provider, true
			}
		}
		t := byCheck[r.Check]
		if t == nil {
			t = &csdomain.RequirementTally{}
			byCheck[r.Check] = t
		}
		t.Add(r.Result, r.Muted)
	}
	for account, byCheck := range tallies {
		if err := c.putJSON(tx, team, complianceWorkPartID("cwt", e.ImportID, account), byCheck); err != nil {
			return nil, err
		}
	}
	if newAccount {
		return mapped, c.putJSON(tx, team, complianceWorkID(e.ImportID), w)
	}
	return mapped, nil
}

// ComplianceEvaluation is one account's evaluation of one framework by an
// import.
type ComplianceEvaluation struct {
	Account, Provider, Framework string
	Source, Format               string
	At                           time.Time
	Seq                          string // orders one account and framework's evaluations (ComplianceSeq)
	Rows                         []csdomain.RequirementRow
	Score                        csdomain.ComplianceScore
}

// ComplianceSeq orders the evaluations of one account and framework: by
// time, then import id (two reports of one scan share the time).
func ComplianceSeq(at time.Time, importID string) string {
	return readmodel.NormalizeTime(at).Format(readmodel.TimeLayout) + "|" + importID
}

// Completed turns the import's tallies into one evaluation per account
// (each account of the import's scopes, and each with results of mapped
// checks) and framework, sorted by account then framework, and removes
// the working documents. None when the import mapped no check.
func (c ComplianceTally) Completed(ctx context.Context, tx projections.Tx, e csdomain.ImportCompleted) ([]ComplianceEvaluation, error) {
	w, err := c.load(ctx, tx, e.ImportID)
	if err != nil {
		return nil, err
	}
	tx.Delete(c.Work, complianceWorkID(e.ImportID))
	mapping := csdomain.ComplianceMapping{}
	for _, check := range w.Checks {
		id := complianceWorkPartID("cwm", e.ImportID, check)
		fws := map[string][]string{}
		if _, err := c.getJSON(ctx, tx, id, &fws); err != nil {
			return nil, err
		}
		mapping[check] = fws
		tx.Delete(c.Work, id)
	}
	tallies := map[string]map[string]*csdomain.RequirementTally{}
	for account := range w.Accounts {
		id := complianceWorkPartID("cwt", e.ImportID, account)
		byCheck := map[string]*csdomain.RequirementTally{}
		if _, err := c.getJSON(ctx, tx, id, &byCheck); err != nil {
			return nil, err
		}
		tallies[account] = byCheck
		tx.Delete(c.Work, id)
	}
	if len(mapping) == 0 {
		return nil, nil
	}
	accounts := map[string]string{}
	for _, s := range e.Scopes {
		accounts[s.Account] = s.Provider
	}
	maps.Copy(accounts, w.Accounts)
	reqs := mapping.Requirements()
	source := csdomain.ComplianceSourceOf(w.Format)
	var out []ComplianceEvaluation
	for _, account := range slices.Sorted(maps.Keys(accounts)) {
		for _, fw := range slices.Sorted(maps.Keys(reqs)) {
			ev := csdomain.FrameworkEvaluation{Framework: fw, Requirements: map[string]*csdomain.RequirementTally{}}
			rows := make([]csdomain.RequirementRow, 0, len(reqs[fw]))
			for _, id := range slices.Sorted(maps.Keys(reqs[fw])) {
				var t csdomain.RequirementTally
				checks := reqs[fw][id]
				for _, ch := range checks {
					if ct := tallies[account][ch]; ct != nil {
						t.Merge(*ct)
					}
				}
				ev.Requirements[id] = &t
				rows = append(rows, csdomain.RequirementRow{ID: id, Status: t.Status(), Tally: t, Checks: checks})
			}
			out = append(out, ComplianceEvaluation{Account: account, Provider: accounts[account], Framework: fw,
				Source: source, Format: w.Format, At: e.EvaluatedAt, Seq: ComplianceSeq(e.EvaluatedAt, e.ImportID),
				Rows: rows, Score: ev.Score()})
		}
	}
	return out, nil
}

// ComplianceScoreDoc is a score's counts as a document.
func ComplianceScoreDoc(s csdomain.ComplianceScore) map[string]any {
	return map[string]any{"requirements": int64(s.Requirements), "passed": int64(s.Passed), "failed": int64(s.Failed),
		"manual": int64(s.Manual), "not_evaluated": int64(s.NotEvaluated), "muted_fail": int64(s.MutedFail)}
}

// ComplianceScoreFrom reads ComplianceScoreDoc.
func ComplianceScoreFrom(m map[string]any) csdomain.ComplianceScore {
	return csdomain.ComplianceScore{Requirements: int(Num(m, "requirements")), Passed: int(Num(m, "passed")),
		Failed: int(Num(m, "failed")), Manual: int(Num(m, "manual")), NotEvaluated: int(Num(m, "not_evaluated")),
		MutedFail: int(Num(m, "muted_fail"))}
}

// ComplianceScoreValue is the score, or nil when nothing passed or failed.
func ComplianceScoreValue(s csdomain.ComplianceScore) any {
	if v, ok := s.Score(); ok {
		return v
	}
	return nil
}
