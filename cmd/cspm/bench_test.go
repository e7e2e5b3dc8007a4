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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/config"
)

// BenchmarkCommandToQueryLatency boots the whole app in process (SQLite
// with its default durability, embedded NATS, relay, projector runtime,
// the API on a loopback listener), measures the append ceiling briefly
// (RequestScan commands/s from concurrent clients), then sends b.N
// RequestScans paced at half that rate (open loop: on schedule, whatever
// the answers do) and measures, for each, the time from its 2xx to the
// first answer of GET /api/v1/scans/{id}?min_position=P that shows it.
//
//	go test -run '^$' -bench CommandToQueryLatency -benchtime 3000x ./cmd/cspm
//
// Metrics: ceiling_cmd/s, paced_cmd/s, p50_ms, p99_ms, max_ms (goal: p99 ≤ 25 ms).
// CSPM_BENCH_RATE=N paces at N commands/s instead; CSPM_BENCH_DEBUG=1
// prints the projections' checkpoints and lag every 500ms.
func BenchmarkCommandToQueryLatency(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.AuditDir = b.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RateLimit = 0
	var srv *api.Server
	app := fxtest.New(b, serveOptions(cfg, io.Discard), fx.Populate(&srv))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr()
	useAppKey(b, cfg.DataDir, srv.Addr())
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	ctx := context.Background()

	// 1. The ceiling: as many RequestScans as 32 clients get through in 1.5s.
	const clients, window = 32, 1500 * time.Millisecond
	var done atomic.Int64
	end := time.Now().Add(window)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				if _, _, err := requestScan(ctx, client, base, fmt.Sprintf("ceil-%d", seq.Add(1))); err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	ceiling := float64(done.Load()) / time.Since(start).Seconds()
	rate := ceiling / 2
	if v := os.Getenv("CSPM_BENCH_RATE"); v != "" {
		fmt.Sscan(v, &rate)
	}
	interval := time.Duration(float64(time.Second) / rate)

	// Let the projections catch up with the ceiling run before pacing.
	if _, _, err := requestScan(ctx, client, base, "sync"); err != nil {
		b.Fatal(err)
	}
	waitVisible(ctx, client, base, "sync", 0)

	// 2. Paced at half the ceiling, open loop.
	lat := make([]time.Duration, b.N)
	errs := make(chan error, b.N)
	var inflight sync.WaitGroup
	if os.Getenv("CSPM_BENCH_DEBUG") != "" {
		stopDbg := make(chan struct{})
		defer close(stopDbg)
		go func() {
			for {
				select {
				case <-stopDbg:
					return
				case <-time.After(500 * time.Millisecond):
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/projections", nil)
				authorize(req)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				var env struct{ Data []api.ProjectionStatus }
				_ = json.NewDecoder(resp.Body).Decode(&env)
				resp.Body.Close()
				line := ""
				for _, p := range env.Data {
					line += fmt.Sprintf(" %s cp=%d lag=%d", p.Name, p.Checkpoint, p.LagEvents)
				}
				if len(env.Data) > 0 {
					fmt.Fprintf(os.Stderr, "head=%d%s\n", env.Data[0].Head, line)
				}
			}
		}()
	}
	var before map[string]*histogram
	if os.Getenv("CSPM_BENCH_DEBUG") != "" {
		before = scrapeHistograms(client, base)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	t0 := time.Now()
	for i := range b.N {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // the schedule, not a synchronization
		}
		inflight.Go(func() {
			id := fmt.Sprintf("paced-%d", seq.Add(1))
			acked, pos, err := requestScan(ctx, client, base, id)
			if err != nil {
				errs <- err
				return
			}
			seen, err := waitVisible(ctx, client, base, id, pos)
			if err != nil {
				errs <- err
				return
			}
			lat[i] = seen.Sub(acked)
		})
	}
	inflight.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/elapsed.Seconds(), "cpus")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if os.Getenv("CSPM_BENCH_DEBUG") != "" {
		printHistograms(before, scrapeHistograms(client, base))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(ceiling, "ceiling_cmd/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "paced_cmd/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}

// requestScan sends RequestScan id and returns when its 2xx arrived and
// the command's position.
func requestScan(ctx context.Context, c *http.Client, base, id string) (time.Time, int64, error) {
	body := fmt.Sprintf(`{"scan_id":%q,"account_id":"123456789012","provider":"aws","tool":"prowler"}`, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/scans", bytes.NewReader([]byte(body)))
	if err != nil {
		return time.Time{}, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req)
	resp, err := c.Do(req)
	if err != nil {
		return time.Time{}, 0, err
	}
	defer resp.Body.Close()
	var env struct {
		Meta struct {
			Position int64 `json:"position"`
		} `json:"meta"`
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	at := time.Now()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return at, 0, fmt.Errorf("request scan %s: %d %v", id, resp.StatusCode, err)
	}
	return at, env.Meta.Position, nil
}

// waitVisible queries the scan with min_position until an answer shows
// it (each query waits server-side up to the read-wait bound) and returns
// when that answer arrived.
func waitVisible(ctx context.Context, c *http.Client, base, id string, pos int64) (time.Time, error) {
	for attempt := 0; attempt < 100; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/scans/%s?min_position=%d", base, id, pos), nil)
		if err != nil {
			return time.Time{}, err
		}
		authorize(req)
		resp, err := c.Do(req)
		if err != nil {
			return time.Time{}, err
		}
		var env struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
			Meta struct {
				Stale bool `json:"stale"`
			} `json:"meta"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		at := time.Now()
		if err == nil && resp.StatusCode == http.StatusOK && env.Data.ID == id {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("scan %s never became visible", id)
}

// histogram is one series of a Prometheus histogram: bucket bounds and
// cumulative counts.
type histogram struct {
	les    []string
	counts []float64
}

// scrapeHistograms reads, from /metrics, the histograms that split the
// latency: the projections' event age at commit, their commit times and
// the HTTP request durations.
func scrapeHistograms(c *http.Client, base string) map[string]*histogram {
	hs := map[string]*histogram{}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return hs
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.Contains(line, "_bucket{") || !(strings.Contains(line, "event_age") || strings.Contains(line, "publish_age") ||
			strings.Contains(line, "http_request_duration") || strings.Contains(line, "batch_commit")) {
			continue
		}
		i := strings.Index(line, "le=\"")
		key := line[:i]
		le := line[i+4 : strings.Index(line[i+4:], "\"")+i+4]
		var n float64
		fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &n)
		h := hs[key]
		if h == nil {
			h = &histogram{}
			hs[key] = h
		}
		h.les, h.counts = append(h.les, le), append(h.counts, n)
	}
	return hs
}

// printHistograms prints the median and p99 bucket bounds of what each
// histogram counted between two scrapes.
func printHistograms(before, after map[string]*histogram) {
	for _, k := range slices.Sorted(maps.Keys(after)) {
		h := after[k]
		counts := slices.Clone(h.counts)
		if b := before[k]; b != nil && len(b.counts) == len(counts) {
			for i := range counts {
				counts[i] -= b.counts[i]
			}
		}
		total := counts[len(counts)-1]
		if total == 0 {
			continue
		}
		q := func(p float64) string {
			for i, n := range counts {
				if n >= p*total {
					return h.les[i]
				}
			}
			return "+Inf"
		}
		fmt.Fprintf(os.Stderr, "%s n=%.0f p50<=%s p99<=%s\n", k, total, q(0.5), q(0.99))
	}
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
