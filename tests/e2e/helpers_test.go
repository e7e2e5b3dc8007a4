package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildCSPM returns the cspm binary TestMain builds once for the package.
func buildCSPM(t *testing.T) string {
	t.Helper()
	return cspmBinary.get(t)
}

// deadline is when the test must be done: the test's own deadline less a
// margin for cleanup, or five minutes.
func deadline(t *testing.T) time.Time {
	if d, ok := t.Deadline(); ok {
		return d.Add(-10 * time.Second)
	}
	return time.Now().Add(5 * time.Minute)
}

// cleanEnv is the environment without any CSPM_ variable, plus the run's
// audit directory and extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CSPM_") {
			env = append(env, kv)
		}
	}
	// Read your writes waits up to 30 s here (2 s by default): on a loaded
	// CI machine a projection can be seconds behind, and a test reading at
	// min_position asserts the read side catches up, not how fast. A test
	// that wants a short bound passes its own (later entries win).
	return append(append(env, "CSPM_AUDIT_DIR="+auditDir, "CSPM_READ_WAIT_TIMEOUT=30s"), extra...)
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary to completion.
func runCLI(t *testing.T, bin string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run cspm %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// server is a running `cspm serve`.
type server struct {
	cmd     *exec.Cmd
	exited  bool        // set by stop, on the test's goroutine
	base    string      // http://host:port
	dataDir string      // its data directory (where its admin.key is)
	logs    *syncBuffer // stderr: the log
	stdout  *syncBuffer // stdout: the first start's admin key banner, nothing else
	done    chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `cspm serve` with JSON logs and returns once it has said
// where it listens.
func startServe(t *testing.T, bin string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--log-format", "json"}, args...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	s := &server{cmd: cmd, logs: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan error, 1), dataDir: dataDirOf(env, args)}
	cmd.Stdout = s.stdout
	require.NoError(t, cmd.Start())

	listen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, s.logs))
		for sc.Scan() {
			var line struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "cspm serving" {
				select {
				case listen <- line.Listen:
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
	})

	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case s.base = <-listen:
	case err := <-s.done:
		s.done <- err
		t.Fatalf("cspm serve exited before listening (%v); logs:\n%s", err, s.logs)
	case <-timer.C:
		t.Fatalf("cspm serve did not say where it listens; logs:\n%s", s.logs)
	}
	require.True(t, strings.HasPrefix(s.base, "http://127.0.0.1:"), "listen = %q", s.base)
	useKey(t, s.base, adminKey(t, s.dataDir))
	return s
}

// dataDirOf is the data directory a server started with env and args
// uses: --data-dir, else CSPM_DATA_DIR, else ./data.
func dataDirOf(env, args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			return v
		}
		if a == "--data-dir" && i+1 < len(args) {
			return args[i+1]
		}
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CSPM_DATA_DIR="); ok {
			return v
		}
	}
	return "data"
}

// adminKey is the admin key the server's first start wrote to dataDir.
func adminKey(t *testing.T, dataDir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "admin.key"))
	require.NoError(t, err, "the first start writes <data-dir>/admin.key")
	key := strings.TrimSpace(string(raw))
	require.NotEmpty(t, key)
	return key
}

// waitReady polls /readyz until it answers 200 or the deadline passes.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := deadline(t)
	var last string
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if time.Now().After(end) {
			t.Fatalf("/readyz never answered 200 (last: %s); logs:\n%s", last, s.logs)
		}
		<-tick.C
	}
}

// stop sends sig and returns the exit code once the process has exited.
func (s *server) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	timer := time.NewTimer(time.Until(deadline(t)))
	defer timer.Stop()
	select {
	case err := <-s.done:
		s.exited = true
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		require.NoError(t, err)
		return 0
	case <-timer.C:
		t.Fatalf("cspm serve did not exit after %v; logs:\n%s", sig, s.logs)
		return -1
	}
}

// envelope is the API's response envelope.
type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Meta    struct {
		Position int64 `json:"position"`
	} `json:"meta"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// post sends body as JSON and decodes the envelope, requiring status want.
func (s *server) post(t *testing.T, path string, body any, want int) envelope {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(http.MethodPost, s.base+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "POST %s: %s", path, raw)
	var env envelope
	require.NoError(t, json.Unmarshal(raw, &env), "POST %s: %s", path, raw)
	return env
}

// serverKeys maps the host:port of each server a test started to the key
// its requests send.
var serverKeys sync.Map

// useKey makes requests to the server at base send key.
func useKey(t *testing.T, base, key string) {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	serverKeys.Store(u.Host, key)
}

// authorize sets the API key of a test request: the admin key of the
// server it goes to (startServe registers it).
func authorize(req *http.Request) {
	if key, ok := serverKeys.Load(req.URL.Host); ok {
		req.Header.Set("Authorization", "Bearer "+key.(string))
	}
}
