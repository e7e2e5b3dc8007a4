package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/progress"
	orchquery "github.com/cspm-es/cspm-es/queries/orchestration"
)

// `cspm import FILE` sends a scanner's report to a running server
// (POST /api/v1/imports, docs/imports.md), streaming it from disk with a
// progress bar, and prints what the import held and what its scan changed.

func importCommand() *command {
	return &command{
		name:    "import",
		summary: "import a scanner's report (Prowler OCSF, JSON, CSV, ASFF) or a Steampipe inventory into a running server",
		args:    "FILE [--format F] [--scan-id ID] [--table T --sync complete|partial]",
		maxArgs: 1,
		description: "Streams FILE to a running `cspm serve` (POST /api/v1/imports; --server, by\n" +
			"default http://<--http-addr>), with a progress bar on a terminal. The format is\n" +
			"--format, else detected from the report's first bytes. The same report again\n" +
			"is answered with its first import and appends nothing; a report that does not\n" +
			"parse is rejected whole (exit status 1, the rejection recorded). Prints the\n" +
			"import's counts and what its scan changed (new, fixed, reopened findings).\n" +
			"An asset inventory (--format steampipe-json, the output of `steampipe query\n" +
			"--output json`) names its --table and whether it is a --sync complete (assets of\n" +
			"its scopes it does not list are removed) or partial (the default; removes nothing).",
		groups: projectionGroups,
		build: func(fs *flag.FlagSet) runFunc {
			server := fs.String("server", "", "base URL of the running server (default http://<--http-addr>)")
			timeout := fs.Duration("timeout", 30*time.Minute, "deadline of the upload and import")
			format := fs.String("format", "", "the report's format: prowler-ocsf, prowler-json, prowler-csv, prowler-asff, prowler-compliance-csv, steampipe-json, trivy-json, trivy-legacy (default: detected); kev-json, kev-csv (the CISA KEV catalogue, admin keys)")
			scanID := fs.String("scan-id", "", "a requested or running scan the report completes (default: the import creates its scan)")
			asJSON := fs.Bool("json", false, "print the import's result as JSON")
			table := fs.String("table", "", "inventory formats: the table the query read (aws_s3_bucket)")
			sync := fs.String("sync", "", "inventory formats: complete or partial (default partial)")
			return func(ctx context.Context, inv *invocation) error {
				if len(inv.args) != 1 {
					return usageError("import: name the report file")
				}
				c, err := projClientFlags{server: server, timeout: timeout}.client(inv)
				if err != nil {
					return err
				}
				return importReport(ctx, inv, c, inv.args[0], *format, *scanID, *asJSON, inventoryFlags{table: *table, sync: *sync})
			}
		},
	}
}

// inventoryFlags are the import's flags for inventory formats.
type inventoryFlags struct{ table, sync string }

func importReport(ctx context.Context, inv *invocation, c *apiClient, path, format, scanID string, asJSON bool, invf ...inventoryFlags) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if !info.Mode().IsRegular() {
		return usageError("import: %s is not a regular file", path)
	}
	q := url.Values{"file_name": {filepath.Base(path)}}
	if format != "" {
		q.Set("format", format)
	}
	if scanID != "" {
		q.Set("scan_id", scanID)
	}
	for _, f := range invf {
		if f.table != "" {
			q.Set("table", f.table)
		}
		if f.sync != "" {
			q.Set("sync", f.sync)
		}
	}
	bar := progress.NewBytes(inv.stderr, "uploading "+filepath.Base(path), info.Size())
	body := &barReader{r: f, bar: bar}
	var res cscmd.ImportResult
	hdr, err := c.send(ctx, http.MethodPost, "/api/v1/imports?"+q.Encode(), "application/octet-stream", body, info.Size(), &res)
	bar.Finish()
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.body.Code == "REPORT_REJECTED" {
			where := ""
			if loc := hdr.Get("Location"); loc != "" {
				where = " (recorded: " + loc + ")"
			}
			return fmt.Errorf("import: %s was rejected whole, nothing of it imported: %s%s", path, ae.body.Message, where)
		}
		return fmt.Errorf("import %s: %w", path, err)
	}
	var delta *orchquery.DeltaList
	if res.ScanID != "" {
		var d orchquery.DeltaList
		// Read the scan's delta once the projections have the import
		// (read your writes); an older server, or one without the
		// projector, leaves it out.
		p := fmt.Sprintf("/api/v1/scans/%s/delta?limit=1&min_position=%d", url.PathEscape(res.ScanID), res.Position)
		if _, err := c.send(ctx, http.MethodGet, p, "", nil, 0, &d); err == nil {
			delta = &d
		} else {
			inv.log.Debug("scan delta not read", "scan_id", res.ScanID, "err", err)
		}
	}
	if asJSON {
		out := struct {
			cscmd.ImportResult
			Delta *orchquery.DeltaCounts `json:"delta,omitempty"`
		}{ImportResult: res}
		if delta != nil {
			out.Delta = &delta.Counts
		}
		return writeJSON(inv.stdout, out)
	}
	printImport(inv.stdout, path, res, delta)
	return nil
}

