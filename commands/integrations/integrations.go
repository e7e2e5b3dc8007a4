package integrations

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	in "github.com/cspm-es/cspm-es/domain/integrations"
)

// MinWebhookSecret is the shortest webhook signing secret accepted.
const MinWebhookSecret = 16

// CreateIntegration creates an integration of the caller's team. Secret is
// sealed before anything is decided; it is never stored, logged or
// answered in clear.
type CreateIntegration struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Config     map[string]string `json:"config,omitempty"`
	EventKinds []string          `json:"event_kinds,omitempty"`
	Secret     *string           `json:"secret,omitempty"`
}

// ChangeIntegration replaces an integration's name, config and event
// kinds; a secret, when given, replaces the secret.
type ChangeIntegration struct {
	IntegrationID string            `json:"-"`
	Name          string            `json:"name"`
	Kind          string            `json:"kind,omitempty"`
	Config        map[string]string `json:"config,omitempty"`
	EventKinds    []string          `json:"event_kinds,omitempty"`
	Secret        *string           `json:"secret,omitempty"`
}

// RemoveIntegration ends an integration.
type RemoveIntegration struct {
	IntegrationID string `json:"-"`
}

func integrationCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: IntegrationStreamID(id), Type: StreamTypeIntegration}
}

func kinds(ks []string) []in.EventKind {
	out := make([]in.EventKind, len(ks))
	for i, k := range ks {
		out[i] = in.EventKind(k)
	}
	return out
}

func (h *Handlers) seal(kind string, secret *string, required bool) (in.Sealed, error) {
	var v domain.Validator
	if secret == nil || *secret == "" {
		v.Check(!required, "secret", "is required for a webhook (at least %d bytes: it signs the deliveries)", MinWebhookSecret)
		return in.Sealed{}, v.Err()
	}
	v.Check(len(*secret) <= in.MaxSecretLength, "secret", "must be at most %d bytes", in.MaxSecretLength)
	v.Check(kind != string(in.KindWebhook) || len(*secret) >= MinWebhookSecret, "secret", "must be at least %d bytes for a webhook", MinWebhookSecret)
	if err := v.Err(); err != nil {
		return in.Sealed{}, err
	}
	id, ct, err := h.sealer.Seal([]byte(*secret))
	if err != nil {
		return in.Sealed{}, fmt.Errorf("seal the secret: %w", err)
	}
	return in.Sealed{KeyID: id, Ciphertext: ct}, nil
}

// CreateIntegration creates an integration under a new id (Result.ID).
func (h *Handlers) CreateIntegration(ctx context.Context, meta commands.Meta, cmd CreateIntegration) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	return h.createIntegration(ctx, meta, id, "CreateIntegration", cmd)
}

func (h *Handlers) createIntegration(ctx context.Context, meta commands.Meta, id, name string, cmd CreateIntegration) (commands.Result, error) {
	body := cmd
	body.Secret = ptr(redact(cmd.Secret))
	c := integrationCall(name, "", body)
	c.StreamID = IntegrationStreamID(id)
	res, err := commands.Create(ctx, h.kit, meta, c, "", func() ([]in.Event, error) {
		sealed, err := h.seal(cmd.Kind, cmd.Secret, cmd.Kind == string(in.KindWebhook))
		if err != nil {
			return nil, err
		}
		return in.CreateIntegration(id, in.Spec{Name: cmd.Name, Kind: in.Kind(cmd.Kind), Config: cmd.Config, EventKinds: kinds(cmd.EventKinds)}, sealed, h.kit.Now())
	})
	res.ID = idOf(res, id)
	return res, err
}

func idOf(res commands.Result, id string) string {
	if res.StreamID == "" {
		return ""
	}
	return id
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ChangeIntegration changes the team's integration.
func (h *Handlers) ChangeIntegration(ctx context.Context, meta commands.Meta, cmd ChangeIntegration) (commands.Result, error) {
	body := cmd
	body.Secret = ptr(redact(cmd.Secret))
	return h.decideIntegration(ctx, meta, integrationCall("ChangeIntegration", cmd.IntegrationID, body), func(it *in.Integration) ([]in.Event, error) {
		sealed, err := h.seal(string(it.Kind), cmd.Secret, false)
		if err != nil {
			return nil, err
		}
		return it.Change(in.Spec{Name: cmd.Name, Kind: in.Kind(cmd.Kind), Config: cmd.Config, EventKinds: kinds(cmd.EventKinds)}, sealed, h.kit.Now())
	})
}

// RemoveIntegration ends the team's integration.
func (h *Handlers) RemoveIntegration(ctx context.Context, meta commands.Meta, cmd RemoveIntegration) (commands.Result, error) {
	return h.decideIntegration(ctx, meta, integrationCall("RemoveIntegration", cmd.IntegrationID, cmd), func(it *in.Integration) ([]in.Event, error) {
		return it.Remove(h.kit.Now())
	})
}

func (h *Handlers) decideIntegration(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*in.Integration) ([]in.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("integration_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	res, err := commands.Update(ctx, h.kit, meta, c, func(history []in.Event) ([]in.Event, error) {
		return decide(in.RehydrateIntegration(history...))
	})
	res.ID = idOf(res, c.TargetID)
	return res, err
}

// loadIntegration reads the team's integration.
func (h *Handlers) loadIntegration(ctx context.Context, meta commands.Meta, name, id string) (*in.Integration, error) {
	if err := commands.RequireID("integration_id", id); err != nil {
		return nil, err
	}
	recorded, err := h.kit.Load(ctx, meta, integrationCall(name, id, nil))
	if err != nil {
		return nil, err
	}
	history, err := commands.Decode[in.Event](h.kit.Codec(), recorded)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return in.RehydrateIntegration(history...), nil
}
