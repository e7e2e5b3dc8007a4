// Package retention runs the retention-policy command (decision 88) and
// reads the policies in force. Policies are platform-wide (they govern the
// whole log), set by admins; each event records who set it (its actor and
// team) for the audit trail.
package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/eventstore"
)

// SetPolicy sets a module's retention in days (0: keep live for ever).
type SetPolicy struct {
	Module string `json:"-"`
	Days   int    `json:"days"`
	Reason string `json:"reason,omitempty"`
}

// OperatorTeam is the team the CLI's policy changes are recorded under
// (the operator acts for the whole platform); over HTTP it is the admin's.
const OperatorTeam = "platform"

// maxRetries bounds the restarts of a policy change on a conflict.
const maxRetries = 3

// Handlers runs the retention commands. It is safe for concurrent use.
type Handlers struct {
	kit *commands.Kit
}

// New returns the handlers on kit; it panics on a nil kit (a wiring mistake).
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("retention.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// SetPolicy appends RetentionPolicySet to the module's policy stream, or
// nothing when the policy in force already says the same (the Result then
// names the stream's current version).
func (h *Handlers) SetPolicy(ctx context.Context, meta commands.Meta, cmd SetPolicy) (commands.Result, error) {
	md, err := commands.Metadata(meta)
	if err != nil {
		return commands.Result{}, err
	}
	c := commands.Call{Name: "SetRetentionPolicy", TargetID: cmd.Module, Body: cmd, StreamID: retention.StreamID(cmd.Module), Type: retention.StreamType}
	idem, err := commands.Idempotency(meta, c)
	if err != nil {
		return commands.Result{}, err
	}
	for attempt := 0; ; attempt++ {
		if res, dup, err := h.kit.Earlier(ctx, c.Name, idem); err != nil || dup {
			return commands.ToResult(res), err
		}
		recorded, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return commands.Result{}, fmt.Errorf("%s: read %s: %w", c.Name, c.StreamID, err)
		}
		history, err := commands.Decode[retention.RetentionPolicySet](h.kit.Codec(), recorded)
		if err != nil {
			return commands.Result{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		var current *retention.RetentionPolicySet
		expected := eventstore.NoStream
		if n := len(history); n > 0 {
			current, expected = &history[n-1], eventstore.Exact(recorded[n-1].Version)
		}
		events, err := retention.Set(current, retention.SetRequest{Module: cmd.Module, Days: cmd.Days, Reason: cmd.Reason, SetAt: h.kit.Now()})
		if err != nil {
			return commands.Result{}, err
		}
		if len(events) == 0 {
			last := recorded[len(recorded)-1]
			return commands.Result{ID: cmd.Module, StreamID: c.StreamID, Version: last.Version, Position: last.Position}, nil
		}
		req, err := h.kit.AppendRequest(c, expected, md, idem, commands.Anys(events))
		if err != nil {
			return commands.Result{}, err
		}
		res, err := h.kit.Store().Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return commands.Result{}, fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err)
		}
		r := commands.ToResult(res)
		r.ID = cmd.Module
		return r, nil
	}
}

// Policies returns the policies in force (Policies).
func (h *Handlers) Policies(ctx context.Context) ([]retention.Policy, error) {
	return Policies(ctx, h.kit.Store(), h.kit.Codec())
}

// StreamReader reads streams (an eventstore.Store, a commands.EventStore).
type StreamReader interface {
	ReadStream(ctx context.Context, streamID string, opts eventstore.ReadStreamOptions) ([]eventstore.RecordedEvent, error)
}

// Policies returns the policy in force of every module (DefaultDays for
// a module without one), in the order of retention.Modules.
func Policies(ctx context.Context, store StreamReader, codec *eventstore.Codec) ([]retention.Policy, error) {
	out := make([]retention.Policy, 0, len(retention.Modules))
	for _, m := range retention.Modules {
		p := retention.Policy{Module: m.Name, Days: retention.DefaultDays, Default: true}
		recorded, err := store.ReadStream(ctx, retention.StreamID(m.Name), eventstore.ReadStreamOptions{})
		if err != nil {
			return nil, fmt.Errorf("read the retention policy of %s: %w", m.Name, err)
		}
		if n := len(recorded); n > 0 && recorded[n-1].StreamType == retention.StreamType {
			history, err := commands.Decode[retention.RetentionPolicySet](codec, recorded[n-1:])
			if err != nil {
				return nil, fmt.Errorf("retention policy of %s: %w", m.Name, err)
			}
			last := history[0]
			at := last.SetAt
			p = retention.Policy{Module: m.Name, Days: last.Days, Reason: last.Reason, SetAt: &at,
				SetBy: strings.TrimSpace(recorded[n-1].Metadata.Actor)}
		}
		out = append(out, p)
	}
	return out, nil
}
