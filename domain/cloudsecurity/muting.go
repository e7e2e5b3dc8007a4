package cloudsecurity

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A muting rule mutes the findings it matches from the moment it is
// created (or changed) until it expires or is removed: those findings stay
// what the scans say they are (open, fixed...) and are counted apart as
// muted. A rule never reaches back: what an earlier scan said, and the
// scores computed from it, stay as they were. Rules are events of their
// own stream ("mutingrule-<id>").

// MuteMatch says which findings a rule matches: every criterion given
// must hold (a finding id, check, resource, account or region in its list;
// every tag with that value on the resource).
type MuteMatch struct {
	FindingIDs []string          `json:"finding_ids,omitempty"`
	Checks     []string          `json:"checks,omitempty"`
	Resources  []string          `json:"resources,omitempty"`
	Accounts   []string          `json:"accounts,omitempty"`
	Regions    []string          `json:"regions,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// MuteSubject is what a rule is matched against: a finding.
type MuteSubject struct {
	FindingID string
	Check     string
	Resource  string
	Account   string
	Region    string
	Tags      map[string]string
}

// Matches reports whether the finding meets every criterion of m.
func (m MuteMatch) Matches(s MuteSubject) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	if !in(m.FindingIDs, s.FindingID) || !in(m.Checks, s.Check) || !in(m.Resources, s.Resource) ||
		!in(m.Accounts, s.Account) || !in(m.Regions, s.Region) {
		return false
	}
	for k, v := range m.Tags {
		if s.Tags[k] != v {
			return false
		}
	}
	return true
}

// Limits of a muting rule.
const (
	MaxMuteCriteria = 1000 // values across a rule's lists and tags
	MaxRuleName     = domain.MaxShortText
)

// MuteRule is what a person asks a rule to be.
type MuteRule struct {
	RuleID    string
	Name      string
	Reason    string
	Owner     string
	Match     MuteMatch
	ExpiresAt time.Time // optional
}

// MutingRuleCreated: a rule mutes what it matches from CreatedAt.
type MutingRuleCreated struct {
	RuleID    string    `json:"rule_id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	Match     MuteMatch `json:"match"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
}

// MutingRuleChanged: from ChangedAt the rule is this (what it matched
// before and no longer matches is unmuted then).
type MutingRuleChanged struct {
	RuleID    string    `json:"rule_id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	Match     MuteMatch `json:"match"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	ChangedAt time.Time `json:"changed_at"`
}

// MutingRuleRemoved: a person ended the rule.
type MutingRuleRemoved struct {
	RuleID    string    `json:"rule_id"`
	Reason    string    `json:"reason,omitempty"`
	RemovedAt time.Time `json:"removed_at"`
}

// MutingRuleExpired: the rule reached its expiry.
type MutingRuleExpired struct {
	RuleID    string    `json:"rule_id"`
	ExpiredAt time.Time `json:"expired_at"`
}

func (MutingRuleCreated) EventType() string { return "MutingRuleCreated" }
func (MutingRuleChanged) EventType() string { return "MutingRuleChanged" }
func (MutingRuleRemoved) EventType() string { return "MutingRuleRemoved" }
func (MutingRuleExpired) EventType() string { return "MutingRuleExpired" }

// Rule codes of muting rules.
const (
	CodeMutingRuleEnded   = "MUTING_RULE_ENDED"
	CodeMutingRuleUnknown = "MUTING_RULE_NOT_CREATED"
	CodeMutingRuleNotDue  = "MUTING_RULE_NOT_EXPIRED"
)

// checkRule validates what a rule is asked to be, at at.
func checkRule(r MuteRule, at time.Time) (MuteRule, error) {
	var v domain.Validator
	r.Name, r.Reason, r.Owner = strings.TrimSpace(r.Name), strings.TrimSpace(r.Reason), strings.TrimSpace(r.Owner)
	v.Check(r.Name != "", "name", "is required")
	v.Text("name", r.Name, MaxRuleName)
	v.Check(r.Reason != "", "reason", "is required")
	v.MultilineText("reason", r.Reason, domain.MaxReason)
	v.Check(r.Owner != "", "owner", "is required")
	v.Text("owner", r.Owner, domain.MaxShortText)
	m := r.Match
	n := len(m.FindingIDs) + len(m.Checks) + len(m.Resources) + len(m.Accounts) + len(m.Regions) + len(m.Tags)
	v.Check(n > 0, "match", "must name at least one finding id, check, resource, account, region or tag")
	v.Check(n <= MaxMuteCriteria, "match", "must hold at most %d values", MaxMuteCriteria)
	for _, l := range []struct {
		field  string
		values []string
		max    int
	}{
		{"match.finding_ids", m.FindingIDs, domain.MaxShortText},
		{"match.checks", m.Checks, domain.MaxShortText},
		{"match.resources", m.Resources, domain.MaxReference},
		{"match.accounts", m.Accounts, domain.MaxShortText},
		{"match.regions", m.Regions, domain.MaxShortText},
	} {
		v.Check(!slices.Contains(l.values, ""), l.field, "must not hold an empty value")
		for _, x := range l.values { // one problem per list, not per value
			var one domain.Validator
			if one.Text(l.field, x, l.max); one.Err() != nil {
				v.Text(l.field, x, l.max)
				break
			}
		}
	}
	for k, val := range m.Tags {
		v.Check(k != "", "match.tags", "must not hold an empty key")
		v.Text("match.tags", k, domain.MaxShortText)
		v.Text("match.tags", val, domain.MaxReference)
	}
	v.Check(r.ExpiresAt.IsZero() || r.ExpiresAt.After(at), "expires_at", "must be in the future")
	v.Check(!at.IsZero(), "at", "is required")
	if err := v.Err(); err != nil {
		return MuteRule{}, err
	}
	m.FindingIDs, m.Checks, m.Resources = sortedSet(m.FindingIDs), sortedSet(m.Checks), sortedSet(m.Resources)
	m.Accounts, m.Regions = sortedSet(m.Accounts), sortedSet(m.Regions)
	r.Match = m
	return r, nil
}

