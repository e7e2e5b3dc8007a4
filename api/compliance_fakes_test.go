package api_test

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The fakes' compliance queries.

func (f *fakeQueries) GetComplianceOverview(_ context.Context, _ string, _ string, p queries.Page) (csquery.ComplianceOverview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.page = p
	if f.err != nil {
		return csquery.ComplianceOverview{}, f.err
	}
	return csquery.ComplianceOverview{Formula: "f", Frameworks: []csquery.FrameworkScore{}, Accounts: []csquery.Evaluation{}}, nil
}

func (f *fakeQueries) GetFrameworkCompliance(_ context.Context, _ string, q csquery.FrameworkQuery) (csquery.FrameworkCompliance, error) {
	if q.Framework == "missing" {
		return csquery.FrameworkCompliance{}, fmt.Errorf("compliance %q: %w", q.Framework, queries.ErrNotFound)
	}
	return csquery.FrameworkCompliance{Formula: "f", Framework: q.Framework, Scope: "team", Requirements: []csquery.Requirement{}}, nil
}

func (f *fakeQueries) GetComplianceChanges(_ context.Context, _ string, q csquery.ChangesQuery) (csquery.ComplianceChanges, error) {
	if q.Framework == "missing" {
		return csquery.ComplianceChanges{}, fmt.Errorf("compliance %q: %w", q.Framework, queries.ErrNotFound)
	}
	return csquery.ComplianceChanges{Framework: q.Framework}, nil
}
