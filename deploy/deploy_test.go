// Package deploy holds no Go code of the product: its tests check the
// deploy material beside them (compose, Kubernetes, systemd, install.sh,
// Prometheus, Grafana) against the binary it deploys: every setting,
// role, probe route and metric name they use is one cspm has.
package deploy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

// extraEnv are the CSPM_* variables read outside platform/config, with
// the file that reads each (checked: the literal is there).
var extraEnv = map[string]string{
	"CSPM_INTEGRATIONS_KEY":      "../cmd/cspm/wiring_integrations.go",
	"CSPM_INTEGRATIONS_KEY_FILE": "../cmd/cspm/wiring_integrations.go",
	"CSPM_WEBHOOK_TIMEOUT":       "../cmd/cspm/wiring_integrations.go",
	"CSPM_API_KEY":               "../cmd/cspm/wiring_auth.go",
}

// streamNames are JetStream streams cspm creates: named in comments and
// docs of the material, not variables.
var streamNames = map[string]string{
	"CSPM_EVENTS": "../platform/bus/stream.go",
	"CSPM_JOBS":   "../platform/jobqueue/queue.go",
}

// lazyMetrics are vectors that have no series until their first
// observation (a scan job, a webhook attempt), so a fresh process does
// not show them; each is checked in the source that registers it.
var lazyMetrics = map[string]string{
	"cspm_worker_jobs_total":           "../platform/scanworker/metrics.go",
	"cspm_worker_job_duration_seconds": "../platform/scanworker/metrics.go",
	"cspm_webhook_attempts_total":      "../cmd/cspm/wiring_integrations.go",
}

var probeRoutes = []string{"/healthz", "/readyz"}

// deployFiles are the files of the deploy material (not the tests).
func deployFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(path, "tools/") || strings.HasSuffix(path, ".png") {
			return nil
		}
		out = append(out, path)
		return nil
	}))
	return out
}

func read(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(raw)
}

// yamlDocs parses every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(read(t, path)))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			return docs
		}
		require.NoError(t, err, path)
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// Every YAML and JSON file parses.
func TestEveryFileParses(t *testing.T) {
	t.Parallel()
	n := 0
	for _, f := range deployFiles(t) {
		switch filepath.Ext(f) {
		case ".yaml", ".yml":
			assert.NotEmpty(t, yamlDocs(t, f), f)
			n++
		case ".json":
			var v any
			assert.NoError(t, json.Unmarshal([]byte(read(t, f)), &v), f)
			n++
		}
	}
	assert.Greater(t, n, 15, "the deploy material's YAML and JSON files")
}

var envToken = regexp.MustCompile(`\bCSPM_[A-Z0-9_]+\b`)

// Every CSPM_* variable the material sets is a setting of platform/config
// or one of the few read elsewhere.
func TestEnvironmentVariablesExist(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Env] = true
	}
	for name, src := range extraEnv {
		assert.Contains(t, read(t, src), `"`+name+`"`, "%s is read in %s", name, src)
		known[name] = true
	}
	for name, src := range streamNames {
		assert.Contains(t, read(t, src), `"`+name+`"`, "stream %s is named in %s", name, src)
		known[name] = true
	}
	used := 0
	for _, f := range deployFiles(t) {
		for _, v := range envToken.FindAllString(read(t, f), -1) {
			used++
			assert.True(t, known[v], "%s uses %s, which cspm does not read", f, v)
		}
	}
	assert.Greater(t, used, 40)
}

var rolesLine = regexp.MustCompile(`CSPM_ROLES[=:]\s*"?([a-z,]+)`)

// Every role the material starts is a role cspm knows; the k8s
// Deployments carry theirs in an env entry.
func TestRolesExist(t *testing.T) {
	t.Parallel()
	seen := map[config.Role]bool{}
	for _, f := range deployFiles(t) {
		for _, m := range rolesLine.FindAllStringSubmatch(read(t, f), -1) {
			for r := range strings.SplitSeq(m[1], ",") {
				assert.Contains(t, config.KnownRoles, config.Role(r), "%s: role %q", f, r)
				seen[config.Role(r)] = true
			}
		}
	}
	for _, d := range k8sObjects(t, "Deployment") {
		c := container(t, d)
		for _, e := range c["env"].([]any) {
			if e.(map[string]any)["name"] == "CSPM_ROLES" {
				seen[config.Role(e.(map[string]any)["value"].(string))] = true
			}
		}
	}
	for _, r := range config.KnownRoles {
		assert.True(t, seen[r], "no process of role %s in the deploy material", r)
	}
}

