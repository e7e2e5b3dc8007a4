package cloudsecurity

import (
	"context"
	"slices"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	riskproj "github.com/cspm-es/cspm-es/projections/risk"
)

// The risk acceptances GET /api/v1/findings shows (`accepted`,
// docs/risk-management.md): the projection cloudsecurity.acceptances runs
// the register's acceptance fold (projections/risk, risk.register's own
// code) into cspm_cloud_security, so the findings query reads the
// acceptances beside the findings, never across databases:
//
//   - risk_acceptances (per team and acceptance): its scope (items or a
//     rule), status and the items fixed under it;
//   - accepted_items (per team and item): each acceptance's interval of
//     the item, whether one is in force.
const AcceptancesName = "cloudsecurity.acceptances"

// Collections of cloudsecurity.acceptances (the register's names).
const (
	AcceptancesCollection   = riskproj.AcceptancesCollection
	AcceptedItemsCollection = riskproj.AcceptedItemsCollection
)

// Acceptances is the projection.
type Acceptances struct{}

var _ projections.Projection = Acceptances{}

// NewAcceptances returns the "cloudsecurity.acceptances" projection.
func NewAcceptances() Acceptances { return Acceptances{} }

func (Acceptances) Name() string                  { return AcceptancesName }
func (Acceptances) Database() dbregistry.Constant { return dbregistry.CLOUD_SECURITY }

func (Acceptances) EventTypes() []string {
	return []string{rdomain.RiskAccepted{}.EventType(), rdomain.RiskAcceptanceRevoked{}.EventType(),
		rdomain.RiskAcceptanceExpired{}.EventType(), rdomain.AcceptedItemFixed{}.EventType()}
}

// Collections: the register's two acceptance collections, with its indexes.
func (Acceptances) Collections() []readmodel.CollectionSpec {
	var out []readmodel.CollectionSpec
	for _, c := range riskproj.NewRegister().Collections() {
		if c.Name == AcceptancesCollection || c.Name == AcceptedItemsCollection {
			out = append(out, c)
		}
	}
	return out
}

// Apply folds an acceptance event with the register's code.
func (a Acceptances) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	if !slices.Contains(a.EventTypes(), ev.Type) {
		return nil
	}
	return riskproj.NewRegister().Apply(ctx, tx, ev)
}
