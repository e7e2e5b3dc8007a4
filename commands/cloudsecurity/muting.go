package cloudsecurity

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Muting rules: one MutingRule stream each ("mutingrule-<rule id>"), over
// the rules of domain/cloudsecurity (muting.go). A rule's id is generated
// (UUIDv7), never the caller's choice: no id can tell one team whether
// another team has a rule.

// RuleMatch says which findings a rule matches: every criterion given must
// hold (within a list, any value; every tag with that value).
type RuleMatch struct {
	FindingIDs []string          `json:"finding_ids,omitempty"`
	Checks     []string          `json:"checks,omitempty"`
	Resources  []string          `json:"resources,omitempty"`
	Accounts   []string          `json:"accounts,omitempty"`
	Regions    []string          `json:"regions,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// CreateMutingRule creates a rule that mutes what it matches from now on.
type CreateMutingRule struct {
	Name      string     `json:"name"`
	Reason    string     `json:"reason"`
	Owner     string     `json:"owner"`
	Match     RuleMatch  `json:"match"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // optional: in the future; for good when absent
}

// ChangeMutingRule replaces an active rule's whole definition (the fields
// of CreateMutingRule), from now on.
type ChangeMutingRule struct {
	RuleID    string     `json:"-"`
	Name      string     `json:"name"`
	Reason    string     `json:"reason"`
	Owner     string     `json:"owner"`
	Match     RuleMatch  `json:"match"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// RemoveMutingRule ends an active rule now.
type RemoveMutingRule struct {
	RuleID string `json:"-"`
	Reason string `json:"reason,omitempty"`
}

// ExpireMutingRule ends an active rule whose expiry has passed (the
// expiry scheduler of `cspm serve` sends it).
type ExpireMutingRule struct {
	RuleID string `json:"-"`
}

// muteRule is the domain's rule id as asked.
func muteRule(id, name, reason, owner string, m RuleMatch, expiresAt *time.Time) csdomain.MuteRule {
	r := csdomain.MuteRule{RuleID: id, Name: name, Reason: reason, Owner: owner, Match: csdomain.MuteMatch{
		FindingIDs: m.FindingIDs, Checks: m.Checks, Resources: m.Resources, Accounts: m.Accounts, Regions: m.Regions, Tags: m.Tags,
	}}
	if expiresAt != nil {
		r.ExpiresAt = eventstore.NormalizeTime(*expiresAt)
	}
	return r
}

// CreateMutingRule creates a rule of the caller's team under a new id
// (commands.Result.ID). Bad input appends nothing; a retry with the same
// Idempotency-Key returns the first rule's result.
func (h *Handlers) CreateMutingRule(ctx context.Context, meta commands.Meta, cmd CreateMutingRule) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	// A retry gets the first id back from the idempotency record: the
	// fingerprint covers the command as received, not the new id.
	c := commands.MutingRuleCall("CreateMutingRule", "", cmd)
	c.StreamID = commands.MutingRuleStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]csdomain.Event, error) {
		return csdomain.CreateMutingRule(muteRule(id, cmd.Name, cmd.Reason, cmd.Owner, cmd.Match, cmd.ExpiresAt), h.kit.Now())
	})
}

// ChangeMutingRule replaces the whole definition of the caller's team's
// active rule, from now on.
func (h *Handlers) ChangeMutingRule(ctx context.Context, meta commands.Meta, cmd ChangeMutingRule) (commands.Result, error) {
	return h.decideRule(ctx, meta, commands.MutingRuleCall("ChangeMutingRule", cmd.RuleID, cmd), func(r *csdomain.MutingRule) ([]csdomain.Event, error) {
		return r.Change(muteRule(cmd.RuleID, cmd.Name, cmd.Reason, cmd.Owner, cmd.Match, cmd.ExpiresAt), h.kit.Now())
	})
}

// RemoveMutingRule ends the caller's team's active rule now.
func (h *Handlers) RemoveMutingRule(ctx context.Context, meta commands.Meta, cmd RemoveMutingRule) (commands.Result, error) {
	return h.decideRule(ctx, meta, commands.MutingRuleCall("RemoveMutingRule", cmd.RuleID, cmd), func(r *csdomain.MutingRule) ([]csdomain.Event, error) {
		return r.Remove(cmd.Reason, h.kit.Now())
	})
}

// ExpireMutingRule ends the team's active rule if its expiry has passed
// (MUTING_RULE_NOT_EXPIRED otherwise; MUTING_RULE_ENDED when it ended
// already), dated at the expiry itself.
func (h *Handlers) ExpireMutingRule(ctx context.Context, meta commands.Meta, cmd ExpireMutingRule) (commands.Result, error) {
	return h.decideRule(ctx, meta, commands.MutingRuleCall("ExpireMutingRule", cmd.RuleID, cmd), func(r *csdomain.MutingRule) ([]csdomain.Event, error) {
		return r.Expire(h.kit.Now())
	})
}

// decideRule loads the rule of c, decides and appends (see commands.Update).
func (h *Handlers) decideRule(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*csdomain.MutingRule) ([]csdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("rule_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []csdomain.Event) ([]csdomain.Event, error) {
		return decide(csdomain.RehydrateMutingRule(history...))
	})
}
