// Package cloudassets projects the asset inventory (cspm_cloud_assets):
// one asset_cache document per team and asset, built from inventory rows
// (Steampipe imports) and from the resources of imported findings, with
// its discovery history and its open findings.
package cloudassets

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names (stable: they name the consumer and the checkpoint).
const (
	AssetsName = "cloudassets.assets"

	// AssetsCollection: one document per team and asset; (team_id,
	// asset_id) is unique.
	AssetsCollection = "asset_cache"
	// DetailsCollection: per team and asset, what the list never shows:
	// its sightings (the timeline's input), scopes, latest row (internal;
	// GET /assets/{id} reads the row). Apart, so asset_cache stays small.
	DetailsCollection = "asset_details"
	// ScopesCollection: per team and inventory scope, its assets and its
	// complete syncs (internal).
	ScopesCollection = "asset_scopes"
	// FindingsCollection: per team and imported finding, its asset,
	// status and severity (the open findings of GET /assets/{id}).
	FindingsCollection = "asset_findings"
	// The lifecycle fold's own documents (internal).
	findingAccounts = "asset_finding_accounts"
	findingScopes   = "asset_finding_scopes"
)

var lifecycle = fold.Lifecycle{Accounts: findingAccounts, Scopes: findingScopes}

// Assets is the "cloudassets.assets" projection.
type Assets struct{}

var _ projections.Projection = Assets{}

// NewAssets returns the assets projection.
func NewAssets() Assets { return Assets{} }

// Name implements projections.Projection.
func (Assets) Name() string { return AssetsName }

// Database implements projections.Projection.
func (Assets) Database() dbregistry.Constant { return dbregistry.CLOUD_ASSETS }

// EventTypes implements projections.Projection.
func (Assets) EventTypes() []string {
	return []string{
		cadomain.InventoryRecorded{}.EventType(),
		cadomain.InventoryCompleted{}.EventType(),
		csdomain.ResultsRecorded{}.EventType(),
		csdomain.ImportCompleted{}.EventType(),
		csdomain.FindingResolved{}.EventType(),
	}
}

// Collections implements projections.Projection. Lists page by asset_id
// within the team, filtered by at most one of type, account, region and
// status (each has its index); the unique index on (team_id, asset_id) is
// the inventory's key.
func (Assets) Collections() []readmodel.CollectionSpec {
	by := func(name string, fields ...string) readmodel.Index {
		ix := readmodel.Index{Name: name, Fields: []readmodel.IndexField{{Path: "team_id"}}}
		for _, f := range fields {
			ix.Fields = append(ix.Fields, readmodel.IndexField{Path: f})
		}
		return ix
	}
	unique := by("asset_id_unique", "asset_id")
	unique.Unique = true
	specs := []readmodel.CollectionSpec{
		{Name: AssetsCollection, Indexes: []readmodel.Index{
			unique,
			by("by_team_type", "type", "asset_id"),
			by("by_team_account", "account_id", "asset_id"),
			by("by_team_region", "region", "asset_id"),
			by("by_team_status", "status", "asset_id"),
		}},
		{Name: DetailsCollection, Indexes: []readmodel.Index{by("by_team")}},
		{Name: ScopesCollection, Indexes: []readmodel.Index{by("by_team")}},
		{Name: FindingsCollection, Indexes: []readmodel.Index{
			{Name: "by_team_asset_status", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "asset_id"}, {Path: "status"},
				{Path: "severity_rank", Desc: true}, {Path: "finding_id"}}},
		}},
	}
	return append(specs, lifecycle.CollectionSpecs()...)
}

// DocID is the _id of a team's document about id (an asset, scope or
// finding id): the team, path-escaped, '/', the id.
func DocID(team, id string) string { return url.PathEscape(team) + "/" + id }

// Apply implements projections.Projection.
func (Assets) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case cadomain.InventoryRecorded:
		err = inventoryRecorded(ctx, tx, team, e)
	case cadomain.InventoryCompleted:
		err = inventoryCompleted(ctx, tx, team, e)
	case csdomain.ResultsRecorded:
		if err = findingSightings(ctx, tx, team, e); err == nil {
			err = lifecycle.Results(ctx, tx, team, e, histories{})
		}
	case csdomain.ImportCompleted:
		err = lifecycle.Completed(ctx, tx, team, e, histories{})
	case csdomain.FindingResolved:
		err = findingResolved(ctx, tx, ev, e)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", AssetsName, err)
	}
	return nil
}

// scopeDoc is an inventory scope's document, loaded once per event.
type scopeDoc struct {
	doc     readmodel.Doc
	members map[string]bool
	list    []string
	syncs   []cadomain.Sync
	dirty   bool
}

