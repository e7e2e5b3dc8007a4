package commands

import (
	"context"

	"github.com/cspm-es/cspm-es/domain/orchestration"
)

func scanCall(name, scanID string, body any) call {
	return call{name: name, targetID: scanID, body: body, streamID: scanStreamPrefix + scanID, typ: StreamTypeScanRun}
}

// RequestScan creates a ScanRun stream ("scan-<scan_id>"); the scan id is
// generated (UUIDv7) when the command has none. A scan id already in use is
// the store's conflict error when the scan is the caller's team's, and an
// *IDInUseError, which says nothing about the scan, when it is not.
func (h *Handlers) RequestScan(ctx context.Context, meta Meta, cmd RequestScan) (Result, error) {
	scanID := cmd.ScanID
	if scanID == "" {
		// A retry without a scan id gets the first id back from the
		// idempotency record: the fingerprint covers the command as received.
		id, err := newID()
		if err != nil {
			return Result{}, err
		}
		scanID = id
	}
	c := scanCall("RequestScan", cmd.ScanID, cmd)
	c.streamID = scanStreamPrefix + scanID
	return create(ctx, h, meta, c, "scan_id", func() ([]orchestration.Event, error) {
		return orchestration.Request(orchestration.ScanRequest{
			ScanID:      scanID,
			AccountID:   cmd.AccountID,
			Provider:    cmd.Provider,
			Tool:        cmd.Tool,
			Target:      cmd.Target,
			RequestedAt: h.now(),
		})
	})
}

// StartScan marks a requested scan as running (at cmd.StartedAt, or now).
func (h *Handlers) StartScan(ctx context.Context, meta Meta, cmd StartScan) (Result, error) {
	return h.decideScan(ctx, meta, scanCall("StartScan", cmd.ScanID, cmd), func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
		return s.Start(h.timeOr(cmd.StartedAt))
	})
}

// CompleteScan marks a running scan as completed (at cmd.CompletedAt, or now).
func (h *Handlers) CompleteScan(ctx context.Context, meta Meta, cmd CompleteScan) (Result, error) {
	return h.decideScan(ctx, meta, scanCall("CompleteScan", cmd.ScanID, cmd), func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
		return s.Complete(cmd.ResourceCount, h.timeOr(cmd.CompletedAt))
	})
}

// FailScan marks a requested or running scan as failed, now.
func (h *Handlers) FailScan(ctx context.Context, meta Meta, cmd FailScan) (Result, error) {
	return h.decideScan(ctx, meta, scanCall("FailScan", cmd.ScanID, cmd), func(s *orchestration.ScanRun) ([]orchestration.Event, error) {
		return s.Fail(cmd.Reason, h.now())
	})
}

// decideScan loads the scan of c, decides and appends (see update).
func (h *Handlers) decideScan(ctx context.Context, meta Meta, c call, decide func(*orchestration.ScanRun) ([]orchestration.Event, error)) (Result, error) {
	if err := requireID("scan_id", c.targetID); err != nil {
		return Result{}, err
	}
	return update(ctx, h, meta, c, func(history []orchestration.Event) ([]orchestration.Event, error) {
		return decide(orchestration.Rehydrate(history...))
	})
}
