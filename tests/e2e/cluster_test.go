package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeveralProcessesOnANATSCluster runs the production topology on
// loopback: a 3-node NATS JetStream cluster (the event stream and the
// lease bucket with 3 replicas), 2 api, 2 relay and 3 projector processes.
// The processes share one data directory's embedded SQLite stores (the
// event store and the 14 module databases): that stands in for the
// MongoDB replica set they would share across hosts, which cannot run
// here (docs/projections-runtime.md, "Several processes"), and two
// `cspm worker` processes. Under a mixed workload sent to both api
// processes (scan lifecycles in one team; a scan run whose jobs the
// workers run and a Prowler import in another) it kills a NATS node, the relay
// leader and a projector (SIGKILL), and restarts them; at the end every
// acknowledged command is in the read models exactly once, every job ran
// and was imported once, every projection has a live owner, and `cspm
// events verify` passes.
func TestSeveralProcessesOnANATSCluster(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	natsBin := natsBinary.get(t)

	// The NATS cluster.
	const nodes = 3
	ports, routes := make([]int, nodes), make([]int, nodes)
	for i := range nodes {
		ports[i], routes[i] = freePort(t), freePort(t)
	}
	natsConf := func(i int) string {
		var rs []string
		for j := range nodes {
			if j != i {
				rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", routes[j]))
			}
		}
		return fmt.Sprintf("server_name: n%d\ncluster { name: cspm; listen: 127.0.0.1:%d; routes: [%s] }",
			i+1, routes[i], strings.Join(rs, ", "))
	}
	cluster := make([]*natsServer, nodes)
	urls := make([]string, nodes)
	for i := range nodes {
		cluster[i] = startNATSConfig(t, natsBin, t.TempDir(), ports[i], natsConf(i))
		urls[i] = cluster[i].url()
	}

	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_NATS_URL="+strings.Join(urls, ","), "CSPM_RATE_LIMIT=0",
		"CSPM_STREAM_REPLICAS=3", "CSPM_LEASE_TTL=6s")
	launch := func(node, roles string) *starting {
		return launchRole(t, bin, env, "--roles", roles, "--node-id", node, "--http-addr", "127.0.0.1:0",
			"--ops-addr", "127.0.0.1:0", "--read-wait-timeout", "1s", "--shutdown-timeout", "10s")
	}
	start := func(node, roles string) *server { return launch(node, roles).wait(t) }
	// The first process initialises the store (and writes the admin key);
	// the others start together.
	api1 := start("api-1", "api")
	starts := map[string]*starting{"api-2": launch("api-2", "api"),
		"relay-1": launch("relay-1", "relay"), "relay-2": launch("relay-2", "relay")}
	for _, n := range []string{"proj-1", "proj-2", "proj-3"} {
		starts[n] = launch(n, "projector")
	}
	api2 := starts["api-2"].wait(t)
	relays := map[string]*server{"relay-1": starts["relay-1"].wait(t), "relay-2": starts["relay-2"].wait(t)}
	projectors := map[string]*server{}
	for _, n := range []string{"proj-1", "proj-2", "proj-3"} {
		projectors[n] = starts[n].wait(t)
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	f := newFacts()
	live1, live2 := &liveServer{}, &liveServer{}
	live1.replace(api1)
	live2.replace(api2)
	lifecycles := func(live *liveServer, from, to int) {
		t.Helper()
		scanLifecycles(t, ctx, live, f, "multi", from, to)
	}

	lifecycles(live1, 0, 8)
	lifecycles(live2, 8, 16)
	converge(t, api2.base, f)
	// The mixed workload's other half, in another team: two workers, a
	// scan run whose jobs run across the faults below, a Prowler import
	// (cluster_engine_test.go).
	eng := startClusterEngine(t, bin, env)
	eng.start(t, api1.base, api2.base)
	owners := waitOwners(t, ctx, api1.base, keys(projectors))
	t.Logf("projections per owner: %v", countOwners(owners))

	// Processes without the api role serve their probes and metrics on
	// --ops-addr: who leads, who owns what.
	leader, standby := relayLeader(t, relays)
	assert.Contains(t, get(t, probeURL(t, relays[leader])+"/metrics"), fmt.Sprintf(`cspm_relay_leader{node=%q} 1`, leader))
	assert.Contains(t, get(t, probeURL(t, relays[standby])+"/metrics"), fmt.Sprintf(`cspm_relay_leader{node=%q} 0`, standby))
	for n, p := range projectors {
		base := probeURL(t, p)
		assert.Contains(t, get(t, base+"/readyz"), `"status":"ready"`, n)
		metrics := get(t, base+"/metrics")
		for proj, owner := range owners {
			if owner == n {
				assert.Contains(t, metrics, fmt.Sprintf(`cspm_projection_owned{node=%q,projection=%q} 1`, n, proj))
			}
		}
	}

	// A NATS node dies, and comes back.
	cluster[2].kill(t)
	lifecycles(live1, 16, 24)
	cluster[2] = startNATSConfig(t, natsBin, cluster[2].dir, ports[2], natsConf(2))
	converge(t, api1.base, f)

	// The relay leader dies (SIGKILL): the other one takes over.
	leader, standby = relayLeader(t, relays)
	killed := time.Now()
	relays[leader].stop(t, syscall.SIGKILL)
	lifecycles(live2, 24, 32)
	waitLog(t, relays[standby], "relay leader: this process publishes")
	t.Logf("relay takeover: %s leads %s after %s was killed", standby, time.Since(killed).Round(100*time.Millisecond), leader)
	converge(t, api2.base, f)
	relays[leader] = start(leader, "relay")

	// A projector that owns projections dies (SIGKILL): the others resume
	// them from their checkpoints.
	victim := "proj-2"
	dead := projectors[victim]
	killed = time.Now()
	dead.stop(t, syscall.SIGKILL)
	lifecycles(live1, 32, 40)
	rest := []string{"proj-1", "proj-3"}
	owners = waitOwners(t, ctx, api1.base, rest)
	t.Logf("projector takeover: every projection of %s owned by %v after %s: %v", victim, rest,
		time.Since(killed).Round(100*time.Millisecond), countOwners(owners))
	converge(t, api1.base, f)
	projectors[victim] = start(victim, "projector")

	// Everything is back: more work, then the final check through both
	// api processes.
	lifecycles(live2, 40, 48)
	converge(t, api1.base, f)
	converge(t, api2.base, f)
	owners = waitOwners(t, ctx, api2.base, keys(projectors))
	t.Logf("after the restarts, projections per owner: %v", countOwners(owners))
	r := runCLI(t, bin, env, "projections", "status", "--server", api2.base)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `(?m)^NAME\s+STATE\s+OWNER\s`, r.stdout)
	for proj, owner := range owners {
		assert.Regexp(t, fmt.Sprintf(`(?m)^%s\s+remote\s+%s\s`, regexp.QuoteMeta(proj), owner), r.stdout)
	}

	eng.check(t, api1.base)
	eng.stop(t)

	for _, s := range []*server{api1, api2} {
		assert.Equal(t, 0, s.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", s.logs)
	}
	for _, m := range []map[string]*server{relays, projectors} {
		for n, s := range m {
			assert.Equal(t, 0, s.stop(t, syscall.SIGTERM), "%s: clean exit; logs:\n%s", n, s.logs)
		}
	}
	r = runCLI(t, bin, env, "events", "verify")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "OK: ")
}