// --- compose -----------------------------------------------------------

func composeFile(t *testing.T) map[string]any {
	t.Helper()
	docs := yamlDocs(t, "compose/compose.yaml")
	require.Len(t, docs, 1)
	return docs[0]
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := composeFile(t)
	services := c["services"].(map[string]any)
	volumes := c["volumes"].(map[string]any)
	var cspmServices []string
	for name, raw := range services {
		s := raw.(map[string]any)
		oneShot := s["restart"] == "no"
		if !oneShot {
			assert.Contains(t, s, "healthcheck", "service %s has no health check", name)
		}
		if deps, ok := s["depends_on"].(map[string]any); ok {
			for dep, cond := range deps {
				assert.Contains(t, services, dep, "%s depends on %s", name, dep)
				want := "service_healthy"
				if services[dep].(map[string]any)["restart"] == "no" {
					want = "service_completed_successfully"
				}
				assert.Equal(t, want, cond.(map[string]any)["condition"], "%s waits for %s", name, dep)
			}
		}
		for _, v := range anyList(s["volumes"]) {
			src := strings.SplitN(v.(string), ":", 2)[0]
			if strings.HasPrefix(src, ".") {
				_, err := os.Stat(filepath.Join("compose", src))
				assert.NoError(t, err, "%s mounts %s", name, src)
			} else {
				assert.Contains(t, volumes, src, "%s mounts volume %s", name, src)
			}
		}
		if env, ok := s["environment"].(map[string]any); ok && env["CSPM_ROLES"] != nil {
			cspmServices = append(cspmServices, name)
			assert.Equal(t, "mongo", env["CSPM_STORE"], name)
			assert.Contains(t, env["CSPM_MONGODB_URI"], "replicaSet=rs0", name)
			assert.Equal(t, 3, strings.Count(env["CSPM_NATS_URL"].(string), "nats://"), "%s knows the 3 NATS nodes", name)
			assert.NotEmpty(t, env["CSPM_OPS_ADDR"], "%s can be scraped", name)
			hc := s["healthcheck"].(map[string]any)["test"].([]any)
			assert.Contains(t, probeRoutes, hc[2], "%s health check route", name)
		}
	}
	sort.Strings(cspmServices)
	assert.Equal(t, []string{"api-1", "api-2", "projector-1", "projector-2", "relay-1", "relay-2", "worker-1"}, cspmServices)

	// MongoDB: 3 members of rs0 with a keyfile; NATS: 3 JetStream nodes in one cluster.
	for _, m := range []string{"mongo1", "mongo2", "mongo3"} {
		cmd := strings.Join(toStrings(services[m].(map[string]any)["command"]), " ")
		assert.Contains(t, cmd, "--replSet rs0", m)
		assert.Contains(t, cmd, "--keyFile", m)
	}
	for _, n := range []string{"nats1", "nats2", "nats3"} {
		cmd := strings.Join(toStrings(services[n].(map[string]any)["command"]), " ")
		assert.Contains(t, cmd, "-js", n)
		assert.Contains(t, cmd, "--cluster_name cspm", n)
		assert.Contains(t, cmd, "--routes", n)
	}
	assert.Contains(t, read(t, "compose/compose.yaml"), "rs.initiate(")

	// Prometheus scrapes every cspm process on its ops port.
	var targets []string
	for _, sc := range yamlDocs(t, "prometheus/prometheus.yml")[0]["scrape_configs"].([]any) {
		for _, st := range sc.(map[string]any)["static_configs"].([]any) {
			targets = append(targets, toStrings(st.(map[string]any)["targets"])...)
		}
	}
	for _, s := range cspmServices {
		assert.Contains(t, targets, s+":9091", "Prometheus scrapes %s", s)
	}
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func toStrings(v any) []string {
	var out []string
	for _, x := range anyList(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// --- Kubernetes ----------------------------------------------------------

// k8sObjects are the base's objects of a kind (every kind when empty),
// read from the files its kustomization lists.
func k8sObjects(t *testing.T, kind string) []map[string]any {
	t.Helper()
	k := yamlDocs(t, "k8s/base/kustomization.yaml")[0]
	var out []map[string]any
	for _, r := range toStrings(k["resources"]) {
		for _, d := range yamlDocs(t, filepath.Join("k8s/base", r)) {
			if kind == "" || d["kind"] == kind {
				out = append(out, d)
			}
		}
	}
	return out
}

func container(t *testing.T, d map[string]any) map[string]any {
	t.Helper()
	spec := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	cs := spec["containers"].([]any)
	require.Len(t, cs, 1)
	return cs[0].(map[string]any)
}

func TestKustomizationsListExistingFiles(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"k8s/base", "k8s/overlays/example"} {
		k := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
		var files []string
		files = append(files, toStrings(k["resources"])...)
		for _, p := range anyList(k["patches"]) {
			files = append(files, p.(map[string]any)["path"].(string))
		}
		require.NotEmpty(t, files, dir)
		for _, f := range files {
			_, err := os.Stat(filepath.Join(dir, f))
			assert.NoError(t, err, "%s lists %s", dir, f)
		}
		// Every YAML file of the directory is used.
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if e.Name() != "kustomization.yaml" && strings.HasSuffix(e.Name(), ".yaml") {
				assert.Contains(t, files, e.Name(), "%s: %s is not in the kustomization", dir, e.Name())
			}
		}
	}
}

func TestKubernetesBase(t *testing.T) {
	t.Parallel()
	deployments := k8sObjects(t, "Deployment")
	require.Len(t, deployments, len(config.KnownRoles), "one Deployment per role")
	pdbs := map[string]bool{}
	for _, p := range k8sObjects(t, "PodDisruptionBudget") {
		sel := p["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
		pdbs[sel["app.kubernetes.io/component"].(string)] = true
	}
	for _, d := range deployments {
		name := d["metadata"].(map[string]any)["name"].(string)
		component := d["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)["app.kubernetes.io/component"].(string)
		assert.True(t, pdbs[component], "%s has a PodDisruptionBudget", name)
		c := container(t, d)
		ports := map[string]bool{}
		for _, p := range anyList(c["ports"]) {
			ports[p.(map[string]any)["name"].(string)] = true
		}
		assert.True(t, ports["ops"], "%s exposes the ops port", name)
		for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
			pr, ok := c[probe].(map[string]any)
			if !assert.True(t, ok, "%s has a %s", name, probe) {
				continue
			}
			get := pr["httpGet"].(map[string]any)
			assert.Contains(t, probeRoutes, get["path"], "%s %s", name, probe)
			assert.True(t, ports[get["port"].(string)], "%s %s port %v is a container port", name, probe, get["port"])
		}
		assert.Equal(t, "/readyz", c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"], name)
		res := c["resources"].(map[string]any)
		for _, k := range []string{"requests", "limits"} {
			assert.Contains(t, res[k], "cpu", "%s %s", name, k)
			assert.Contains(t, res[k], "memory", "%s %s", name, k)
		}
		sc := c["securityContext"].(map[string]any)
		assert.Equal(t, false, sc["allowPrivilegeEscalation"], name)
		assert.Equal(t, true, sc["readOnlyRootFilesystem"], name)
	}
	svcs := k8sObjects(t, "Service")
	require.Len(t, svcs, 1)
	assert.Equal(t, "api", svcs[0]["spec"].(map[string]any)["selector"].(map[string]any)["app.kubernetes.io/component"])
	assert.NotEmpty(t, k8sObjects(t, "NetworkPolicy"))
	require.Len(t, k8sObjects(t, "Secret"), 1)
	for key := range k8sObjects(t, "Secret")[0]["stringData"].(map[string]any) {
		assert.Contains(t, []string{"mongodb-uri", "audit.key", "integrations-key", "api-key"}, key)
	}
}

// --- systemd -------------------------------------------------------------

func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	hardening := []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "ReadWritePaths=", "PrivateDevices=yes", "SystemCallFilter=@system-service",
		"RestrictAddressFamilies=", "ProtectKernelTunables=yes", "User=cspm"}
	for _, r := range config.KnownRoles {
		unit := read(t, filepath.Join("systemd", "cspm-"+string(r)+".service"))
		for _, h := range hardening {
			assert.Contains(t, unit, h, "cspm-%s.service", r)
		}
		assert.Contains(t, unit, "EnvironmentFile=/etc/cspm/"+string(r)+".env")
		env := read(t, filepath.Join("systemd", string(r)+".env"))
		assert.Contains(t, env, "CSPM_ROLES="+string(r)+"\n")
		assert.Contains(t, env, "CSPM_OPS_ADDR=")
	}
}

// install.sh in a throwaway root: the first run writes the layout, the
// second changes nothing (same files, same modes, same contents, and it
// says so); a dry run prints every step and writes nothing.
func TestInstallScriptIdempotent(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "cspm")
	require.NoError(t, os.WriteFile(bin, []byte("a stand-in for the binary\n"), 0o755))
	run := func(args ...string) string {
		out, err := exec.Command("bash", append([]string{"install.sh", "--binary", bin}, args...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}

	dry := t.TempDir()
	out := run("--dry-run", "--root", dry)
	assert.Equal(t, map[string]string{}, snapshot(t, dry), "a dry run writes nothing")
	assert.Contains(t, out, "(dry run: none made)")
	first := strings.Count(out, "\nwould ")

	root := t.TempDir()
	out = run("--root", root)
	assert.Equal(t, first, strings.Count(out, "\nchange "), "the dry run printed every step the run made:\n%s", out)
	after1 := snapshot(t, root)
	for _, f := range []string{"usr/local/bin/cspm", "etc/cspm/cspm.env", "etc/cspm/api.env", "etc/cspm/integrations.key",
		"var/lib/cspm-audit/audit.key", "etc/mongod.conf", "etc/nats-server.conf", "etc/mongodb/keyfile",
		"etc/systemd/system/cspm-api.service", "etc/systemd/system/cspm-worker.service"} {
		assert.Contains(t, after1, f)
	}
	assert.Contains(t, read(t, filepath.Join(root, "etc/mongod.conf")), "replSetName: rs0")
	assert.Contains(t, read(t, filepath.Join(root, "etc/nats-server.conf")), "jetstream")
	assert.Regexp(t, `^[0-9a-f]{64}\n$`, read(t, filepath.Join(root, "var/lib/cspm-audit/audit.key")))
	assert.Regexp(t, `CSPM_MONGODB_URI=mongodb://cspm:[0-9a-f]{48}@127.0.0.1:27017/\?authSource=admin&replicaSet=rs0`, read(t, filepath.Join(root, "etc/cspm/cspm.env")))

	out = run("--root", root)
	assert.Contains(t, out, "install.sh: 0 change(s)")
	assert.NotContains(t, out, "\nchange ")
	assert.Equal(t, after1, snapshot(t, root), "the second run changed nothing")
}

// snapshot is every file and directory under root with its mode and
// content hash.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		v := info.Mode().String()
		if !d.IsDir() {
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(raw)
			v += " " + hex.EncodeToString(sum[:])
		}
		out[rel] = v
		return nil
	}))
	return out
}

