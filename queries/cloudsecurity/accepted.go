package cloudsecurity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"

	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The risk acceptances of findings (cloudsecurity.acceptances, the
// register's fold in cspm_cloud_security; docs/risk-management.md).
const (
	acceptancesCollection   = "risk_acceptances"
	acceptedItemsCollection = "accepted_items"
	// maxRuleAcceptances bounds the active rule acceptances one page
	// matches its findings against.
	maxRuleAcceptances = queries.MaxLimit
)

func acceptanceDocID(team, id string) string { return url.PathEscape(team) + "/" + id }

// withAccepted marks the findings a risk acceptance is in force for: by
// id (accepted_items, one read for the page), or by a rule of module
// cloud_findings in force (its checks, within its accounts when it lists
// some) for an imported finding not fixed under it.
func (s *Service) withAccepted(ctx context.Context, team string, items []Finding) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]any, len(items))
	for i, f := range items {
		ids[i] = acceptanceDocID(team, f.ID)
	}
	byID := map[string][]string{}
	page, err := queries.Find(ctx, s.cloudSecurity, acceptedItemsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.In("_id", ids...), readmodel.Eq("accepted", true)), Limit: len(ids)})
	if err != nil {
		return fmt.Errorf("accepted findings: %w", err)
	}
	for _, d := range page.Docs {
		var accs []string
		for id, a := range queries.Obj(d, "acceptances") {
			if m, ok := a.(map[string]any); ok && m["from"] != nil && m["ended_at"] == nil {
				accs = append(accs, id)
			}
		}
		slices.Sort(accs)
		byID[queries.Str(d, "item_id")] = accs
	}
	type ruled struct {
		id    string
		rule  rdomain.AcceptanceRule
		fixed map[string]any
	}
	var rules []ruled
	rpage, err := queries.Find(ctx, s.cloudSecurity, acceptancesCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("status", rdomain.AcceptanceActive)),
		Sort:   []readmodel.SortField{readmodel.Asc("expires_at")}, Limit: maxRuleAcceptances})
	if err != nil {
		return fmt.Errorf("accepted findings: %w", err)
	}
	for _, d := range rpage.Docs {
		var sc rdomain.Scope
		raw, err := json.Marshal(d["scope"])
		if err != nil || json.Unmarshal(raw, &sc) != nil || sc.Rule == nil || sc.Rule.Module != rdomain.ModuleFindings {
			continue
		}
		rules = append(rules, ruled{id: queries.Str(d, "acceptance_id"), rule: *sc.Rule, fixed: queries.Obj(d, "fixed")})
	}
	for i := range items {
		f := &items[i]
		accs := slices.Clone(byID[f.ID])
		if f.Source == "import" {
			for _, r := range rules {
				if _, fixed := r.fixed[f.ID]; !fixed && r.rule.Matches(rdomain.ModuleFindings, "", f.CheckID, f.AccountID) && !slices.Contains(accs, r.id) {
					accs = append(accs, r.id)
				}
			}
		}
		if len(accs) > 0 {
			slices.Sort(accs)
			f.Accepted, f.AcceptanceIDs = true, accs
		}
	}
	return nil
}
