package cloudsecurity

import (
	"context"

	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Vulnerability scan imports (Trivy, docs/vulnerabilities.md) go through
// the same import route as reports and inventories: the imports
// collection lists them too, so that GET /api/v1/imports names every
// import of the team, whatever the tool. Their occurrences are the
// vulnerabilities module's (projections/vulnerabilities); here only the
// import's document: what was imported, by whom, when, of which artifact,
// and its counts.

func vulnScanEventTypes() []string {
	return []string{vuln.ScanImportStarted{}.EventType(), vuln.ArtifactScanned{}.EventType(), vuln.ScanImportRejected{}.EventType()}
}

// applyVulnScan folds a vulnerability scan import's events into its
// imports document; false when ev is not one.
func applyVulnScan(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	switch e := fold.Value(ev.Data).(type) {
	case vuln.ScanImportRejected:
		tx.Put(ImportsCollection, readmodel.Doc{"_id": e.ImportID, "team_id": team, "status": "rejected", "actor": ev.Metadata.Actor,
			"format": e.Format, "content_hash": e.ContentHash, "size": e.Size, "file_name": e.FileName,
			"reason": e.Reason, "received_at": readmodel.NormalizeTime(e.RejectedAt), "position": ev.Position})
		return true, nil
	case vuln.ScanImportStarted:
		d, err := importDoc(ctx, tx, team, e.ImportID, "importing")
		if err != nil {
			return true, err
		}
		d["format"], d["tool"], d["tool_version"], d["content_hash"], d["size"], d["file_name"] = e.Format, e.Tool, e.ToolVersion, e.ContentHash, e.Size, e.FileName
		d["artifact_id"], d["received_at"], d["actor"] = e.ArtifactID, readmodel.NormalizeTime(e.StartedAt), ev.Metadata.Actor
		tx.Put(ImportsCollection, d)
		return true, nil
	case vuln.ArtifactScanned:
		d, err := importDoc(ctx, tx, team, e.ImportID, "")
		if err != nil {
			return true, err
		}
		c := e.Counts
		bySev := map[string]any{}
		for k, v := range c.BySeverity {
			bySev[string(k)] = int64(v)
		}
		d["status"], d["artifact_id"], d["identity_rule"], d["position"] = "completed", e.ArtifactID, string(e.IdentityRule), ev.Position
		d["evaluated_at"], d["completed_at"] = readmodel.NormalizeTime(e.ScannedAt), readmodel.NormalizeTime(e.CompletedAt)
		d["counts"] = map[string]any{"occurrences": int64(c.Occurrences), "distinct_vulnerabilities": int64(c.DistinctVulnerabilities),
			"by_severity": bySev, "misconfigurations": int64(c.Misconfigurations), "secrets": int64(c.Secrets), "chunks": int64(c.Chunks)}
		tx.Put(ImportsCollection, d)
		return true, nil
	}
	return false, nil
}

// importDoc reads an import's document, or starts one of team (with
// status, when given) when there is none yet.
func importDoc(ctx context.Context, tx projections.Tx, team, id, status string) (readmodel.Doc, error) {
	d, found, err := fold.Get(ctx, tx, ImportsCollection, id)
	if err != nil || found {
		return d, err
	}
	d = readmodel.Doc{"_id": id, "team_id": team}
	if status != "" {
		d["status"] = status
	}
	return d, nil
}
