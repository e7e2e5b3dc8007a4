package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// TestTeamIsolation_EveryRoute is generated from the route table of the
// real app: team B's admin key is sent to every route, against team A's
// resources in every state a route could tell apart (scans requested,
// started, completed and failed; findings open, resolved and suppressed,
// raised or imported; muting rules active, changed, removed and expired;
// keys active and revoked). It holds, for every route:
//
//   - a route that addresses one of team A's resources answers B exactly
//     as it answers for an id no one uses (404, byte for byte apart from
//     the request id), appends nothing and changes nothing;
//   - a route that creates with an id the caller chooses answers B, for
//     each of team A's ids, the same bytes whatever state A's resource is
//     in (409 ID_IN_USE, with nothing about A's stream), and appends
//     nothing;
//   - a route that lists does not show team A's data; a route that
//     creates does so in team B only.
//
// At the end team A's views are exactly what they were. A new route cannot
// skip this test: a team-resource route without an entry in resourceOf,
// a team command route not declared in chosenID, or a route needing a body
// without one in validBody fails it.
func TestTeamIsolation_EveryRoute(t *testing.T) {
	t.Parallel()
	// Team A's views must not change under the health checker or the scan
	// engine's background dispatch.
	a := startAppWith(t, nil, quietIntegrationChecks(), quietScanEngine())
	ctx := context.Background()
	adminA, adminB := issueTestKey(t, a, "team-a", "admin"), issueTestKey(t, a, "team-b", "admin")
	asA := []string{"Authorization", "Bearer " + adminA.Key}
	asB := []string{"Authorization", "Bearer " + adminB.Key}

	// Team A's resources, of each kind a route can address, in each state.
	scansA := []string{"iso-a-requested", "iso-a-started", "iso-a-completed", "iso-a-failed"}
	for _, id := range scansA {
		must(t, a.call(t, http.MethodPost, "/api/v1/scans", map[string]any{"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, asA...), http.StatusCreated)
		if id != "iso-a-requested" {
			must(t, a.call(t, http.MethodPost, "/api/v1/scans/"+id+"/start", nil, asA...), http.StatusAccepted)
		}
	}
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/iso-a-completed/complete", nil, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/iso-a-failed/fail", map[string]any{"reason": "scanner crashed"}, asA...), http.StatusAccepted)
	findingsA := []string{"iso-f-open", "iso-f-resolved", "iso-f-suppressed"}
	raise := []map[string]any{{"check_id": "iso_check", "title": "t", "severity": "high", "resource_id": "iso-resource-a"}}
	for _, id := range findingsA {
		raise = append(raise, map[string]any{"finding_id": id, "check_id": "iso_check", "title": "t", "severity": "low", "resource_id": "iso-resource-" + id})
	}
	var batch api.BatchCommandResult
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/iso-a-started/findings", map[string]any{"findings": raise}, asA...), http.StatusAccepted).data(t, &batch)
	require.Len(t, batch.Items, len(raise))
	generatedFindingA := batch.Items[0].ID
	must(t, a.call(t, http.MethodPost, "/api/v1/findings/iso-f-resolved/resolve", nil, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/findings/iso-f-suppressed/suppress", map[string]any{"reason": "accepted risk"}, asA...), http.StatusAccepted)
	// Imported findings (open, resolved, suppressed) and muting rules
	// (active, changed, removed, expired).
	importedA, rulesA, ruleNamesA := isolationMutingWorld(t, a, asA)
	keyA, revokedKeyA := issueTestKey(t, a, "team-a", "viewer"), issueTestKey(t, a, "team-a", "analyst")
	must(t, a.call(t, http.MethodPost, "/api/v1/keys/"+revokedKeyA.ID+"/revoke", nil, asA...), http.StatusAccepted)
	keysA := []string{keyA.ID, revokedKeyA.ID}

	// The KEV catalogue, imported by team A's admin: public, so team B
	// reads it too (the team-less KEV routes).
	isolationKEVWorld(t, a, asA)
	indicatorsA, indicatorValuesA := isolationIndicatorWorld(t, a, asA)
	assessmentsA := isolationAssessmentsWorld(t, a, asA)                                 // assessments_test.go
	biasA, biaExercisesA, biaSecretsA := isolationBIAWorld(t, a, asA)                    // isolation_bia_test.go
	integrationsA, wizardsA, integrationSecretsA := isolationIntegrationWorld(t, a, asA) // integrations_test.go
	aiA := isolationAIGovernanceWorld(t, a, asA)                                         // aigovernance_test.go
	assessmentsA = append(assessmentsA, aiA.assessments...)

	// Team A's import of a report: its import, its scan, its findings.
	report := func(name string) any {
		raw, err := os.ReadFile(prowlerTestdata(name))
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(raw, &v))
		return v
	}
	var importA cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", report(pairBefore), asA...), http.StatusAccepted).data(t, &importA)
	var importedDocsA []csquery.Finding
	eventually(t, 30*time.Second, "the import is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/findings?scan_id="+importA.ScanID+"&min_position="+itoa(importA.Position), nil, asA...)
		ans.data(t, &importedDocsA)
		return !stale(ans)
	})
	require.NotEmpty(t, importedDocsA)
	scansA = append(scansA, importA.ScanID)
	var importedIDs []string // not chosen ids: the raise route refuses the fnd- prefix whoever holds it
	for _, f := range importedDocsA {
		importedIDs = append(importedIDs, f.ID)
	}

	assetsA, inventoryA := isolationAssetsWorld(t, a, asA)        // isolation_assets_test.go
	targetsA, scannerImportA := isolationSecurityScans(t, a, asA) // isolation_securityscans_test.go
	kbDocsA, kbSecretA := isolationKnowledgeBase(t, a, asA)       // isolation_knowledgebase_test.go
	// Team A's compliance in frameworks team B never evaluates (team B
	// imports pairBefore below: framework names are not ids of a team).
	var azureA cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", report("prowler_v5.4_ocsf_azure_placeholders.ocsf.json"), asA...), http.StatusAccepted).data(t, &azureA)
	frameworksA := []string{"CIS-2.1", "CIS-3.0", "ENS-RD2022"}
	scansA = append(scansA, azureA.ScanID)
	// Team A's Trivy import: its image (by ImageID, repo digest, artifact
	// id), occurrences and import stream; the catalog entries it brings
	// are public (GET /api/v1/vulnerabilities/{id} shows them to any team,
	// with none of team A's occurrences).
	trivyRaw, err := os.ReadFile("../../platform/parsers/trivy/testdata/trivy_image_alpine-3.10_registry_with_repodigests.json")
	require.NoError(t, err)
	var trivyReport any
	require.NoError(t, json.Unmarshal(trivyRaw, &trivyReport))
	var trivyA cscmd.ImportResult
	must(t, a.call(t, http.MethodPost, "/api/v1/imports", trivyReport, asA...), http.StatusAccepted).data(t, &trivyA)
	require.NotEmpty(t, trivyA.ArtifactID)
	var imagesA []vulnquery.Image
	eventually(t, 30*time.Second, "the Trivy import is projected", func() bool {
		ans := a.call(t, http.MethodGet, "/api/v1/images?min_position="+itoa(trivyA.Position), nil, asA...)
		ans.data(t, &imagesA)
		return !stale(ans) && len(imagesA) == 1
	})
	var occurrencesA []vulnquery.Occurrence
	a.call(t, http.MethodGet, "/api/v1/vulnerabilities", nil, asA...).data(t, &occurrencesA)
	require.Len(t, occurrencesA, 4)
	imageKeysA := []string{imagesA[0].ImageID, imagesA[0].RepoDigests[0].Digest, imagesA[0].ArtifactID}
	publicIDOf := map[string]string{"getVulnerability": occurrencesA[0].VulnerabilityID}
	// Team A's SLA policy (its clocks are its occurrences'): team B's
	// policy, breaches and summary show none of it.
	must(t, a.call(t, http.MethodPut, "/api/v1/sla/policy", map[string]any{"days": map[string]any{"critical": 1, "high": 1, "medium": 1, "low": 1}}, asA...), http.StatusAccepted)

	risksA, krisA, acceptancesA, riskStreamsA, riskSecretsA := isolationRiskWorld(t, a, asA) // isolation_risk_test.go

	var streamsA []string
	for _, id := range scansA {
		streamsA = append(streamsA, "scan-"+id)
	}
	for _, id := range append(slices.Clone(findingsA), generatedFindingA) {
		streamsA = append(streamsA, "finding-"+id)
	}
	streamsA = append(streamsA, "import-"+importA.ImportID, "import-"+azureA.ImportID)
	for _, id := range keysA {
		streamsA = append(streamsA, "apikey-"+id)
	}
	for _, id := range rulesA {
		streamsA = append(streamsA, "mutingrule-"+id)
	}
	streamsA = append(streamsA, "finding-"+importedA[1], "finding-"+importedA[2]) // their triage streams
	// Cloud accounts: registered, retired, and one seen only in the import
	// (no stream of its own).
	accountsA := isolationAccounts(t, a, asA)
	for _, id := range accountsA[:2] {
		streamsA = append(streamsA, "account-"+id)
	}
	// Scan runs of jobs (isolation_scanruns_test.go).
	runsA := isolationScanRuns(t, a, asA)
	for _, id := range runsA {
		streamsA = append(streamsA, "scan-"+id)
	}
	// path prefix → team A's ids in it, and an id no one uses.
	resourceOf := map[string]struct {
		ids  []string
		free string
	}{
		"/api/v1/scans/":         {scansA, "iso-free-scan"},
		"/api/v1/findings/":      {slices.Concat(findingsA, []string{generatedFindingA}, importedIDs, importedA), "iso-free-finding"},
		"/api/v1/muting-rules/":  {rulesA, "0196f0c1-7a2b-7c3d-8e4f-000000000000"},
		"/api/v1/keys/":          {keysA, "isofreekey000000"},
		"/api/v1/audit/streams/": {streamsA, "scan-iso-free-scan"},
		"/api/v1/imports/":       {[]string{importA.ImportID, inventoryA, azureA.ImportID}, "imp-00000000000000000000000000000000"},
		"/api/v1/assets/":        {assetsA, "ast-00000000000000000000000000000000"},
		"/api/v1/compliance/":    {frameworksA, "NO-SUCH-FRAMEWORK"},
		"/api/v1/accounts/":      {accountsA, "acc-00000000000000000000000000000000"},
		"/api/v1/images/":        {imageKeysA, "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
		"/api/v1/indicators/":    {indicatorsA, "0196f0c1-7a2b-7c3d-8e4f-000000000001"},
		"/api/v1/scan-runs/":     {runsA, "iso-free-run"},
		"/api/v1/targets/":       {targetsA, "tgt-00000000000000000000000000000000"},
		"/api/v1/assessments/":   {assessmentsA, "0196f0c1-7a2b-7c3d-8e4f-000000000002"},
		"/api/v1/bias/":          {biasA, "0196f0c1-7a2b-7c3d-8e4f-000000000002"},
		"/api/v1/bia-exercises/": {biaExercisesA, "0196f0c1-7a2b-7c3d-8e4f-000000000003"},
		// Risk management (isolation_risk_test.go).
		"/api/v1/risks/":            {risksA, "0196f0c1-7a2b-7c3d-8e4f-000000000002"},
		"/api/v1/kris/":             {krisA, "0196f0c1-7a2b-7c3d-8e4f-000000000003"},
		"/api/v1/risk-acceptances/": {acceptancesA, "0196f0c1-7a2b-7c3d-8e4f-000000000004"},
		// Integrations and their wizard sessions.
		"/api/v1/integrations/":        {integrationsA, "0196f0c1-7a2b-7c3d-8e4f-000000000002"},
		"/api/v1/integration-wizards/": {wizardsA, "0196f0c1-7a2b-7c3d-8e4f-000000000003"},
		"/api/v1/ai/models/":           {aiA.models, "0196f0c1-7a2b-7c3d-8e4f-000000000003"},
		"/api/v1/ai/bias-tests/":       {aiA.tests, "0196f0c1-7a2b-7c3d-8e4f-000000000004"},
		"/api/v1/ai/incidents/":        {aiA.incidents, "0196f0c1-7a2b-7c3d-8e4f-000000000005"},
		"/api/v1/kb/documents/":        {kbDocsA, "0196f0c1-7a2b-7c3d-8e4f-000000000002"},
	}
	for _, id := range kbDocsA {
		streamsA = append(streamsA, "kbdoc-"+id)
	}
	for _, id := range biasA {
		streamsA = append(streamsA, "bia-"+id)
	}
	for _, id := range biaExercisesA {
		streamsA = append(streamsA, "biaexercise-"+id)
	}
	streamsA = append(streamsA, riskStreamsA...)
	streamsA = append(streamsA, "inventory-"+inventoryA)
	streamsA = append(streamsA, "import-"+scannerImportA)
	for _, id := range assessmentsA {
		streamsA = append(streamsA, "assessment-"+id)
	}
	for _, id := range aiA.models {
		streamsA = append(streamsA, "aimodel-"+id)
	}
	for _, id := range aiA.tests {
		streamsA = append(streamsA, "aibiastest-"+id)
	}
	for _, id := range aiA.incidents {
		streamsA = append(streamsA, "aiincident-"+id)
	}
	secrets := slices.Concat(scansA, findingsA, keysA, importedIDs, assetsA, []string{generatedFindingA, "iso-resource-a", "iso_check", importA.ImportID}, importedA, rulesA, ruleNamesA, accountsA, []string{"iso-account-registered", "iso-account-retired"},
		imageKeysA, []string{trivyA.ImportID, occurrencesA[0].ID, occurrencesA[1].ID}, indicatorsA, indicatorValuesA, targetsA, []string{scannerImportA},
		assessmentsA, []string{"iso-a-assessment-open", "iso-a-assessment-closed", "iso-a-assignee"}, biaSecretsA, riskSecretsA, runsA,
		integrationsA, wizardsA, integrationSecretsA, aiA.secrets,
		kbDocsA, []string{kbSecretA, "iso kb"})

	// Team B's own running scan, to raise findings in.
	const scanB = "iso-b-running"
	must(t, a.call(t, http.MethodPost, "/api/v1/scans", map[string]any{"scan_id": scanB, "account_id": "210987654321", "provider": "gcp", "tool": "trivy"}, asB...), http.StatusCreated)
	must(t, a.call(t, http.MethodPost, "/api/v1/scans/"+scanB+"/start", nil, asB...), http.StatusAccepted)

	// Team B's own model, for the routes that name one in their body.
	var modelB api.CommandResult
	must(t, a.call(t, http.MethodPost, "/api/v1/ai/models", map[string]any{"name": "team b model", "version": "1", "owner": "bob"}, asB...), http.StatusCreated).data(t, &modelB)

	head, err := a.store.HeadPosition(ctx)
	require.NoError(t, err)
	viewsA := teamViews(t, a, head, asA)

	validBody := map[string]any{ // by operation id, for routes that need one
		"requestScan":     map[string]any{"scan_id": "iso-scan-b", "account_id": "210987654321", "provider": "aws", "tool": "trivy"},
		"raiseFindings":   map[string]any{"findings": []map[string]any{{"check_id": "c", "title": "t", "severity": "low", "resource_id": "r"}}},
		"failScan":        map[string]any{"reason": "scanner crashed"},
		"suppressFinding": map[string]any{"reason": "accepted risk"},
		"createKey":       map[string]any{"name": "team b key", "role": "viewer"},
		"importReport":    report(pairBefore), // the report team A imported: team B's import is its own
		"createMutingRule": map[string]any{"name": "team b rule", "reason": "r", "owner": "bob",
			"match": map[string]any{"checks": []string{"cloudtrail_multi_region_enabled"}}},
		"changeMutingRule": map[string]any{"name": "team b rule", "reason": "r", "owner": "bob",
			"match": map[string]any{"regions": []string{"eu-west-1"}}},
		// Team B registers, in its own team, the uid of team A's account.
		"registerAccount": map[string]any{"provider": "aws", "uid": "999900001111"},
		"renameAccount":   map[string]any{"name": "team b name"},
		"tagAccount":      map[string]any{"tags": map[string]any{"owner": "team-b"}},
		"createIndicator": map[string]any{"type": "domain", "value": "team-b.example", "confidence": 10, "source": "b"},
		"updateIndicator": map[string]any{"confidence": 20, "source": "b"},
		// SLA clocks: team B's policy is its own.
		"setSLAPolicy": map[string]any{"days": map[string]any{"critical": 1, "high": 2}},
		// Assessments: team B's own, over the public catalogue.
		"createAssessment":     map[string]any{"name": "team b assessment", "framework": isolationFramework},
		"rescheduleAssessment": map[string]any{"assignees": []string{"bob"}},
		"answerRequirement":    map[string]any{"requirement_id": "ds_6", "status": "compliant"},
		// Integrations: team B's are its own.
		"createIntegration":         map[string]any{"name": "team b chat", "kind": "chat", "config": map[string]any{"channel": "#b"}},
		"changeIntegration":         map[string]any{"name": "team b chat"},
		"startIntegrationWizard":    map[string]any{"kind": "chat"},
		"saveIntegrationWizardStep": map[string]any{"data": map[string]any{"name": "b"}},
		// AI governance: team B's own model, test and incident; the
		// others address team A's by path id.
		"registerModel":        map[string]any{"name": "team b model 2", "version": "1", "owner": "bob"},
		"releaseModelVersion":  map[string]any{"version": "9.9"},
		"changeModelStatus":    map[string]any{"status": "staging"},
		"linkModelAssets":      map[string]any{"assets": []string{"b-asset"}},
		"unlinkModelAssets":    map[string]any{"assets": []string{"b-asset"}},
		"classifyModel":        map[string]any{"risk_class": "minimal", "rationale": "b"},
		"declareTransparency":  map[string]any{"met": []string{"art50-1"}},
		"defineBiasTest":       map[string]any{"model_id": modelB.ID, "name": "b", "metric": "demographic_parity_difference", "attribute": "sex", "groups": []string{"f", "m"}, "threshold": 0.1},
		"recordBiasRun":        map[string]any{"run_id": "b-run", "groups": []map[string]any{{"group": "f", "positive": 1, "total": 2}}},
		"reportIncident":       map[string]any{"model_id": modelB.ID, "title": "b incident", "severity": "low"},
		"changeIncidentStatus": map[string]any{"status": "mitigated"},
		// The knowledge base: team B's document on the same subject.
		"addKnowledgeDocument":    map[string]any{"title": "team b runbook", "text": "Team B rotates keys per its runbook."},
		"updateKnowledgeDocument": map[string]any{"title": "team b runbook", "text": "Rotate keys."},
	}
	for op, body := range biaIsolationBodies { // isolation_bia_test.go
		validBody[op] = body
	}
	maps.Copy(validBody, riskValidBodies())
	maps.Copy(validBody, isolationScanRunBodies())
	// chosenID declares, for every command route of a team, whether it
	// creates a stream under an id the caller chooses: then team A's ids
	// of that kind, and where and how team B creates with one of them (in
	// team B's own scope). nil: it creates nothing under a chosen id.
	type chosen struct {
		ids     []string
		path    string
		request func(id string) any
	}
	chosenID := map[string]*chosen{
		"requestScan": {ids: scansA, path: "/api/v1/scans", request: func(id string) any {
			return map[string]any{"scan_id": id, "account_id": "210987654321", "provider": "gcp", "tool": "trivy"}
		}},
		"raiseFindings": {ids: findingsA, path: "/api/v1/scans/" + scanB + "/findings", request: func(id string) any {
			return map[string]any{"findings": []map[string]any{
				{"finding_id": "iso-b-new", "check_id": "c", "title": "t", "severity": "low", "resource_id": "r"},
				{"finding_id": id, "check_id": "c", "title": "t", "severity": "low", "resource_id": "r"},
			}}
		}},
		"importReport":     nil, // the import id is of the team and the content; ?scan_id= is checked below
		"createKey":        nil, // the key id is random (crypto/rand); the body has no id
		"startScan":        nil, // these address an existing resource by its path id
		"completeScan":     nil,
		"failScan":         nil,
		"resolveFinding":   nil,
		"suppressFinding":  nil,
		"revokeKey":        nil,
		"createMutingRule": nil, // the rule id is generated (UUIDv7); the body has no id
		"changeMutingRule": nil,
		"removeMutingRule": nil,
		"registerAccount":  nil, // the account id derives from the caller's team, provider and uid: never another team's
		"renameAccount":    nil,
		"tagAccount":       nil,
		"retireAccount":    nil,
		"createIndicator":  nil, // the indicator id is generated (UUIDv7); the body has no id
		"updateIndicator":  nil,
		"revokeIndicator":  nil,
		"observeIndicator": nil,
		"setSLAPolicy":     nil, // the policy stream is the caller's team's
		// Assessments: the id is generated (UUIDv7); the others address one by its path id.
		"createAssessment":     nil,
		"rescheduleAssessment": nil,
		"closeAssessment":      nil,
		"answerRequirement":    nil,
		// A scan run's id is a scan id the caller may choose: team A's scans and runs.
		"requestScanRun": {ids: slices.Concat(scansA, runsA), path: "/api/v1/scan-runs", request: isolationScanRunRequest},
		"cancelScanRun":  nil,
		// Integrations: ids generated (UUIDv7); a wizard's integration takes the session's id, the session being the caller's.
		"createIntegration":         nil,
		"changeIntegration":         nil,
		"removeIntegration":         nil,
		"checkIntegration":          nil,
		"startIntegrationWizard":    nil,
		"saveIntegrationWizardStep": nil,
		"completeIntegrationWizard": nil,
		// AI governance: the model, test and incident ids are generated
		// (UUIDv7); the others address one by its path id.
		"registerModel":        nil,
		"releaseModelVersion":  nil,
		"changeModelStatus":    nil,
		"linkModelAssets":      nil,
		"unlinkModelAssets":    nil,
		"retireModel":          nil,
		"classifyModel":        nil,
		"declareTransparency":  nil,
		"defineBiasTest":       nil,
		"recordBiasRun":        nil,
		"reportIncident":       nil,
		"changeIncidentStatus": nil,
		// The document id is generated (UUIDv7); the body has no id.
		"addKnowledgeDocument":    nil,
		"updateKnowledgeDocument": nil,
		"removeKnowledgeDocument": nil,
	}
	for _, op := range biaChosenIDs { // isolation_bia_test.go
		chosenID[op] = nil
	}
	for _, op := range riskCommands {
		chosenID[op] = nil
	}
	// Crypto-shredding: no id is chosen; team B forgets a subject named
	// like team A's risk owner (isolationPathOf), in team B only.
	chosenID["forgetDataSubject"] = nil

	param := regexp.MustCompile(`:[a-z_]+`)
	routes := a.srv.Routes()
	require.NotEmpty(t, routes)
	for _, r := range routes {
		if r.Public {
			continue
		}
		t.Run(r.Key(), func(t *testing.T) {
			body := validBody[r.OperationID]
			if r.Method != http.MethodGet && r.Scope != api.Teamless {
				c, declared := chosenID[r.OperationID]
				require.True(t, declared, "%s changes a team's data: declare in chosenID whether it creates under an id the caller chooses", r.Key())
				if c != nil {
					t.Run("another team's chosen id", func(t *testing.T) {
						ans := sameAnswerForEveryID(t, a, r.Method, c.ids, func(id string) (string, any) { return c.path, c.request(id) }, asB)
						require.Equal(t, http.StatusConflict, ans.status, "%s", ans.body)
						assert.Contains(t, ans.body, `"code":"`+api.CodeIDInUse+`"`)
					})
				}
			}
			switch r.Scope {
			case api.TeamResource:
				var ids []string
				var free string
				found := false
				for prefix, v := range resourceOf {
					if strings.HasPrefix(r.Path, prefix) {
						ids, free, found = v.ids, v.free, true
					}
				}
				require.True(t, found, "%s addresses a team resource: add team A's resources for it to resourceOf", r.Key())
				pathOf := func(id string) (string, any) { return param.ReplaceAllString(r.Path, id), body }
				if r.Method == http.MethodGet {
					// Once the read models have processed everything,
					// meta.position is the same in every answer below.
					freePath, _ := pathOf(free)
					now, err := a.store.HeadPosition(ctx) // team B's writes so far included
					require.NoError(t, err)
					eventually(t, 30*time.Second, r.Path+" catches up", func() bool {
						return !stale(a.call(t, r.Method, freePath+"?min_position="+itoa(now), nil, asB...))
					})
				}
				want := sameAnswerForEveryID(t, a, r.Method, append(slices.Clone(ids), free), pathOf, asB)
				require.Equal(t, http.StatusNotFound, want.status, "team B reaching team A's %s: %s (a 400 means validBody needs an entry for %s)", r.Path, want.body, r.OperationID)
				assert.Contains(t, want.body, `"code":"`+api.CodeNotFound+`"`)
			case api.TeamCollection:
				if r.Method != http.MethodGet {
					path := r.Path
					if p, ok := isolationPathOf[r.OperationID]; ok { // isolation_privacy_test.go
						path = p
					}
					ans := a.call(t, r.Method, path, body, asB...)
					require.Less(t, ans.status, 300, "team B creates in its own team: %s", ans.raw)
					return
				}
				path := r.Path
				if strings.Contains(path, ":") { // a public id (a catalog entry) in a team's view
					id, ok := publicIDOf[r.OperationID]
					require.True(t, ok, "%s: add a public id to publicIDOf", r.Key())
					path = param.ReplaceAllString(path, id)
				}
				if q, ok := isolationQuery[r.Path]; ok {
					path += "?" + q
				}
				ans := a.call(t, r.Method, path, nil, asB...)
				require.Equal(t, http.StatusOK, ans.status, "%s", ans.raw)
				for _, s := range secrets {
					assert.NotContains(t, string(ans.env.Data), s, "team B's %s shows team A's data", r.Path)
				}
			case api.Teamless:
				if r.Method == http.MethodGet {
					path := strings.Replace(strings.Replace(r.Path, ":cve", isolationKEVCVE, 1), ":id", isolationFramework, 1)
					ans := a.call(t, r.Method, path, nil, asB...)
					assert.Equal(t, http.StatusOK, ans.status, "a team-less admin route serves any team's admin: %s", ans.raw)
				}
			}
		})
	}

	// An import into one of team A's scans (?scan_id=) is answered as one
	// into a scan no one has.
	t.Run("import into another team's scan", func(t *testing.T) {
		ans := sameAnswerForEveryID(t, a, http.MethodPost, append(slices.Clone(scansA), "iso-free-scan"), func(id string) (string, any) {
			return "/api/v1/imports?scan_id=" + id, report(pairAfter)
		}, asB)
		require.Equal(t, http.StatusNotFound, ans.status, "%s", ans.body)
	})

	// Team B's writes left team A's views as they were.
	head, err = a.store.HeadPosition(ctx)
	require.NoError(t, err)
	assert.Equal(t, viewsA, teamViews(t, a, head, asA))
}

// isolationMutingWorld gives team A imported findings (the first scan of
// the before/after pair: one left open, one resolved, one suppressed) and
// muting rules in each state (active, changed, removed, expired). It
// returns the findings' ids (open, resolved, suppressed, then the others),
// the rules' ids and their names.
func isolationMutingWorld(t *testing.T, a *testApp, asA []string) (imported, rules, names []string) {
	t.Helper()
	pos := a.importInto(t, "team-a", pt.PairScan1()...)
	for _, f := range a.findings(t, "", pos, asA...) {
		if csdomain.IsImportedFinding(f.ID) {
			imported = append(imported, f.ID)
		}
	}
	require.Len(t, imported, 6)
	must(t, a.call(t, http.MethodPost, "/api/v1/findings/"+imported[1]+"/resolve", nil, asA...), http.StatusAccepted)
	must(t, a.call(t, http.MethodPost, "/api/v1/findings/"+imported[2]+"/suppress", map[string]any{"reason": "accepted risk"}, asA...), http.StatusAccepted)

	create := func(name string, expires time.Time) string {
		body := map[string]any{"name": name, "reason": "r", "owner": "alice", "match": map[string]any{"finding_ids": []string{imported[0]}}}
		if !expires.IsZero() {
			body["expires_at"] = expires
		}
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/muting-rules", body, asA...), http.StatusCreated).data(t, &res)
		rules, names = append(rules, res.ID), append(names, name)
		return res.ID
	}
	create("iso-rule-active", time.Time{})
	changed := create("iso-rule-changed", time.Time{})
	must(t, a.call(t, http.MethodPut, "/api/v1/muting-rules/"+changed, map[string]any{"name": "iso-rule-changed-2", "reason": "r",
		"owner": "alice", "match": map[string]any{"checks": []string{"cloudtrail_multi_region_enabled"}}}, asA...), http.StatusAccepted)
	names = append(names, "iso-rule-changed-2")
	removed := create("iso-rule-removed", time.Time{})
	must(t, a.call(t, http.MethodDelete, "/api/v1/muting-rules/"+removed, nil, asA...), http.StatusAccepted)
	expired := create("iso-rule-expired", time.Now().Add(time.Hour))
	// Expired as the scheduler would, two hours from now.
	later := cscmd.New(commands.NewKit(a.store, eventstore.NewDomainCodec(), func() time.Time { return time.Now().Add(2 * time.Hour) }))
	_, err := later.ExpireMutingRule(context.Background(), commands.Meta{TeamID: "team-a", Actor: mutingExpiryActor}, cscmd.ExpireMutingRule{RuleID: expired})
	require.NoError(t, err)
	return imported, rules, names
}

// rawAnswer is an answer as sent, with its request id replaced by
// "<request-id>" everywhere (headers and body), so that two answers
// compare byte for byte.
type rawAnswer struct {
	status int
	header string // every header but Date, sorted, one per line
	body   string
}

// sameAnswerForEveryID sends method to the request of each id as team
// `as`, requires every answer to be the same bytes (apart from the
// request id), nothing about another stream in it, and nothing to be
// appended; it returns that answer.
func sameAnswerForEveryID(t *testing.T, a *testApp, method string, ids []string, request func(id string) (string, any), as []string) rawAnswer {
	t.Helper()
	require.NotEmpty(t, ids)
	before, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	var first rawAnswer
	for i, id := range ids {
		path, body := request(id)
		got := a.rawCall(t, method, path, body, as...)
		if i == 0 {
			first = got
			continue
		}
		assert.Equal(t, first, got, "%s %s answers differently for %q than for %q", method, path, id, ids[0])
	}
	after, err := a.store.HeadPosition(context.Background())
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing appended")
	for _, leak := range []string{"current_version", "stream_id"} {
		assert.NotContains(t, first.body, leak, "nothing about the other team's stream")
	}
	return first
}

// rawCall sends one request and returns its answer normalized (rawAnswer).
func (a *testApp) rawCall(t *testing.T, method, path string, body any, header ...string) rawAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	rid := resp.Header.Get(api.HeaderRequestID)
	require.NotEmpty(t, rid)
	norm := func(s string) string { return strings.ReplaceAll(s, rid, "<request-id>") }
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
		if name == "Date" {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: %s", name, norm(strings.Join(resp.Header.Values(name), ", "))))
	}
	return rawAnswer{status: resp.StatusCode, header: strings.Join(lines, "\n"), body: norm(string(raw))}
}

