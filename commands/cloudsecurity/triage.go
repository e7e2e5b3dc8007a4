package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Triage of imported findings. A finding an import revealed ("fnd-...")
// has no stream of facts: the scans' results are in the import streams,
// and what is known of the finding (its team, its lifecycle) is the
// findings read model. ResolveFinding and SuppressFinding on such an id
// ask that read model, through ImportedFindings, whether the caller's
// team has the finding and what the scans say of it, then append
// FindingResolved or FindingSuppressed to the finding's triage stream
// ("finding-<id>", type Finding), which the first triage creates. The
// rules are the domain's (csdomain.Triage).

// ImportedFindings is what the triage commands need to know of the
// findings imports revealed. cmd/cspm implements it over the findings read
// model (the queries of queries/cloudsecurity).
type ImportedFindings interface {
	// ImportedFinding is what the scans say of the team's imported finding
	// id; found is false when the team has no such finding (another team's
	// finding included).
	ImportedFinding(ctx context.Context, team, id string) (f ImportedFinding, found bool, err error)
}

// ImportedFinding is what the scans say of an imported finding now.
type ImportedFinding struct {
	Status   string    // open, fixed or resolved (the lifecycle's)
	LastSeen time.Time // its latest failing evaluation
}

// ImportedFindingsFunc adapts a function into ImportedFindings.
type ImportedFindingsFunc func(ctx context.Context, team, id string) (ImportedFinding, bool, error)

// ImportedFinding calls f.
func (f ImportedFindingsFunc) ImportedFinding(ctx context.Context, team, id string) (ImportedFinding, bool, error) {
	return f(ctx, team, id)
}

// WithImportedFindings lets the handlers triage imported findings, asking
// imported about them.
func (h *Handlers) WithImportedFindings(imported ImportedFindings) *Handlers {
	h.imported = imported
	return h
}

// errNoImportedFindings: the process did not wire WithImportedFindings.
var errNoImportedFindings = errors.New("commands: the triage of imported findings is not configured (WithImportedFindings)")

// resolveImported resolves the caller's team's imported finding, now (see
// csdomain.Triage.Resolve for the rules).
func (h *Handlers) resolveImported(ctx context.Context, meta commands.Meta, cmd ResolveFinding) (commands.Result, error) {
	return h.triage(ctx, meta, commands.FindingCall("ResolveFinding", cmd.FindingID, cmd), func(t *csdomain.Triage, f csdomain.ScannedFinding) ([]csdomain.Event, error) {
		return t.Resolve(f, cmd.Reason, h.kit.Now())
	})
}

// suppressImported suppresses the caller's team's imported finding as of
// now, until cmd.Until if set (see csdomain.Triage.Suppress for the rules).
func (h *Handlers) suppressImported(ctx context.Context, meta commands.Meta, cmd SuppressFinding) (commands.Result, error) {
	return h.triage(ctx, meta, commands.FindingCall("SuppressFinding", cmd.FindingID, cmd), func(t *csdomain.Triage, f csdomain.ScannedFinding) ([]csdomain.Event, error) {
		s := csdomain.Suppression{Reason: cmd.Reason}
		if cmd.Until != nil {
			s.Until = eventstore.NormalizeTime(*cmd.Until)
		}
		return t.Suppress(f, s, h.kit.Now())
	})
}

// triage looks the finding of c up in the read model (not the caller's
// team's: domain.ErrNotFound), then decides on its triage stream and
// appends, creating the stream with the first triage (commands.Upsert).
func (h *Handlers) triage(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*csdomain.Triage, csdomain.ScannedFinding) ([]csdomain.Event, error)) (commands.Result, error) {
	if h.imported == nil {
		return commands.Result{}, fmt.Errorf("%s: %w", c.Name, errNoImportedFindings)
	}
	return commands.Upsert(ctx, h.kit, meta, c, func(history []csdomain.Event) ([]csdomain.Event, error) {
		f, found, err := h.imported.ImportedFinding(ctx, meta.TeamID, c.TargetID)
		if err != nil {
			return nil, fmt.Errorf("%s: look up imported finding %q: %w", c.Name, c.TargetID, err)
		}
		if !found {
			return nil, fmt.Errorf("%s: imported finding %q: %w", c.Name, c.TargetID, domain.ErrNotFound)
		}
		return decide(csdomain.RehydrateTriage(history...), csdomain.ScannedFinding{FindingID: c.TargetID, Status: f.Status, LastSeen: f.LastSeen})
	})
}
