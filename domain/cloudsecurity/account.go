package cloudsecurity

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// A cloud account is what a team's scans run against: an AWS account, an
// Azure subscription, a GCP project, a Kubernetes cluster... It is known
// to a team in two ways, which meet in one account:
//
//   - first seen in an import: the report names the account (provider,
//     uid, and when it says so its name, organization and tags); the
//     import's completion lists the accounts it saw (ImportCompleted.
//     Accounts), never an event per finding;
//   - registered by a person (CloudAccountRegistered), before or after any
//     import names it.
//
// Its id is derived from the team, the provider and the account's uid
// (AccountID): the same account reported by two tools, or registered and
// then imported, is one account; two teams holding the same account have
// one each. People rename, tag and retire accounts; the events are in the
// account's stream ("account-<id>"), which the first of them creates.
//
// Rules: an account is registered once; a retired account can be neither
// renamed nor tagged nor retired again (it stays visible with its history,
// and imports that still name it keep its facts: last scan, findings); a
// rename to the current name, or tags equal to the current ones, change
// nothing and are refused so that every event records a change.

// AccountID is the account's id: "acc-" and 32 hex digits of a sha256
// over the team, the provider (lower case) and the account's uid (as the
// provider writes it). It never changes: renaming or tagging an account
// keeps its id.
func AccountID(team, provider, uid string) string {
	return "acc-" + digest(team, "account", strings.ToLower(strings.TrimSpace(provider)), strings.TrimSpace(uid))
}

// AccountStream is the stream of an account's events.
func AccountStream(id string) string { return "account-" + id }

// Limits of an account's descriptions.
const (
	MaxAccountTags = 64
)

// AccountSeen is an account as a report describes it: what an import
// saw, listed in its completion. Name, organization and tags are those of
// the report's first result that gives them.
type AccountSeen struct {
	Provider     string            `json:"provider"`
	UID          string            `json:"uid"`
	Name         string            `json:"name,omitempty"`
	Organization string            `json:"organization,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// AccountRegistration is what a person registers.
type AccountRegistration struct {
	Provider     string
	UID          string
	Name         string
	Organization string
	Tags         map[string]string
}

// CloudAccountRegistered: a person registered the account.
type CloudAccountRegistered struct {
	AccountID    string            `json:"account_id"`
	Provider     string            `json:"provider"`
	UID          string            `json:"uid"`
	Name         string            `json:"name"`
	Organization string            `json:"organization,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	RegisteredAt time.Time         `json:"registered_at"`
}

// CloudAccountRenamed: a person gave the account another name.
type CloudAccountRenamed struct {
	AccountID string    `json:"account_id"`
	Name      string    `json:"name"`
	RenamedAt time.Time `json:"renamed_at"`
}

// CloudAccountTagged: a person set the account's tags (the whole set:
// tags not in it are removed).
type CloudAccountTagged struct {
	AccountID string            `json:"account_id"`
	Tags      map[string]string `json:"tags"`
	TaggedAt  time.Time         `json:"tagged_at"`
}

// CloudAccountRetired: a person retired the account (no longer scanned
// on purpose; kept with its history).
type CloudAccountRetired struct {
	AccountID string    `json:"account_id"`
	Reason    string    `json:"reason,omitempty"`
	RetiredAt time.Time `json:"retired_at"`
}

func (CloudAccountRegistered) EventType() string { return "CloudAccountRegistered" }
func (CloudAccountRenamed) EventType() string    { return "CloudAccountRenamed" }
func (CloudAccountTagged) EventType() string     { return "CloudAccountTagged" }
func (CloudAccountRetired) EventType() string    { return "CloudAccountRetired" }

// Rule codes of accounts.
const (
	CodeAccountAlreadyRegistered = "ACCOUNT_ALREADY_REGISTERED"
	CodeAccountRetired           = "ACCOUNT_RETIRED"
	CodeAccountUnchanged         = "ACCOUNT_UNCHANGED"
)

// Account statuses.
const (
	AccountActive  = "active"
	AccountRetired = "retired"
)

// checkTags validates tags under field.
func checkTags(v *domain.Validator, field string, tags map[string]string) {
	v.Check(len(tags) <= MaxAccountTags, field, "must hold at most %d tags", MaxAccountTags)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v.Check(strings.TrimSpace(k) != "", field, "must not hold an empty key")
		v.Text(field, k, domain.MaxShortText)
		v.Text(field, tags[k], domain.MaxReference)
	}
}

// SeenAccount is the account a result's observation names, validated.
func SeenAccount(o Observation) (AccountSeen, error) {
	var v domain.Validator
	a := AccountSeen{Provider: strings.ToLower(strings.TrimSpace(o.Provider)), UID: o.AccountUID,
		Name: strings.TrimSpace(o.AccountName), Organization: strings.TrimSpace(o.Organization), Tags: o.AccountTags}
	v.Text("account_name", a.Name, domain.MaxShortText)
	v.Text("organization", a.Organization, domain.MaxShortText)
	checkTags(&v, "account_tags", a.Tags)
	if err := v.Err(); err != nil {
		return AccountSeen{}, err
	}
	if len(a.Tags) == 0 {
		a.Tags = nil
	}
	return a, nil
}