// --- the running binary: probes and metric names -----------------------

// PromQL identifiers that are metric names: cspm_* and up.
var metricToken = regexp.MustCompile(`\b(cspm_[a-z0-9_]+|up)\b`)

func queriedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal([]byte(read(t, "grafana/cspm.json")), &dash))
	panels := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			panels++
			for _, m := range metricToken.FindAllString(tg.Expr, -1) {
				out[m] = append(out[m], "dashboard panel "+p.Title)
			}
		}
	}
	require.Greater(t, panels, 10)
	for _, g := range yamlDocs(t, "prometheus/alerts.yaml")[0]["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			for _, m := range metricToken.FindAllString(rule["expr"].(string), -1) {
				out[m] = append(out[m], "alert "+rule["alert"].(string))
			}
		}
	}
	return out
}

// The binary, started with every role and the ops listener, answers the
// probe routes on both ports, and registers every metric the dashboard
// and the alert rules query (histograms by their _bucket series).
func TestProbesAndMetricNamesAgainstTheBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "cspm")
	build := exec.Command("go", "build", "-o", bin, "../cmd/cspm")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--roles", "api,relay,projector,worker",
		"--data-dir", filepath.Join(dir, "data"), "--audit-dir", filepath.Join(dir, "audit"),
		"--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})

	// Both listeners log their address when they listen.
	var apiAddr, opsAddr string
	sc := bufio.NewScanner(stderr)
	for (apiAddr == "" || opsAddr == "") && sc.Scan() {
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "http server listening":
			apiAddr = line.Addr
		case "ops endpoints listening":
			opsAddr = line.Addr
		}
	}
	require.NotEmpty(t, apiAddr, "the API listens")
	require.NotEmpty(t, opsAddr, "the ops listener listens")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	for _, addr := range []string{apiAddr, opsAddr} {
		for _, route := range probeRoutes {
			code, body := get("http://" + addr + route)
			assert.Equal(t, http.StatusOK, code, "%s%s: %s", addr, route, body)
		}
	}

	// The image's health probe (bash, no curl) against the ops port.
	_, port, _ := strings.Cut(opsAddr, ":")
	for path, ok := range map[string]bool{"/readyz": true, "/healthz": true, "/nowhere": false} {
		err := exec.Command("bash", "docker/cspm-probe", path, port).Run()
		assert.Equal(t, ok, err == nil, "cspm-probe %s %s: %v", path, port, err)
	}

	_, metrics := get("http://" + opsAddr + "/metrics")
	registered := map[string]bool{"up": true} // Prometheus's own
	for line := range strings.SplitSeq(metrics, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			registered[strings.Fields(name)[0]] = true
		}
	}
	for name, src := range lazyMetrics {
		assert.Contains(t, read(t, src), `"`+name+`"`, "%s is registered in %s", name, src)
		registered[name] = true
	}
	for name, where := range queriedMetrics(t) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && registered[b] {
				base = b
			}
		}
		assert.True(t, registered[base], "%s queries %s, which the binary does not register", slices.Compact(where), name)
	}
}