// teamViews reads every list and summary a team sees, once the read
// models have passed position.
func teamViews(t *testing.T, a *testApp, position int64, as []string) map[string]string {
	t.Helper()
	views := map[string]string{}
	for _, r := range a.srv.Routes() {
		if r.Public || r.Method != http.MethodGet || r.Scope != api.TeamCollection {
			continue
		}
		if strings.Contains(r.Path, ":") {
			continue // a public entry with the team's part of it (GET /api/v1/vulnerabilities/{id}): the list routes show that part
		}
		var ans *answer
		query := ""
		if q, ok := isolationQuery[r.Path]; ok {
			query = q + "&"
		}
		eventually(t, 30*time.Second, r.Path+" catches up", func() bool {
			ans = a.call(t, http.MethodGet, r.Path+"?"+query+"min_position="+itoa(position), nil, as...)
			return ans.status == http.StatusOK && !stale(ans)
		})
		views[r.Path] = string(ans.env.Data)
	}
	return views
}

// issueTestKey issues an API key straight through the command handlers.
func issueTestKey(t *testing.T, a *testApp, team, role string) platformcmd.IssuedKey {
	t.Helper()
	h := platformcmd.New(commands.NewKit(a.store, eventstore.NewDomainCodec(), time.Now))
	k, err := h.IssueKey(context.Background(), commands.Meta{TeamID: team, Actor: "test"}, platformcmd.IssueKey{Name: team + " " + role, Role: role})
	require.NoError(t, err)
	require.NotEmpty(t, k.Key)
	return k
}
