package cloudsecurity

import (
	"context"
	"fmt"
	"maps"
	"slices"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Imported findings. The findings an import's results reveal share the
// findings collection with the findings raised through the API (source
// "api"); theirs is "import". Their lifecycle is the domain's fold over
// the evaluations of their scope (projections/fold.Lifecycle), kept in the
// document as its history; their check's texts are in the checks
// collection (one document per team and check, the latest a report gave).

// Collections of the findings projection beside FindingsCollection.
const (
	ImportsCollection         = "imports"          // one document per import
	ChecksCollection          = "checks"           // one document per team and check
	FindingAccountsCollection = "finding_accounts" // the lifecycle fold's accounts
	FindingScopesCollection   = "finding_scopes"   // the lifecycle fold's scopes
)

// Finding sources.
const (
	SourceAPI    = "api"    // raised through POST /api/v1/scans/{id}/findings
	SourceImport = "import" // revealed by an import's results
)

var lifecycle = fold.Lifecycle{Accounts: FindingAccountsCollection, Scopes: FindingScopesCollection}

// CheckDocID is the checks document of a team's check.
func CheckDocID(team, check string) string {
	return csdomain.Scope{Check: check}.ID(team)
}

// applyImport folds an import event; false when ev is not one.
func applyImport(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ImportStarted:
		return true, importStarted(ctx, tx, team, ev.Metadata.Actor, e)
	case csdomain.ImportRejected:
		tx.Put(ImportsCollection, readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "rejected", "actor": ev.Metadata.Actor,
			"format": e.Format, "content_hash": e.ContentHash, "size": e.Size, "file_name": e.FileName,
			"reason": e.Reason, "received_at": readmodel.NormalizeTime(e.RejectedAt), "position": ev.Position})
		return true, nil
	case csdomain.ChecksDescribed:
		return true, describeChecks(ctx, tx, team, e)
	case csdomain.ResultsRecorded:
		return true, lifecycle.Results(ctx, tx, team, e, importedHistories{})
	case csdomain.ImportCompleted:
		if err := importCompleted(ctx, tx, team, e, ev.Position); err != nil {
			return true, err
		}
		return true, lifecycle.Completed(ctx, tx, team, e, importedHistories{})
	}
	return false, nil
}

// importStarted records an import under way (its completion, in the same
// or a later append, completes the document).
func importStarted(ctx context.Context, tx projections.Tx, team, actor string, e csdomain.ImportStarted) error {
	d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "importing"}
	}
	d["scan_id"], d["format"], d["tool"], d["tool_version"] = e.ScanID, e.Format, e.Tool, e.ToolVersion
	d["content_hash"], d["size"], d["file_name"] = e.ContentHash, e.Size, e.FileName
	d["received_at"], d["actor"] = readmodel.NormalizeTime(e.StartedAt), actor
	tx.Put(ImportsCollection, d)
	return nil
}

// importCompleted completes an import's document with its counts.
func importCompleted(ctx context.Context, tx projections.Tx, team string, e csdomain.ImportCompleted, position int64) error {
	d, found, err := fold.Get(ctx, tx, ImportsCollection, e.ImportID)
	if err != nil {
		return err
	}
	if !found {
		d = readmodel.Doc{"_id": e.ImportID, "team_id": team, "scan_id": e.ScanID}
	}
	c := e.Counts
	byResult := map[string]any{}
	for k, v := range c.ByResult {
		byResult[string(k)] = int64(v)
	}
	bySev := map[string]any{}
	for k, v := range c.FailBySev {
		bySev[string(k)] = int64(v)
	}
	d["status"] = "completed"
	d["counts"] = map[string]any{"results": int64(c.Results), "by_result": byResult, "fail_by_severity": bySev,
		"muted": int64(c.Muted), "checks": int64(c.Checks), "resources": int64(c.Resources), "accounts": int64(c.Accounts)}
	d["evaluated_at"] = readmodel.NormalizeTime(e.EvaluatedAt)
	d["observed_from"], d["observed_to"] = fold.TimeOrNil(e.ObservedFrom), fold.TimeOrNil(e.ObservedTo)
	d["completed_at"] = readmodel.NormalizeTime(e.CompletedAt)
	d["identity_rule"] = string(e.IdentityRule)
	d["position"] = position
	tx.Put(ImportsCollection, d)
	return nil
}

// describeChecks keeps each check's texts. A check described by several
// imports keeps the texts of the latest evaluation (ties: the greater
// import id), so the document does not depend on the order imports arrive
// in.
func describeChecks(ctx context.Context, tx projections.Tx, team string, e csdomain.ChecksDescribed) error {
	for _, c := range e.Checks {
		id := CheckDocID(team, c.CheckID)
		d, found, err := fold.Get(ctx, tx, ChecksCollection, id)
		if err != nil {
			return fmt.Errorf("%s: %w", FindingsName, err)
		}
		if at := fold.Time(d, "evaluated_at"); found && (at.After(e.EvaluatedAt) || (at.Equal(e.EvaluatedAt) && fold.Str(d, "import_id") >= e.ImportID)) {
			continue
		}
		refs := make([]any, len(c.References))
		for i, r := range c.References {
			refs[i] = r
		}
		cats := make([]any, len(c.Categories))
		for i, r := range c.Categories {
			cats[i] = r
		}
		// A list, not a map by framework: framework names ("CIS-5.0")
		// are not field names a document store takes.
		frameworks := slices.Sorted(maps.Keys(c.Compliance))
		compliance := make([]any, len(frameworks))
		for i, fw := range frameworks {
			ids := c.Compliance[fw]
			l := make([]any, len(ids))
			for j, x := range ids {
				l[j] = x
			}
			compliance[i] = map[string]any{"framework": fw, "requirements": l}
		}
		tx.Put(ChecksCollection, readmodel.Doc{
			"_id": id, "team_id": team, "check_id": c.CheckID, "title": c.Title, "service": c.Service,
			"severity": string(c.Severity), "description": c.Description, "risk": c.Risk,
			"remediation": c.Remediation, "references": refs, "categories": cats, "compliance": compliance,
			"import_id": e.ImportID, "evaluated_at": readmodel.NormalizeTime(e.EvaluatedAt),
		})
	}
	return nil
}

