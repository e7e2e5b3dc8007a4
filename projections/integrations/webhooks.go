package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	cs "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	orch "github.com/cspm-es/cspm-es/domain/orchestration"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the webhook outbox projection and its collections.
const (
	WebhooksName             = "integrations.webhooks"
	DeliveriesCollection     = "webhook_deliveries"
	SubscriptionsCollection  = "webhook_subscriptions"
	WebhookFindingsColl      = "webhook_findings"
	WebhookKEVCollection     = "webhook_kev"
	WebhookTeamCVEsColl      = "webhook_team_cves"
	DeliveryPending          = "pending"
	DeliveryDelivered        = "delivered"
	webhookPayloadAPIVersion = "cspm.webhook/v1"
)

// Webhooks is the outbox of the webhooks (decision 75). It folds the
// webhook subscriptions (webhook integrations and their event kinds, per
// team), and for each event that means one of the kinds it writes one
// delivery per subscription of the event's team listening to that kind,
// as of the event's position: id DeliveryID(integration, event reference),
// the payload's bytes, status pending, due at once. The dispatcher of
// `cspm serve` sends what is due and records each attempt as an event of
// the delivery's stream, which this projection folds back (status,
// attempts, next attempt, last error): the deliveries are a read model
// derived entirely from events, so a rebuild gives the same log, with the
// acknowledged ones delivered.
//
// The kinds and the events that mean them (docs/integrations.md):
//   - critical_finding_raised: FindingRaised of severity critical; a
//     ResultsRecorded result that fails at severity critical (not muted by
//     the tool) for a finding not already failing (a pass closes it, so a
//     reopened finding is raised again);
//   - kev_occurrence_flagged: a team's first occurrence of a CVE that KEV
//     lists (ScanResultsRecorded after KEVEntryPublished), or a KEV entry
//     published for a CVE a team has occurrences of (once per team and CVE);
//   - sla_breached: SLABreachRecorded (the breach watcher);
//   - scan_run_failed: ScanFailed.
//
// The state behind the first two (failing findings, a team's CVEs) is
// kept only for teams with a subscriber to the kind.
type Webhooks struct{}

var _ projections.Projection = Webhooks{}

// NewWebhooks returns the "integrations.webhooks" projection.
func NewWebhooks() Webhooks { return Webhooks{} }

// Name implements projections.Projection.
func (Webhooks) Name() string { return WebhooksName }

// Database implements projections.Projection.
func (Webhooks) Database() dbregistry.Constant { return dbregistry.INTEGRATIONS }

// EventTypes implements projections.Projection.
func (Webhooks) EventTypes() []string {
	return []string{in.IntegrationCreated{}.EventType(), in.IntegrationChanged{}.EventType(), in.IntegrationRemoved{}.EventType(),
		in.WebhookDeliveryFailed{}.EventType(), in.WebhookDelivered{}.EventType(), in.SLABreachRecorded{}.EventType(),
		cs.FindingRaised{}.EventType(), cs.ResultsRecorded{}.EventType(), orch.ScanFailed{}.EventType(),
		vuln.ScanResultsRecorded{}.EventType(), ti.KEVEntryPublished{}.EventType(), ti.KEVEntryUpdated{}.EventType(), ti.KEVEntryWithdrawn{}.EventType()}
}

// Collections implements projections.Projection.
func (Webhooks) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: DeliveriesCollection, Indexes: []readmodel.Index{
			// The dispatcher: a subscription's deliveries due now, oldest event first.
			{Name: "by_integration_status_due", Fields: []readmodel.IndexField{f("integration_id", false), f("status", false), f("next_attempt_at", false), f("position", false)}},
			// GET /api/v1/integrations/{id}/deliveries (?status=), newest event first.
			{Name: "by_team_integration_position", Fields: []readmodel.IndexField{f("team_id", false), f("integration_id", false), f("position", true)}},
			{Name: "by_team_integration_status_position", Fields: []readmodel.IndexField{f("team_id", false), f("integration_id", false), f("status", false), f("position", true)}},
		}},
		{Name: SubscriptionsCollection},
		{Name: WebhookFindingsColl, SmallDocs: true},
		{Name: WebhookKEVCollection},
		{Name: WebhookTeamCVEsColl},
	}
}

