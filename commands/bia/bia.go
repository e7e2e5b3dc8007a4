// Package bia holds the business impact analysis commands: BIAs (stream
// "bia-<id>") with their processes, and exercises (stream
// "biaexercise-<id>"), each of the caller's team (docs/bia.md).
package bia

import (
	"context"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Streams of the module.
const (
	StreamTypeAnalysis = commands.StreamTypeBIA
	StreamTypeExercise = "BIAExercise"
	analysisPrefix     = commands.BIAStreamPrefix
	exercisePrefix     = commands.BIAExerciseStreamPrefix
)

// AnalysisStreamID is the stream id of a BIA.
func AnalysisStreamID(id string) string { return analysisPrefix + id }

// ExerciseStreamID is the stream id of an exercise.
func ExerciseStreamID(id string) string { return exercisePrefix + id }

func analysisCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: AnalysisStreamID(id), Type: StreamTypeAnalysis}
}

func exerciseCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: ExerciseStreamID(id), Type: StreamTypeExercise}
}

// Handlers runs the BIA commands. It is safe for concurrent use.
type Handlers struct{ kit *commands.Kit }

// New returns the handlers on kit; it panics on a nil kit (a wiring
// mistake).
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("bia.New: nil kit")
	}
	return &Handlers{kit: kit}
}

func timeOr0(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return eventstore.NormalizeTime(*t)
}

// CreateBIA creates a draft BIA of the caller's team.
type CreateBIA struct {
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner"`
	DueDate     *time.Time `json:"due_date,omitempty"`
}

// UpdateBIA replaces a draft BIA's details.
type UpdateBIA struct {
	BIAID       string     `json:"-"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner"`
	DueDate     *time.Time `json:"due_date,omitempty"`
}

// AddProcess adds a business process to a draft BIA; ProcessID is
// generated (UUIDv7) when empty.
type AddProcess struct {
	BIAID     string `json:"-"`
	ProcessID string `json:"process_id,omitempty"`
	bia.ProcessSpec
}

// ChangeProcess replaces a process of a draft BIA (the whole process).
type ChangeProcess struct {
	BIAID     string `json:"-"`
	ProcessID string `json:"-"`
	bia.ProcessSpec
}

// RemoveProcess takes a process out of a draft BIA.
type RemoveProcess struct {
	BIAID     string `json:"-"`
	ProcessID string `json:"-"`
	Reason    string `json:"reason,omitempty"`
}

// SubmitBIA sends a complete draft to review.
type SubmitBIA struct {
	BIAID string `json:"-"`
}

// ApproveBIA approves a BIA in review (the caller is the approver).
type ApproveBIA struct {
	BIAID   string `json:"-"`
	Comment string `json:"comment,omitempty"`
}

// ReopenBIA returns a BIA in review or approved to draft.
type ReopenBIA struct {
	BIAID  string `json:"-"`
	Reason string `json:"reason"`
}

func details(title, description, owner string, due *time.Time) bia.Details {
	return bia.Details{Title: title, Description: description, Owner: owner, DueDate: timeOr0(due)}
}

// CreateBIA creates a BIA under a new id (Result.ID).
func (h *Handlers) CreateBIA(ctx context.Context, meta commands.Meta, cmd CreateBIA) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := analysisCall("CreateBIA", "", cmd)
	c.StreamID = AnalysisStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]bia.Event, error) {
		return bia.CreateAnalysis(id, details(cmd.Title, cmd.Description, cmd.Owner, cmd.DueDate), h.kit.Now())
	})
}

// UpdateBIA replaces the details of the team's draft BIA.
func (h *Handlers) UpdateBIA(ctx context.Context, meta commands.Meta, cmd UpdateBIA) (commands.Result, error) {
	return h.decideAnalysis(ctx, meta, analysisCall("UpdateBIA", cmd.BIAID, cmd), func(a *bia.Analysis) ([]bia.Event, error) {
		return a.ChangeDetails(details(cmd.Title, cmd.Description, cmd.Owner, cmd.DueDate), h.kit.Now())
	})
}

