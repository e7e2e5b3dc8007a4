package vulnerabilities

import (
	"context"
	"errors"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/eventstore"
)

// SLA policy commands (decision 56, docs/sla.md): one stream per team,
// "slapolicy-<team>", of SLAPolicySet events.

// StreamTypeSLAPolicy is the type of a team's SLA policy stream.
const StreamTypeSLAPolicy = "SLAPolicy"

// SLAPolicyStreamID is the stream of team's SLA policy.
func SLAPolicyStreamID(team string) string { return "slapolicy-" + team }

// SetSLAPolicy is the body of PUT /api/v1/sla/policy.
type SetSLAPolicy struct {
	Policy vuln.SLAPolicy
}

// SLAHandlers sets teams' SLA policies.
type SLAHandlers struct{ kit *commands.Kit }

// NewSLA returns the handlers; it panics on a nil kit (a wiring mistake).
func NewSLA(kit *commands.Kit) *SLAHandlers {
	if kit == nil {
		panic("vulnerabilities.NewSLA: nil kit")
	}
	return &SLAHandlers{kit: kit}
}

const slaRetries = 3

// SetSLAPolicy appends SLAPolicySet to the caller's team's policy stream,
// or nothing when the policy is the one in force (Result.Version is then
// the stream's, and EventIDs empty).
func (h *SLAHandlers) SetSLAPolicy(ctx context.Context, meta commands.Meta, cmd SetSLAPolicy) (commands.Result, error) {
	c := commands.Call{Name: "SetSLAPolicy", TargetID: meta.TeamID, Body: cmd.Policy, StreamID: SLAPolicyStreamID(meta.TeamID), Type: StreamTypeSLAPolicy}
	if err := cmd.Policy.Validate(); err != nil {
		return commands.Result{}, err
	}
	md, err := commands.Metadata(meta)
	if err != nil {
		return commands.Result{}, err
	}
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
		expected := eventstore.NoStream
		var version int64
		if len(recorded) > 0 {
			if recorded[0].StreamType != c.Type || recorded[0].Metadata.TeamID != meta.TeamID {
				return commands.Result{}, fmt.Errorf("%s: %w", c.Name, domain.ErrNotFound)
			}
			version = recorded[len(recorded)-1].Version
			expected = eventstore.Exact(version)
		}
		history, err := commands.Decode[vuln.SLAPolicySet](h.kit.Codec(), recorded)
		if err != nil {
			return commands.Result{}, fmt.Errorf("%s: %w", c.Name, err)
		}
		events, err := vuln.DecideSLAPolicy(history, cmd.Policy, h.kit.Now())
		if err != nil {
			return commands.Result{}, err
		}
		if len(events) == 0 {
			return commands.Result{ID: meta.TeamID, StreamID: c.StreamID, Version: version, EventIDs: []string{}}, nil
		}
		req, err := h.kit.AppendRequest(c, expected, md, idem, commands.Anys(events))
		if err != nil {
			return commands.Result{}, err
		}
		res, err := h.kit.Store().Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < slaRetries {
			continue
		}
		if err != nil {
			return commands.Result{}, fmt.Errorf("%s: append to %s: %w", c.Name, c.StreamID, err)
		}
		r := commands.ToResult(res)
		r.ID = meta.TeamID
		return r, nil
	}
}
