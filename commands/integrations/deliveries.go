package integrations

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/eventstore"
)

// DeliverWebhook makes one attempt of a delivery: the event EventID's
// payload Body (as the outbox holds it, byte for byte the same on every
// attempt) posted, signed, to the webhook integration's url, and the
// outcome recorded on the delivery's stream.
type DeliverWebhook struct {
	IntegrationID string
	EventID       string
	EventKind     string
	Body          []byte
}

// Attempt is what one delivery attempt did.
type Attempt struct {
	DeliveryID   string
	Delivered    bool
	StatusCode   int
	Error        string
	Result       commands.Result
	Unrecordable bool // the receiver may have been sent it, the outcome was not recorded (see the at-least-once contract)
	// NextAttemptAt is when a failed delivery is due again.
	NextAttemptAt time.Time
}

// DeliverWebhook sends the delivery once and records the outcome. The
// order is the at-least-once contract's (docs/integrations.md):
//
//  1. the delivery's stream is read from the event store (the source of
//     truth, not a read model that may lag): a delivery acknowledged
//     already is WEBHOOK_ALREADY_DELIVERED and nothing is sent;
//  2. the body is signed and posted;
//  3. the outcome is appended expecting the version read in 1.
//
// A 2xx whose WebhookDelivered is not appended (the process dies between 2
// and 3, the store is down) is the one case a receiver gets a delivery
// twice; it carries the same X-CSPM-Delivery id both times.
func (h *Handlers) DeliverWebhook(ctx context.Context, meta commands.Meta, cmd DeliverWebhook) (Attempt, error) {
	const name = "DeliverWebhook"
	if h.sender == nil {
		return Attempt{}, fmt.Errorf("%s: no sender in this process", name)
	}
	it, err := h.loadIntegration(ctx, meta, name, cmd.IntegrationID)
	if err != nil {
		return Attempt{}, err
	}
	if err := it.Usable(); err != nil {
		return Attempt{}, err
	}
	id := in.DeliveryID(cmd.IntegrationID, cmd.EventID)
	c := commands.Call{Name: name, TargetID: id, StreamID: DeliveryStreamID(id), Type: StreamTypeDelivery}
	recorded, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
	if err != nil {
		return Attempt{}, fmt.Errorf("%s: read %s: %w", name, c.StreamID, err)
	}
	expected := eventstore.NoStream
	if len(recorded) > 0 {
		if recorded[0].StreamType != c.Type || recorded[0].Metadata.TeamID != meta.TeamID {
			return Attempt{}, fmt.Errorf("%s: delivery %s is not this team's", name, id)
		}
		expected = eventstore.Exact(recorded[len(recorded)-1].Version)
	}
	history, err := commands.Decode[in.Event](h.kit.Codec(), recorded)
	if err != nil {
		return Attempt{}, fmt.Errorf("%s: %w", name, err)
	}
	d := in.RehydrateDelivery(id, history...)
	if err := d.CanAttempt(); err != nil {
		return Attempt{DeliveryID: id, Delivered: true}, err
	}
	secret, err := h.sealer.Open(it.Secret.KeyID, it.Secret.Ciphertext)
	if err != nil {
		return Attempt{}, fmt.Errorf("%s: open the signing secret of %s: %w", name, it.ID, err)
	}
	ts := h.kit.Now().Unix()
	headers := map[string]string{
		"Content-Type":     "application/json",
		"User-Agent":       "cspm-es-webhooks/1",
		in.HeaderSignature: in.Sign(secret, ts, cmd.Body),
		in.HeaderTimestamp: strconv.FormatInt(ts, 10),
		in.HeaderDelivery:  id,
		in.HeaderEventKind: cmd.EventKind,
	}
	clear(secret)
	start := h.start()
	status, sendErr := h.sender.Send(ctx, it.Config["url"], headers, cmd.Body)
	outcome := in.Outcome{StatusCode: status, Err: sendErr, Latency: h.elapsed(start)}
	if !outcome.Acknowledged() && ctx.Err() != nil {
		// Shutting down: nothing to record, the delivery is still due.
		return Attempt{DeliveryID: id}, ctx.Err()
	}
	events, err := d.Record(cmd.IntegrationID, cmd.EventID, outcome, h.backoff, h.kit.Now())
	if err != nil {
		return Attempt{}, err
	}
	md, err := commands.Metadata(meta)
	if err != nil {
		return Attempt{}, err
	}
	req, err := h.kit.AppendRequest(c, expected, md, eventstore.Idempotency{}, commands.Anys(events))
	if err != nil {
		return Attempt{}, err
	}
	a := Attempt{DeliveryID: id, Delivered: outcome.Acknowledged(), StatusCode: status}
	if sendErr != nil {
		a.Error = sendErr.Error()
	}
	if f, ok := events[0].(in.WebhookDeliveryFailed); ok {
		a.NextAttemptAt, a.Error = f.NextAttemptAt, f.Error
	}
	// The outcome is recorded even when the caller's context ended: an
	// acknowledgement not recorded is a duplicate later.
	appendCtx := context.WithoutCancel(ctx)
	res, err := h.kit.Store().Append(appendCtx, req)
	if err != nil {
		a.Unrecordable = true
		if errors.Is(err, eventstore.ErrConflict) {
			return a, fmt.Errorf("%s: %s was attempted concurrently: %w", name, id, err)
		}
		return a, fmt.Errorf("%s: append to %s: %w", name, c.StreamID, err)
	}
	a.Result = commands.ToResult(res)
	a.Result.ID = id
	return a, nil
}

// RecordSLABreach records a breach the watcher saw; a breach recorded
// already is the store's conflict (the watcher ignores it).
type RecordSLABreach struct {
	ClockID         string `json:"clock_id"`
	Module          string `json:"module"`
	Severity        string `json:"severity"`
	VulnerabilityID string `json:"vulnerability_id,omitempty"`
	ArtifactID      string `json:"artifact_id,omitempty"`
	Check           string `json:"check,omitempty"`
	Resource        string `json:"resource,omitempty"`
	KEV             bool   `json:"kev,omitempty"`
	DueAt           string `json:"due_at"` // RFC 3339
}

// RecordSLABreach appends SLABreachRecorded once per (team, clock, due
// date).
func (h *Handlers) RecordSLABreach(ctx context.Context, meta commands.Meta, cmd RecordSLABreach) (commands.Result, error) {
	due, err := parseTime(cmd.DueAt)
	if err != nil || cmd.ClockID == "" {
		return commands.Result{}, fmt.Errorf("RecordSLABreach: a clock id and its due date are required (%q, %q)", cmd.ClockID, cmd.DueAt)
	}
	due = eventstore.NormalizeTime(due)
	id := in.BreachID(meta.TeamID, cmd.ClockID, due)
	c := commands.Call{Name: "RecordSLABreach", TargetID: id, Body: cmd, StreamID: BreachStreamID(id), Type: StreamTypeSLABreach}
	res, err := commands.Create(ctx, h.kit, meta, c, "clock_id", func() ([]in.Event, error) {
		return []in.Event{in.SLABreachRecorded{BreachID: id, ClockID: cmd.ClockID, Module: cmd.Module, Severity: cmd.Severity,
			VulnerabilityID: cmd.VulnerabilityID, ArtifactID: cmd.ArtifactID, Check: cmd.Check, Resource: cmd.Resource, KEV: cmd.KEV,
			DueAt: due, RecordedAt: h.kit.Now()}}, nil
	})
	res.ID = idOf(res, id)
	return res, err
}