// Every alert rule is described in docs/operations.md, and its runbook
// link names a heading there.
func TestAlertsDocumented(t *testing.T) {
	t.Parallel()
	doc := read(t, "../docs/operations.md")
	anchors := map[string]bool{}
	for line := range strings.SplitSeq(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[strings.ReplaceAll(strings.ToLower(h), " ", "-")] = true
		}
	}
	rules := 0
	for _, g := range yamlDocs(t, "prometheus/alerts.yaml")[0]["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			rules++
			name := rule["alert"].(string)
			assert.Contains(t, doc, "`"+name+"`", "docs/operations.md describes %s", name)
			if rb, ok := rule["annotations"].(map[string]any)["runbook"].(string); ok {
				_, anchor, _ := strings.Cut(rb, "#")
				assert.True(t, anchors[anchor], "%s: runbook %s has no heading in docs/operations.md", name, rb)
			}
		}
	}
	assert.Greater(t, rules, 8)
}

// load is what `cspm serve` would make of env: the configuration, or
// every problem it reports before touching anything.
func load(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	l := config.Register(fs, config.AllGroups)
	require.NoError(t, fs.Parse(nil))
	return l.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// envFile reads KEY=VALUE lines.
func envFile(t *testing.T, path string, into map[string]string) {
	t.Helper()
	for line := range strings.SplitSeq(read(t, path), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			into[k] = v
		}
	}
}