func loadScope(ctx context.Context, tx projections.Tx, cache map[string]*scopeDoc, team string, s cadomain.Scope) (*scopeDoc, error) {
	id := DocID(team, s.ID(team))
	if sc, ok := cache[id]; ok {
		return sc, nil
	}
	d, found, err := fold.Get(ctx, tx, ScopesCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "provider": s.Provider, "account_id": s.Account, "region": s.Region, "type": s.Type}
	}
	sc := &scopeDoc{doc: d, members: map[string]bool{}, list: fold.Strs(d, "members"), syncs: syncsFrom(d)}
	for _, m := range sc.list {
		sc.members[m] = true
	}
	cache[id] = sc
	return sc, nil
}

func (sc *scopeDoc) put(tx projections.Tx) {
	if !sc.dirty {
		return
	}
	slices.Sort(sc.list) // whatever order the rows arrived in
	members := make([]any, len(sc.list))
	for i, m := range sc.list {
		members[i] = m
	}
	syncs := make([]any, len(sc.syncs))
	for i, s := range sc.syncs {
		syncs[i] = map[string]any{"import_id": s.ImportID, "at": readmodel.NormalizeTime(s.At)}
	}
	sc.doc["members"], sc.doc["syncs"] = members, syncs
	tx.Put(ScopesCollection, sc.doc)
}

func syncsFrom(d map[string]any) []cadomain.Sync {
	var out []cadomain.Sync
	for _, o := range fold.Objs(d, "syncs") {
		out = append(out, cadomain.Sync{ImportID: fold.Str(o, "import_id"), At: fold.Time(o, "at")})
	}
	return out
}

// completes reports a scope that a complete sync can remove assets of.
func completes(s cadomain.Scope) bool { return s.Type != "" }

// inventoryRecorded folds a chunk of inventory rows: each asset is seen
// (and its attributes are the latest row's), and joins its scope.
func inventoryRecorded(ctx context.Context, tx projections.Tx, team string, e cadomain.InventoryRecorded) error {
	scopes := map[string]*scopeDoc{}
	for _, r := range e.Records {
		a, err := loadAsset(ctx, tx, team, r.AssetID, r.Key)
		if err != nil {
			return err
		}
		d, x := a.cache, a.detail
		if newer(x, e.ObservedAt, e.ImportID, "inventory_at", "inventory_import") {
			x["inventory_at"], x["inventory_import"] = readmodel.NormalizeTime(e.ObservedAt), e.ImportID
			d["type"], d["provider"], d["account_id"], d["region"] = r.Type, r.Provider, r.Account, r.Region
			d["name"], d["tags"], d["hash"] = r.Name, fold.TagsDoc(r.Tags), r.Hash
			x["raw"], x["raw_truncated"] = string(r.Raw), r.RawTruncated
		}
		addSource(d, cadomain.SourceInventory)
		addSighting(x, cadomain.Sighting{ImportID: e.ImportID, At: e.ObservedAt, Hash: r.Hash, Source: cadomain.SourceInventory})
		s := r.Scope()
		if completes(s) {
			sc, err := loadScope(ctx, tx, scopes, team, s)
			if err != nil {
				return err
			}
			if !sc.members[r.AssetID] {
				sc.members[r.AssetID], sc.dirty = true, true
				sc.list = append(sc.list, r.AssetID)
			}
			scopeIDs := fold.Strs(x, "scopes")
			if !slices.Contains(scopeIDs, sc.doc.ID()) {
				scopeIDs = append(scopeIDs, sc.doc.ID())
				slices.Sort(scopeIDs)
				x["scopes"] = anys(scopeIDs)
			}
		}
		if err := refold(ctx, tx, a, scopes); err != nil {
			return err
		}
		a.put(tx)
	}
	for _, sc := range scopes {
		sc.put(tx)
	}
	return nil
}

// inventoryCompleted folds a completed import: a complete sync joins the
// syncs of each scope it named, and every asset of those scopes is folded
// again (those it did not see are removed). A partial sync, a result of
// zero rows (no scope) and rows without a type (no scope a sync
// completes) remove nothing.
func inventoryCompleted(ctx context.Context, tx projections.Tx, team string, e cadomain.InventoryCompleted) error {
	if !e.CompletesScopes() {
		return nil
	}
	scopes := map[string]*scopeDoc{}
	for _, s := range e.Scopes {
		if !completes(s) {
			continue
		}
		sc, err := loadScope(ctx, tx, scopes, team, s)
		if err != nil {
			return err
		}
		before := len(sc.syncs)
		sc.syncs = cadomain.AddSync(sc.syncs, cadomain.Sync{ImportID: e.ImportID, At: e.ObservedAt})
		if len(sc.syncs) == before && slices.ContainsFunc(sc.syncs, func(x cadomain.Sync) bool { return x.ImportID == e.ImportID }) {
			continue
		}
		sc.dirty = true
		for _, id := range sc.list {
			a, err := loadAsset(ctx, tx, team, id, "")
			if err != nil {
				return err
			}
			if err := refold(ctx, tx, a, scopes); err != nil {
				return err
			}
			a.put(tx)
		}
	}
	for _, sc := range scopes {
		sc.put(tx)
	}
	return nil
}

