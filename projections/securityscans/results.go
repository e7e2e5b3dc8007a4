// Package securityscans builds the read models of cspm_security_scans:
// per target and tool, the latest results a native scanner (Nuclei, ZAP,
// testssl.sh, SSLyze) reported, with the tool's details, scan problems and
// certificates; and per target, what each tool last said
// (docs/security-scans.md). It folds the imports' events (ImportStarted,
// ResultsRecorded, CertificatesObserved, ImportCompleted) of the native
// scanners' identity rules; Prowler's imports are not its business.
package securityscans

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ssdomain "github.com/cspm-es/cspm-es/domain/securityscans"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the projection and its collections.
const (
	Name = "securityscans.results"
	// TargetResultsCollection: one document per team, tool and target
	// (_id "<team>/<tool>/<target>"): the latest evaluation's results.
	TargetResultsCollection = "target_results"
	// TargetsCollection: one document per team and target (_id
	// "<team>/<target>"): per tool, when it last evaluated the target and
	// how many results failed.
	TargetsCollection = "targets"
	// ImportsCollection: the tool and version of each native scanner's
	// import (_id "<team>/<import id>"), read when its results arrive.
	ImportsCollection = "scan_imports"
)

// MaxResults bounds the results one document keeps (failures first); the
// counts count them all.
const MaxResults = 2000

// maxDetail cuts a result's detail in the read model (the event keeps it
// whole, at most 4,096 characters).
const maxDetail = 1024

// Results is the projection.
type Results struct{}

var _ projections.Projection = Results{}

// New returns the "securityscans.results" projection.
func New() Results { return Results{} }

// Name implements projections.Projection.
func (Results) Name() string { return Name }

// Database implements projections.Projection.
func (Results) Database() dbregistry.Constant { return dbregistry.SECURITY_SCANS }

// EventTypes implements projections.Projection.
func (Results) EventTypes() []string {
	return []string{csdomain.ImportStarted{}.EventType(), csdomain.ResultsRecorded{}.EventType(),
		csdomain.CertificatesObserved{}.EventType(), csdomain.ImportCompleted{}.EventType()}
}

// Collections implements projections.Projection.
func (Results) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: TargetResultsCollection, Indexes: []readmodel.Index{
			// GET /api/v1/targets/{target}/results: a target's tools.
			{Name: "by_team_target", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "target"}}},
		}},
		{Name: TargetsCollection, Indexes: []readmodel.Index{
			// GET /api/v1/targets, by target; ?provider=.
			{Name: "by_team_target", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "target"}}},
			{Name: "by_team_provider_target", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "provider"}, {Path: "target"}}},
			// GET /api/v1/targets/{target} by its id (tgt-...).
			{Name: "by_team_target_id", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "target_id"}}},
		}},
		{Name: ImportsCollection},
	}
}

// ResultsDocID is the _id of a team's tool's results on a target.
func ResultsDocID(team, tool, target string) string { return team + "/" + tool + "/" + target }

// TargetDocID is the _id of a team's target.
func TargetDocID(team, target string) string { return team + "/" + target }

func toolOf(rule csdomain.IdentityRule) string {
	t, _, _ := strings.Cut(string(rule), "/")
	return t
}

