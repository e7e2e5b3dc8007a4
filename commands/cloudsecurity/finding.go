package cloudsecurity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
)

// MaxFindingsPerBatch bounds the findings of one RaiseFindings command.
const MaxFindingsPerBatch = 1000

// RaiseFindings raises a batch of findings in a running or completed scan of
// the caller's team, one Finding stream ("finding-<finding_id>") each.
//
// The whole batch is validated before anything is appended: bad input
// appends nothing. A finding id already in use is the store's conflict
// error (the caller's team's finding) or a *commands.IDInUseError (another team's),
// also found before anything is appended (short of a race).
//
// The batch's streams are appended in one atomic AppendBatch when the
// store has it (the SQLite and MongoDB stores: decision 106): all of them
// or none, in one transaction, so one commit acknowledges the whole batch.
// On a store without it they are appended one by one: should an append
// fail midway, the findings before it stay raised. With an idempotency key
// every finding is appended under its own key derived from it, so retrying
// the same batch appends only what is missing and returns the first
// results; when nothing is missing the commands.BatchResult has Duplicate
// set.
func (h *Handlers) RaiseFindings(ctx context.Context, meta commands.Meta, cmd RaiseFindings) (commands.BatchResult, error) {
	const name = "RaiseFindings"
	if err := validateBatchSize(cmd); err != nil {
		return commands.BatchResult{}, err
	}
	c := commands.ScanCall(name, cmd.ScanID, cmd)
	md, err := commands.Metadata(meta)
	if err != nil {
		return commands.BatchResult{}, err
	}
	idem, err := commands.Idempotency(meta, c)
	if err != nil {
		return commands.BatchResult{}, err
	}
	items, done, err := h.earlierItems(ctx, meta, idem, len(cmd.Findings))
	if err != nil {
		return commands.BatchResult{}, err
	}
	if !slices.Contains(done, false) {
		return batchResult(items), nil
	}

	scan, err := h.loadScan(ctx, meta, c)
	if err != nil {
		return commands.BatchResult{}, err
	}
	if err := scan.AllowsFindings(); err != nil {
		return commands.BatchResult{}, err
	}
	decided, err := decideFindings(cmd, scan.State(), done, h.kit.Now())
	if err != nil {
		return commands.BatchResult{}, err
	}
	if err := h.checkFindingsUnused(ctx, meta, cmd, done); err != nil {
		return commands.BatchResult{}, err
	}

	reqs, idx := make([]eventstore.AppendRequest, 0, len(decided)), make([]int, 0, len(decided))
	for i, d := range decided {
		if done[i] {
			continue
		}
		req, err := h.kit.AppendRequest(commands.FindingCall(name, d.id, cmd), eventstore.NoStream, md, itemIdempotency(meta, idem, i), commands.Anys(d.events))
		if err != nil {
			return commands.BatchResult{}, err
		}
		reqs, idx = append(reqs, req), append(idx, i)
	}
	if bs, ok := h.kit.Store().(commands.BatchStore); ok {
		res, err := bs.AppendBatch(ctx, reqs)
		if err != nil {
			return commands.BatchResult{}, h.batchFailed(ctx, meta, cmd, decided, reqs, idx, err)
		}
		for k, r := range res {
			items[idx[k]] = commands.ToResult(r)
		}
		return batchResult(items), nil
	}
	for k, req := range reqs {
		i, d := idx[k], decided[idx[k]]
		fc := commands.FindingCall(name, d.id, cmd)
		res, err := h.kit.Store().Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) {
			// Taken since checkFindingsUnused: a concurrent create won.
			return commands.BatchResult{}, h.kit.TakenID(ctx, meta, fc, findingIDField(i), d.id,
				fmt.Errorf("%s: findings[%d]: append to %s: %w", name, i, fc.StreamID, err))
		}
		if err != nil {
			return commands.BatchResult{}, fmt.Errorf("%s: findings[%d]: append to %s: %w", name, i, fc.StreamID, err)
		}
		items[i] = commands.ToResult(res)
	}
	return batchResult(items), nil
}