// RegisterAccount decides the registration of a new account of team at
// at (the account's stream must hold nothing yet: see CloudAccount.Register).
func RegisterAccount(team string, r AccountRegistration, at time.Time) ([]Event, error) {
	var v domain.Validator
	r.Provider, r.UID = strings.ToLower(strings.TrimSpace(r.Provider)), strings.TrimSpace(r.UID)
	r.Name, r.Organization = strings.TrimSpace(r.Name), strings.TrimSpace(r.Organization)
	v.Check(r.Provider != "", "provider", "is required")
	v.Text("provider", r.Provider, domain.MaxShortText)
	v.Check(r.UID != "", "uid", "is required")
	v.Text("uid", r.UID, domain.MaxShortText)
	v.Text("name", r.Name, domain.MaxShortText)
	v.Text("organization", r.Organization, domain.MaxShortText)
	checkTags(&v, "tags", r.Tags)
	v.Check(!at.IsZero(), "at", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if r.Name == "" {
		r.Name = r.UID
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	return []Event{CloudAccountRegistered{AccountID: AccountID(team, r.Provider, r.UID), Provider: r.Provider, UID: r.UID,
		Name: r.Name, Organization: r.Organization, Tags: r.Tags, RegisteredAt: at}}, nil
}

// CloudAccount is an account's state from its stream. Build it with
// RehydrateAccount.
type CloudAccount struct {
	id         string
	events     int
	registered bool
	retired    bool
	name       string
	tags       map[string]string
	lastAt     time.Time
}

// RehydrateAccount rebuilds account id from its events.
func RehydrateAccount(id string, events ...Event) *CloudAccount {
	a := &CloudAccount{id: id}
	for _, e := range events {
		a.Apply(e)
	}
	return a
}

// Apply records one event's effect.
func (a *CloudAccount) Apply(e Event) {
	a.events++
	switch e := e.(type) {
	case CloudAccountRegistered:
		a.registered, a.name, a.tags, a.lastAt = true, e.Name, e.Tags, e.RegisteredAt
	case CloudAccountRenamed:
		a.name, a.lastAt = e.Name, e.RenamedAt
	case CloudAccountTagged:
		a.tags, a.lastAt = e.Tags, e.TaggedAt
	case CloudAccountRetired:
		a.retired, a.lastAt = true, e.RetiredAt
	}
}

// Register decides the registration r of this account (whose id r's team,
// provider and uid derive) at at. An account seen in imports but never
// registered may be registered.
func (a *CloudAccount) Register(team string, r AccountRegistration, at time.Time) ([]Event, error) {
	switch {
	case a.retired:
		return nil, domain.Rule(CodeAccountRetired, "account %s is retired", a.id)
	case a.registered:
		return nil, domain.Rule(CodeAccountAlreadyRegistered, "account %s is already registered", a.id)
	}
	return RegisterAccount(team, r, at)
}

// known is nil when the account may be changed: it has events, or the
// team's imports have seen it (seen).
func (a *CloudAccount) known(seen bool) error {
	switch {
	case a.events == 0 && !seen:
		return fmt.Errorf("account %s: %w", a.id, domain.ErrNotFound)
	case a.retired:
		return domain.Rule(CodeAccountRetired, "account %s is retired", a.id)
	}
	return nil
}

func (a *CloudAccount) after(at time.Time) time.Time {
	if at.Before(a.lastAt) {
		return a.lastAt
	}
	return at
}

// Rename decides a new name. seen: the team's imports have seen the
// account (an account seen only in imports has no events yet: its name is
// the report's, which the command passes as current).
func (a *CloudAccount) Rename(name, current string, seen bool, at time.Time) ([]Event, error) {
	if err := a.known(seen); err != nil {
		return nil, err
	}
	var v domain.Validator
	name = strings.TrimSpace(name)
	v.Check(name != "", "name", "is required")
	v.Text("name", name, domain.MaxShortText)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if a.events > 0 {
		current = a.name
	}
	if name == current {
		return nil, domain.Rule(CodeAccountUnchanged, "account %s is already named %q", a.id, name)
	}
	return []Event{CloudAccountRenamed{AccountID: a.id, Name: name, RenamedAt: a.after(at)}}, nil
}

// Tag decides the account's whole set of tags (an empty set removes them).
func (a *CloudAccount) Tag(tags map[string]string, seen bool, at time.Time) ([]Event, error) {
	if err := a.known(seen); err != nil {
		return nil, err
	}
	var v domain.Validator
	checkTags(&v, "tags", tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	if a.tags != nil && maps.Equal(a.tags, tags) || a.tags == nil && a.events > 0 && len(tags) == 0 {
		return nil, domain.Rule(CodeAccountUnchanged, "account %s already has these tags", a.id)
	}
	return []Event{CloudAccountTagged{AccountID: a.id, Tags: tags, TaggedAt: a.after(at)}}, nil
}

// Retire decides that the account is retired.
func (a *CloudAccount) Retire(reason string, seen bool, at time.Time) ([]Event, error) {
	if err := a.known(seen); err != nil {
		return nil, err
	}
	var v domain.Validator
	reason = strings.TrimSpace(reason)
	v.MultilineText("reason", reason, domain.MaxReason)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{CloudAccountRetired{AccountID: a.id, Reason: reason, RetiredAt: a.after(at)}}, nil
}

// CloudAccountState is a read-only view of an account's stream, for the
// audit replay (what people decided; what imports saw is in the imports).
type CloudAccountState struct {
	AccountID  string            `json:"account_id"`
	Registered bool              `json:"registered"`
	Name       string            `json:"name,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Status     string            `json:"status"` // AccountActive, AccountRetired
}

// View is the account as its stream says.
func (a *CloudAccount) View() CloudAccountState {
	status := AccountActive
	if a.retired {
		status = AccountRetired
	}
	return CloudAccountState{AccountID: a.id, Registered: a.registered, Name: a.name, Tags: a.tags, Status: status}
}