func sortedSet(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// CreateMutingRule decides a new rule, muting from at.
func CreateMutingRule(r MuteRule, at time.Time) ([]Event, error) {
	var v domain.Validator
	checkID(&v, "rule_id", r.RuleID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	r, err := checkRule(r, at)
	if err != nil {
		return nil, err
	}
	return []Event{MutingRuleCreated{RuleID: r.RuleID, Name: r.Name, Reason: r.Reason, Owner: r.Owner,
		Match: r.Match, ExpiresAt: r.ExpiresAt, CreatedAt: at}}, nil
}

// MutingRule is a rule's state. Build it with RehydrateMutingRule.
type MutingRule struct {
	id      string
	created bool
	ended   bool
	endedBy string // RuleRemoved or RuleExpired
	current MuteRule
	lastAt  time.Time
}

// RehydrateMutingRule rebuilds a rule from its events.
func RehydrateMutingRule(events ...Event) *MutingRule {
	r := &MutingRule{}
	for _, e := range events {
		r.Apply(e)
	}
	return r
}

// Apply records one event's effect.
func (r *MutingRule) Apply(e Event) {
	switch e := e.(type) {
	case MutingRuleCreated:
		r.id, r.created, r.lastAt = e.RuleID, true, e.CreatedAt
		r.current = MuteRule{RuleID: e.RuleID, Name: e.Name, Reason: e.Reason, Owner: e.Owner, Match: e.Match, ExpiresAt: e.ExpiresAt}
	case MutingRuleChanged:
		r.current = MuteRule{RuleID: e.RuleID, Name: e.Name, Reason: e.Reason, Owner: e.Owner, Match: e.Match, ExpiresAt: e.ExpiresAt}
		r.lastAt = e.ChangedAt
	case MutingRuleRemoved:
		r.ended, r.endedBy, r.lastAt = true, RuleRemoved, e.RemovedAt
	case MutingRuleExpired:
		r.ended, r.endedBy, r.lastAt = true, RuleExpired, e.ExpiredAt
	}
}

func (r *MutingRule) active() error {
	switch {
	case !r.created:
		return domain.Rule(CodeMutingRuleUnknown, "the muting rule was never created")
	case r.ended:
		return domain.Rule(CodeMutingRuleEnded, "muting rule %s has ended (removed or expired)", r.id)
	}
	return nil
}

// Change decides the rule's new definition from at.
func (r *MutingRule) Change(to MuteRule, at time.Time) ([]Event, error) {
	if err := r.active(); err != nil {
		return nil, err
	}
	to.RuleID = r.id
	to, err := checkRule(to, at)
	if err != nil {
		return nil, err
	}
	if at.Before(r.lastAt) {
		at = r.lastAt
	}
	return []Event{MutingRuleChanged{RuleID: r.id, Name: to.Name, Reason: to.Reason, Owner: to.Owner,
		Match: to.Match, ExpiresAt: to.ExpiresAt, ChangedAt: at}}, nil
}

// Remove decides that a person ends the rule at at.
func (r *MutingRule) Remove(reason string, at time.Time) ([]Event, error) {
	if err := r.active(); err != nil {
		return nil, err
	}
	var v domain.Validator
	reason = strings.TrimSpace(reason)
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if at.Before(r.lastAt) {
		at = r.lastAt
	}
	return []Event{MutingRuleRemoved{RuleID: r.id, Reason: reason, RemovedAt: at}}, nil
}

// Expire decides that the rule reached its expiry (now is at or after it);
// the event is dated at the expiry itself.
func (r *MutingRule) Expire(now time.Time) ([]Event, error) {
	if err := r.active(); err != nil {
		return nil, err
	}
	exp := r.current.ExpiresAt
	if exp.IsZero() || now.Before(exp) {
		return nil, domain.Rule(CodeMutingRuleNotDue, "muting rule %s has not reached an expiry", r.id)
	}
	return []Event{MutingRuleExpired{RuleID: r.id, ExpiredAt: exp}}, nil
}

// State is the rule as it stands.
func (r *MutingRule) State() (rule MuteRule, active bool) { return r.current, r.created && !r.ended }

// Rule statuses.
const (
	RuleActive  = "active"
	RuleRemoved = "removed"
	RuleExpired = "expired"
)

// MutingRuleState is a read-only view of a rule, for audit replay.
type MutingRuleState struct {
	RuleID    string    `json:"rule_id"`
	Name      string    `json:"name"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	Match     MuteMatch `json:"match"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Status    string    `json:"status"` // RuleActive, RuleRemoved, RuleExpired
}

// View is the rule as it stands, with its status.
func (r *MutingRule) View() MutingRuleState {
	c := r.current
	status := RuleActive
	if r.ended {
		status = r.endedBy
	}
	return MutingRuleState{RuleID: r.id, Name: c.Name, Reason: c.Reason, Owner: c.Owner, Match: c.Match, ExpiresAt: c.ExpiresAt, Status: status}
}