// Payload is the JSON body of every delivery (docs/integrations.md).
type Payload struct {
	APIVersion  string         `json:"api_version"`
	DeliveryID  string         `json:"delivery_id"`
	EventKind   string         `json:"event_kind"`
	EventID     string         `json:"event_id"`
	Position    int64          `json:"event_position"`
	TeamID      string         `json:"team_id"`
	OccurredAt  time.Time      `json:"occurred_at"`
	Data        map[string]any `json:"data"`
	Integration string         `json:"integration_id"`
}

// Apply implements projections.Projection.
func (w Webhooks) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case in.IntegrationCreated:
		return w.subscribe(ctx, tx, team, e.IntegrationID, e.Kind, e.EventKinds)
	case in.IntegrationChanged:
		return w.subscribe(ctx, tx, team, e.IntegrationID, "", e.EventKinds)
	case in.IntegrationRemoved:
		return w.subscribe(ctx, tx, team, e.IntegrationID, "", nil)
	case in.WebhookDeliveryFailed:
		return w.attempted(ctx, tx, ev, e.DeliveryID, func(d readmodel.Doc) {
			d["status"], d["attempts"], d["last_attempt_at"], d["next_attempt_at"] = DeliveryPending, int64(e.Attempt), e.AttemptedAt, e.NextAttemptAt
			d["last_status_code"], d["last_error"], d["last_latency_ms"] = int64(e.StatusCode), e.Error, e.LatencyMS
		})
	case in.WebhookDelivered:
		return w.attempted(ctx, tx, ev, e.DeliveryID, func(d readmodel.Doc) {
			d["status"], d["attempts"], d["last_attempt_at"], d["delivered_at"], d["next_attempt_at"] = DeliveryDelivered, int64(e.Attempt), e.DeliveredAt, e.DeliveredAt, nil
			d["last_status_code"], d["last_error"], d["last_latency_ms"] = int64(e.StatusCode), "", e.LatencyMS
		})
	case in.SLABreachRecorded:
		return w.emit(ctx, tx, ev, team, in.EventSLABreach, ev.EventID, map[string]any{"breach_id": e.BreachID, "clock_id": e.ClockID, "module": e.Module,
			"severity": e.Severity, "vulnerability_id": e.VulnerabilityID, "artifact_id": e.ArtifactID, "check": e.Check, "resource": e.Resource,
			"kev": e.KEV, "due_at": e.DueAt})
	case orch.ScanFailed:
		return w.emit(ctx, tx, ev, team, in.EventScanFailed, ev.EventID, map[string]any{"scan_id": e.ScanID, "reason": e.Reason, "failed_at": e.FailedAt})
	case cs.FindingRaised:
		if e.Severity != cs.SeverityCritical {
			return nil
		}
		return w.raised(ctx, tx, ev, team, DocID(team, e.FindingID), ev.EventID, map[string]any{"finding_id": e.FindingID, "scan_id": e.ScanID,
			"account_id": e.AccountID, "check_id": e.CheckID, "title": e.Title, "severity": string(e.Severity), "resource_id": e.ResourceID,
			"region": e.Region, "raised_at": e.RaisedAt})
	case cs.ResultsRecorded:
		// Teams without a subscriber keep no state: a chunk of an import
		// is 600 results, most of them passing.
		if ok, err := w.listens(ctx, tx, team, in.EventCriticalFinding); err != nil || !ok {
			return err
		}
		for i, r := range e.Results {
			fid := r.Identity(e.IdentityRule).FindingID(team)
			switch {
			case r.Result == cs.ResultFail && r.Severity == cs.SeverityCritical && !r.Muted:
				if err := w.raised(ctx, tx, ev, team, DocID(team, fid), fmt.Sprintf("%s#%d", ev.EventID, i), map[string]any{"finding_id": fid,
					"scan_id": e.ScanID, "import_id": e.ImportID, "provider": r.Provider, "account": r.Account, "region": r.Region, "check_id": r.Check,
					"resource": r.Resource, "resource_name": r.ResourceName, "severity": string(r.Severity), "detail": r.Detail, "observed_at": r.ObservedAt}); err != nil {
					return err
				}
			case r.Result == cs.ResultPass:
				d, found, err := fold.Get(ctx, tx, WebhookFindingsColl, DocID(team, fid))
				if err != nil {
					return fmt.Errorf("%s: %w", WebhooksName, err)
				}
				if found && fold.Flag(d, "open") {
					d["open"] = false
					tx.Put(WebhookFindingsColl, d)
				}
			}
		}
	case vuln.ScanResultsRecorded:
		if ok, err := w.listens(ctx, tx, team, in.EventKEVOccurrence); err != nil || !ok {
			return err
		}
		seen := map[string]bool{}
		for _, o := range e.Occurrences {
			cve := o.VulnerabilityID
			if !strings.HasPrefix(cve, "CVE-") || seen[cve] {
				continue
			}
			seen[cve] = true
			if err := w.teamHasCVE(ctx, tx, ev, team, cve, map[string]any{"cve_id": cve, "artifact_id": e.ArtifactID, "package": o.Package.Name,
				"severity": string(o.Severity), "scanned_at": e.ScannedAt}); err != nil {
				return err
			}
		}
	case ti.KEVEntryPublished:
		return w.kevListed(ctx, tx, ev, e.Entry, true)
	case ti.KEVEntryUpdated:
		return w.kevListed(ctx, tx, ev, e.Entry, true)
	case ti.KEVEntryWithdrawn:
		return w.kevListed(ctx, tx, ev, ti.KEVEntry{CVEID: e.CVEID}, false)
	}
	return nil
}

