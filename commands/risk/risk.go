// Package risk runs the risk-management commands (docs/risk-management.md):
// the team's risk matrix ("riskmatrix-<team>"), risks and their treatment
// plans ("risk-<id>"), KRIs ("kri-<id>") and risk acceptances
// ("riskacceptance-<id>"). Ids are generated (UUIDv7), never the
// caller's choice.
package risk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Stream types.
const (
	StreamTypeMatrix     = "RiskMatrix"
	StreamTypeRisk       = commands.StreamTypeRisk
	StreamTypeKRI        = commands.StreamTypeKRI
	StreamTypeAcceptance = commands.StreamTypeRiskAcceptance

	matrixStreamPrefix = "riskmatrix-"
)

// Stream ids.
func MatrixStreamID(team string) string   { return matrixStreamPrefix + team }
func RiskStreamID(id string) string       { return commands.RiskStreamPrefix + id }
func KRIStreamID(id string) string        { return commands.KRIStreamPrefix + id }
func AcceptanceStreamID(id string) string { return commands.RiskAcceptanceStreamPrefix + id }

func riskCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: RiskStreamID(id), Type: StreamTypeRisk}
}
func kriCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: KRIStreamID(id), Type: StreamTypeKRI}
}
func acceptanceCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: AcceptanceStreamID(id), Type: StreamTypeAcceptance}
}

// Handlers runs the risk-management commands. It is safe for concurrent use.
type Handlers struct{ kit *commands.Kit }