func printImport(w io.Writer, path string, res cscmd.ImportResult, delta *orchquery.DeltaList) {
	tool := strings.TrimSpace(res.Tool + " " + res.ToolVersion)
	if res.Feed != nil { // a KEV feed: no scan; its diff
		printFeedImport(w, path, res)
		return
	}
	inventory := res.Inventory != nil || res.Sync != ""
	switch {
	case inventory && res.Duplicate:
		fmt.Fprintf(w, "%s was imported before as %s: nothing appended\n", path, res.ImportID)
	case inventory:
		fmt.Fprintf(w, "imported %s (%s, %s, %s) as %s\n", path, res.Format, tool, humanBytes(res.Size), res.ImportID)
	case res.Duplicate && res.ScanID == "":
		fmt.Fprintf(w, "%s was imported before as %s (artifact %s): nothing appended\n", path, res.ImportID, res.ArtifactID)
	case res.Duplicate:
		fmt.Fprintf(w, "%s was imported before as %s (scan %s): nothing appended\n", path, res.ImportID, res.ScanID)
	case res.ScanID == "": // a vulnerability scan of one artifact
		fmt.Fprintf(w, "imported %s (%s, %s, %s) as %s of %s\n", path, res.Format, tool, humanBytes(res.Size), res.ImportID, res.ArtifactID)
	default:
		fmt.Fprintf(w, "imported %s (%s, %s, %s) as %s into scan %s\n", path, res.Format, tool, humanBytes(res.Size), res.ImportID, res.ScanID)
	}
	if c := res.Inventory; c != nil {
		fmt.Fprintf(w, "  inventory %s sync of %q: %d rows, %d assets (%d rows repeated an asset), %d scopes\n",
			res.Sync, res.Table, c.Records, c.Assets, c.Duplicates, c.Scopes)
	}
	if c := res.Counts; c != nil {
		fmt.Fprintf(w, "  results   %d (%s); %d checks, %d resources, %d accounts\n", c.Results, countsLine(c.ByResult), c.Checks, c.Resources, c.Accounts)
		fmt.Fprintf(w, "  failing   %s", countsLine(c.FailBySev))
		if c.Muted > 0 {
			fmt.Fprintf(w, " (%d muted by the tool)", c.Muted)
		}
		fmt.Fprintln(w)
	}
	for i, p := range res.Problems { // a native scanner's scan problems (docs/security-scans.md): they fix nothing
		if i == 5 {
			fmt.Fprintf(w, "  problem   … %d more (--json lists them)\n", len(res.Problems)-i)
			break
		}
		fmt.Fprintf(w, "  problem   %s %s %s: %s\n", p.Level, p.Target, p.Check, p.Message)
	}
	if c := res.ScanCounts; c != nil {
		fmt.Fprintf(w, "  artifact  %s\n", res.ArtifactID)
		fmt.Fprintf(w, "  vulns     %d occurrences of %d vulnerabilities (%s); %d misconfigurations, %d secrets\n",
			c.Occurrences, c.DistinctVulnerabilities, countsLine(c.BySeverity), c.Misconfigurations, c.Secrets)
		for _, warn := range res.Warnings {
			fmt.Fprintf(w, "  warning   %s\n", warn)
		}
	}
	if delta != nil {
		d := delta.Counts
		muted := ""
		if n := d.Muted.Sum(); n > 0 {
			muted = fmt.Sprintf(", muted %d", n)
		}
		fmt.Fprintf(w, "  changes   new %d, reopened %d, fixed %d, unchanged %d%s (GET /api/v1/scans/%s/delta)\n",
			d.New.Sum(), d.Reopened.Sum(), d.Fixed.Sum(), d.Unchanged.Sum(), muted, res.ScanID)
	}
	if !res.Duplicate {
		fmt.Fprintf(w, "  events    %d appended, through position %d\n", res.Events, res.Position)
	}
}

// countsLine prints counts by key, largest first: "FAIL 6, PASS 5".
func countsLine[K ~string](m map[K]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// barReader advances a progress bar as a body is read.
type barReader struct {
	r   io.Reader
	bar *progress.Bar
}

func (b *barReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.bar.Add(int64(n))
	return n, err
}