// asset is an asset's two documents: the one lists show (cache) and the
// rest (detail).
type asset struct{ cache, detail readmodel.Doc }

func (a asset) put(tx projections.Tx) {
	tx.Put(AssetsCollection, a.cache)
	tx.Put(DetailsCollection, a.detail)
}

// loadAsset returns the asset's documents, new when absent.
func loadAsset(ctx context.Context, tx projections.Tx, team, assetID, key string) (asset, error) {
	id := DocID(team, assetID)
	d, found, err := fold.Get(ctx, tx, AssetsCollection, id)
	if err != nil {
		return asset{}, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "asset_id": assetID, "key": key,
			"identity_rule": string(cadomain.CurrentRule), "open_findings": fold.SeverityCounts{}.Doc(), "open_findings_total": int64(0)}
	}
	x, found, err := fold.Get(ctx, tx, DetailsCollection, id)
	if err != nil {
		return asset{}, err
	}
	if !found {
		x = readmodel.Doc{"_id": id, "team_id": team, "asset_id": assetID}
	}
	return asset{cache: d, detail: x}, nil
}

// newer reports whether a source at (at, importID) is at least as recent
// as the one d's attributes came from (ties: the greater import id), so the
// latest wins whatever order they arrive in.
func newer(d readmodel.Doc, at time.Time, importID, atKey, importKey string) bool {
	prev := fold.Time(d, atKey)
	if prev.IsZero() {
		return true
	}
	return at.After(prev) || (at.Equal(prev) && importID >= fold.Str(d, importKey))
}

func addSource(d readmodel.Doc, src string) {
	srcs := fold.Strs(d, "sources")
	if !slices.Contains(srcs, src) {
		srcs = append(srcs, src)
		slices.Sort(srcs)
		d["sources"] = anys(srcs)
	}
}

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func sightingsFrom(d map[string]any) []cadomain.Sighting {
	var out []cadomain.Sighting
	for _, o := range fold.Objs(d, "sightings") {
		out = append(out, cadomain.Sighting{ImportID: fold.Str(o, "import_id"), At: fold.Time(o, "at"), Hash: fold.Str(o, "hash"), Source: fold.Str(o, "source")})
	}
	return out
}

// addSighting adds s to d's sightings (bounded: cadomain.MaxSightings; the
// earliest time ever seen is kept apart as first_seen_floor).
func addSighting(d readmodel.Doc, s cadomain.Sighting) {
	floor := fold.Time(d, "first_seen_floor")
	if floor.IsZero() || s.At.Before(floor) {
		d["first_seen_floor"] = readmodel.NormalizeTime(s.At)
	}
	list := cadomain.AddSighting(sightingsFrom(d), s)
	out := make([]any, len(list))
	for i, x := range list {
		out[i] = map[string]any{"import_id": x.ImportID, "at": readmodel.NormalizeTime(x.At), "hash": x.Hash, "source": x.Source}
	}
	d["sightings"] = out
}

// refold computes a's timeline from its sightings and its scopes' syncs.
func refold(ctx context.Context, tx projections.Tx, a asset, cache map[string]*scopeDoc) error {
	d, x := a.cache, a.detail
	var syncs []cadomain.Sync
	for _, id := range fold.Strs(x, "scopes") {
		sc, ok := cache[id]
		if !ok {
			sd, found, err := fold.Get(ctx, tx, ScopesCollection, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			syncs = append(syncs, syncsFrom(sd)...)
			continue
		}
		syncs = append(syncs, sc.syncs...)
	}
	t := cadomain.Fold(sightingsFrom(x), syncs, fold.Time(x, "first_seen_floor"))
	d["status"] = t.Status
	d["first_seen"], d["last_seen"], d["removed_at"] = fold.TimeOrNil(t.FirstSeen), fold.TimeOrNil(t.LastSeen), fold.TimeOrNil(t.RemovedAt)
	hist := make([]any, len(t.Changes))
	for i, c := range t.Changes {
		hist[i] = map[string]any{"kind": c.Kind, "at": readmodel.NormalizeTime(c.At), "import_id": c.ImportID, "source": c.Source}
	}
	d["history"] = hist
	return nil
}
