package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/api"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite/sqlitebench"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

// BenchmarkHTTPIngest is issue 17's ingest figure: HTTP ingest of
// findings, through the batch route and through imports, against the
// event store's raw batch-100 append ceiling measured in the same run.
//
// It boots the whole app in process as BenchmarkCommandToQueryLatency does
// (SQLite store with its default synchronous=full, embedded NATS, relay,
// every projection running, the API on a loopback listener), then the
// API role alone (metrics prefixed api_only_: what a separate ingest
// process costs), and in each runs b.N ops of:
//
//   - the raw ceiling (sqlitebench): 100 rows the batch route stored
//     (FindingRaised events as stored, sampled from the app's store file)
//     inserted again with plain SQL into a file of the store's schema,
//     same driver and settings, one 100-row INSERT per transaction, for
//     CSPM_BENCH_CEILING_SECONDS (default 2) before, between and after the
//     two ingest phases, each once the projections have caught up;
//   - the batch route: 4 clients POST /api/v1/scans/{id}/findings with 100
//     findings each (and an Idempotency-Key), back to back, for
//     CSPM_BENCH_INGEST_SECONDS (default 3);
//   - imports: 2 clients POST /api/v1/imports of Prowler OCSF reports,
//     CSPM_BENCH_INGEST_IMPORTS (default 8) of 3,000 findings each, built
//     before the clock from the real Prowler 5.4 report in
//     platform/parsers/prowler/testdata (its three findings, their
//     placeholders filled in: one account per report, a resource and a
//     region per copy).
//
// Events are counted as the store appended them (its head position before
// and after each phase), not as requests. Metrics: raw_events/s (the
// ceiling, mean of its three measures), batch_events/s and x_raw_batch
// (to the mean of the ceilings before and after it); import_findings/s,
// import_events/s and x_raw_import (findings/s to the ceilings around it:
// an import's events carry its results in chunks, so its findings, not
// its events, are what compares with one-event appends; decision 106);
// the process's CPUs in use during each phase (batch_cpus, import_cpus)
// and its CPU time per event or finding (batch_cpu_µs/event,
// import_cpu_µs/finding), which the machine's load moves less than the
// rates. CSPM_BENCH_INGEST_CLIENTS sets the batch clients;
// CSPM_BENCH_DEBUG=1 logs each op's figures; CSPM_BENCH_PROFILE_DIR=dir
// writes a CPU profile of each phase there.
//
//	go test -run '^$' -bench HTTPIngest -benchtime 1x -timeout 20m ./cmd/cspm
func BenchmarkHTTPIngest(b *testing.B) {
	p := ingestParams{
		ingest:    time.Duration(benchEnvFloat("CSPM_BENCH_INGEST_SECONDS", 3) * float64(time.Second)),
		ceiling:   time.Duration(benchEnvFloat("CSPM_BENCH_CEILING_SECONDS", 2) * float64(time.Second)),
		imports:   int(benchEnvFloat("CSPM_BENCH_INGEST_IMPORTS", 8)),
		clients:   int(benchEnvFloat("CSPM_BENCH_INGEST_CLIENTS", 4)),
		importers: 2,
		perImport: 3000,
	}
	var err error
	if p.report, err = os.ReadFile(prowlerTestdata("prowler_v5.4_ocsf_aws_placeholders.ocsf.json")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for _, setup := range []struct {
		prefix string
		roles  []config.Role
	}{{"", config.AllRoles}, {"api_only_", []config.Role{config.RoleAPI}}} {
		f := runIngest(b, p, setup.roles)
		n := float64(b.N)
		b.ReportMetric(f.raw/n, setup.prefix+"raw_events/s")
		b.ReportMetric(f.batch/n, setup.prefix+"batch_events/s")
		b.ReportMetric(f.batchX/n, setup.prefix+"x_raw_batch")
		b.ReportMetric(f.importFindings/n, setup.prefix+"import_findings/s")
		b.ReportMetric(f.importEvents/n, setup.prefix+"import_events/s")
		b.ReportMetric(f.importX/n, setup.prefix+"x_raw_import")
		b.ReportMetric(f.batchCPUs/n, setup.prefix+"batch_cpus")
		b.ReportMetric(f.importCPUs/n, setup.prefix+"import_cpus")
		b.ReportMetric(f.batchCPUPerEvent/n, setup.prefix+"batch_cpu_µs/event")
		b.ReportMetric(f.importCPUPerFinding/n, setup.prefix+"import_cpu_µs/finding")
		if p.rawBytes == 0 {
			p.rawBytes = f.rawBytes
		}
	}
	b.ReportMetric(p.rawBytes, "raw_bytes/event")
}

// ingestParams shape BenchmarkHTTPIngest.
type ingestParams struct {
	ingest, ceiling             time.Duration // the batch phase, each ceiling measure
	imports, clients, importers int           // reports per op, batch clients, import clients
	perImport                   int           // findings per report
	report                      []byte        // the Prowler report the imported ones are made of
	rawBytes                    float64
}

// ingestFigures are BenchmarkHTTPIngest's sums over its ops.
type ingestFigures struct {
	raw, batch, batchX, importFindings, importEvents, importX, batchCPUs, importCPUs float64
	batchCPUPerEvent, importCPUPerFinding                                            float64 // the process's CPU µs
	rawBytes                                                                         float64
}

// runIngest boots the app with roles and runs b.N ops of the batch phase
// and the import phase, the raw ceiling measured before, between and
// after them.
func runIngest(b *testing.B, p ingestParams, roles []config.Role) ingestFigures {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.AuditDir = b.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RateLimit = 0
	cfg.Roles = roles
	var (
		srv   *api.Server
		store eventstore.Store
		reg   *dbregistry.Registry
	)
	app := fxtest.New(b, serveOptions(cfg, io.Discard), fx.Populate(&srv, &store, &reg))
	app.RequireStart()
	defer app.RequireStop()
	useAppKey(b, cfg.DataDir, srv.Addr())
	ctx := context.Background()
	in := &ingest{
		base:        "http://" + srv.Addr(),
		client:      &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute},
		store:       store,
		projections: cfg.HasRole(config.RoleProjector),
	}

	// One running scan per batch client, and a first batch each (not
	// counted) whose stored rows the raw ceiling inserts again.
	scans := make([]string, p.clients)
	for i := range scans {
		scans[i] = fmt.Sprintf("ingest-%d", i)
		if _, _, err := requestScan(ctx, in.client, in.base, scans[i]); err != nil {
			b.Fatal(err)
		}
		if err := in.post(ctx, "/api/v1/scans/"+scans[i]+"/start", "application/json", nil, "", http.StatusAccepted, nil); err != nil {
			b.Fatal(err)
		}
		if err := in.raise(ctx, scans[i], "warm-"+scans[i]); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := sqlitebench.Sample(ctx, reg.SQLiteFile(cfg.DataDir, dbregistry.EVENTS), "FindingRaised", 100)
	if err != nil {
		b.Fatal(err)
	}
	ceiling, err := sqlitebench.OpenCeiling(ctx, filepath.Join(b.TempDir(), "raw.sqlite"), string(cfg.SQLiteSync), rows, 100)
	if err != nil {
		b.Fatal(err)
	}
	defer ceiling.Close()
	f := ingestFigures{rawBytes: float64(rows.Bytes()) / float64(rows.Len())}

	measureCeiling := func() float64 {
		if err := in.caughtUp(ctx); err != nil {
			b.Fatal(err)
		}
		r, err := ceiling.Rate(ctx, p.ceiling)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	var seq atomic.Int64
	for op := range b.N {
		reports := make([][]byte, p.imports)
		for i := range reports {
			reports[i] = prowlerReport(p.report, fmt.Sprintf("%012d", 100_000_000_000+op*p.imports+i), p.perImport)
		}
		c0 := measureCeiling()

		// The batch route, for p.ingest.
		stopProfile := phaseProfile(b, "batch", roles)
		ph := in.begin(ctx, b)
		end := time.Now().Add(p.ingest)
		var wg sync.WaitGroup
		errs := make(chan error, p.clients+p.importers)
		for c := range p.clients {
			wg.Go(func() {
				for time.Now().Before(end) {
					if err := in.raise(ctx, scans[c], fmt.Sprintf("op%d-%d", op, seq.Add(1))); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		events, took, cpus := ph.end(ctx, b)
		stopProfile()
		opBatch, batchCPUs := float64(events)/took.Seconds(), cpus
		f.batchCPUs += cpus
		f.batchCPUPerEvent += cpus * took.Seconds() * 1e6 / float64(events)
		c1 := measureCeiling()

		// Imports: every report, p.importers at a time.
		stopProfile = phaseProfile(b, "import", roles)
		ph = in.begin(ctx, b)
		next := atomic.Int64{}
		var findings atomic.Int64
		for range p.importers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(reports); i = int(next.Add(1)) - 1 {
					n, err := in.importReport(ctx, reports[i])
					if err != nil {
						errs <- err
						return
					}
					findings.Add(int64(n))
				}
			})
		}
		wg.Wait()
		events, took, cpus = ph.end(ctx, b)
		stopProfile()
		opImport := float64(findings.Load()) / took.Seconds()
		f.importEvents += float64(events) / took.Seconds()
		f.importCPUs += cpus
		f.importCPUPerFinding += cpus * took.Seconds() * 1e6 / float64(findings.Load())
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		if want := int64(p.imports * p.perImport); findings.Load() != want {
			b.Fatalf("imports counted %d findings, want %d", findings.Load(), want)
		}
		c2 := measureCeiling()

		f.raw += (c0 + c1 + c2) / 3
		f.batch += opBatch
		f.importFindings += opImport
		f.batchX += opBatch / ((c0 + c1) / 2)
		f.importX += opImport / ((c1 + c2) / 2)
		if os.Getenv("CSPM_BENCH_DEBUG") != "" {
			b.Logf("roles %s, op %d: ceiling %.0f / %.0f / %.0f events/s; batch %.0f events/s (%.2f cpus); import %.0f findings/s (%.2f cpus)",
				config.JoinRoles(roles), op, c0, c1, c2, opBatch, batchCPUs, opImport, cpus)
		}
	}
	return f
}

// benchEnvFloat is the number in the environment variable name, or def.
func benchEnvFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// ingest drives the app's ingest routes.
type ingest struct {
	base   string
	client *http.Client
	store  eventstore.Store
	// projections: the app runs the projections (caughtUp waits for them).
	projections bool
}

// post sends body to path and decodes the answer's data into out (when
// not nil); any status but want is an error.
func (in *ingest) post(ctx context.Context, path, contentType string, body []byte, idemKey string, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	authorize(req)
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %d, want %d: %s", path, resp.StatusCode, want, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, &struct {
		Data any `json:"data"`
	}{Data: out})
}

// The findings of a batch: Prowler-like checks on AWS resources, every
// severity, ~300 bytes each.
var (
	benchChecks = []string{"s3_bucket_default_encryption", "iam_user_mfa_enabled_console_access", "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
		"cloudtrail_multi_region_enabled", "rds_instance_storage_encrypted", "kms_cmk_rotation_enabled"}
	benchSeverities = []string{"critical", "high", "medium", "low", "informational"}
	benchRegions    = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1"}
)

// raise posts a batch of 100 findings to scan under the idempotency key
// key and checks that 100 were appended.
func (in *ingest) raise(ctx context.Context, scan, key string) error {
	var body bytes.Buffer
	body.WriteString(`{"findings":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		check := benchChecks[i%len(benchChecks)]
		fmt.Fprintf(&body, `{"check_id":%q,"title":"%s failed for the resource","severity":%q,"resource_id":"arn:aws:s3:::%s-%s-%03d","region":%q,"description":"Prowler reported %s as FAIL on this resource during the scheduled scan; see the remediation in the check's documentation."}`,
			check, check, benchSeverities[i%len(benchSeverities)], scan, key, i, benchRegions[i%len(benchRegions)], check)
	}
	body.WriteString(`]}`)
	var res api.BatchCommandResult
	if err := in.post(ctx, "/api/v1/scans/"+scan+"/findings", "application/json", body.Bytes(), key, http.StatusAccepted, &res); err != nil {
		return err
	}
	if len(res.Items) != 100 {
		return fmt.Errorf("raise %s: %d items, want 100", key, len(res.Items))
	}
	return nil
}

// importReport posts a Prowler OCSF report and returns its findings.
func (in *ingest) importReport(ctx context.Context, report []byte) (int, error) {
	var res cscmd.ImportResult
	if err := in.post(ctx, "/api/v1/imports?format=prowler-ocsf", "application/json", report, "", http.StatusAccepted, &res); err != nil {
		return 0, err
	}
	if res.Status != cscmd.ImportCompleted || res.Counts == nil {
		return 0, fmt.Errorf("import %s: %s %s", res.ImportID, res.Status, res.Reason)
	}
	return res.Counts.Results, nil
}

// caughtUp returns once every projection has caught up with the store's
// head (polled: a benchmark's pause between phases, not a test's
// synchronization).
func (in *ingest) caughtUp(ctx context.Context) error {
	if !in.projections {
		return nil
	}
	head, err := in.store.HeadPosition(ctx)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.base+"/api/v1/projections", nil)
		if err != nil {
			return err
		}
		authorize(req)
		resp, err := in.client.Do(req)
		if err != nil {
			return err
		}
		var env struct{ Data []api.ProjectionStatus }
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if err != nil {
			return err
		}
		behind := 0
		for _, p := range env.Data {
			if p.Processed < head {
				behind++
			}
		}
		if behind == 0 && len(env.Data) > 0 {
			return nil
		}
	}
	return fmt.Errorf("the projections did not reach position %d in 10 minutes", head)
}

// phase measures one ingest phase: the store's head and the process's CPU
// time at its start.
type phase struct {
	store eventstore.Store
	head  int64
	t0    time.Time
	cpu   time.Duration
}

func (in *ingest) begin(ctx context.Context, b *testing.B) phase {
	head, err := in.store.HeadPosition(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return phase{store: in.store, head: head, t0: time.Now(), cpu: cpuTime()}
}

// end returns the events the store appended since begin, the time taken
// and the CPUs the process used meanwhile.
func (p phase) end(ctx context.Context, b *testing.B) (int64, time.Duration, float64) {
	took, cpu := time.Since(p.t0), cpuTime()-p.cpu
	head, err := p.store.HeadPosition(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return head - p.head, took, cpu.Seconds() / took.Seconds()
}

// prowlerReport is a Prowler OCSF report of n findings (rounded up to the
// template's) for one AWS account: the template's findings (a real
// Prowler report with placeholders) copied, each copy's placeholders
// filled in with its own finding uid, resource and region.
func prowlerReport(template []byte, account string, n int) []byte {
	var records []json.RawMessage
	if err := json.Unmarshal(template, &records); err != nil {
		panic(err)
	}
	out := bytes.NewBufferString("[")
	for k := 0; k*len(records) < n; k++ {
		region := benchRegions[k%len(benchRegions)]
		r := strings.NewReplacer(
			"<finding_uid>", fmt.Sprintf("prowler-aws-%s-%s-%06d", account, region, k),
			"arn:aws:iam::<account_uid>:root", fmt.Sprintf("arn:aws:iam::%s:role/role-%06d", account, k),
			"<resource_uid>", fmt.Sprintf("arn:aws:accessanalyzer:%s:%s:analyzer/analyzer-%06d", region, account, k),
			"<resource_arn>", fmt.Sprintf("arn:aws:accessanalyzer:%s:%s:analyzer/analyzer-%06d", region, account, k),
			"<resource_name>", fmt.Sprintf("analyzer-%06d", k),
			"<account_uid>", account, "<account_name>", "bench-"+account,
			"<region>", region, "<prowler_version>", "5.4.0", "<value>", "bench")
		for i, rec := range records {
			if k > 0 || i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(r.Replace(string(rec)))
		}
	}
	out.WriteString("]")
	return out.Bytes()
}

// phaseProfile writes a CPU profile of one phase to
// $CSPM_BENCH_PROFILE_DIR/<name>-<roles>.pprof when that variable is set.
func phaseProfile(b *testing.B, name string, roles []config.Role) func() {
	dir := os.Getenv("CSPM_BENCH_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+"-"+strings.ReplaceAll(config.JoinRoles(roles), ",", "-")+".pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
