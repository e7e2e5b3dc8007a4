package cloudassets

import (
	"context"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Assets from findings. Every imported result names a resource; under the
// asset identity rule (domain/cloudassets) it is an asset, the same one an
// inventory row naming the same ARN or resource id is. A result is a
// sighting of its asset (no content hash: a finding says nothing of the
// asset's configuration); the attributes a finding gives (name, type,
// tags) are kept only for an asset no inventory row described. The
// findings' lifecycle is the domain's fold (projections/fold.Lifecycle),
// kept here in asset_findings, and each asset counts its open findings by
// severity.

// assetOf is the asset a result names.
func assetOf(team string, r csdomain.CheckResult) (id, key string) {
	key = cadomain.Key(r.Provider, r.Account, r.Region, r.ResourceType, r.Resource)
	if key == "" {
		return "", ""
	}
	return cadomain.AssetID(team, cadomain.CurrentRule, key), key
}

// findingSightings records the assets a chunk of results saw.
func findingSightings(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	seen := map[string]bool{}
	for i := range e.Results {
		r := &e.Results[i]
		id, key := assetOf(team, *r)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		a, err := loadAsset(ctx, tx, team, id, key)
		if err != nil {
			return err
		}
		d, x := a.cache, a.detail
		if newer(x, r.ObservedAt, e.ImportID, "finding_at", "finding_import") {
			x["finding_at"], x["finding_import"] = readmodel.NormalizeTime(r.ObservedAt), e.ImportID
			d["resource_type"] = r.ResourceType
			if fold.Time(x, "inventory_at").IsZero() { // an inventory row describes it better
				d["provider"], d["account_id"], d["region"] = r.Provider, r.Account, r.Region
				d["name"], d["tags"], d["type"] = r.ResourceName, fold.TagsDoc(r.Tags), r.ResourceType
			}
		}
		addSource(d, cadomain.SourceFinding)
		addSighting(x, cadomain.Sighting{ImportID: e.ImportID, At: r.ObservedAt, Source: cadomain.SourceFinding})
		if err := refold(ctx, tx, a, nil); err != nil {
			return err
		}
		a.put(tx)
	}
	return nil
}

// histories keeps the imported findings' histories in asset_findings and
// each asset's open counts.
type histories struct{}

// Finding ids of imports are per team already ("fnd-" over the team and
// the identity): the id is the document's _id.
func (histories) History(ctx context.Context, tx projections.Tx, id string) (csdomain.History, bool, error) {
	d, found, err := fold.Get(ctx, tx, FindingsCollection, id)
	if err != nil || !found {
		return csdomain.History{}, false, err
	}
	return fold.HistoryFrom(fold.Obj(d, "history")), true, nil
}

func (histories) Save(ctx context.Context, tx projections.Tx, c fold.Change) error {
	r := c.Result
	d, found, err := fold.Get(ctx, tx, FindingsCollection, c.ID)
	if err != nil {
		return err
	}
	if !found {
		if r == nil {
			return nil // a fix of a finding never seen failing: nothing to count
		}
		aid, _ := assetOf(c.Team, *r)
		if aid == "" {
			return nil
		}
		d = readmodel.Doc{"_id": c.ID, "team_id": c.Team, "finding_id": c.ID, "asset_id": aid,
			"provider": c.Identity.Provider, "account_id": c.Identity.Account, "region": c.Identity.Region,
			"check_id": c.Identity.Check, "resource_id": c.Identity.Resource}
	}
	wasOpen, wasSev := fold.Str(d, "status") == csdomain.LifecycleOpen, fold.Str(d, "severity")
	if r != nil && !fold.Time(d, "attributes_at").After(r.ObservedAt) {
		d["attributes_at"] = readmodel.NormalizeTime(r.ObservedAt)
		d["severity"], d["severity_rank"] = string(r.Severity), severityRank(r.Severity)
		d["muted_by_tool"] = r.Muted
	}
	s := c.After.Summarize()
	d["history"] = fold.HistoryDoc(c.After)
	d["status"] = s.Status
	d["first_seen"], d["last_seen"] = fold.TimeOrNil(s.FirstSeen), fold.TimeOrNil(s.LastSeen)
	tx.Put(FindingsCollection, d)
	isOpen, sev := s.Status == csdomain.LifecycleOpen, fold.Str(d, "severity")
	if isOpen == wasOpen && sev == wasSev {
		return nil
	}
	a, found, err := fold.Get(ctx, tx, AssetsCollection, DocID(c.Team, fold.Str(d, "asset_id")))
	if err != nil || !found {
		return err
	}
	counts, total := fold.SeverityCountsFrom(fold.Obj(a, "open_findings")), fold.Num(a, "open_findings_total")
	if wasOpen {
		counts.Add(wasSev, -1)
		total--
	}
	if isOpen {
		counts.Add(sev, 1)
		total++
	}
	a["open_findings"], a["open_findings_total"] = counts.Doc(), total
	tx.Put(AssetsCollection, a)
	return nil
}

func severityRank(s csdomain.Severity) int64 {
	switch s {
	case csdomain.SeverityCritical:
		return 4
	case csdomain.SeverityHigh:
		return 3
	case csdomain.SeverityMedium:
		return 2
	case csdomain.SeverityLow:
		return 1
	}
	return 0
}

// findingResolved: a person resolved an imported finding, a step of its
// lifecycle (a later failing scan reopens it).
func findingResolved(ctx context.Context, tx projections.Tx, ev projections.Event, e csdomain.FindingResolved) error {
	if !csdomain.IsImportedFinding(e.FindingID) {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, FindingsCollection, e.FindingID)
	if err != nil || !found || fold.Str(d, "team_id") != ev.Metadata.TeamID {
		return err
	}
	s := csdomain.Scope{Provider: fold.Str(d, "provider"), Account: fold.Str(d, "account_id"), Region: fold.Str(d, "region"), Check: fold.Str(d, "check_id")}
	return lifecycle.Resolve(ctx, tx, ev.Metadata.TeamID, s, e.FindingID, csdomain.Step{At: e.ResolvedAt, By: ev.Metadata.Actor}, histories{})
}