// batchFailed is the error of a failed AppendBatch of a RaiseFindings
// batch (nothing was appended): a finding id taken since
// checkFindingsUnused (a concurrent create won) is reported as that item's,
// as the one-by-one appends report it.
func (h *Handlers) batchFailed(ctx context.Context, meta commands.Meta, cmd RaiseFindings, decided []decidedFinding, reqs []eventstore.AppendRequest, idx []int, err error) error {
	var conflict *eventstore.ConflictError
	if errors.As(err, &conflict) {
		for k, req := range reqs {
			if req.StreamID != conflict.StreamID {
				continue
			}
			i, d := idx[k], decided[idx[k]]
			return h.kit.TakenID(ctx, meta, commands.FindingCall("RaiseFindings", d.id, cmd), findingIDField(i), d.id,
				fmt.Errorf("RaiseFindings: findings[%d]: append to %s: %w", i, req.StreamID, err))
		}
	}
	return fmt.Errorf("RaiseFindings: append %d findings: %w", len(reqs), err)
}

func validateBatchSize(cmd RaiseFindings) error {
	var v domain.Validator
	v.Check(cmd.ScanID != "", "scan_id", "is required")
	v.Check(len(cmd.Findings) > 0, "findings", "must not be empty")
	v.Check(len(cmd.Findings) <= MaxFindingsPerBatch, "findings", "must hold at most %d findings (got %d)", MaxFindingsPerBatch, len(cmd.Findings))
	return v.Err()
}

// itemIdempotency derives the key of finding i of a batch from the batch's
// key: the command segment ("RaiseFindings/<i>") cannot be another command's.
// Every item carries the batch's fingerprint, so reusing the key for another
// batch is a mismatch on whichever item is looked up first.
func itemIdempotency(meta commands.Meta, batch eventstore.Idempotency, i int) eventstore.Idempotency {
	if batch.Key == "" {
		return eventstore.Idempotency{}
	}
	return eventstore.Idempotency{
		Key:         meta.TeamID + ":RaiseFindings/" + strconv.Itoa(i) + ":" + meta.IdempotencyKey,
		Fingerprint: batch.Fingerprint,
	}
}

// earlierItems finds the findings an earlier run of the same batch appended.
// Items are appended in order, so when the first is unknown none is (a
// concurrent twin still racing is resolved by the store, item by item).
func (h *Handlers) earlierItems(ctx context.Context, meta commands.Meta, batch eventstore.Idempotency, n int) ([]commands.Result, []bool, error) {
	items, done := make([]commands.Result, n), make([]bool, n)
	if batch.Key == "" {
		return items, done, nil
	}
	for i := range n {
		res, dup, err := h.kit.Earlier(ctx, "RaiseFindings", itemIdempotency(meta, batch, i))
		if err != nil {
			return nil, nil, fmt.Errorf("findings[%d]: %w", i, err)
		}
		if !dup {
			if i == 0 {
				break
			}
			continue
		}
		items[i], done[i] = commands.ToResult(res), true
	}
	return items, done, nil
}

func (h *Handlers) loadScan(ctx context.Context, meta commands.Meta, c commands.Call) (*orchdomain.ScanRun, error) {
	recorded, err := h.kit.Load(ctx, meta, c)
	if err != nil {
		return nil, err
	}
	history, err := commands.Decode[orchdomain.Event](h.kit.Codec(), recorded)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return orchdomain.Rehydrate(history...), nil
}

type decidedFinding struct {
	id     string
	events []csdomain.Event
}

