package api_test

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/queries"
	caquery "github.com/cspm-es/cspm-es/queries/cloudassets"
)

// The fakes' asset queries.

func (f *fakeQueries) ListAssets(_ context.Context, _ string, af caquery.AssetFilter, p queries.Page) (caquery.AssetList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.page = p
	if f.err != nil {
		return caquery.AssetList{}, f.err
	}
	return caquery.AssetList{Items: []caquery.Asset{{ID: "ast-1", Type: af.Type, Status: "present", Tags: map[string]string{}, Sources: []string{}}}, NextCursor: "next-a"}, nil
}

func (f *fakeQueries) GetAsset(_ context.Context, _ string, id string) (caquery.AssetDetail, error) {
	if id == "missing" {
		return caquery.AssetDetail{}, fmt.Errorf("asset %q: %w", id, queries.ErrNotFound)
	}
	return caquery.AssetDetail{Asset: caquery.Asset{ID: id, Status: "present", Tags: map[string]string{}, Sources: []string{}},
		History: []caquery.Change{}, OpenFindingsList: []caquery.AssetFinding{}}, nil
}
