package integrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/eventstore"
)

// StartWizard starts a setup session for a kind of integration.
type StartWizard struct {
	Kind string `json:"kind"`
}

// SaveWizardStep saves one step of a session (PUT .../steps/{step}).
type SaveWizardStep struct {
	WizardID string            `json:"-"`
	Step     string            `json:"-"`
	Data     map[string]string `json:"data"`
}

// CompleteWizard creates the integration the saved steps describe, with
// its secret (a wizard never stores one), and ends the session.
type CompleteWizard struct {
	WizardID string  `json:"-"`
	Secret   *string `json:"secret,omitempty"`
}

// ExpireWizard ends a session past its expiry (the scheduler).
type ExpireWizard struct {
	WizardID string `json:"-"`
}

func wizardCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: WizardStreamID(id), Type: StreamTypeWizard}
}

// StartWizard starts a session under a new id (Result.ID).
func (h *Handlers) StartWizard(ctx context.Context, meta commands.Meta, cmd StartWizard) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := wizardCall("StartWizard", "", cmd)
	c.StreamID = WizardStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]in.Event, error) {
		return in.StartWizard(id, in.Kind(cmd.Kind), h.kit.Now())
	})
	res.ID = idOf(res, id)
	return res, err
}

// SaveWizardStep saves a step; the session lives WizardTTL more.
func (h *Handlers) SaveWizardStep(ctx context.Context, meta commands.Meta, cmd SaveWizardStep) (commands.Result, error) {
	return h.decideWizard(ctx, meta, wizardCall("SaveWizardStep", cmd.WizardID, cmd), func(w *in.Wizard) ([]in.Event, error) {
		return w.SaveStep(cmd.Step, cmd.Data, h.kit.Now())
	})
}

// ExpireWizard ends a session whose expiry has passed.
func (h *Handlers) ExpireWizard(ctx context.Context, meta commands.Meta, cmd ExpireWizard) (commands.Result, error) {
	return h.decideWizard(ctx, meta, wizardCall("ExpireWizard", cmd.WizardID, cmd), func(w *in.Wizard) ([]in.Event, error) {
		return w.Expire(h.kit.Now())
	})
}

// CompleteWizard creates the integration (its id is derived from the
// session's, so a retry after a failure between the two appends creates
// nothing twice) and completes the session; Result.ID is the
// integration's id.
func (h *Handlers) CompleteWizard(ctx context.Context, meta commands.Meta, cmd CompleteWizard) (commands.Result, error) {
	const name = "CompleteWizard"
	if err := commands.RequireID("wizard_id", cmd.WizardID); err != nil {
		return commands.Result{}, err
	}
	recorded, err := h.kit.Load(ctx, meta, wizardCall(name, cmd.WizardID, nil))
	if err != nil {
		return commands.Result{}, err
	}
	history, err := commands.Decode[in.Event](h.kit.Codec(), recorded)
	if err != nil {
		return commands.Result{}, fmt.Errorf("%s: %w", name, err)
	}
	w := in.RehydrateWizard(history...)
	integrationID := cmd.WizardID // a session makes at most one integration
	if _, err := w.Complete(integrationID, h.kit.Now()); err != nil {
		return commands.Result{}, err
	}
	s := w.Spec()
	ks := make([]string, len(s.EventKinds))
	for i, k := range s.EventKinds {
		ks[i] = string(k)
	}
	created, err := h.createIntegration(ctx, meta, integrationID, "CreateIntegration",
		CreateIntegration{Name: s.Name, Kind: string(s.Kind), Config: s.Config, EventKinds: ks, Secret: cmd.Secret})
	if err != nil && !isOwnConflict(err) {
		return commands.Result{}, err
	}
	body := cmd
	body.Secret = ptr(redact(cmd.Secret))
	if _, err := h.decideWizard(ctx, meta, wizardCall(name, cmd.WizardID, body), func(w *in.Wizard) ([]in.Event, error) {
		return w.Complete(integrationID, h.kit.Now())
	}); err != nil {
		return commands.Result{}, err
	}
	created.ID = integrationID
	return created, nil
}

func (h *Handlers) decideWizard(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*in.Wizard) ([]in.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("wizard_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	res, err := commands.Update(ctx, h.kit, meta, c, func(history []in.Event) ([]in.Event, error) {
		return decide(in.RehydrateWizard(history...))
	})
	res.ID = idOf(res, c.TargetID)
	return res, err
}

// isOwnConflict: the integration of this session exists already (a retry
// of a completion that failed after creating it).
func isOwnConflict(err error) bool { return errors.Is(err, eventstore.ErrConflict) }