var composeVar = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

// The settings each process of each shape starts with are valid: cspm
// would start with them (compose with its default passwords, systemd with
// the files install.sh writes), and the Kubernetes Secret's placeholders
// are refused, each by what reads it.
func TestSettingsValidatePerProcess(t *testing.T) {
	t.Parallel()
	for name, raw := range composeFile(t)["services"].(map[string]any) {
		env, ok := raw.(map[string]any)["environment"].(map[string]any)
		if !ok || env["CSPM_ROLES"] == nil {
			continue
		}
		vars := map[string]string{}
		for k, v := range env {
			vars[k] = composeVar.ReplaceAllString(fmt.Sprint(v), "$1")
		}
		cfg, err := load(t, vars)
		require.NoError(t, err, "compose service %s", name)
		assert.Equal(t, config.StoreMongo, cfg.Store, name)
		assert.False(t, cfg.EmbeddedNATS(), name)
	}

	for _, r := range config.KnownRoles {
		vars := map[string]string{}
		envFile(t, "systemd/cspm.env", vars)
		envFile(t, filepath.Join("systemd", string(r)+".env"), vars)
		cfg, err := load(t, vars)
		require.NoError(t, err, "systemd unit of %s", r)
		assert.Equal(t, []config.Role{r}, cfg.Roles)
		assert.NotEmpty(t, cfg.OpsAddr)
	}

	cm := k8sObjects(t, "ConfigMap")[0]["data"].(map[string]any)
	secret := k8sObjects(t, "Secret")[0]["stringData"].(map[string]any)
	vars := map[string]string{"CSPM_ROLES": "api", "CSPM_MONGODB_URI": secret["mongodb-uri"].(string)}
	for k, v := range cm {
		vars[k] = v.(string)
	}
	_, err := load(t, vars)
	require.Error(t, err, "the Secret's MongoDB URI placeholder is refused")
	assert.Contains(t, err.Error(), "CSPM_MONGODB_URI")
	vars["CSPM_MONGODB_URI"] = "mongodb://cspm:pw@mongo-0.mongo,mongo-1.mongo,mongo-2.mongo/?replicaSet=rs0"
	_, err = load(t, vars)
	require.NoError(t, err, "the ConfigMap with a real URI")

	keyFile := filepath.Join(t.TempDir(), "audit.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(secret["audit.key"].(string)), 0o600))
	_, err = eventstore.ReadAuditKeyFile(keyFile)
	assert.Error(t, err, "the audit key placeholder is refused")
	_, err = secretbox.ParseKeys(secret["integrations-key"].(string))
	assert.Error(t, err, "the integrations key placeholder is refused")
}
