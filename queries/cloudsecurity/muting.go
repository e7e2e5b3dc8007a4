package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// MutingRule is one muting rule.
type MutingRule struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Reason string    `json:"reason"`
	Owner  string    `json:"owner"`
	Match  RuleMatch `json:"match"`
	// ExpiresAt is when the rule ends by itself (absent: never).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Status is active, removed or expired.
	Status string `json:"status"`
	// CreatedAt is when the rule was created; Since when its current
	// definition took effect (its creation or latest change).
	CreatedAt time.Time `json:"created_at,omitzero"`
	Since     time.Time `json:"since,omitzero"`
	// EndedAt is when it was removed or expired; EndReason why it was
	// removed.
	EndedAt   time.Time `json:"ended_at,omitzero"`
	EndReason string    `json:"end_reason,omitempty"`
}

// RuleMatch says which findings a rule matches.
type RuleMatch struct {
	FindingIDs []string          `json:"finding_ids,omitempty"`
	Checks     []string          `json:"checks,omitempty"`
	Resources  []string          `json:"resources,omitempty"`
	Accounts   []string          `json:"accounts,omitempty"`
	Regions    []string          `json:"regions,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// MutingRuleList is one page of rules, most recently created first.
type MutingRuleList struct {
	Items      []MutingRule `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// MutingRuleFilter narrows ListMutingRules; empty fields do not filter.
type MutingRuleFilter struct {
	Status string // active, removed or expired (any case)
}

// ruleStatuses are the statuses of a rule (a test checks they are the
// projection's).
var ruleStatuses = []string{"active", "removed", "expired"}

// ListMutingRules returns one page of the team's muting rules, most
// recently created first (then by id, descending).
func (s *Service) ListMutingRules(ctx context.Context, team string, f MutingRuleFilter, p queries.Page) (MutingRuleList, error) {
	if team == "" {
		return MutingRuleList{}, queries.ErrNoTeam
	}
	var v domain.Validator
	status := strings.ToLower(strings.TrimSpace(f.Status))
	if status != "" && !queries.OneOf(ruleStatuses, status) {
		v.Add("status", "%q is not one of active, removed, expired", f.Status)
	}
	p.Check(&v)
	if err := v.Err(); err != nil {
		return MutingRuleList{}, err
	}
	terms := queries.AppendEq([]readmodel.Filter{readmodel.Eq("team_id", team)}, "status", status)
	page, err := queries.Find(ctx, s.cloudSecurity, mutingRulesCollection, readmodel.FindOptions{
		Filter: readmodel.And(terms...),
		Sort:   []readmodel.SortField{readmodel.Desc("created_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return MutingRuleList{}, fmt.Errorf("list muting rules: %w", err)
	}
	out := MutingRuleList{Items: make([]MutingRule, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = ruleOf(d)
	}
	return out, nil
}

// GetMutingRule returns the team's rule id; queries.ErrNotFound when the
// team has no such rule (another team's included).
func (s *Service) GetMutingRule(ctx context.Context, team, id string) (MutingRule, error) {
	if team == "" {
		return MutingRule{}, queries.ErrNoTeam
	}
	d, err := s.cloudSecurity.Get(ctx, mutingRulesCollection, id)
	switch {
	case errors.Is(err, readmodel.ErrNotFound), errors.Is(err, readmodel.ErrInvalid):
		return MutingRule{}, queries.NotFound("muting rule", id)
	case err != nil:
		return MutingRule{}, fmt.Errorf("get muting rule %q: %w", id, err)
	case queries.Str(d, "team_id") != team:
		return MutingRule{}, queries.NotFound("muting rule", id)
	}
	return ruleOf(d), nil
}

// DueMutingRule is an active rule whose expiry has passed.
type DueMutingRule struct {
	ID        string
	TeamID    string
	ExpiresAt time.Time
}

// DueMutingRuleList is one page of due rules, soonest expiry first.
type DueMutingRuleList struct {
	Items      []DueMutingRule
	NextCursor string
}

// DueMutingRules returns one page of the active rules of every team whose
// expiry is at or before now, soonest first: what the expiry scheduler
// ends. It is a system query (no team): never serve it to a caller.
func (s *Service) DueMutingRules(ctx context.Context, now time.Time, p queries.Page) (DueMutingRuleList, error) {
	var v domain.Validator
	p.Check(&v)
	v.Check(!now.IsZero(), "now", "is required")
	if err := v.Err(); err != nil {
		return DueMutingRuleList{}, err
	}
	page, err := queries.Find(ctx, s.cloudSecurity, mutingRulesCollection, readmodel.FindOptions{
		Filter: readmodel.And(readmodel.Eq("status", "active"), readmodel.Lte("expires_at", readmodel.NormalizeTime(now))),
		Sort:   []readmodel.SortField{readmodel.Asc("expires_at")},
		Limit:  p.Size(),
		Cursor: p.Cursor,
	})
	if err != nil {
		return DueMutingRuleList{}, fmt.Errorf("list due muting rules: %w", err)
	}
	out := DueMutingRuleList{Items: make([]DueMutingRule, len(page.Docs)), NextCursor: page.NextCursor}
	for i, d := range page.Docs {
		out.Items[i] = DueMutingRule{ID: d.ID(), TeamID: queries.Str(d, "team_id"), ExpiresAt: queries.When(d, "expires_at")}
	}
	return out, nil
}

func ruleOf(d readmodel.Doc) MutingRule {
	m := queries.Obj(d, "match")
	match := RuleMatch{FindingIDs: strs(m, "finding_ids"), Checks: strs(m, "checks"), Resources: strs(m, "resources"),
		Accounts: strs(m, "accounts"), Regions: strs(m, "regions")}
	if tags := queries.Obj(m, "tags"); len(tags) > 0 {
		match.Tags = make(map[string]string, len(tags))
		for k, v := range tags {
			match.Tags[k], _ = v.(string)
		}
	}
	return MutingRule{
		ID:        d.ID(),
		Name:      queries.Str(d, "name"),
		Reason:    queries.Str(d, "reason"),
		Owner:     queries.Str(d, "owner"),
		Match:     match,
		ExpiresAt: queries.When(d, "expires_at"),
		Status:    queries.Str(d, "status"),
		CreatedAt: queries.When(d, "created_at"),
		Since:     queries.When(d, "since"),
		EndedAt:   queries.When(d, "ended_at"),
		EndReason: queries.Str(d, "end_reason"),
	}
}

// strs reads a list of strings (nil when missing or empty).
func strs(d map[string]any, key string) []string {
	l, _ := d[key].([]any)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
