package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/queries"
)

// The dashboard's vulnerabilities section (decision 57), from
// projections/platform's platform.dashboard_vulnerabilities: two document
// reads (the team's counts, its SLA summary) and one indexed read of at
// most TopImages images.

// Collections, as projections/platform writes them (a test checks the names agree).
const (
	dashboardVulnCollection    = "dashboard_vulnerabilities"
	dashboardImagesCollection  = "dashboard_vulnerable_images"
	dashboardSLASummCollection = "dashboard_sla_summaries"
)

// TopImages is how many images the dashboard lists.
const TopImages = 10

// DashboardVulnerabilities is the dashboard's vulnerabilities section.
type DashboardVulnerabilities struct {
	// Open occurrences, and the open ones of a CVE in CISA KEV now.
	OpenTotal           int64              `json:"open_total"`
	OpenBySeverity      VulnSeverityCounts `json:"open_by_severity"`
	KEVOpenTotal        int64              `json:"kev_open_total"`
	KEVOpenBySeverity   VulnSeverityCounts `json:"kev_open_by_severity"`
	SLA                 DashboardSLA       `json:"sla"`
	TopVulnerableImages []VulnerableImage  `json:"top_vulnerable_images"`
}

// VulnSeverityCounts counts occurrences by the scanner's severity.
type VulnSeverityCounts struct {
	Critical int64 `json:"critical"`
	High     int64 `json:"high"`
	Medium   int64 `json:"medium"`
	Low      int64 `json:"low"`
	Unknown  int64 `json:"unknown"`
}

func vulnSeverityCountsOf(m map[string]any) VulnSeverityCounts {
	return VulnSeverityCounts{Critical: queries.Num(m, "critical"), High: queries.Num(m, "high"), Medium: queries.Num(m, "medium"),
		Low: queries.Num(m, "low"), Unknown: queries.Num(m, "unknown")}
}

// DashboardSLA is the team's SLA clocks of both modules (vulnerability
// occurrences and imported cloud findings) as GET /api/v1/sla/summary
// counts them: breached and due within 7 days are as of the request.
type DashboardSLA struct {
	Breached   int64                        `json:"breached"`
	DueIn7Days int64                        `json:"due_in_7_days"`
	Total      queries.SLACounts            `json:"total"`
	ByModule   map[string]queries.SLACounts `json:"by_module"`
}

// VulnerableImage is one of the team's most vulnerable images: ordered by
// open critical occurrences, then open high, then open in all.
type VulnerableImage struct {
	ArtifactID     string             `json:"artifact_id"`
	Digest         string             `json:"digest"`
	Repository     string             `json:"repository"`
	Name           string             `json:"name"`
	Tags           []string           `json:"tags"`
	OpenTotal      int64              `json:"open_total"`
	OpenBySeverity VulnSeverityCounts `json:"open_by_severity"`
	KEVOpen        int64              `json:"kev_open"`
	LastScannedAt  time.Time          `json:"last_scanned_at,omitzero"`
}

// dashboardVulnerabilities reads the section as of now.
func (s *Service) dashboardVulnerabilities(ctx context.Context, team string, now time.Time) (DashboardVulnerabilities, error) {
	out := DashboardVulnerabilities{TopVulnerableImages: []VulnerableImage{}, SLA: DashboardSLA{ByModule: map[string]queries.SLACounts{}}}
	get := func(coll string) (readmodel.Doc, error) {
		d, err := s.platform.Get(ctx, coll, team)
		if errors.Is(err, readmodel.ErrNotFound) || errors.Is(err, readmodel.ErrInvalid) || (err == nil && queries.Str(d, "team_id") != team) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", coll, err)
		}
		return d, nil
	}
	d, err := get(dashboardVulnCollection)
	if err != nil {
		return out, err
	}
	out.OpenTotal, out.OpenBySeverity = queries.Num(d, "open_total"), vulnSeverityCountsOf(queries.Obj(d, "open_by_severity"))
	out.KEVOpenTotal, out.KEVOpenBySeverity = queries.Num(d, "kev_open_total"), vulnSeverityCountsOf(queries.Obj(d, "kev_open_by_severity"))
	sla, err := get(dashboardSLASummCollection)
	if err != nil {
		return out, err
	}
	out.SLA.Total, out.SLA.ByModule, _ = queries.SLASummaryCounts(sla, readmodel.NormalizeTime(now))
	out.SLA.Breached, out.SLA.DueIn7Days = out.SLA.Total.Breached, out.SLA.Total.DueIn7Days
	if out.OpenTotal == 0 {
		return out, nil
	}
	page, err := s.platform.Find(ctx, dashboardImagesCollection, readmodel.FindOptions{
		// Images only (not filesystems or repositories); those without open
		// occurrences sort last and are left out.
		Filter: readmodel.And(readmodel.Eq("team_id", team), readmodel.Eq("kind", "image")),
		Sort:   []readmodel.SortField{readmodel.Desc("open_critical"), readmodel.Desc("open_high"), readmodel.Desc("open_total")},
		Limit:  TopImages,
	})
	if err != nil {
		return out, fmt.Errorf("find top images: %w", err)
	}
	for _, m := range page.Docs {
		if queries.Num(m, "open_total") == 0 {
			continue
		}
		out.TopVulnerableImages = append(out.TopVulnerableImages, VulnerableImage{
			ArtifactID: queries.Str(m, "artifact_id"), Digest: queries.Str(m, "digest"), Repository: queries.Str(m, "repository"),
			Name: queries.Str(m, "name"), Tags: strsOf(m, "tags"), OpenTotal: queries.Num(m, "open_total"),
			OpenBySeverity: VulnSeverityCounts{Critical: queries.Num(m, "open_critical"), High: queries.Num(m, "open_high"),
				Medium: queries.Num(m, "open_medium"), Low: queries.Num(m, "open_low"), Unknown: queries.Num(m, "open_unknown")},
			KEVOpen: queries.Num(m, "open_kev"), LastScannedAt: queries.When(m, "last_scanned_at"),
		})
	}
	return out, nil
}

func strsOf(d map[string]any, key string) []string {
	out := []string{}
	switch l := d[key].(type) {
	case []any:
		for _, v := range l {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, l...)
	}
	return out
}
