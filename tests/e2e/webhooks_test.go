package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	in "github.com/cspm-es/cspm-es/domain/integrations"
)

// TestWebhookKilledMidDelivery: the built binary is killed (SIGKILL) while
// its receiver holds a delivery's request, so the attempt's outcome is
// never recorded. Restarted on the same data directory, it sends that
// delivery again (the one duplicate the at-least-once contract allows:
// the acknowledgement was not recorded) and the others; every delivery
// is acknowledged, none is sent after its acknowledgement was recorded,
// and the delivery log says delivered.
func TestWebhookKilledMidDelivery(t *testing.T) {
	t.Parallel()
	bin := buildCSPM(t)
	const secret = "e2e-webhook-secret-0123456789"

	type hit struct {
		id   string
		ok   bool
		held bool
	}
	var (
		mu    sync.Mutex
		hits  []hit
		acked = map[string]bool{}
		after = map[string]int{}
		bad   int
	)
	held := make(chan string, 1)
	release := make(chan struct{})
	var holdOnce sync.Once
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(in.HeaderTimestamp), 10, 64)
		id := r.Header.Get(in.HeaderDelivery)
		if !in.Verify([]byte(secret), ts, body, r.Header.Get(in.HeaderSignature)) {
			mu.Lock()
			bad++
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hold := false
		holdOnce.Do(func() { hold = true })
		if hold {
			mu.Lock()
			hits = append(hits, hit{id: id, held: true})
			mu.Unlock()
			held <- id
			<-release // the server is killed meanwhile
			return
		}
		mu.Lock()
		if acked[id] {
			after[id]++
		}
		acked[id] = true
		hits = append(hits, hit{id: id, ok: true})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	t.Cleanup(func() { holdOnce.Do(func() {}); close(release) })

	dataDir := t.TempDir()
	env := cleanEnv("CSPM_DATA_DIR="+dataDir, "CSPM_RATE_LIMIT=0")
	args := []string{"--http-addr", "127.0.0.1:0", "--shutdown-timeout", "10s"}
	s := startServe(t, bin, env, args...)
	s.waitReady(t)
	hook := s.post(t, "/api/v1/integrations", map[string]any{"name": "e2e", "kind": "webhook", "config": map[string]any{"url": rcv.URL},
		"event_kinds": []string{"scan_run_failed"}, "secret": secret}, http.StatusCreated)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal(hook.Data, &created))
	const scans = 3
	for i := range scans {
		id := "e2e-wh-" + strconv.Itoa(i)
		s.post(t, "/api/v1/scans", map[string]any{"scan_id": id, "account_id": "123456789012", "provider": "aws", "tool": "prowler"}, http.StatusCreated)
		s.post(t, "/api/v1/scans/"+id+"/start", nil, http.StatusAccepted)
		s.post(t, "/api/v1/scans/"+id+"/fail", map[string]any{"reason": "e2e"}, http.StatusAccepted)
	}

	var first string
	select {
	case first = <-held:
	case <-time.After(time.Until(deadline(t))):
		t.Fatalf("no delivery arrived; logs:\n%s", s.logs)
	}
	s.stop(t, syscall.SIGKILL) // mid-delivery: the receiver has the request, the server never hears back

	s = startServe(t, bin, env, args...)
	s.waitReady(t)
	end := deadline(t)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n == scans {
			break
		}
		require.True(t, time.Now().Before(end), "deliveries acknowledged: %d of %d; logs:\n%s", n, scans, s.logs)
		time.Sleep(50 * time.Millisecond) // polling the receiver's state, not synchronising
	}

	// The log says delivered, once the projection has the acknowledgements.
	var log []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	for {
		req, err := http.NewRequest(http.MethodGet, s.base+"/api/v1/integrations/"+created.ID+"/deliveries?status=delivered", nil)
		require.NoError(t, err)
		authorize(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
		resp.Body.Close()
		require.NoError(t, json.Unmarshal(env.Data, &log))
		if len(log) == scans {
			break
		}
		require.True(t, time.Now().Before(end), "delivered in the log: %d of %d", len(log), scans)
		time.Sleep(50 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, bad, "every request signed")
	assert.True(t, acked[first], "the delivery held when the server died was sent again and acknowledged")
	for id, n := range after {
		assert.Zero(t, n, "delivery %s sent again after its acknowledgement", id)
	}
	perID := map[string]int{}
	for _, h := range hits {
		perID[h.id]++
	}
	assert.Equal(t, 2, perID[first], "the unrecorded attempt and its retry")
	for id, n := range perID {
		if id != first {
			assert.Equal(t, 1, n, "delivery %s", id)
		}
	}
}