// AddProcess adds a process to the team's draft BIA. The process id is
// the body's process_id, or a new UUIDv7 (the route's Location names it).
func (h *Handlers) AddProcess(ctx context.Context, meta commands.Meta, cmd AddProcess) (commands.Result, string, error) {
	pid := cmd.ProcessID
	if pid == "" {
		id, err := commands.NewID()
		if err != nil {
			return commands.Result{}, "", err
		}
		pid = id
	}
	res, err := h.decideAnalysis(ctx, meta, analysisCall("AddProcess", cmd.BIAID, cmd), func(a *bia.Analysis) ([]bia.Event, error) {
		return a.AddProcess(pid, cmd.ProcessSpec, h.kit.Now())
	})
	return res, pid, err
}

// ChangeProcess replaces a process of the team's draft BIA.
func (h *Handlers) ChangeProcess(ctx context.Context, meta commands.Meta, cmd ChangeProcess) (commands.Result, error) {
	c := analysisCall("ChangeProcess", cmd.BIAID, cmd)
	c.TargetID = cmd.BIAID + "/" + cmd.ProcessID
	return h.decideAnalysisOf(ctx, meta, cmd.BIAID, c, func(a *bia.Analysis) ([]bia.Event, error) {
		return a.ChangeProcess(cmd.ProcessID, cmd.ProcessSpec, h.kit.Now())
	})
}

// RemoveProcess takes a process out of the team's draft BIA.
func (h *Handlers) RemoveProcess(ctx context.Context, meta commands.Meta, cmd RemoveProcess) (commands.Result, error) {
	c := analysisCall("RemoveProcess", cmd.BIAID, cmd)
	c.TargetID = cmd.BIAID + "/" + cmd.ProcessID
	return h.decideAnalysisOf(ctx, meta, cmd.BIAID, c, func(a *bia.Analysis) ([]bia.Event, error) {
		return a.RemoveProcess(cmd.ProcessID, cmd.Reason, h.kit.Now())
	})
}

// SubmitBIA sends the team's complete draft to review.
func (h *Handlers) SubmitBIA(ctx context.Context, meta commands.Meta, cmd SubmitBIA) (commands.Result, error) {
	return h.decideAnalysis(ctx, meta, analysisCall("SubmitBIA", cmd.BIAID, cmd), func(a *bia.Analysis) ([]bia.Event, error) {
		return a.Submit(h.kit.Now())
	})
}

// ApproveBIA approves the team's BIA in review; the approver is the
// command's actor (the API key).
func (h *Handlers) ApproveBIA(ctx context.Context, meta commands.Meta, cmd ApproveBIA) (commands.Result, error) {
	return h.decideAnalysis(ctx, meta, analysisCall("ApproveBIA", cmd.BIAID, cmd), func(a *bia.Analysis) ([]bia.Event, error) {
		return a.Approve(meta.Actor, cmd.Comment, h.kit.Now())
	})
}

// ReopenBIA returns the team's BIA to draft.
func (h *Handlers) ReopenBIA(ctx context.Context, meta commands.Meta, cmd ReopenBIA) (commands.Result, error) {
	return h.decideAnalysis(ctx, meta, analysisCall("ReopenBIA", cmd.BIAID, cmd), func(a *bia.Analysis) ([]bia.Event, error) {
		return a.Reopen(cmd.Reason, h.kit.Now())
	})
}

func (h *Handlers) decideAnalysis(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*bia.Analysis) ([]bia.Event, error)) (commands.Result, error) {
	return h.decideAnalysisOf(ctx, meta, c.TargetID, c, decide)
}

func (h *Handlers) decideAnalysisOf(ctx context.Context, meta commands.Meta, biaID string, c commands.Call, decide func(*bia.Analysis) ([]bia.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("bia_id", biaID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []bia.Event) ([]bia.Event, error) {
		return decide(bia.RehydrateAnalysis(history...))
	})
}

// loadAnalysis is the team's BIA as it is now (domain.ErrNotFound for
// another team's, or none).
func (h *Handlers) loadAnalysis(ctx context.Context, meta commands.Meta, name, id string) (bia.Snapshot, error) {
	if err := commands.RequireID("bia_id", id); err != nil {
		return bia.Snapshot{}, err
	}
	recs, err := h.kit.Load(ctx, meta, analysisCall(name, id, nil))
	if err != nil {
		return bia.Snapshot{}, err
	}
	evs, err := commands.Decode[bia.Event](h.kit.Codec(), recs)
	if err != nil {
		return bia.Snapshot{}, fmt.Errorf("%s: %w", name, err)
	}
	return bia.RehydrateAnalysis(evs...).Snapshot(), nil
}
