package cloudsecurity

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
)

// Cloud accounts: one stream each ("account-<id>", type CloudAccount),
// over the rules of domain/cloudsecurity (account.go). The id derives from
// the team, the provider and the account's uid, so the stream of one
// team's account is never another team's. An account first seen in an
// import has no stream until a person registers, renames, tags or retires
// it: those commands ask the accounts read model, through KnownAccounts,
// whether the caller's team has seen it (docs/accounts.md).

// StreamTypeCloudAccount is the stream type of an account.
const StreamTypeCloudAccount = commands.StreamTypeCloudAccount

// KnownAccounts is what the account commands need to know of the accounts
// imports revealed. cmd/cspm implements it over the accounts read model.
type KnownAccounts interface {
	// KnownAccount reports whether the team has account id (seen in an
	// import, or registered), and its name as shown now.
	KnownAccount(ctx context.Context, team, id string) (name string, found bool, err error)
}

// KnownAccountsFunc adapts a function into KnownAccounts.
type KnownAccountsFunc func(ctx context.Context, team, id string) (string, bool, error)

// KnownAccount calls f.
func (f KnownAccountsFunc) KnownAccount(ctx context.Context, team, id string) (string, bool, error) {
	return f(ctx, team, id)
}

// WithKnownAccounts lets the handlers change accounts seen in imports.
func (h *Handlers) WithKnownAccounts(known KnownAccounts) *Handlers {
	h.accounts = known
	return h
}

var errNoKnownAccounts = errors.New("commands: the accounts read model is not configured (WithKnownAccounts)")

// RegisterAccount registers an account of the caller's team.
type RegisterAccount struct {
	Provider     string            `json:"provider"`
	UID          string            `json:"uid"`
	Name         string            `json:"name,omitempty"`
	Organization string            `json:"organization,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// RenameAccount gives an account another name.
type RenameAccount struct {
	AccountID string `json:"-"`
	Name      string `json:"name"`
}

// TagAccount sets an account's whole set of tags.
type TagAccount struct {
	AccountID string            `json:"-"`
	Tags      map[string]string `json:"tags"`
}

// RetireAccount retires an account.
type RetireAccount struct {
	AccountID string `json:"-"`
	Reason    string `json:"reason,omitempty"`
}

func accountCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: csdomain.AccountStream(id), Type: StreamTypeCloudAccount}
}

// RegisterAccount registers the account (commands.Result.ID is its id).
// An account seen in imports may be registered; a registered or retired
// one may not (ACCOUNT_ALREADY_REGISTERED, ACCOUNT_RETIRED).
func (h *Handlers) RegisterAccount(ctx context.Context, meta commands.Meta, cmd RegisterAccount) (commands.Result, error) {
	id := csdomain.AccountID(meta.TeamID, cmd.Provider, cmd.UID)
	return commands.Upsert(ctx, h.kit, meta, accountCall("RegisterAccount", id, cmd), func(history []csdomain.Event) ([]csdomain.Event, error) {
		return csdomain.RehydrateAccount(id, history...).Register(meta.TeamID, csdomain.AccountRegistration{
			Provider: cmd.Provider, UID: cmd.UID, Name: cmd.Name, Organization: cmd.Organization, Tags: cmd.Tags}, h.kit.Now())
	})
}

// RenameAccount renames the caller's team's account.
func (h *Handlers) RenameAccount(ctx context.Context, meta commands.Meta, cmd RenameAccount) (commands.Result, error) {
	return h.decideAccount(ctx, meta, accountCall("RenameAccount", cmd.AccountID, cmd), func(a *csdomain.CloudAccount, current string, seen bool) ([]csdomain.Event, error) {
		return a.Rename(cmd.Name, current, seen, h.kit.Now())
	})
}

// TagAccount sets the caller's team's account's tags.
func (h *Handlers) TagAccount(ctx context.Context, meta commands.Meta, cmd TagAccount) (commands.Result, error) {
	return h.decideAccount(ctx, meta, accountCall("TagAccount", cmd.AccountID, cmd), func(a *csdomain.CloudAccount, _ string, seen bool) ([]csdomain.Event, error) {
		return a.Tag(cmd.Tags, seen, h.kit.Now())
	})
}

// RetireAccount retires the caller's team's account.
func (h *Handlers) RetireAccount(ctx context.Context, meta commands.Meta, cmd RetireAccount) (commands.Result, error) {
	return h.decideAccount(ctx, meta, accountCall("RetireAccount", cmd.AccountID, cmd), func(a *csdomain.CloudAccount, _ string, seen bool) ([]csdomain.Event, error) {
		return a.Retire(cmd.Reason, seen, h.kit.Now())
	})
}

// decideAccount loads the account of c (its stream, and whether the
// team's read model has it), decides and appends, creating the stream with
// the first event (commands.Upsert).
func (h *Handlers) decideAccount(ctx context.Context, meta commands.Meta, c commands.Call,
	decide func(a *csdomain.CloudAccount, current string, seen bool) ([]csdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("account_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	if h.accounts == nil {
		return commands.Result{}, fmt.Errorf("%s: %w", c.Name, errNoKnownAccounts)
	}
	return commands.Upsert(ctx, h.kit, meta, c, func(history []csdomain.Event) ([]csdomain.Event, error) {
		var current string
		seen := false
		if len(history) == 0 {
			name, found, err := h.accounts.KnownAccount(ctx, meta.TeamID, c.TargetID)
			if err != nil {
				return nil, fmt.Errorf("%s: look up account %q: %w", c.Name, c.TargetID, err)
			}
			current, seen = name, found
		}
		return decide(csdomain.RehydrateAccount(c.TargetID, history...), current, seen)
	})
}
