package platform

import (
	"context"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The dashboard's compliance per framework: the team's current figures,
// the same the compliance read model's overview gives (GET
// /api/v1/compliance), folded here from the imports' events with the same
// tally (projections/fold.ComplianceTally): the compliance read models are
// in the cloud security database, and a query never joins databases.
//
// Per account and framework, a dashboard_compliance row keeps the current
// evaluation's order key (time, then import id) and counts; an evaluation
// later than the row's trades its counts for the row's in the posture's
// per-framework sums, an earlier one changes nothing. The document holds
// frameworks × counts, never requirements.

// Collections of the dashboard's compliance.
const (
	DashboardComplianceCollection = "dashboard_compliance"      // per (team, account, framework): the current evaluation
	dashboardComplianceWork       = "dashboard_compliance_work" // the tally's imports under way
)

var dashboardTally = fold.ComplianceTally{Work: dashboardComplianceWork}

var complianceEventTypes = []string{csdomain.ImportStarted{}.EventType(), csdomain.ChecksDescribed{}.EventType()}

func complianceCollections() []readmodel.CollectionSpec {
	return append([]readmodel.CollectionSpec{{Name: DashboardComplianceCollection}}, dashboardTally.CollectionSpecs()...)
}

// frameworkCounts is the posture's figures of one framework.
type frameworkCounts struct {
	Accounts int64
	Counts   csdomain.ComplianceScore
	Last     time.Time // the latest current evaluation's time
}

// complianceEvaluated places an import's evaluations: each one later than
// its account and framework's current one becomes current.
func complianceEvaluated(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportCompleted, h *postureHistories) error {
	evals, err := dashboardTally.Completed(ctx, tx, e)
	if err != nil {
		return err
	}
	for _, ev := range evals {
		id := Key(team, ev.Account+"|"+ev.Framework)
		d, found, err := fold.Get(ctx, tx, DashboardComplianceCollection, id)
		if err != nil {
			return err
		}
		if found && fold.Str(d, "seq") >= ev.Seq {
			continue // an evaluation as late or later is current
		}
		var old *csdomain.ComplianceScore
		if found {
			s := fold.ComplianceScoreFrom(fold.Obj(d, "counts"))
			old = &s
		}
		tx.Put(DashboardComplianceCollection, readmodel.Doc{"_id": id, "team_id": team, "account_id": ev.Account,
			"framework": ev.Framework, "seq": ev.Seq, "at": readmodel.NormalizeTime(ev.At), "counts": fold.ComplianceScoreDoc(ev.Score)})
		fw, score, at := ev.Framework, ev.Score, readmodel.NormalizeTime(ev.At)
		h.ops = append(h.ops, func(p *posture) { p.evaluated(fw, old, score, at) })
	}
	return nil
}

// evaluated trades old (nil: the account had none) for cur among the
// framework's current evaluations.
func (p *posture) evaluated(fw string, old *csdomain.ComplianceScore, cur csdomain.ComplianceScore, at time.Time) {
	f := p.Compliance[fw]
	if f == nil {
		f = &frameworkCounts{}
		p.Compliance[fw] = f
	}
	if old != nil {
		f.Counts.Sub(*old)
		f.Accounts--
	}
	f.Counts.Add(cur)
	f.Accounts++
	if at.After(f.Last) {
		f.Last = at
	}
}

func complianceFrom(d map[string]any) map[string]*frameworkCounts {
	out := map[string]*frameworkCounts{}
	for _, f := range fold.Objs(d, "compliance") {
		out[fold.Str(f, "framework")] = &frameworkCounts{Accounts: fold.Num(f, "accounts"),
			Counts: fold.ComplianceScoreFrom(fold.Obj(f, "counts")), Last: fold.Time(f, "last_evaluated_at")}
	}
	return out
}

func complianceDoc(m map[string]*frameworkCounts) []any {
	out := make([]any, 0, len(m))
	for _, fw := range sortedKeys(m) {
		f := m[fw]
		out = append(out, map[string]any{"framework": fw, "accounts": f.Accounts, "counts": fold.ComplianceScoreDoc(f.Counts),
			"score": fold.ComplianceScoreValue(f.Counts), "last_evaluated_at": readmodel.NormalizeTime(f.Last)})
	}
	return out
}
