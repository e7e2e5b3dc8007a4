package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBusOutage: with cspm on an external nats-server (a separate
// process), commands are accepted while NATS is down, queries answer
// stale meanwhile, and the read models converge once it is back.
func TestBusOutage(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	nats := startNATS(t, natsBinary.get(t), t.TempDir(), freePort(t))

	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_NATS_URL="+nats.url(), "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s", "--read-wait-timeout", "500ms")
	live := &liveServer{}
	live.replace(srv)
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	f := newFacts()

	lifecycles := func(from, to int) { t.Helper(); scanLifecycles(t, ctx, live, f, "bus", from, to) }

	lifecycles(0, 10)
	converge(t, srv.base, f)

	// NATS goes away; commands are still accepted (the event store is the
	// outbox), and a query that asks for them answers stale.
	nats.kill(t)
	lifecycles(10, 25)
	requireNotReady(t, srv.base, "bus")
	_, _, _, last := f.snapshot()
	a, err := callAPI(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/dashboard/summary?min_position=%d", srv.base, last), nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.raw)
	assert.True(t, a.env.Meta.Stale, "the projections cannot see events while NATS is down: %s", a.raw)
	assert.Less(t, a.env.Meta.Position, last)

	// NATS is back (same store, same port): everything arrives, once.
	nats = startNATS(t, natsBinary.get(t), nats.dir, nats.port)
	lifecycles(25, 30)
	converge(t, srv.base, f)
	srv.waitReady(t)
	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", srv.logs)
}

// TestBusWiped: NATS comes back empty (its storage lost). The relay
// recreates the event stream and republishes the store from position 1;
// the projections resume from their checkpoints; nothing is lost or
// applied twice, without a restart of cspm.
func TestBusWiped(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	nats := startNATS(t, natsBinary.get(t), t.TempDir(), freePort(t))
	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_NATS_URL="+nats.url(), "CSPM_RATE_LIMIT=0")
	srv := startServe(t, bin, env, "--http-addr", "127.0.0.1:0", "--read-wait-timeout", "500ms", "--stall-timeout", "2s")
	live := &liveServer{}
	live.replace(srv)
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	f := newFacts()
	lifecycles := func(from, to int) { t.Helper(); scanLifecycles(t, ctx, live, f, "wipe", from, to) }

	lifecycles(0, 10)
	converge(t, srv.base, f)
	srv.waitReady(t)

	nats.kill(t)
	require.NoError(t, os.RemoveAll(nats.dir))
	lifecycles(10, 20)
	requireNotReady(t, srv.base, "bus")
	nats = startNATS(t, natsBinary.get(t), t.TempDir(), nats.port) // empty
	lifecycles(20, 25)
	converge(t, srv.base, f)
	srv.waitReady(t)
	assert.Contains(t, srv.logs.String(), "event stream missing: recreating it")
	assert.Equal(t, 0, srv.stop(t, syscall.SIGTERM), "clean exit; logs:\n%s", srv.logs)
}

// scanLifecycles runs scans prefix-from .. prefix-(to-1) through request,
// start and one finding each, recording every acknowledged command.
func scanLifecycles(t *testing.T, ctx context.Context, live *liveServer, f *facts, prefix string, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		id := fmt.Sprintf("%s-%03d", prefix, n)
		a, err := live.do(ctx, http.MethodPost, "/api/v1/scans", map[string]any{
			"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, id+"/request")
		require.NoError(t, err)
		f.ack(a.env.Meta.Position, func(f *facts) { f.scans[id] = "requested" })
		a, err = live.do(ctx, http.MethodPost, "/api/v1/scans/"+id+"/start", nil, id+"/start")
		require.NoError(t, err)
		f.ack(a.env.Meta.Position, func(f *facts) { f.scans[id] = "running" })
		sev := severities[n%len(severities)]
		a, err = live.do(ctx, http.MethodPost, "/api/v1/scans/"+id+"/findings", map[string]any{"findings": []map[string]any{
			{"check_id": "c", "title": "t", "severity": sev, "resource_id": id}}}, id+"/findings")
		require.NoError(t, err)
		f.ack(a.env.Meta.Position, func(f *facts) { f.bySeverity[sev]++; f.perScan[id]++ })
	}
}

// requireNotReady waits until /readyz answers 503 naming check, and
// returns that check's reason.
func requireNotReady(t *testing.T, base, check string) string {
	t.Helper()
	var last string
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(60 * time.Second)
	for time.Now().Before(end) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Details []struct {
						Check   string `json:"check"`
						Message string `json:"message"`
					} `json:"details"`
				} `json:"error"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, raw)
			if resp.StatusCode == http.StatusServiceUnavailable && json.Unmarshal(raw, &body) == nil {
				for _, d := range body.Error.Details {
					if d.Check == check {
						require.Equal(t, "NOT_READY", body.Error.Code)
						t.Logf("/readyz: %s", raw)
						return d.Message
					}
				}
			}
		}
		<-tick.C
	}
	require.Failf(t, "/readyz never failed", "want 503 naming %q; last answer: %s", check, last)
	return ""
}

// natsServer is a nats-server process with JetStream.
type natsServer struct {
	cmd    *exec.Cmd
	exited bool // set by kill, on the test's goroutine
	dir    string
	port   int
	logs   *syncBuffer
	done   chan error
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// startNATS starts nats-server on 127.0.0.1:port with its JetStream store
// under dir, and returns once it accepts connections.
func startNATS(t *testing.T, bin, dir string, port int) *natsServer {
	t.Helper()
	return startNATSCmd(t, exec.Command(bin, "-js", "-sd", filepath.Join(dir, "jetstream"), "-a", "127.0.0.1", "-p", strconv.Itoa(port)), dir, port)
}

// startNATSCmd starts cmd, a nats-server listening on 127.0.0.1:port.
func startNATSCmd(t *testing.T, cmd *exec.Cmd, dir string, port int) *natsServer {
	t.Helper()
	n := &natsServer{cmd: cmd, dir: dir, port: port, logs: &syncBuffer{}, done: make(chan error, 1)}
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	require.NoError(t, n.cmd.Start())
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		if !n.exited {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return n
		}
		select {
		case err := <-n.done:
			t.Fatalf("nats-server exited (%v); logs:\n%s", err, n.logs)
		case <-tick.C:
		}
		if time.Now().After(end) {
			t.Fatalf("nats-server does not accept connections on %d; logs:\n%s", port, n.logs)
		}
	}
}

// kill stops nats-server with SIGKILL and waits for it to exit.
func (n *natsServer) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	<-n.done
	n.exited = true
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