// starting is a `cspm serve` launched and not yet known to run.
type starting struct {
	s    *server
	up   chan string
	args []string
}

// launchRole starts `cspm serve` with JSON logs; wait returns once it says
// it runs: an api process once it listens (base is set), another once it
// has started.
func launchRole(t *testing.T, bin string, env []string, args ...string) *starting {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--log-format", "json"}, args...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, logs: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan error, 1), dataDir: dataDirOf(env, args)}
	cmd.Stdout = s.stdout
	require.NoError(t, cmd.Start())
	up := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, s.logs))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && (line.Msg == "cspm serving" || line.Msg == "cspm running") {
				select {
				case up <- line.Listen:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if !s.exited {
			_ = cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("warnings and errors of cspm %s:\n%s", strings.Join(args, " "), warnings(s.logs.String(), 80))
		}
	})
	return &starting{s: s, up: up, args: args}
}

func (st *starting) wait(t *testing.T) *server {
	t.Helper()
	s, up, args := st.s, st.up, st.args
	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case s.base = <-up:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("cspm serve %v exited before it ran (%v); logs:\n%s", args, err, s.logs)
	case <-timer.C:
		t.Fatalf("cspm serve %v did not start; logs:\n%s", args, s.logs)
	}
	if s.base != "" {
		useKey(t, s.base, adminKey(t, filepath.Clean(s.dataDir)))
	}
	return s
}