// importedHistories keeps the histories in the findings documents.
type importedHistories struct{}

func (h importedHistories) History(ctx context.Context, tx projections.Tx, id string) (csdomain.History, bool, error) {
	d, found, err := fold.Get(ctx, tx, FindingsCollection, id)
	if err != nil || !found {
		return csdomain.History{}, false, err
	}
	return fold.HistoryFrom(fold.Obj(d, "history")), true, nil
}

func (h importedHistories) Save(ctx context.Context, tx projections.Tx, c fold.Change) error {
	id, team, identity, after, r := c.ID, c.Team, c.Identity, c.After, c.Result
	d, found, err := fold.Get(ctx, tx, FindingsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		if r == nil {
			return nil // a change without a result to a finding never seen: nothing to show
		}
		d = readmodel.Doc{
			"_id": id, "team_id": team, "source": SourceImport,
			"provider": identity.Provider, "account_id": identity.Account, "region": identity.Region,
			"check_id": identity.Check, "resource_id": identity.Resource,
		}
	}
	if r != nil && !fold.Time(d, "attributes_at").After(r.ObservedAt) {
		// The latest result's attributes (by observation time, whatever
		// order the results arrived in). Only what a query or a fold reads
		// (decision 109): the identity rule, the resource's name and type,
		// the tool's detail and uid and the check's service stay in the
		// events, no read of this collection shows them.
		d["attributes_at"] = readmodel.NormalizeTime(r.ObservedAt)
		d["severity"] = string(r.Severity)
		d["muted_by_tool"] = r.Muted
		d["tags"] = fold.TagsDoc(r.Tags)
		if chk, ok, err := fold.Get(ctx, tx, ChecksCollection, CheckDocID(team, r.Check)); err != nil {
			return err
		} else if ok {
			d["title"] = fold.Str(chk, "title")
		}
	}
	if r != nil { // its attributes may have changed: check the team's rules again
		idx, err := loadMutingIndex(ctx, tx, team)
		if err != nil {
			return err
		}
		setMuted(d, idx)
	}
	s := after.Summarize()
	d["history"] = fold.HistoryDoc(after)
	d["status"] = s.Status
	d["raised_at"] = fold.TimeOrNil(s.FirstSeen)
	d["first_seen"] = fold.TimeOrNil(s.FirstSeen)
	d["last_seen"] = fold.TimeOrNil(s.LastSeen)
	d["failing_since"] = fold.TimeOrNil(s.FailingSince)
	d["times_reopened"] = int64(s.TimesReopened)
	if len(after.Runs) > 0 {
		d["scan_id"] = after.Runs[0].From.Scan
		d["last_scan_id"] = after.Runs[len(after.Runs)-1].To.Scan
	}
	d["closed_at"], d["closed_by_scan"], d["closed_by"] = nil, "", ""
	if s.Closed != nil {
		d["closed_at"] = readmodel.NormalizeTime(s.Closed.At)
		d["closed_by_scan"], d["closed_by"] = s.Closed.Scan, s.Closed.By
	}
	tx.Put(FindingsCollection, fold.OmitEmpty(d)) // as the findings of the API (finding.doc)
	return nil
}

// triageImported applies a person's triage of an imported finding:
// resolving it is a step of its lifecycle (a scan that reports it failing
// later reopens it); suppressing it marks it suppressed (until Until, when
// set) without changing what the scans say. A triage of a finding the
// read model does not know is ignored: the command refuses one.
func triageImported(ctx context.Context, tx projections.Tx, ev projections.Event, id string) error {
	d, found, err := fold.Get(ctx, tx, FindingsCollection, id)
	if err != nil || !found || fold.Str(d, "team_id") != ev.Metadata.TeamID {
		return err
	}
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.FindingResolved:
		s := csdomain.Scope{Provider: fold.Str(d, "provider"), Account: fold.Str(d, "account_id"),
			Region: fold.Str(d, "region"), Check: fold.Str(d, "check_id")}
		if err := lifecycle.Resolve(ctx, tx, team, s, id, csdomain.Step{At: e.ResolvedAt, By: ev.Metadata.Actor}, importedHistories{}); err != nil {
			return err
		}
		if d, _, err = fold.Get(ctx, tx, FindingsCollection, id); err != nil {
			return err
		}
		if at := fold.Time(d, "resolved_at"); at.IsZero() || e.ResolvedAt.After(at) {
			d["resolved_at"], d["reason"] = readmodel.NormalizeTime(e.ResolvedAt), e.Reason
		}
	case csdomain.FindingSuppressed:
		if at := fold.Time(d, "suppressed_at"); !at.IsZero() && at.After(e.SuppressedAt) {
			return nil
		}
		d["suppressed"], d["suppressed_by"] = true, ev.Metadata.Actor
		d["suppressed_at"], d["suppressed_until"] = readmodel.NormalizeTime(e.SuppressedAt), fold.TimeOrNil(e.Until)
		d["reason"] = e.Reason
	}
	tx.Put(FindingsCollection, fold.OmitEmpty(d))
	return nil
}