// Apply implements projections.Projection.
func (Results) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	if team == "" {
		return nil
	}
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.ImportStarted:
		if rule, _ := csdomain.RuleFor(e.Tool); !csdomain.IsNativeScannerRule(rule) {
			return nil
		}
		tx.Put(ImportsCollection, readmodel.Doc{"_id": team + "/" + e.ImportID, "team_id": team, "tool": e.Tool,
			"tool_version": e.ToolVersion, "format": e.Format})
	case csdomain.ResultsRecorded:
		if !csdomain.IsNativeScannerRule(e.IdentityRule) {
			return nil
		}
		return applyResults(ctx, tx, team, e)
	case csdomain.CertificatesObserved:
		byTarget := map[string][]csdomain.CertificateSeen{}
		for _, c := range e.Certificates {
			byTarget[c.Target] = append(byTarget[c.Target], c)
		}
		for _, target := range slices.Sorted(maps.Keys(byTarget)) {
			d, err := load(ctx, tx, team, e.Tool, target, csdomain.ProviderTLS)
			if err != nil {
				return err
			}
			if !newerOrSame(e.EvaluatedAt, e.ScanID, fold.Time(d, "certificates_at"), fold.Str(d, "certificates_scan_id")) {
				continue
			}
			certs := byTarget[target]
			slices.SortFunc(certs, func(a, b csdomain.CertificateSeen) int { return cmp.Compare(a.Cert, b.Cert) })
			list := make([]any, 0, len(certs))
			for _, c := range certs {
				list = append(list, map[string]any{"cert": c.Cert, "subject": c.Subject, "not_before": fold.TimeOrNil(c.NotBefore),
					"not_after": readmodel.NormalizeTime(c.NotAfter), "fingerprint_sha256": c.FingerprintSHA256})
			}
			d["certificates"], d["certificates_at"], d["certificates_scan_id"] = list, readmodel.NormalizeTime(e.EvaluatedAt), e.ScanID
			tx.Put(TargetResultsCollection, d)
			if err := touchTarget(ctx, tx, team, target, e.Tool, d); err != nil {
				return err
			}
		}
	case csdomain.ImportCompleted:
		if !csdomain.IsNativeScannerRule(e.IdentityRule) {
			return nil
		}
		tool := toolOf(e.IdentityRule)
		provider := csdomain.ProviderTLS
		if csdomain.EvaluatesWholeTarget(e.IdentityRule) {
			provider = csdomain.ProviderWeb
		}
		byTarget := map[string][]csdomain.ScanProblem{}
		for _, sc := range e.Scopes { // evaluated without problems: the problems of an older scan are cleared
			byTarget[sc.Account] = nil
		}
		for _, p := range e.Problems {
			byTarget[p.Target] = append(byTarget[p.Target], p)
		}
		for _, target := range slices.Sorted(maps.Keys(byTarget)) {
			if target == "" {
				continue // a problem of no target (a Nuclei result naming none): on the import only
			}
			d, err := load(ctx, tx, team, tool, target, provider)
			if err != nil {
				return err
			}
			if !newerOrSame(e.EvaluatedAt, e.ScanID, fold.Time(d, "problems_at"), fold.Str(d, "problems_scan_id")) {
				continue
			}
			list := make([]any, 0, len(byTarget[target]))
			for _, p := range byTarget[target] {
				list = append(list, map[string]any{"check": p.Check, "level": p.Level, "message": p.Message})
			}
			d["problems"], d["problems_at"], d["problems_scan_id"], d["problems_import_id"] = list, readmodel.NormalizeTime(e.EvaluatedAt), e.ScanID, e.ImportID
			tx.Put(TargetResultsCollection, d)
			if err := touchTarget(ctx, tx, team, target, tool, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// newerOrSame orders evaluations by time, then scan id.
func newerOrSame(at time.Time, scan string, curAt time.Time, curScan string) bool {
	at = readmodel.NormalizeTime(at)
	if curAt.IsZero() && curScan == "" {
		return true
	}
	if c := at.Compare(curAt); c != 0 {
		return c > 0
	}
	return scan >= curScan
}

func load(ctx context.Context, tx projections.Tx, team, tool, target, provider string) (readmodel.Doc, error) {
	id := ResultsDocID(team, tool, target)
	d, found, err := fold.Get(ctx, tx, TargetResultsCollection, id)
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": id, "team_id": team, "tool": tool, "target": target, "target_id": ssdomain.TargetID(target), "provider": provider}
	}
	return d, nil
}

func applyResults(ctx context.Context, tx projections.Tx, team string, e csdomain.ResultsRecorded) error {
	tool := toolOf(e.IdentityRule)
	imp, _, err := fold.Get(ctx, tx, ImportsCollection, team+"/"+e.ImportID)
	if err != nil {
		return err
	}
	byTarget := map[string][]csdomain.CheckResult{}
	for _, r := range e.Results {
		byTarget[r.Account] = append(byTarget[r.Account], r)
	}
	for _, target := range slices.Sorted(maps.Keys(byTarget)) {
		rs := byTarget[target]
		d, err := load(ctx, tx, team, tool, target, rs[0].Provider)
		if err != nil {
			return err
		}
		at, cur := readmodel.NormalizeTime(e.EvaluatedAt), fold.Time(d, "evaluated_at")
		switch {
		case fold.Str(d, "import_id") == e.ImportID: // another chunk of the same import: merged
		case newerOrSame(at, e.ScanID, cur, fold.Str(d, "scan_id")):
			d["results"], d["counts"] = nil, nil
		default:
			continue // an older evaluation than the one kept
		}
		entries := map[string]map[string]any{}
		for _, r := range fold.Objs(d, "results") {
			entries[fold.Str(r, "check")+"\x00"+fold.Str(r, "resource")] = r
		}
		counts := fold.Obj(d, "counts")
		if counts == nil {
			counts = map[string]any{"results": int64(0), "fail": int64(0), "pass": int64(0), "manual": int64(0)}
		}
		for _, r := range rs {
			k := r.Check + "\x00" + r.Resource
			if _, dup := entries[k]; dup {
				continue
			}
			entry := map[string]any{"check": r.Check, "resource": r.Resource, "resource_name": r.ResourceName,
				"result": string(r.Result), "severity": string(r.Severity), "muted": r.Muted,
				"detail": cut(r.Detail, maxDetail), "observed_at": readmodel.NormalizeTime(r.ObservedAt)}
			if r.Result == csdomain.ResultFail {
				entry["finding_id"] = r.Identity(e.IdentityRule).FindingID(team)
			}
			entries[k] = entry
			counts["results"] = fold.Num(counts, "results") + 1
			counts[string(r.Result)] = fold.Num(counts, string(r.Result)) + 1
		}
		list := make([]map[string]any, 0, len(entries))
		for _, v := range entries {
			list = append(list, v)
		}
		slices.SortFunc(list, func(a, b map[string]any) int {
			// failures first, most severe first, then check and resource
			if c := cmp.Compare(rank(a), rank(b)); c != 0 {
				return c
			}
			if c := cmp.Compare(fold.Str(a, "check"), fold.Str(b, "check")); c != 0 {
				return c
			}
			return cmp.Compare(fold.Str(a, "resource"), fold.Str(b, "resource"))
		})
		truncated := len(list) > MaxResults
		if truncated {
			list = list[:MaxResults]
		}
		results := make([]any, len(list))
		for i, v := range list {
			results[i] = v
		}
		d["results"], d["counts"], d["truncated"] = results, counts, truncated
		d["import_id"], d["scan_id"], d["evaluated_at"] = e.ImportID, e.ScanID, at
		d["tool_version"], d["format"] = fold.Str(imp, "tool_version"), fold.Str(imp, "format")
		tx.Put(TargetResultsCollection, d)
		if err := touchTarget(ctx, tx, team, target, tool, d); err != nil {
			return err
		}
	}
	return nil
}

var sevRank = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4, "": 5}