// subscribe sets (or, with no kinds, removes) a team's subscription.
func (Webhooks) subscribe(ctx context.Context, tx projections.Tx, team, id string, kind in.Kind, kinds []in.EventKind) error {
	if team == "" || id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, SubscriptionsCollection, team)
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if !found {
		d = readmodel.Doc{"_id": team, "subs": map[string]any{}}
	}
	subs := fold.Obj(d, "subs")
	if subs == nil {
		subs = map[string]any{}
	}
	_, had := subs[id]
	switch {
	case kind != "" && kind != in.KindWebhook:
		return nil
	case len(kinds) == 0:
		delete(subs, id)
	case kind == "" && !had:
		return nil // a change of an integration that is no webhook
	default:
		subs[id] = kindsDoc(kinds)
	}
	d["subs"] = subs
	tx.Put(SubscriptionsCollection, d)
	return nil
}

// listens reports a subscription of team to kind.
func (Webhooks) listens(ctx context.Context, tx projections.Tx, team string, kind in.EventKind) (bool, error) {
	if team == "" {
		return false, nil
	}
	d, found, err := fold.Get(ctx, tx, SubscriptionsCollection, team)
	if err != nil {
		return false, fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if !found {
		return false, nil
	}
	for _, ks := range fold.Obj(d, "subs") {
		list, _ := ks.([]any)
		for _, k := range list {
			if k == string(kind) {
				return true, nil
			}
		}
	}
	return false, nil
}

// emit writes one pending delivery per subscription of team to kind.
func (Webhooks) emit(ctx context.Context, tx projections.Tx, ev projections.Event, team string, kind in.EventKind, ref string, data map[string]any) error {
	if team == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, SubscriptionsCollection, team)
	if err != nil || !found {
		return err
	}
	subs := fold.Obj(d, "subs")
	ids := make([]string, 0, len(subs))
	for id, ks := range subs {
		list, _ := ks.([]any)
		for _, k := range list {
			if k == string(kind) {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		did := in.DeliveryID(id, ref)
		if _, exists, err := fold.Get(ctx, tx, DeliveriesCollection, did); err != nil || exists {
			if err != nil {
				return fmt.Errorf("%s: %w", WebhooksName, err)
			}
			continue
		}
		body, err := json.Marshal(Payload{APIVersion: webhookPayloadAPIVersion, DeliveryID: did, EventKind: string(kind), EventID: ref,
			Position: ev.Position, TeamID: team, OccurredAt: readmodel.NormalizeTime(ev.RecordedAt), Data: data, Integration: id})
		if err != nil {
			return fmt.Errorf("%s: payload: %w", WebhooksName, err)
		}
		at := readmodel.NormalizeTime(ev.RecordedAt)
		tx.Put(DeliveriesCollection, readmodel.Doc{"_id": did, "team_id": team, "integration_id": id, "event_ref": ref, "event_kind": string(kind),
			"position": ev.Position, "body": string(body), "status": DeliveryPending, "attempts": int64(0), "created_at": at,
			"next_attempt_at": at, "last_attempt_at": nil, "last_status_code": int64(0), "last_error": "", "last_latency_ms": nil,
			"delivered_at": nil, "updated_position": ev.Position})
	}
	return nil
}

func (Webhooks) attempted(ctx context.Context, tx projections.Tx, ev projections.Event, id string, set func(readmodel.Doc)) error {
	d, found, err := fold.Get(ctx, tx, DeliveriesCollection, id)
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if !found || fold.Num(d, "updated_position") >= ev.Position || fold.Str(d, "status") == DeliveryDelivered {
		return nil
	}
	d["updated_position"] = ev.Position
	set(d)
	tx.Put(DeliveriesCollection, d)
	return nil
}

// raised emits a critical finding once until it passes again.
func (w Webhooks) raised(ctx context.Context, tx projections.Tx, ev projections.Event, team, key, ref string, data map[string]any) error {
	d, found, err := fold.Get(ctx, tx, WebhookFindingsColl, key)
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if found && fold.Flag(d, "open") {
		return nil
	}
	tx.Put(WebhookFindingsColl, readmodel.Doc{"_id": key, "open": true})
	return w.emit(ctx, tx, ev, team, in.EventCriticalFinding, ref, data)
}

// teamHasCVE records that team has an occurrence of cve and flags it when
// KEV lists the CVE.
func (w Webhooks) teamHasCVE(ctx context.Context, tx projections.Tx, ev projections.Event, team, cve string, data map[string]any) error {
	tc, found, err := fold.Get(ctx, tx, WebhookTeamCVEsColl, DocID(team, cve))
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if found && fold.Flag(tc, "flagged") {
		return nil
	}
	k, kFound, err := fold.Get(ctx, tx, WebhookKEVCollection, cve)
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if !kFound {
		k = readmodel.Doc{"_id": cve, "listed": false, "teams": []any{}}
	}
	if !found {
		teams, _ := k["teams"].([]any)
		k["teams"] = append(teams, team)
		tx.Put(WebhookKEVCollection, k)
		tc = readmodel.Doc{"_id": DocID(team, cve), "flagged": false, "first": data}
	}
	if fold.Flag(k, "listed") {
		tc["flagged"] = true
		tx.Put(WebhookTeamCVEsColl, tc)
		payload := make(map[string]any, len(data)+1)
		for key, v := range data {
			payload[key] = v
		}
		payload["kev"] = fold.Obj(k, "entry")
		return w.emit(ctx, tx, ev, team, in.EventKEVOccurrence, ev.EventID+"#"+cve, payload)
	}
	tx.Put(WebhookTeamCVEsColl, tc)
	return nil
}

// kevListed sets whether KEV lists a CVE; a listing flags every team that
// has occurrences of it and was not flagged yet.
func (w Webhooks) kevListed(ctx context.Context, tx projections.Tx, ev projections.Event, entry ti.KEVEntry, listed bool) error {
	cve := entry.CVEID
	if cve == "" {
		return nil
	}
	k, found, err := fold.Get(ctx, tx, WebhookKEVCollection, cve)
	if err != nil {
		return fmt.Errorf("%s: %w", WebhooksName, err)
	}
	if !found {
		k = readmodel.Doc{"_id": cve, "teams": []any{}}
	}
	k["listed"] = listed
	if listed {
		k["entry"] = map[string]any{"cve_id": cve, "vendor_project": entry.VendorProject, "product": entry.Product,
			"vulnerability_name": entry.VulnerabilityName, "due_date": fold.TimeOrNil(entry.DueDate), "known_ransomware_campaign_use": string(entry.Ransomware)}
	}
	tx.Put(WebhookKEVCollection, k)
	if !listed {
		return nil
	}
	teams, _ := k["teams"].([]any)
	for _, t := range teams {
		team, _ := t.(string)
		tc, found, err := fold.Get(ctx, tx, WebhookTeamCVEsColl, DocID(team, cve))
		if err != nil {
			return fmt.Errorf("%s: %w", WebhooksName, err)
		}
		if !found || fold.Flag(tc, "flagged") {
			continue
		}
		tc["flagged"] = true
		tx.Put(WebhookTeamCVEsColl, tc)
		data := map[string]any{}
		for key, v := range fold.Obj(tc, "first") {
			data[key] = v
		}
		data["kev"] = fold.Obj(k, "entry")
		if err := w.emit(ctx, tx, ev, team, in.EventKEVOccurrence, ev.EventID+"#"+team, data); err != nil {
			return err
		}
	}
	return nil
}
