package threatintel

import (
	"context"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Indicators: one Indicator stream each ("indicator-<id>"), of the
// caller's team; the id is generated (UUIDv7).

// Stream of an indicator.
const (
	StreamTypeIndicator   = "Indicator"
	indicatorStreamPrefix = commands.IndicatorStreamPrefix
)

// IndicatorStreamID is the stream id of an indicator.
func IndicatorStreamID(id string) string { return indicatorStreamPrefix + id }

func indicatorCall(name, id string, body any) commands.Call {
	return commands.Call{Name: name, TargetID: id, Body: body, StreamID: IndicatorStreamID(id), Type: StreamTypeIndicator}
}

// CreateIndicator creates an indicator of the caller's team.
type CreateIndicator struct {
	Type        string     `json:"type"`
	Value       string     `json:"value"`
	Confidence  int        `json:"confidence"`
	Source      string     `json:"source"`
	Description string     `json:"description,omitempty"`
	ValidFrom   *time.Time `json:"valid_from,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// UpdateIndicator replaces an indicator's mutable fields (type and value
// may be repeated, not changed).
type UpdateIndicator struct {
	IndicatorID string     `json:"-"`
	Type        string     `json:"type,omitempty"`
	Value       string     `json:"value,omitempty"`
	Confidence  int        `json:"confidence"`
	Source      string     `json:"source"`
	Description string     `json:"description,omitempty"`
	ValidFrom   *time.Time `json:"valid_from,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// ObserveIndicator records that the value was seen again: it extends the
// indicator (to valid_until when given) and revives an expired one.
type ObserveIndicator struct {
	IndicatorID string     `json:"-"`
	Source      string     `json:"source,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// RevokeIndicator ends an indicator for good.
type RevokeIndicator struct {
	IndicatorID string `json:"-"`
	Reason      string `json:"reason,omitempty"`
}

// ExpireIndicator ends an indicator whose valid_until has passed (the
// expiry scheduler of `cspm serve` sends it).
type ExpireIndicator struct {
	IndicatorID string `json:"-"`
}

func timeOr0(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return eventstore.NormalizeTime(*t)
}

// CreateIndicator creates an indicator under a new id (Result.ID).
func (h *Handlers) CreateIndicator(ctx context.Context, meta commands.Meta, cmd CreateIndicator) (commands.Result, error) {
	id, err := commands.NewID()
	if err != nil {
		return commands.Result{}, err
	}
	c := indicatorCall("CreateIndicator", "", cmd)
	c.StreamID = IndicatorStreamID(id)
	return commands.Create(ctx, h.kit, meta, c, "", func() ([]ti.Event, error) {
		return ti.CreateIndicator(id, ti.IndicatorSpec{Type: ti.IndicatorType(cmd.Type), Value: cmd.Value, Confidence: cmd.Confidence,
			Source: cmd.Source, Description: cmd.Description, ValidFrom: timeOr0(cmd.ValidFrom), ValidUntil: timeOr0(cmd.ValidUntil)}, h.kit.Now())
	})
}

// UpdateIndicator replaces the mutable fields of the team's indicator.
func (h *Handlers) UpdateIndicator(ctx context.Context, meta commands.Meta, cmd UpdateIndicator) (commands.Result, error) {
	return h.decideIndicator(ctx, meta, indicatorCall("UpdateIndicator", cmd.IndicatorID, cmd), func(in *ti.Indicator) ([]ti.Event, error) {
		return in.Update(ti.IndicatorSpec{Type: ti.IndicatorType(cmd.Type), Value: cmd.Value, Confidence: cmd.Confidence, Source: cmd.Source,
			Description: cmd.Description, ValidFrom: timeOr0(cmd.ValidFrom), ValidUntil: timeOr0(cmd.ValidUntil)}, h.kit.Now())
	})
}

// ObserveIndicator records a re-observation of the team's indicator.
func (h *Handlers) ObserveIndicator(ctx context.Context, meta commands.Meta, cmd ObserveIndicator) (commands.Result, error) {
	return h.decideIndicator(ctx, meta, indicatorCall("ObserveIndicator", cmd.IndicatorID, cmd), func(in *ti.Indicator) ([]ti.Event, error) {
		return in.Observe(cmd.Source, timeOr0(cmd.ValidUntil), h.kit.Now())
	})
}

// RevokeIndicator ends the team's indicator for good.
func (h *Handlers) RevokeIndicator(ctx context.Context, meta commands.Meta, cmd RevokeIndicator) (commands.Result, error) {
	return h.decideIndicator(ctx, meta, indicatorCall("RevokeIndicator", cmd.IndicatorID, cmd), func(in *ti.Indicator) ([]ti.Event, error) {
		return in.Revoke(cmd.Reason, h.kit.Now())
	})
}

// ExpireIndicator ends the team's indicator if its valid_until has passed
// (INDICATOR_NOT_EXPIRED otherwise, INDICATOR_EXPIRED when it has been).
func (h *Handlers) ExpireIndicator(ctx context.Context, meta commands.Meta, cmd ExpireIndicator) (commands.Result, error) {
	return h.decideIndicator(ctx, meta, indicatorCall("ExpireIndicator", cmd.IndicatorID, cmd), func(in *ti.Indicator) ([]ti.Event, error) {
		return in.Expire(h.kit.Now())
	})
}

func (h *Handlers) decideIndicator(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*ti.Indicator) ([]ti.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("indicator_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []ti.Event) ([]ti.Event, error) {
		return decide(ti.RehydrateIndicator(history...))
	})
}