func rank(r map[string]any) int {
	if fold.Str(r, "result") != string(csdomain.ResultFail) {
		return 10
	}
	return sevRank[fold.Str(r, "severity")]
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// touchTarget records on the target's document what tool d's document
// now says.
func touchTarget(ctx context.Context, tx projections.Tx, team, target, tool string, d readmodel.Doc) error {
	id := TargetDocID(team, target)
	t, found, err := fold.Get(ctx, tx, TargetsCollection, id)
	if err != nil {
		return err
	}
	if !found {
		t = readmodel.Doc{"_id": id, "team_id": team, "target": target, "target_id": ssdomain.TargetID(target), "provider": fold.Str(d, "provider")}
	}
	tools := fold.Obj(t, "tools")
	if tools == nil {
		tools = map[string]any{}
	}
	counts := fold.Obj(d, "counts")
	tools[tool] = map[string]any{"evaluated_at": fold.TimeOrNil(fold.Time(d, "evaluated_at")), "scan_id": fold.Str(d, "scan_id"),
		"failing": fold.Num(counts, "fail"), "problems": int64(len(fold.Objs(d, "problems")))}
	t["tools"] = tools
	var last time.Time
	failing := int64(0)
	for _, v := range tools {
		m, _ := v.(map[string]any)
		last = fold.Later(last, fold.Time(m, "evaluated_at"))
		failing += fold.Num(m, "failing")
	}
	t["last_evaluated_at"], t["failing"] = fold.TimeOrNil(last), failing
	tx.Put(TargetsCollection, t)
	return nil
}