// New returns the handlers on kit; it panics on a nil kit.
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("risk.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// --- the matrix ---

// DefineMatrix sets the team's risk matrix: a new version.
type DefineMatrix struct {
	rdomain.MatrixSpec
}

// DefineMatrix appends the team's matrix's next version.
func (h *Handlers) DefineMatrix(ctx context.Context, meta commands.Meta, cmd DefineMatrix) (commands.Result, error) {
	c := commands.Call{Name: "DefineRiskMatrix", TargetID: meta.TeamID, Body: cmd, StreamID: MatrixStreamID(meta.TeamID), Type: StreamTypeMatrix}
	return commands.Upsert(ctx, h.kit, meta, c, func(history []rdomain.Event) ([]rdomain.Event, error) {
		return rdomain.RehydrateMatrix(history...).Define(cmd.MatrixSpec, h.kit.Now())
	})
}

// matrix loads the team's matrix history (empty: the default).
func (h *Handlers) matrix(ctx context.Context, team string) (*rdomain.Matrix, error) {
	recorded, err := h.kit.Store().ReadStream(ctx, MatrixStreamID(team), eventstore.ReadStreamOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the risk matrix: %w", err)
	}
	if len(recorded) > 0 && (recorded[0].StreamType != StreamTypeMatrix || recorded[0].Metadata.TeamID != team) {
		return nil, fmt.Errorf("risk matrix stream of team %s is not its own", team)
	}
	events, err := commands.Decode[rdomain.Event](h.kit.Codec(), recorded)
	if err != nil {
		return nil, err
	}
	return rdomain.RehydrateMatrix(events...), nil
}

// ScoreInput is a likelihood and an impact on the team's current matrix.
type ScoreInput struct {
	Likelihood string `json:"likelihood"`
	Impact     string `json:"impact"`
}

func (h *Handlers) score(ctx context.Context, team, field string, in ScoreInput) (rdomain.Score, error) {
	m, err := h.matrix(ctx, team)
	if err != nil {
		return rdomain.Score{}, err
	}
	spec, v := m.Current()
	return spec.Score(v, field, in.Likelihood, in.Impact)
}

// --- risks ---

// RiskLinks are a risk's links (domain/risk.Links).
type RiskLinks = rdomain.Links

// IdentifyRisk enters a risk in the register, scored inherent when given.
type IdentifyRisk struct {
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Owner       string      `json:"owner"`
	Links       RiskLinks   `json:"links"`
	Inherent    *ScoreInput `json:"inherent,omitempty"`
}

// DescribeRisk replaces a risk's title, description, owner and links.
type DescribeRisk struct {
	RiskID      string    `json:"-"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Owner       string    `json:"owner"`
	Links       RiskLinks `json:"links"`
}

// ScoreRisk scores a risk (kind inherent, current or residual) on the
// team's current matrix.
type ScoreRisk struct {
	RiskID     string `json:"-"`
	Kind       string `json:"kind"`
	Likelihood string `json:"likelihood"`
	Impact     string `json:"impact"`
	Note       string `json:"note,omitempty"`
}

// CloseRisk takes a risk out of the register.
type CloseRisk struct {
	RiskID string `json:"-"`
	Reason string `json:"reason"`
}

// TaskInput is a task of a new plan.
type TaskInput struct {
	Title  string `json:"title"`
	Status string `json:"status,omitempty"`
}

// PlanTreatment adds a treatment plan to a risk (Result.ID is the risk's;
// the plan's id is in the events and the risk's view).
type PlanTreatment struct {
	RiskID   string      `json:"-"`
	Strategy string      `json:"strategy"`
	Owner    string      `json:"owner"`
	DueDate  time.Time   `json:"due_date"`
	Tasks    []TaskInput `json:"tasks,omitempty"`
}

// UpdateTreatmentTask sets a task's status.
type UpdateTreatmentTask struct {
	RiskID string `json:"-"`
	PlanID string `json:"-"`
	TaskID string `json:"-"`
	Status string `json:"status"`
}

// IdentifyRisk creates a risk under a new id.
func (h *Handlers) IdentifyRisk(ctx context.Context, meta commands.Meta, cmd IdentifyRisk) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := riskCall("IdentifyRisk", "", cmd)
	c.StreamID = RiskStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]rdomain.Event, error) {
		var inherent *rdomain.Score
		if cmd.Inherent != nil {
			s, err := h.score(ctx, meta.TeamID, "inherent", *cmd.Inherent)
			if err != nil {
				return nil, err
			}
			inherent = &s
		}
		return rdomain.IdentifyRisk(id, rdomain.ScenarioSpec{Title: cmd.Title, Description: cmd.Description, Owner: cmd.Owner, Links: cmd.Links}, inherent, h.kit.Now())
	})
}

// DescribeRisk replaces the risk's description.
func (h *Handlers) DescribeRisk(ctx context.Context, meta commands.Meta, cmd DescribeRisk) (commands.Result, error) {
	return h.decideRisk(ctx, meta, riskCall("DescribeRisk", cmd.RiskID, cmd), func(r *rdomain.Risk) ([]rdomain.Event, error) {
		return r.Describe(rdomain.ScenarioSpec{Title: cmd.Title, Description: cmd.Description, Owner: cmd.Owner, Links: cmd.Links}, h.kit.Now())
	})
}

// ScoreRisk scores the risk on the team's current matrix.
func (h *Handlers) ScoreRisk(ctx context.Context, meta commands.Meta, cmd ScoreRisk) (commands.Result, error) {
	return h.decideRisk(ctx, meta, riskCall("ScoreRisk", cmd.RiskID, cmd), func(r *rdomain.Risk) ([]rdomain.Event, error) {
		s, err := h.score(ctx, meta.TeamID, "", ScoreInput{Likelihood: cmd.Likelihood, Impact: cmd.Impact})
		if err != nil {
			return nil, err
		}
		return r.ScoreRisk(cmd.Kind, s, cmd.Note, h.kit.Now())
	})
}

// CloseRisk takes the risk out of the register.
func (h *Handlers) CloseRisk(ctx context.Context, meta commands.Meta, cmd CloseRisk) (commands.Result, error) {
	return h.decideRisk(ctx, meta, riskCall("CloseRisk", cmd.RiskID, cmd), func(r *rdomain.Risk) ([]rdomain.Event, error) {
		return r.Close(cmd.Reason, h.kit.Now())
	})
}

// PlanTreatment adds a plan to the risk under a new plan id.
func (h *Handlers) PlanTreatment(ctx context.Context, meta commands.Meta, cmd PlanTreatment) (commands.Result, error) {
	planID, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	return h.decideRisk(ctx, meta, riskCall("PlanTreatment", cmd.RiskID, cmd), func(r *rdomain.Risk) ([]rdomain.Event, error) {
		tasks := make([]rdomain.Task, len(cmd.Tasks))
		for i, t := range cmd.Tasks {
			tasks[i] = rdomain.Task{Title: t.Title, Status: t.Status}
		}
		return r.PlanTreatment(rdomain.Plan{PlanID: planID, Strategy: cmd.Strategy, Owner: cmd.Owner, DueDate: eventstore.NormalizeTime(cmd.DueDate), Tasks: tasks}, h.kit.Now())
	})
}

// UpdateTreatmentTask sets the task's status.
func (h *Handlers) UpdateTreatmentTask(ctx context.Context, meta commands.Meta, cmd UpdateTreatmentTask) (commands.Result, error) {
	return h.decideRisk(ctx, meta, riskCall("UpdateTreatmentTask", cmd.RiskID, cmd), func(r *rdomain.Risk) ([]rdomain.Event, error) {
		return r.UpdateTask(cmd.PlanID, cmd.TaskID, cmd.Status, h.kit.Now())
	})
}

func (h *Handlers) decideRisk(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*rdomain.Risk) ([]rdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("risk_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []rdomain.Event) ([]rdomain.Event, error) {
		return decide(rdomain.RehydrateRisk(history...))
	})
}

// --- KRIs ---

// DefineKRI defines a KRI (domain/risk.KRISpec's fields).
type DefineKRI struct {
	rdomain.KRISpec
}

// RedefineKRI replaces a KRI's definition (its source stays).
type RedefineKRI struct {
	KRIID string `json:"-"`
	rdomain.KRISpec
}

// MeasureKRI records a manual KRI's value (at measured_at, now when absent).
type MeasureKRI struct {
	KRIID      string     `json:"-"`
	Value      *float64   `json:"value"`
	Note       string     `json:"note,omitempty"`
	MeasuredAt *time.Time `json:"measured_at,omitempty"`
}

// ObserveKRI records what the latest point of a computed KRI's series
// changes (the KRI observer in serve: decision 100).
type ObserveKRI struct {
	KRIID      string    `json:"-"`
	Value      float64   `json:"value"`
	MeasuredAt time.Time `json:"measured_at"`
}

// RetireKRI stops watching a KRI.
type RetireKRI struct {
	KRIID string `json:"-"`
}

// DefineKRI creates a KRI under a new id.
func (h *Handlers) DefineKRI(ctx context.Context, meta commands.Meta, cmd DefineKRI) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := kriCall("DefineKRI", "", cmd)
	c.StreamID = KRIStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]rdomain.Event, error) {
		return rdomain.DefineKRI(id, cmd.KRISpec, h.kit.Now())
	})
}

// RedefineKRI replaces the KRI's definition.
func (h *Handlers) RedefineKRI(ctx context.Context, meta commands.Meta, cmd RedefineKRI) (commands.Result, error) {
	return h.decideKRI(ctx, meta, kriCall("RedefineKRI", cmd.KRIID, cmd), func(k *rdomain.KRI) ([]rdomain.Event, error) {
		return k.Redefine(cmd.KRISpec, h.kit.Now())
	})
}

// MeasureKRI records a value of the manual KRI.
func (h *Handlers) MeasureKRI(ctx context.Context, meta commands.Meta, cmd MeasureKRI) (commands.Result, error) {
	var v domain.Validator
	v.Check(cmd.Value != nil, "value", "is required")
	if cmd.MeasuredAt != nil {
		v.Check(!cmd.MeasuredAt.After(h.kit.Now()), "measured_at", "must not be in the future")
	}
	if err := v.Err(); err != nil {
		return commands.Result{}, err
	}
	return h.decideKRI(ctx, meta, kriCall("MeasureKRI", cmd.KRIID, cmd), func(k *rdomain.KRI) ([]rdomain.Event, error) {
		return k.Measure(*cmd.Value, cmd.Note, h.kit.TimeOr(cmd.MeasuredAt))
	})
}

// ObserveKRI records the computed KRI's breach state when its latest
// point changes it. When it does not, nothing is appended and the result
// has no event ids.
func (h *Handlers) ObserveKRI(ctx context.Context, meta commands.Meta, cmd ObserveKRI) (commands.Result, error) {
	res, err := h.decideKRI(ctx, meta, kriCall("ObserveKRI", cmd.KRIID, cmd), func(k *rdomain.KRI) ([]rdomain.Event, error) {
		events, err := k.Observe(cmd.Value, cmd.MeasuredAt, h.kit.Now())
		if err == nil && len(events) == 0 {
			return nil, errUnchanged
		}
		return events, err
	})
	if errors.Is(err, errUnchanged) {
		return commands.Result{ID: cmd.KRIID, StreamID: KRIStreamID(cmd.KRIID)}, nil
	}
	return res, err
}

// errUnchanged: the decision changes nothing; nothing is appended.
var errUnchanged = errors.New("unchanged")

// RetireKRI stops watching the KRI.
func (h *Handlers) RetireKRI(ctx context.Context, meta commands.Meta, cmd RetireKRI) (commands.Result, error) {
	return h.decideKRI(ctx, meta, kriCall("RetireKRI", cmd.KRIID, cmd), func(k *rdomain.KRI) ([]rdomain.Event, error) {
		return k.Retire(h.kit.Now())
	})
}

func (h *Handlers) decideKRI(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*rdomain.KRI) ([]rdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("kri_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []rdomain.Event) ([]rdomain.Event, error) {
		return decide(rdomain.RehydrateKRI(history...))
	})
}

// --- risk acceptances ---

// AcceptRisk accepts findings and occurrences until expires_at (admin).
type AcceptRisk struct {
	RiskID    string        `json:"risk_id,omitempty"`
	Scope     rdomain.Scope `json:"scope"`
	Reason    string        `json:"reason"`
	Approver  string        `json:"approver"`
	ExpiresAt *time.Time    `json:"expires_at"`
}

// RevokeAcceptance ends an acceptance now.
type RevokeAcceptance struct {
	AcceptanceID string `json:"-"`
	Reason       string `json:"reason,omitempty"`
}

// ExpireAcceptance ends an acceptance whose expiry has passed (the
// scheduler of `cspm serve` sends it).
type ExpireAcceptance struct {
	AcceptanceID string `json:"-"`
}

// CloseAcceptedItem records that an accepted item was fixed at FixedAt
// (the scheduler of `cspm serve` sends it when the SLA clock of an
// accepted item resolves).
type CloseAcceptedItem struct {
	AcceptanceID string    `json:"-"`
	ItemID       string    `json:"item_id"`
	FixedAt      time.Time `json:"fixed_at"`
}

// AcceptRisk creates an acceptance under a new id.
func (h *Handlers) AcceptRisk(ctx context.Context, meta commands.Meta, cmd AcceptRisk) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := acceptanceCall("AcceptRisk", "", cmd)
	c.StreamID = AcceptanceStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]rdomain.Event, error) {
		var exp time.Time
		if cmd.ExpiresAt != nil {
			exp = eventstore.NormalizeTime(*cmd.ExpiresAt)
		}
		return rdomain.Accept(id, rdomain.AcceptanceSpec{RiskID: cmd.RiskID, Scope: cmd.Scope, Reason: cmd.Reason, Approver: cmd.Approver, ExpiresAt: exp}, h.kit.Now())
	})
}

// RevokeAcceptance ends the acceptance now.
func (h *Handlers) RevokeAcceptance(ctx context.Context, meta commands.Meta, cmd RevokeAcceptance) (commands.Result, error) {
	return h.decideAcceptance(ctx, meta, acceptanceCall("RevokeRiskAcceptance", cmd.AcceptanceID, cmd), func(a *rdomain.Acceptance) ([]rdomain.Event, error) {
		return a.Revoke(cmd.Reason, h.kit.Now())
	})
}

// ExpireAcceptance ends the acceptance if its expiry has passed.
func (h *Handlers) ExpireAcceptance(ctx context.Context, meta commands.Meta, cmd ExpireAcceptance) (commands.Result, error) {
	return h.decideAcceptance(ctx, meta, acceptanceCall("ExpireRiskAcceptance", cmd.AcceptanceID, cmd), func(a *rdomain.Acceptance) ([]rdomain.Event, error) {
		return a.Expire(h.kit.Now())
	})
}

// CloseAcceptedItem closes the acceptance for an item fixed while accepted.
func (h *Handlers) CloseAcceptedItem(ctx context.Context, meta commands.Meta, cmd CloseAcceptedItem) (commands.Result, error) {
	return h.decideAcceptance(ctx, meta, acceptanceCall("CloseAcceptedItem", cmd.AcceptanceID, cmd), func(a *rdomain.Acceptance) ([]rdomain.Event, error) {
		return a.ItemFixed(cmd.ItemID, eventstore.NormalizeTime(cmd.FixedAt))
	})
}

func (h *Handlers) decideAcceptance(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*rdomain.Acceptance) ([]rdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("acceptance_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []rdomain.Event) ([]rdomain.Event, error) {
		return decide(rdomain.RehydrateAcceptance(history...))
	})
}
