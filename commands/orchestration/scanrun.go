package orchestration

import (
	"context"

	"github.com/cspm-es/cspm-es/commands"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
)

// Handlers runs the scan commands. It is safe for concurrent use.
type Handlers struct {
	kit *commands.Kit
}

// New returns the scan command handlers on kit. It panics on a nil kit:
// that is a wiring mistake to catch at start-up.
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("orchestration.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// RequestScan creates a ScanRun stream ("scan-<scan_id>"); the scan id is
// generated (UUIDv7) when the command has none. A scan id already in use is
// the store's conflict error when the scan is the caller's team's, and an
// *commands.IDInUseError, which says nothing about the scan, when it is not.
func (h *Handlers) RequestScan(ctx context.Context, meta commands.Meta, cmd RequestScan) (commands.Result, error) {
	scanID := cmd.ScanID
	if scanID == "" {
		// A retry without a scan id gets the first id back from the
		// idempotency record: the fingerprint covers the command as received.
		id, err := commands.NewID()
		if err != nil {
			return commands.Result{}, err
		}
		scanID = id
	}
	c := commands.ScanCall("RequestScan", cmd.ScanID, cmd)
	c.StreamID = commands.ScanStreamID(scanID)
	return commands.Create(ctx, h.kit, meta, c, "scan_id", func() ([]orchdomain.Event, error) {
		return orchdomain.Request(orchdomain.ScanRequest{
			ScanID:      scanID,
			AccountID:   cmd.AccountID,
			Provider:    cmd.Provider,
			Tool:        cmd.Tool,
			Target:      cmd.Target,
			RequestedAt: h.kit.Now(),
		})
	})
}

// StartScan marks a requested scan as running (at cmd.StartedAt, or now).
func (h *Handlers) StartScan(ctx context.Context, meta commands.Meta, cmd StartScan) (commands.Result, error) {
	return h.decideScan(ctx, meta, commands.ScanCall("StartScan", cmd.ScanID, cmd), func(s *orchdomain.ScanRun) ([]orchdomain.Event, error) {
		return s.Start(h.kit.TimeOr(cmd.StartedAt))
	})
}

// CompleteScan marks a running scan as completed (at cmd.CompletedAt, or now).
func (h *Handlers) CompleteScan(ctx context.Context, meta commands.Meta, cmd CompleteScan) (commands.Result, error) {
	return h.decideScan(ctx, meta, commands.ScanCall("CompleteScan", cmd.ScanID, cmd), func(s *orchdomain.ScanRun) ([]orchdomain.Event, error) {
		return s.Complete(cmd.ResourceCount, h.kit.TimeOr(cmd.CompletedAt))
	})
}

// FailScan marks a requested or running scan as failed, now.
func (h *Handlers) FailScan(ctx context.Context, meta commands.Meta, cmd FailScan) (commands.Result, error) {
	return h.decideScan(ctx, meta, commands.ScanCall("FailScan", cmd.ScanID, cmd), func(s *orchdomain.ScanRun) ([]orchdomain.Event, error) {
		return s.Fail(cmd.Reason, h.kit.Now())
	})
}

// decideScan loads the scan of c, decides and appends (see commands.Update).
func (h *Handlers) decideScan(ctx context.Context, meta commands.Meta, c commands.Call, decide func(*orchdomain.ScanRun) ([]orchdomain.Event, error)) (commands.Result, error) {
	if err := commands.RequireID("scan_id", c.TargetID); err != nil {
		return commands.Result{}, err
	}
	return commands.Update(ctx, h.kit, meta, c, func(history []orchdomain.Event) ([]orchdomain.Event, error) {
		return decide(orchdomain.Rehydrate(history...))
	})
}
