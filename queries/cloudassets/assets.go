// Package cloudassets answers the asset inventory's queries from the
// assets projection's read model (cspm_cloud_assets: asset_cache,
// asset_findings).
package cloudassets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	cadomain "github.com/cspm-es/cspm-es/domain/cloudassets"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The read models projections/cloudassets writes (a test checks the names
// agree).
const (
	assetsCollection   = "asset_cache"
	detailsCollection  = "asset_details"
	findingsCollection = "asset_findings"
	openStatus         = "open"
)

// Stores are the module databases the asset queries read.
type Stores struct {
	CloudAssets queries.DocReader // cspm_cloud_assets
}

// Service runs the asset queries. Safe for concurrent use if the store is.
type Service struct{ assets queries.DocReader }

// New returns the asset queries; it panics on a missing store (wiring).
func New(s Stores) *Service {
	if s.CloudAssets == nil {
		panic("cloudassets.New: a store is missing")
	}
	return &Service{assets: s.CloudAssets}
}

// Asset is one asset of the inventory.
type Asset struct {
	ID                string                 `json:"id"`  // asset id: "ast-" and 32 hex digits
	Key               string                 `json:"key"` // what the identity rule kept (an ARN, a resource id...)
	Type              string                 `json:"type,omitempty"`
	Provider          string                 `json:"provider,omitempty"`
	AccountID         string                 `json:"account_id,omitempty"`
	Region            string                 `json:"region,omitempty"`
	Name              string                 `json:"name,omitempty"`
	ResourceType      string                 `json:"resource_type,omitempty"` // the scanner's type, when a finding saw it
	Tags              map[string]string      `json:"tags"`
	Status            string                 `json:"status"` // present, removed
	FirstSeen         time.Time              `json:"first_seen"`
	LastSeen          time.Time              `json:"last_seen"`
	RemovedAt         *time.Time             `json:"removed_at,omitempty"`
	Sources           []string               `json:"sources"` // inventory, finding
	OpenFindings      queries.SeverityCounts `json:"open_findings"`
	OpenFindingsTotal int64                  `json:"open_findings_total"`
}

// AssetList is one page of assets.
type AssetList struct {
	Items      []Asset `json:"items"`
	NextCursor string  `json:"-"`
}

// Change is a step of an asset's discovery history.
type Change struct {
	Kind     string    `json:"kind"` // discovered, changed, removed, reappeared
	At       time.Time `json:"at"`
	ImportID string    `json:"import_id"`
	Source   string    `json:"source,omitempty"`
}

// AssetFinding is an open finding on an asset.
type AssetFinding struct {
	FindingID string    `json:"finding_id"`
	CheckID   string    `json:"check_id"`
	Severity  string    `json:"severity"`
	Region    string    `json:"region,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// AssetDetail is one asset with its history, its latest inventory row and
// its open findings (the most severe first, at most MaxOpenFindings).
type AssetDetail struct {
	Asset
	IdentityRule         string          `json:"identity_rule"`
	History              []Change        `json:"history"`
	Raw                  json.RawMessage `json:"raw,omitempty"`
	RawTruncated         bool            `json:"raw_truncated,omitempty"`
	OpenFindingsList     []AssetFinding  `json:"open_findings_list"`
	OpenFindingsListMore bool            `json:"open_findings_list_truncated,omitempty"`
}

// MaxOpenFindings bounds the open findings GET /assets/{id} lists.
const MaxOpenFindings = 200

// Statuses of an asset.
var assetStatuses = []string{cadomain.StatusPresent, cadomain.StatusRemoved}

// AssetFilter narrows the list; empty fields do not filter.
type AssetFilter struct {
	Type      string
	AccountID string
	Region    string
	Status    string
}

// ListAssets lists the team's assets by asset id, a page at a time.
func (s *Service) ListAssets(ctx context.Context, team string, f AssetFilter, p queries.Page) (AssetList, error) {
	if team == "" {
		return AssetList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(assetStatuses, status) {
		v.Add("status", "%q is not one of present, removed", f.Status)
	}
	queries.CheckText(&v, "type", f.Type)
	queries.CheckText(&v, "account_id", f.AccountID)
	queries.CheckText(&v, "region", f.Region)
	p.Check(&v)
	if err := v.Err(); err != nil {
		return AssetList{}, err
	}
	terms := []readmodel.Filter{readmodel.Eq("team_id", team)}
	terms = queries.AppendEq(terms, "type", f.Type)
	terms = queries.AppendEq(terms, "account_id", f.AccountID)
	terms = queries.AppendEq(terms, "region", f.Region)
	terms = queries.AppendEq(terms, "status", status)
	page, err := queries.Find(ctx, s.assets, assetsCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Asc("asset_id")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return AssetList{}, fmt.Errorf("list assets: %w", err)
	}
	out := AssetList{Items: make([]Asset, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = assetOf(d)
	}
	return out, nil
}

// GetAsset returns one of the team's assets, with its history and open
// findings. Another team's asset, and an id that is not an asset id,
// answer as missing.
func (s *Service) GetAsset(ctx context.Context, team, id string) (AssetDetail, error) {
	if team == "" {
		return AssetDetail{}, queries.ErrNoTeam
	}
	if !cadomain.ValidAssetID(id) {
		return AssetDetail{}, queries.NotFound("asset", id)
	}
	d, err := s.assets.Get(ctx, assetsCollection, queries.TeamKey(team, id))
	if errors.Is(err, readmodel.ErrNotFound) {
		return AssetDetail{}, queries.NotFound("asset", id)
	}
	if err != nil {
		return AssetDetail{}, fmt.Errorf("get asset: %w", err)
	}
	if queries.Str(d, "team_id") != team {
		return AssetDetail{}, queries.NotFound("asset", id)
	}
	out := AssetDetail{Asset: assetOf(d), IdentityRule: queries.Str(d, "identity_rule"), History: []Change{}, OpenFindingsList: []AssetFinding{}}
	x, err := s.assets.Get(ctx, detailsCollection, queries.TeamKey(team, id))
	if err != nil && !errors.Is(err, readmodel.ErrNotFound) {
		return AssetDetail{}, fmt.Errorf("get asset: %w", err)
	}
	out.RawTruncated = x["raw_truncated"] == true
	if raw := queries.Str(x, "raw"); raw != "" && json.Valid([]byte(raw)) {
		out.Raw = json.RawMessage(raw)
	}
	for _, h := range queries.Objs(d, "history") {
		out.History = append(out.History, Change{Kind: queries.Str(h, "kind"), At: queries.When(h, "at"),
			ImportID: queries.Str(h, "import_id"), Source: queries.Str(h, "source")})
	}
	page, err := queries.Find(ctx, s.assets, findingsCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("asset_id", id), readmodel.Eq("status", openStatus)),
		Sort:   []readmodel.SortField{readmodel.Desc("severity_rank"), readmodel.Asc("finding_id")},
		Limit:  MaxOpenFindings,
	})
	if err != nil {
		return AssetDetail{}, fmt.Errorf("asset findings: %w", err)
	}
	for _, f := range page.Docs {
		out.OpenFindingsList = append(out.OpenFindingsList, AssetFinding{FindingID: queries.Str(f, "finding_id"),
			CheckID: queries.Str(f, "check_id"), Severity: queries.Str(f, "severity"), Region: queries.Str(f, "region"),
			FirstSeen: queries.When(f, "first_seen"), LastSeen: queries.When(f, "last_seen")})
	}
	out.OpenFindingsListMore = page.NextCursor != ""
	return out, nil
}

func assetOf(d readmodel.Doc) Asset {
	a := Asset{
		ID: queries.Str(d, "asset_id"), Key: queries.Str(d, "key"), Type: queries.Str(d, "type"),
		Provider: queries.Str(d, "provider"), AccountID: queries.Str(d, "account_id"), Region: queries.Str(d, "region"),
		Name: queries.Str(d, "name"), ResourceType: queries.Str(d, "resource_type"), Tags: map[string]string{},
		Status: queries.Str(d, "status"), FirstSeen: queries.When(d, "first_seen"), LastSeen: queries.When(d, "last_seen"),
		Sources:           []string{},
		OpenFindings:      queries.SeverityCountsOf(queries.Obj(d, "open_findings")),
		OpenFindingsTotal: queries.Num(d, "open_findings_total"),
	}
	if t := queries.When(d, "removed_at"); !t.IsZero() {
		a.RemovedAt = &t
	}
	for _, t := range queries.Objs(d, "tags") {
		a.Tags[queries.Str(t, "key")] = queries.Str(t, "value")
	}
	if l, ok := d["sources"].([]any); ok {
		for _, s := range l {
			if x, ok := s.(string); ok {
				a.Sources = append(a.Sources, x)
			}
		}
	}
	return a
}