// probeURL is where s serves its probes (its "ops endpoints listening" log line, --ops-addr).
func probeURL(t *testing.T, s *server) string {
	t.Helper()
	for line := range strings.SplitSeq(s.logs.String(), "\n") {
		var l struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "ops endpoints listening" {
			return "http://" + l.Addr
		}
	}
	t.Fatalf("no ops endpoints line; logs:\n%s", s.logs)
	return ""
}

// relayLeader waits until exactly one relay says it leads and returns it
// and the other one.
func relayLeader(t *testing.T, relays map[string]*server) (leader, standby string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline(t)) {
		var leading []string
		for n, s := range relays {
			if strings.Count(s.logs.String(), "relay leader: this process publishes") > strings.Count(s.logs.String(), "relay leadership ended") {
				leading = append(leading, n)
			}
		}
		if len(leading) == 1 {
			for n := range relays {
				if n != leading[0] {
					return leading[0], n
				}
			}
		}
		<-tick.C
	}
	t.Fatal("no single relay leader")
	return "", ""
}

// waitLog waits until s has logged msg.
func waitLog(t *testing.T, s *server, msg string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(s.logs.String(), msg) {
		if time.Now().After(deadline(t)) {
			t.Fatalf("never logged %q; logs:\n%s", msg, s.logs)
		}
		<-tick.C
	}
}

// waitOwners waits until the projections are shared by nodes (GET
// /api/v1/projections, owner): each owned by one of them, each of them
// owning at least one and at most its share (ceil(projections/nodes)). It
// returns projection -> owner.
func waitOwners(t *testing.T, ctx context.Context, base string, nodes []string) map[string]string {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for ctx.Err() == nil {
		a, err := callAPI(ctx, http.MethodGet, base+"/api/v1/projections", nil, nil)
		if err == nil && a.status == http.StatusOK {
			var sts []struct {
				Name  string `json:"name"`
				Owner string `json:"owner"`
			}
			require.NoError(t, json.Unmarshal(a.env.Data, &sts))
			out, ok := map[string]string{}, true
			for _, s := range sts {
				out[s.Name] = s.Owner
				if !contains(nodes, s.Owner) {
					ok = false
					last = fmt.Sprintf("%s owned by %q", s.Name, s.Owner)
				}
			}
			share := (len(sts) + len(nodes) - 1) / len(nodes)
			for n, c := range countOwners(out) {
				if c > share {
					ok = false
					last = fmt.Sprintf("%s owns %d, more than its share %d", n, c, share)
				}
			}
			if ok && len(countOwners(out)) != len(nodes) {
				ok = false
				last = fmt.Sprintf("owners %v", countOwners(out))
			}
			if ok {
				return out
			}
		}
		<-tick.C
	}
	t.Fatalf("the projections were never all owned by %v (last: %s)", nodes, last)
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func keys(m map[string]*server) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func countOwners(owners map[string]string) map[string]int {
	out := map[string]int{}
	for _, o := range owners {
		out[o]++
	}
	return out
}

// warnings returns the last max WARN and ERROR lines of a JSON log (what a
// failed test shows of a process: the whole log is too long to read).
func warnings(logs string, max int) string {
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	if len(out) > max {
		out = append([]string{fmt.Sprintf("(%d earlier lines left out)", len(out)-max)}, out[len(out)-max:]...)
	}
	return strings.Join(out, "\n")
}