// decideFindings decides every finding not done yet, and names every
// invalid field of the batch ("findings[3].severity") in one error.
func decideFindings(cmd RaiseFindings, scan orchdomain.ScanRunState, done []bool, now time.Time) ([]decidedFinding, error) {
	var v domain.Validator
	first := map[string]int{} // finding id → index of its first use
	out := make([]decidedFinding, len(cmd.Findings))
	for i, in := range cmd.Findings {
		if in.FindingID != "" {
			if j, dup := first[in.FindingID]; dup {
				v.Add(fmt.Sprintf("findings[%d].finding_id", i), "duplicates findings[%d].finding_id", j)
			} else {
				first[in.FindingID] = i
			}
		}
		if done[i] {
			continue
		}
		id := in.FindingID
		if id == "" {
			var err error
			if id, err = commands.NewID(); err != nil {
				return nil, err
			}
		}
		events, err := csdomain.Raise(csdomain.NewFinding{
			FindingID:   id,
			ScanID:      scan.ScanID,
			AccountID:   scan.AccountID,
			CheckID:     in.CheckID,
			Title:       in.Title,
			Severity:    in.Severity,
			ResourceID:  in.ResourceID,
			Region:      in.Region,
			Description: in.Description,
			RaisedAt:    now,
		})
		if err != nil {
			if !addFields(&v, fmt.Sprintf("findings[%d].", i), err) {
				return nil, err
			}
			continue
		}
		out[i] = decidedFinding{id: id, events: events}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// addFields copies the fields of a *domain.ValidationError into v, each
// name prefixed; it reports false when err is another kind of error.
func addFields(v *domain.Validator, prefix string, err error) bool {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		v.Add(prefix+f.Field, "%s", f.Message)
	}
	return true
}

// checkFindingsUnused fails when a finding id the caller chose is already
// a stream, so that the batch appends nothing: with the store's conflict
// error when the finding is the caller's team's, with a *commands.IDInUseError,
// which says nothing about the finding, when it is not.
func (h *Handlers) checkFindingsUnused(ctx context.Context, meta commands.Meta, cmd RaiseFindings, done []bool) error {
	for i, in := range cmd.Findings {
		if done[i] || in.FindingID == "" {
			continue
		}
		fc := commands.FindingCall("RaiseFindings", in.FindingID, cmd)
		existing, err := h.kit.Store().ReadStream(ctx, fc.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return fmt.Errorf("RaiseFindings: read %s: %w", fc.StreamID, err)
		}
		if len(existing) == 0 {
			continue
		}
		if existing[0].StreamType != fc.Type || existing[0].Metadata.TeamID != meta.TeamID {
			return fmt.Errorf("RaiseFindings: %w", &commands.IDInUseError{Field: findingIDField(i), ID: in.FindingID})
		}
		conflict := &eventstore.ConflictError{StreamID: fc.StreamID, Expected: eventstore.NoStream, Current: existing[len(existing)-1].Version}
		return fmt.Errorf("RaiseFindings: %s %q is in use: %w", findingIDField(i), in.FindingID, conflict)
	}
	return nil
}

// findingIDField names the finding id of item i of a batch.
func findingIDField(i int) string { return fmt.Sprintf("findings[%d].finding_id", i) }

func batchResult(items []commands.Result) commands.BatchResult {
	b := commands.BatchResult{Items: items, Duplicate: len(items) > 0}
	for _, r := range items {
		b.Position = max(b.Position, r.Position)
		b.Duplicate = b.Duplicate && r.Duplicate
	}
	return b
}

// ResolveFinding marks an open or suppressed finding as resolved, now. An
// imported finding's id ("fnd-...") is triaged by the rules of
// resolveImported.
func (h *Handlers) ResolveFinding(ctx context.Context, meta commands.Meta, cmd ResolveFinding) (commands.Result, error) {
	if csdomain.IsImportedFinding(cmd.FindingID) {
		return h.resolveImported(ctx, meta, cmd)
	}
	return h.decideFinding(ctx, meta, commands.FindingCall("ResolveFinding", cmd.FindingID, cmd), func(f *csdomain.Finding) ([]csdomain.Event, error) {
		return f.Resolve(cmd.Reason, h.kit.Now())
	})
}

// SuppressFinding suppresses an open finding as of now, until cmd.Until if
// set. An imported finding's id ("fnd-...") is triaged by the rules of
// suppressImported.
func (h *Handlers) SuppressFinding(ctx context.Context, meta commands.Meta, cmd SuppressFinding) (commands.Result, error) {
	if csdomain.IsImportedFinding(cmd.FindingID) {
		return h.suppressImported(ctx, meta, cmd)
	}
	return h.decideFinding(ctx, meta, commands.FindingCall("SuppressFinding", cmd.FindingID, cmd), func(f *csdomain.Finding) ([]csdomain.Event, error) {
		s := csdomain.Suppression{Reason: cmd.Reason}
		if cmd.Until != nil {
			s.Until = eventstore.NormalizeTime(*cmd.Until)
		}
		return f.Suppress(s, h.kit.Now())
	})
}

// decideFinding loads the finding of c, decides and appends (see commands.Update).
func (h *Handlers) decideFinding(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*csdomain.Finding) ([]csdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("finding_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []csdomain.Event) ([]csdomain.Event, error) {
		return decide(csdomain.Rehydrate(history...))
	})
}
