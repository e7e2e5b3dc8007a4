package risk

import (
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A risk acceptance (stream "riskacceptance-<id>") accepts findings and
// vulnerability occurrences of the team until it expires: they are muted
// and their SLA clocks paused (docs/risk-management.md, decision 67). It is
// approved by an admin (decision 66). It ends when it expires (a scheduled
// command), is revoked, or when every item it names is fixed: an item
// fixed while accepted closes the acceptance for it (AcceptedItemFixed).

// Item modules.
const (
	ModuleFindings        = "cloud_findings"  // imported cloud findings (finding ids)
	ModuleVulnerabilities = "vulnerabilities" // vulnerability occurrences (occurrence ids)
)

// AcceptanceRule accepts, beside the items named, every item of module
// matching every criterion given (a vulnerability id or a check, within
// the accounts or artifacts listed).
type AcceptanceRule struct {
	Module           string   `json:"module"`
	VulnerabilityIDs []string `json:"vulnerability_ids,omitempty"` // module vulnerabilities
	Checks           []string `json:"checks,omitempty"`            // module cloud_findings
	Accounts         []string `json:"accounts,omitempty"`          // module cloud_findings
}

// Matches says whether the rule accepts an item of module with the given
// vulnerability id (occurrences), or check and account (cloud findings):
// every criterion it lists must hold (accounts, when none is listed, any).
func (r AcceptanceRule) Matches(module, vulnerabilityID, check, account string) bool {
	if module != r.Module {
		return false
	}
	switch module {
	case ModuleVulnerabilities:
		return slices.Contains(r.VulnerabilityIDs, vulnerabilityID)
	case ModuleFindings:
		return slices.Contains(r.Checks, check) && (len(r.Accounts) == 0 || slices.Contains(r.Accounts, account))
	}
	return false
}

// Scope is what an acceptance accepts: items by id, or a rule.
type Scope struct {
	FindingIDs    []string        `json:"finding_ids,omitempty"`
	OccurrenceIDs []string        `json:"occurrence_ids,omitempty"`
	Rule          *AcceptanceRule `json:"rule,omitempty"`
}

// Items are the ids the scope names, each with its module.
func (s Scope) Items() map[string]string {
	out := map[string]string{}
	for _, id := range s.FindingIDs {
		out[id] = ModuleFindings
	}
	for _, id := range s.OccurrenceIDs {
		out[id] = ModuleVulnerabilities
	}
	return out
}

// AcceptanceSpec is what an approver accepts.
type AcceptanceSpec struct {
	RiskID    string // optional: the risk whose treatment this is
	Scope     Scope
	Reason    string
	Approver  string // who approved (a person; the command's actor is recorded too)
	ExpiresAt time.Time
}

// Limits of an acceptance.
const (
	MaxAcceptedItems = 1000
	// MaxAcceptance is the longest an acceptance may run.
	MaxAcceptance = 3 * 365 * 24 * time.Hour
)

// RiskAccepted: the items of Scope are accepted from AcceptedAt until
// ExpiresAt.
type RiskAccepted struct {
	AcceptanceID string    `json:"acceptance_id"`
	RiskID       string    `json:"risk_id,omitempty"`
	Scope        Scope     `json:"scope"`
	Reason       string    `json:"reason"`
	Approver     string    `json:"approver"`
	ExpiresAt    time.Time `json:"expires_at"`
	AcceptedAt   time.Time `json:"accepted_at"`
}

// RiskAcceptanceRevoked: a person ended the acceptance before its expiry.
type RiskAcceptanceRevoked struct {
	AcceptanceID string    `json:"acceptance_id"`
	Reason       string    `json:"reason,omitempty"`
	RevokedAt    time.Time `json:"revoked_at"`
}

// RiskAcceptanceExpired: the acceptance reached its expiry (dated at it).
type RiskAcceptanceExpired struct {
	AcceptanceID string    `json:"acceptance_id"`
	ExpiredAt    time.Time `json:"expired_at"`
}

// AcceptedItemFixed: an accepted item was fixed at FixedAt (its scan
// no longer reports it): the acceptance is closed for it from then.
type AcceptedItemFixed struct {
	AcceptanceID string    `json:"acceptance_id"`
	ItemID       string    `json:"item_id"`
	Module       string    `json:"module"`
	FixedAt      time.Time `json:"fixed_at"`
}

func (RiskAccepted) EventType() string          { return "RiskAccepted" }
func (RiskAcceptanceRevoked) EventType() string { return "RiskAcceptanceRevoked" }
func (RiskAcceptanceExpired) EventType() string { return "RiskAcceptanceExpired" }
func (AcceptedItemFixed) EventType() string     { return "AcceptedItemFixed" }

// Acceptance statuses.
const (
	AcceptanceActive  = "active"
	AcceptanceRevoked = "revoked"
	AcceptanceExpired = "expired"
	AcceptanceClosed  = "closed" // every item it named was fixed
)

// Rule codes of acceptances.
const (
	CodeAcceptanceUnknown = "RISK_ACCEPTANCE_NOT_FOUND"
	CodeAcceptanceEnded   = "RISK_ACCEPTANCE_ENDED"
	CodeAcceptanceNotDue  = "RISK_ACCEPTANCE_NOT_EXPIRED"
	CodeItemNotAccepted   = "ITEM_NOT_ACCEPTED"
)

func checkIDs(v *domain.Validator, field string, ids []string) []string {
	ids = cleanSet(ids)
	for _, id := range ids {
		var one domain.Validator
		if one.Text(field, id, domain.MaxShortText); one.Err() != nil {
			v.Text(field, id, domain.MaxShortText)
			break
		}
	}
	return ids
}

// Accept decides a new acceptance approved at at.
func Accept(id string, s AcceptanceSpec, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(id != "", "acceptance_id", "is required")
	s.Reason, s.Approver, s.RiskID = strings.TrimSpace(s.Reason), strings.TrimSpace(s.Approver), strings.TrimSpace(s.RiskID)
	v.Check(s.Reason != "", "reason", "is required")
	v.MultilineText("reason", s.Reason, domain.MaxReason)
	v.Check(s.Approver != "", "approver", "is required")
	v.Text("approver", s.Approver, domain.MaxShortText)
	v.Text("risk_id", s.RiskID, domain.MaxShortText)
	v.Check(!s.ExpiresAt.IsZero(), "expires_at", "is required (an acceptance always ends)")
	v.Check(s.ExpiresAt.IsZero() || s.ExpiresAt.After(at), "expires_at", "must be in the future")
	v.Check(s.ExpiresAt.IsZero() || s.ExpiresAt.Sub(at) <= MaxAcceptance, "expires_at", "must be within 3 years")
	sc := s.Scope
	sc.FindingIDs = checkIDs(&v, "scope.finding_ids", sc.FindingIDs)
	sc.OccurrenceIDs = checkIDs(&v, "scope.occurrence_ids", sc.OccurrenceIDs)
	n := len(sc.FindingIDs) + len(sc.OccurrenceIDs)
	if r := sc.Rule; r != nil {
		rr := *r
		v.Check(rr.Module == ModuleFindings || rr.Module == ModuleVulnerabilities, "scope.rule.module", "must be %s or %s", ModuleFindings, ModuleVulnerabilities)
		rr.VulnerabilityIDs = checkIDs(&v, "scope.rule.vulnerability_ids", rr.VulnerabilityIDs)
		rr.Checks = checkIDs(&v, "scope.rule.checks", rr.Checks)
		rr.Accounts = checkIDs(&v, "scope.rule.accounts", rr.Accounts)
		switch rr.Module {
		case ModuleVulnerabilities:
			v.Check(len(rr.VulnerabilityIDs) > 0, "scope.rule.vulnerability_ids", "is required for module %s", ModuleVulnerabilities)
			v.Check(len(rr.Checks)+len(rr.Accounts) == 0, "scope.rule", "checks and accounts are for module %s", ModuleFindings)
		case ModuleFindings:
			v.Check(len(rr.Checks) > 0, "scope.rule.checks", "is required for module %s", ModuleFindings)
			v.Check(len(rr.VulnerabilityIDs) == 0, "scope.rule.vulnerability_ids", "is for module %s", ModuleVulnerabilities)
		}
		n += len(rr.VulnerabilityIDs) + len(rr.Checks) + len(rr.Accounts)
		sc.Rule = &rr
	} else {
		v.Check(n > 0, "scope", "must name at least one finding id or occurrence id, or a rule")
	}
	v.Check(n <= MaxAcceptedItems, "scope", "must hold at most %d values", MaxAcceptedItems)
	for fid := range sc.Items() {
		if slices.Contains(sc.FindingIDs, fid) && slices.Contains(sc.OccurrenceIDs, fid) {
			v.Add("scope", "%q is both a finding and an occurrence", fid)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{RiskAccepted{AcceptanceID: id, RiskID: s.RiskID, Scope: sc, Reason: s.Reason, Approver: s.Approver,
		ExpiresAt: s.ExpiresAt, AcceptedAt: at}}, nil
}

// Acceptance is an acceptance's state. Build it with RehydrateAcceptance.
type Acceptance struct {
	id      string
	created bool
	status  string
	scope   Scope
	expires time.Time
	fixed   map[string]time.Time
	lastAt  time.Time
}

// RehydrateAcceptance rebuilds an acceptance from its events.
func RehydrateAcceptance(events ...Event) *Acceptance {
	a := &Acceptance{fixed: map[string]time.Time{}}
	for _, e := range events {
		a.Apply(e)
	}
	return a
}

// Apply records one event's effect.
func (a *Acceptance) Apply(e Event) {
	switch e := e.(type) {
	case RiskAccepted:
		a.id, a.created, a.status, a.scope, a.expires, a.lastAt = e.AcceptanceID, true, AcceptanceActive, e.Scope, e.ExpiresAt, e.AcceptedAt
	case RiskAcceptanceRevoked:
		a.status, a.lastAt = AcceptanceRevoked, e.RevokedAt
	case RiskAcceptanceExpired:
		a.status, a.lastAt = AcceptanceExpired, e.ExpiredAt
	case AcceptedItemFixed:
		a.fixed[e.ItemID] = e.FixedAt
		if a.scope.Rule == nil && len(a.fixed) == len(a.scope.Items()) {
			a.status = AcceptanceClosed
		}
		a.lastAt = maxTime(a.lastAt, e.FixedAt)
	}
}

func (a *Acceptance) active() error {
	switch {
	case !a.created:
		return domain.Rule(CodeAcceptanceUnknown, "the risk acceptance was never approved")
	case a.status != AcceptanceActive:
		return domain.Rule(CodeAcceptanceEnded, "risk acceptance %s has ended (%s)", a.id, a.status)
	}
	return nil
}

// Revoke decides that a person ends the acceptance now.
func (a *Acceptance) Revoke(reason string, at time.Time) ([]Event, error) {
	if err := a.active(); err != nil {
		return nil, err
	}
	var v domain.Validator
	reason = strings.TrimSpace(reason)
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{RiskAcceptanceRevoked{AcceptanceID: a.id, Reason: reason, RevokedAt: maxTime(at, a.lastAt)}}, nil
}

// Expire decides that the acceptance reached its expiry (now at or after
// it); the event is dated at the expiry itself.
func (a *Acceptance) Expire(now time.Time) ([]Event, error) {
	if err := a.active(); err != nil {
		return nil, err
	}
	if now.Before(a.expires) {
		return nil, domain.Rule(CodeAcceptanceNotDue, "risk acceptance %s expires at %s", a.id, a.expires.Format(time.RFC3339))
	}
	return []Event{RiskAcceptanceExpired{AcceptanceID: a.id, ExpiredAt: a.expires}}, nil
}

// ItemFixed decides that an item the acceptance names (or, for a rule's
// acceptance, an item of the rule's module) was fixed at fixedAt, closing
// the acceptance for it (and closing the acceptance when it was the last
// one it names; a rule's never closes so). An item it does not name, or
// fixed already, is a rule error; a fix at or after the expiry is not one while accepted.
func (a *Acceptance) ItemFixed(item string, fixedAt time.Time) ([]Event, error) {
	if err := a.active(); err != nil {
		return nil, err
	}
	module, ok := a.scope.Items()[item]
	if !ok && a.scope.Rule != nil {
		// An item the rule accepted (the SLA clocks say which: the
		// scheduler sends the fix of a clock this acceptance paused).
		module, ok = a.scope.Rule.Module, item != ""
	}
	if _, done := a.fixed[item]; !ok || done {
		return nil, domain.Rule(CodeItemNotAccepted, "risk acceptance %s does not accept %q (or it was fixed already)", a.id, item)
	}
	if !fixedAt.Before(a.expires) {
		return nil, domain.Rule(CodeItemNotAccepted, "%q was fixed after the acceptance expired", item)
	}
	return []Event{AcceptedItemFixed{AcceptanceID: a.id, ItemID: item, Module: module, FixedAt: fixedAt}}, nil
}

// AcceptanceState is a read-only view of an acceptance.
type AcceptanceState struct {
	Status    string               `json:"status"`
	Scope     Scope                `json:"scope"`
	ExpiresAt time.Time            `json:"expires_at"`
	Fixed     map[string]time.Time `json:"fixed,omitempty"`
}

// View is the acceptance as it stands.
func (a *Acceptance) View() AcceptanceState {
	fixed := map[string]time.Time{}
	for k, v := range a.fixed {
		fixed[k] = v
	}
	return AcceptanceState{Status: a.status, Scope: a.scope, ExpiresAt: a.expires, Fixed: fixed}
}
