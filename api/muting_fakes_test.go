package api_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// The fakes' muting rule commands and queries.

func (f *fakeCommands) CreateMutingRule(ctx context.Context, m commands.Meta, c cscmd.CreateMutingRule) (commands.Result, error) {
	return f.record(ctx, "CreateMutingRule", m, c)
}

func (f *fakeCommands) ChangeMutingRule(ctx context.Context, m commands.Meta, c cscmd.ChangeMutingRule) (commands.Result, error) {
	return f.record(ctx, "ChangeMutingRule", m, c)
}

func (f *fakeCommands) RemoveMutingRule(ctx context.Context, m commands.Meta, c cscmd.RemoveMutingRule) (commands.Result, error) {
	return f.record(ctx, "RemoveMutingRule", m, c)
}

func (f *fakeQueries) ListMutingRules(_ context.Context, _ string, rf csquery.MutingRuleFilter, p queries.Page) (csquery.MutingRuleList, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ruleF, f.page = rf, p
	if f.err != nil {
		return csquery.MutingRuleList{}, f.err
	}
	return csquery.MutingRuleList{Items: []csquery.MutingRule{fakeRule("r1")}, NextCursor: "next-r"}, nil
}

func (f *fakeQueries) GetMutingRule(_ context.Context, _ string, id string) (csquery.MutingRule, error) {
	if id == "missing" {
		return csquery.MutingRule{}, fmt.Errorf("muting rule %q: %w", id, queries.ErrNotFound)
	}
	return fakeRule(id), nil
}

func fakeRule(id string) csquery.MutingRule {
	at := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	return csquery.MutingRule{ID: id, Name: "sandbox", Reason: "r", Owner: "o", Status: "active",
		Match: csquery.RuleMatch{Accounts: []string{"111"}}, CreatedAt: at, Since: at}
}
