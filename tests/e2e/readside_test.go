package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Read-side helpers shared by the crash and bus-outage tests.

// apiAnswer is an API envelope with the query meta.
type apiAnswer struct {
	status int
	raw    []byte
	env    struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Meta    struct {
			Position   int64   `json:"position"`
			Stale      bool    `json:"stale"`
			NextCursor *string `json:"next_cursor"`
		} `json:"meta"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// rawBody is a request body sent as it is (callAPI JSON-encodes others,
// with Go's HTML escaping).
type rawBody []byte

// callAPI sends one request; a transport error (the server is down or
// was killed) is returned, an answer of any status is not an error.
func callAPI(ctx context.Context, method, target string, body any, header map[string]string) (*apiAnswer, error) {
	var rd io.Reader = http.NoBody
	if raw, ok := body.(rawBody); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	authorize(req)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	a := &apiAnswer{status: resp.StatusCode}
	if a.raw, err = io.ReadAll(resp.Body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(a.raw, &a.env); err != nil {
		return nil, fmt.Errorf("%s %s: %d, not an envelope: %s", method, target, resp.StatusCode, a.raw)
	}
	return a, nil
}

// facts are what the read models must show: scans by status, findings by
// severity (all open), findings per scan.
type facts struct {
	mu         sync.Mutex
	scans      map[string]string // id -> status
	bySeverity map[string]int64
	perScan    map[string]int64
	last       int64 // highest acknowledged position
	acked      int64 // acknowledged commands
	ackedCh    chan struct{}
}

func newFacts() *facts {
	return &facts{scans: map[string]string{}, bySeverity: map[string]int64{}, perScan: map[string]int64{}, ackedCh: make(chan struct{})}
}

// ack records an acknowledged command's effect.
func (f *facts) ack(position int64, apply func(f *facts)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	apply(f)
	f.last = max(f.last, position)
	f.acked++
	close(f.ackedCh)
	f.ackedCh = make(chan struct{})
}

// waitAcked blocks until n commands were acknowledged (or ctx ends).
func (f *facts) waitAcked(ctx context.Context, n int64) error {
	for {
		f.mu.Lock()
		done, ch := f.acked >= n, f.ackedCh
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d acknowledged commands: %w", n, ctx.Err())
		}
	}
}

func (f *facts) snapshot() (scans map[string]int64, severities map[string]int64, perScan map[string]int64, last int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	scans = map[string]int64{}
	for _, st := range f.scans {
		scans[st]++
	}
	severities, perScan = map[string]int64{}, map[string]int64{}
	for k, v := range f.bySeverity {
		severities[k] = v
	}
	for id := range f.scans {
		perScan[id] = f.perScan[id]
	}
	return scans, severities, perScan, f.last
}

// readModels is what the query API shows.
type readModels struct {
	stale                bool
	dashScans, dashSev   map[string]int64
	listScans, listSev   map[string]int64
	perScan              map[string]int64
	dupScans, dupFinding int
}

// readAll reads the dashboard, every page of scans and findings, and the
// detail of each scan in want, with min_position.
func readAll(ctx context.Context, base string, minPos int64, scanIDs []string) (*readModels, error) {
	rm := &readModels{perScan: map[string]int64{}, listScans: map[string]int64{}, listSev: map[string]int64{}}
	mp := "min_position=" + strconv.FormatInt(minPos, 10)
	a, err := getOK(ctx, base+"/api/v1/dashboard/summary?"+mp)
	if err != nil {
		return nil, err
	}
	rm.stale = a.env.Meta.Stale
	var dash struct {
		Scans struct {
			ByStatus map[string]int64 `json:"by_status"`
		} `json:"scans"`
		Findings struct {
			BySeverity map[string]int64 `json:"by_severity"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(a.env.Data, &dash); err != nil {
		return nil, err
	}
	rm.dashScans, rm.dashSev = nonZero(dash.Scans.ByStatus), nonZero(dash.Findings.BySeverity)

	seen := map[string]bool{}
	err = eachPage(ctx, base+"/api/v1/scans?limit=200&"+mp, func(raw json.RawMessage) error {
		var items []struct{ ID, Status string }
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		for _, s := range items {
			if seen[s.ID] {
				rm.dupScans++
			}
			seen[s.ID] = true
			rm.listScans[s.Status]++
		}
		return nil
	}, &rm.stale)
	if err != nil {
		return nil, err
	}
	seen = map[string]bool{}
	err = eachPage(ctx, base+"/api/v1/findings?limit=200&"+mp, func(raw json.RawMessage) error {
		var items []struct{ ID, Severity string }
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		for _, f := range items {
			if seen[f.ID] {
				rm.dupFinding++
			}
			seen[f.ID] = true
			rm.listSev[f.Severity]++
		}
		return nil
	}, &rm.stale)
	if err != nil {
		return nil, err
	}
	for _, id := range scanIDs {
		a, err := getOK(ctx, base+"/api/v1/scans/"+url.PathEscape(id)+"?"+mp)
		if err != nil {
			return nil, err
		}
		rm.stale = rm.stale || a.env.Meta.Stale
		var d struct {
			Findings struct {
				Total int64 `json:"total"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(a.env.Data, &d); err != nil {
			return nil, err
		}
		rm.perScan[id] = d.Findings.Total
	}
	return rm, nil
}

func getOK(ctx context.Context, target string) (*apiAnswer, error) {
	a, err := callAPI(ctx, http.MethodGet, target, nil, nil)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", target, a.status, a.raw)
	}
	return a, nil
}

func eachPage(ctx context.Context, first string, page func(json.RawMessage) error, stale *bool) error {
	target := first
	for range 10000 {
		a, err := getOK(ctx, target)
		if err != nil {
			return err
		}
		*stale = *stale || a.env.Meta.Stale
		if err := page(a.env.Data); err != nil {
			return err
		}
		if a.env.Meta.NextCursor == nil {
			return nil
		}
		target = first + "&cursor=" + url.QueryEscape(*a.env.Meta.NextCursor)
	}
	return errors.New("too many pages")
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// mismatch says how the read models differ from the facts ("" if not).
func (rm *readModels) mismatch(scans, severities, perScan map[string]int64) string {
	switch {
	case rm.stale:
		return "stale"
	case rm.dupScans > 0 || rm.dupFinding > 0:
		return fmt.Sprintf("duplicates in the lists: %d scans, %d findings", rm.dupScans, rm.dupFinding)
	case !equalCounts(rm.dashScans, scans):
		return fmt.Sprintf("dashboard scans by status %v, acknowledged %v", rm.dashScans, scans)
	case !equalCounts(rm.dashSev, severities):
		return fmt.Sprintf("dashboard findings by severity %v, acknowledged %v", rm.dashSev, severities)
	case !equalCounts(rm.listScans, scans):
		return fmt.Sprintf("listed scans by status %v, acknowledged %v", rm.listScans, scans)
	case !equalCounts(rm.listSev, severities):
		return fmt.Sprintf("listed findings by severity %v, acknowledged %v", rm.listSev, severities)
	}
	for id, n := range perScan {
		if rm.perScan[id] != n {
			return fmt.Sprintf("scan %s counts %d findings, acknowledged %d", id, rm.perScan[id], n)
		}
	}
	return ""
}

func equalCounts(a, b map[string]int64) bool {
	a, b = nonZero(a), nonZero(b)
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// converge waits (up to the test's deadline) until the read models show
// exactly the facts, reading with min_position = the last acknowledged
// position.
func converge(t *testing.T, base string, f *facts) {
	t.Helper()
	scans, severities, perScan, last := f.snapshot()
	ids := make([]string, 0, len(perScan))
	for id := range perScan {
		ids = append(ids, id)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline(t))
	defer cancel()
	var why string
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	for ctx.Err() == nil {
		rm, err := readAll(ctx, base, last, ids)
		switch {
		case err != nil:
			why = err.Error()
			<-retry.C // the server answers again soon
			continue
		case rm.stale:
			// Each read with min_position waited (up to the server's
			// bound) for the projections; ask again.
			why = "stale"
			continue
		}
		// Not stale: every read reflects every event through last, and
		// nothing is appended any more. Equal now, or never.
		why = rm.mismatch(scans, severities, perScan)
		require.Empty(t, why, "the read models differ from the acknowledged facts")
		t.Logf("read models show exactly the acknowledged facts: %d scans %v, findings %v, through position %d", len(ids), scans, severities, last)
		return
	}
	require.Fail(t, "the read models never caught up with the acknowledged facts", "last: %s", why)
}
