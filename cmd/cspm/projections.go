package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/progress"
)

// `cspm projections ...` talks to a running server's HTTP API: the server
// owns the live projectors, so a rebuild must run inside it (its cut-over
// pauses the live loop) and its progress is read from it.

// The storage group gives them --data-dir, where the server's admin.key
// is (unless CSPM_API_KEY is set; see cliAPIKey).
const projectionGroups = config.GroupClient | config.GroupLogging | config.GroupStorage

func projectionsCommand() *command {
	return &command{
		name:    "projections",
		summary: "projections of a running server",
		description: "Show and maintain the projections (the read models) of a running\n" +
			"`cspm serve` through its HTTP API: --server, by default http://<--http-addr>\n" +
			"(CSPM_HTTP_ADDR). The server must run the api and projector roles.",
		subs: []*command{
			projListCommand(), projStatusCommand(), projRebuildCommand(),
			projParkedCommand("retry-parked", "apply parked events again (after a fix)", "retry"),
			projParkedCommand("skip-parked", "forget parked events without applying them", "skip"),
		},
	}
}

// projClientFlags are the flags every projections command takes.
type projClientFlags struct {
	server  *string
	timeout *time.Duration
}

func addClientFlags(fs *flag.FlagSet) projClientFlags {
	return projClientFlags{
		server:  fs.String("server", "", "base URL of the running server (default http://<--http-addr>)"),
		timeout: fs.Duration("timeout", 30*time.Second, "deadline of each request to the server"),
	}
}

// status fetches the running server's projection status.
func (f projClientFlags) status(ctx context.Context, inv *invocation) ([]api.ProjectionStatus, error) {
	c, err := f.client(inv)
	if err != nil {
		return nil, err
	}
	return c.status(ctx)
}

func (f projClientFlags) client(inv *invocation) (*apiClient, error) {
	base := *f.server
	if base == "" {
		base = serverURL(inv.cfg.HTTPAddr)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("--server %q: want an http:// or https:// URL", base)
	}
	key, err := cliAPIKey(inv)
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimRight(base, "/"), key: key, http: &http.Client{Timeout: *f.timeout}}, nil
}

// serverURL is where a server listening on addr is reached locally.
func serverURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func projListCommand() *command {
	return &command{
		name:    "list",
		summary: "list the projections: name, database, event types",
		description: "Lists every projection of the running server: its name, the module\n" +
			"database it writes and the event types it listens to.",
		groups: projectionGroups,
		build: func(fs *flag.FlagSet) runFunc {
			cf := addClientFlags(fs)
			asJSON := fs.Bool("json", false, "print JSON instead of a table")
			return func(ctx context.Context, inv *invocation) error {
				st, err := cf.status(ctx, inv)
				if err != nil {
					return err
				}
				if *asJSON {
					type entry struct {
						Name       string   `json:"name"`
						Database   string   `json:"database"`
						EventTypes []string `json:"event_types"`
					}
					out := make([]entry, len(st))
					for i, s := range st {
						out[i] = entry{s.Name, s.Database, s.EventTypes}
					}
					return writeJSON(inv.stdout, out)
				}
				tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tDATABASE\tEVENT TYPES")
				for _, s := range st {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Database, strings.Join(s.EventTypes, ","))
				}
				return tw.Flush()
			}
		},
	}
}

func projStatusCommand() *command {
	return &command{
		name:    "status",
		summary: "status of each projection: checkpoint, head, lag, state, parked events",
		description: "Shows each projection of the running server: the position of its last\n" +
			"committed event (checkpoint), how far it has processed the event stream,\n" +
			"the store's head, its lag in events and seconds, its state, how many\n" +
			"events it parked, and its latest rebuild.",
		groups: projectionGroups,
		build: func(fs *flag.FlagSet) runFunc {
			cf := addClientFlags(fs)
			asJSON := fs.Bool("json", false, "print JSON (the full status) instead of a table")
			return func(ctx context.Context, inv *invocation) error {
				st, err := cf.status(ctx, inv)
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(inv.stdout, st)
				}
				tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSTATE\tOWNER\tCHECKPOINT\tPROCESSED\tHEAD\tLAG EVENTS\tLAG SECONDS\tPARKED\tREBUILD")
				for _, s := range st {
					owner := s.Owner
					if owner == "" {
						owner = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t%d\t%s\n", s.Name, s.State, owner, s.Checkpoint, s.Processed,
						s.Head, s.LagEvents, s.LagSeconds, s.ParkedCount, rebuildSummary(s.Rebuild))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				for _, s := range st {
					if !s.StalledSince.IsZero() {
						fmt.Fprintf(inv.stdout, "%s: stalled since %s\n", s.Name, s.StalledSince.Format(time.RFC3339))
					}
					if s.LastError != "" {
						fmt.Fprintf(inv.stdout, "%s: last error (since %s): %s\n", s.Name, s.LastErrorAt.Format(time.RFC3339), s.LastError)
					}
					if s.StatusError != "" {
						fmt.Fprintf(inv.stdout, "%s: status incomplete: %s\n", s.Name, s.StatusError)
					}
				}
				return cf.printRelay(ctx, inv)
			}
		},
	}
}

// printRelay prints the server's relay line of `projections status`.
func (f projClientFlags) printRelay(ctx context.Context, inv *invocation) error {
	c, err := f.client(inv)
	if err != nil {
		return err
	}
	var r api.RelayStatus
	switch err := c.do(ctx, http.MethodGet, "/api/v1/relay", nil, &r); {
	case errors.Is(err, errNotFound):
		fmt.Fprintln(inv.stdout, "relay: this server does not run the relay role")
		return nil
	case err != nil:
		return err
	}
	line := fmt.Sprintf("relay: published %d of %d (lag %d events, %.1fs)", r.Published, r.Head, r.LagEvents, r.LagSeconds)
	if !r.Running {
		line += ", not running"
	}
	if r.ByReference > 0 {
		line += fmt.Sprintf(", %d events by reference (latest at position %d)", r.ByReference, r.LastByReference)
	}
	fmt.Fprintln(inv.stdout, line)
	if r.Problem != "" {
		fmt.Fprintf(inv.stdout, "relay: %s\n", r.Problem)
	}
	if r.LastError != "" {
		fmt.Fprintf(inv.stdout, "relay: last error (since %s): %s\n", r.LastErrorAt.Format(time.RFC3339), r.LastError)
	}
	return nil
}

func rebuildSummary(p *api.RebuildProgress) string {
	if p == nil {
		return "-"
	}
	if p.Error != "" {
		return p.Phase + ": " + p.Error
	}
	if !p.Finished() && p.Target > 0 {
		return fmt.Sprintf("%s %d/%d", p.Phase, p.Processed, p.Target)
	}
	return p.Phase
}

// rebuildPoll is how often `projections rebuild` asks for progress;
// rebuildLineEvery how often it prints a line when stderr is no terminal.
const (
	rebuildPoll      = 200 * time.Millisecond
	rebuildLineEvery = 2 * time.Second
	cancelWait       = 30 * time.Second
	lostTrack        = 10 * time.Second
)

func projRebuildCommand() *command {
	return &command{
		name:    "rebuild",
		summary: "rebuild a projection (or --all) from the event store, then swap it in",
		args:    "NAME|--all",
		maxArgs: 1,
		groups:  projectionGroups,
		description: "Asks the running server to rebuild a projection from the event store\n" +
			"beside its live read model (shadow collections), catch up to the head and\n" +
			"swap atomically; queries answer from the old model until the swap. It\n" +
			"shows a progress bar with events/s and ETA on a terminal (plain lines\n" +
			"otherwise), and exits 0 when every rebuild is done, 1 naming the failures.\n" +
			"Ctrl-C cancels the rebuild on the server (the live model stays as it was)\n" +
			"and waits until it stopped; it can be started again.",
		build: func(fs *flag.FlagSet) runFunc {
			cf := addClientFlags(fs)
			all := fs.Bool("all", false, "rebuild every projection, all at once over one read of the event store")
			return func(ctx context.Context, inv *invocation) error {
				name, err := rebuildTarget(inv.args, *all)
				if err != nil {
					return err
				}
				c, err := cf.client(inv)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
				return rebuild(ctx, inv, c, name)
			}
		},
	}
}

func rebuildTarget(args []string, all bool) (string, error) {
	switch {
	case all && len(args) > 0:
		return "", usageError("give a projection NAME or --all, not both")
	case all:
		return api.RebuildAll, nil
	case len(args) == 0:
		return "", usageError("which projection? give its NAME (see `cspm projections list`) or --all")
	case args[0] == api.RebuildAll:
		return api.RebuildAll, nil
	}
	return args[0], nil
}

// rebuild starts the rebuild, then follows it until every projection it
// covers has finished.
func rebuild(ctx context.Context, inv *invocation, c *apiClient, name string) error {
	var started api.RebuildStarted
	if err := c.do(ctx, http.MethodPost, "/api/v1/projections/"+url.PathEscape(name)+"/rebuild", nil, &started); err != nil {
		return err
	}
	return followRebuild(ctx, inv, c, started, "it", func(ctx context.Context) error {
		fmt.Fprintf(inv.stderr, "\ncanceling the rebuild of %s on the server...\n", name)
		err := c.do(ctx, http.MethodDelete, "/api/v1/projections/"+url.PathEscape(name)+"/rebuild", nil, nil)
		if err != nil && !errors.Is(err, errNotFound) {
			return fmt.Errorf("cancel: %w", err)
		}
		return nil
	})
}

// followRebuild follows a rebuild the server started (what the server
// accepted: "it", "the forget") until every projection of it ended, and
// reports them. When ctx ends, cancel (if any) asks the server to stop
// and following goes on until it has (up to cancelWait); without cancel
// following stops there and the rebuild goes on in the server.
func followRebuild(ctx context.Context, inv *invocation, c *apiClient, started api.RebuildStarted, what string, cancel func(context.Context) error) error {
	w := newRebuildWatcher(inv.stderr, started)
	if n := len(started.Projections); n > 1 && !w.tty {
		fmt.Fprintf(inv.stderr, "rebuild of %d projections together started\n", n)
	}
	tick := time.NewTicker(rebuildPoll)
	defer tick.Stop()
	canceled := false
	var giveUp <-chan time.Time
	for {
		sctx := ctx
		if cancel != nil {
			sctx = context.WithoutCancel(ctx)
		}
		st, err := c.status(sctx)
		if err != nil {
			w.close()
			return fmt.Errorf("following the rebuild: %w", err)
		}
		if w.update(st) {
			w.close()
			return w.report(inv.stdout, canceled)
		}
		if missing := w.missing(); missing != "" && time.Since(w.since) > lostTrack {
			w.close()
			return fmt.Errorf("the server shows no rebuild of %s since it accepted %s %s ago (did it restart?); see `cspm projections status`",
				missing, what, time.Since(w.since).Round(time.Second))
		}
		select {
		case <-tick.C:
		case <-giveUp:
			w.close()
			return fmt.Errorf("the rebuild was asked to stop but had not after %s; see `cspm projections status`", cancelWait)
		case <-ctx.Done():
			if cancel == nil {
				w.close()
				return fmt.Errorf("stopped following the rebuild (it goes on in the server): %w", ctx.Err())
			}
			if canceled {
				continue
			}
			canceled = true
			ctx = context.WithoutCancel(ctx)
			if err := cancel(ctx); err != nil {
				w.close()
				return err
			}
			giveUp = time.After(cancelWait)
		}
	}
}

// rebuildWatcher renders the progress of the projections a rebuild
// covers: a bar per projection on a terminal, a line every few seconds
// otherwise.
type rebuildWatcher struct {
	out      io.Writer
	tty      bool
	started  api.RebuildStarted
	latest   map[string]api.RebuildProgress
	bar      *progress.Bar
	barName  string
	lastLine time.Time
	printed  map[string]bool // finished projections already reported
	since    time.Time       // when the rebuild was accepted
}

func newRebuildWatcher(out io.Writer, started api.RebuildStarted) *rebuildWatcher {
	return &rebuildWatcher{out: out, tty: progress.IsTerminal(out), started: started,
		latest: map[string]api.RebuildProgress{}, printed: map[string]bool{}, since: time.Now()}
}

// missing names a projection of the request the server shows no rebuild
// of: the server reports every one (queued at first) as soon as it
// accepts the request, unless it restarted since.
func (w *rebuildWatcher) missing() string {
	for _, name := range w.started.Projections {
		if _, ok := w.latest[name]; !ok {
			return name
		}
	}
	return ""
}

// update takes a status snapshot; true once every projection finished.
func (w *rebuildWatcher) update(st []api.ProjectionStatus) bool {
	for _, s := range st {
		// A rebuild from before this request is not ours.
		if s.Rebuild != nil && !s.Rebuild.StartedAt.Before(w.started.RequestedAt) {
			w.latest[s.Name] = *s.Rebuild
		}
	}
	if len(w.started.Projections) > 1 {
		return w.updateTogether()
	}
	done := true
	for _, name := range w.started.Projections {
		p, ok := w.latest[name]
		switch {
		case !ok || p.Phase == api.RebuildQueued:
			done = false
		case p.Finished():
			if !w.printed[name] {
				w.printed[name] = true
				if w.barName == name {
					w.bar.Update(p.Processed, p.Target)
					w.bar.Finish()
					w.bar, w.barName = nil, ""
				}
				fmt.Fprintf(w.out, "rebuild %s: %s\n", name, describeProgress(p))
			}
		default:
			done = false
			w.show(name, p)
		}
	}
	return done
}

// updateTogether follows projections rebuilt together (--all): one bar of
// the positions applied across all of them (each goes through the same
// events), a line per projection as it finishes.
func (w *rebuildWatcher) updateTogether() bool {
	done := true
	var processed, target int64
	running := 0
	for _, name := range w.started.Projections {
		p, ok := w.latest[name]
		if !ok || !p.Finished() {
			done = false
		}
		if ok && p.Finished() && !w.printed[name] {
			w.printed[name] = true
			if w.tty && w.bar != nil {
				w.bar.Finish()
				w.bar, w.barName = nil, ""
			}
			fmt.Fprintf(w.out, "rebuild %s: %s\n", name, describeProgress(p))
		}
		if ok && !p.Finished() && p.Phase != api.RebuildQueued {
			running++
		}
		target += max(p.Target, p.Processed)
		processed += p.Processed
	}
	if done {
		w.bar.Finish()
		return true
	}
	label := fmt.Sprintf("rebuild %d projections together", len(w.started.Projections))
	if w.tty {
		if w.bar == nil {
			w.bar, w.barName = progress.New(w.out, label, max(target, 1)), label
		}
		w.bar.Update(processed, max(target, 1))
		return false
	}
	if time.Since(w.lastLine) >= rebuildLineEvery {
		w.lastLine = time.Now()
		pct := 100.0
		if target > 0 {
			pct = 100 * float64(processed) / float64(target)
		}
		fmt.Fprintf(w.out, "%s: %d running, %d/%d positions applied across them (%.0f%%)\n", label, running, processed, target, pct)
	}
	return false
}

func (w *rebuildWatcher) show(name string, p api.RebuildProgress) {
	if w.tty {
		if w.barName != name {
			w.bar.Finish()
			w.bar, w.barName = progress.New(w.out, "rebuild "+name, max(p.Target, 1)), name
		}
		w.bar.Update(p.Processed, p.Target)
		return
	}
	if time.Since(w.lastLine) >= rebuildLineEvery {
		w.lastLine = time.Now()
		fmt.Fprintf(w.out, "rebuild %s: %s\n", name, describeProgress(p))
	}
}

func describeProgress(p api.RebuildProgress) string {
	switch {
	case p.Phase == api.RebuildDone:
		took := p.FinishedAt.Sub(p.StartedAt).Round(time.Millisecond)
		return fmt.Sprintf("done: %d events applied through position %d in %s", p.Applied, p.Processed, took)
	case p.Finished():
		return fmt.Sprintf("%s: %s", p.Phase, p.Error)
	}
	pct := 100.0
	if p.Target > 0 {
		pct = 100 * float64(p.Processed) / float64(p.Target)
	}
	return fmt.Sprintf("%s %d/%d (%.0f%%), %.0f events/s, ETA %s", p.Phase, p.Processed, p.Target, pct,
		p.EventsPerSec, (time.Duration(p.ETASeconds * float64(time.Second))).Round(time.Second))
}

func (w *rebuildWatcher) close() {
	w.bar.Finish()
}

// report prints the outcome on stdout and fails unless every rebuild is done.
func (w *rebuildWatcher) report(out io.Writer, canceled bool) error {
	var failed []string
	for _, name := range w.started.Projections {
		p := w.latest[name]
		fmt.Fprintf(out, "%s\t%s\n", name, describeProgress(p))
		if p.Phase != api.RebuildDone {
			failed = append(failed, name)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case canceled:
		return fmt.Errorf("canceled: %s not rebuilt; the live read models are untouched", strings.Join(failed, ", "))
	}
	return fmt.Errorf("rebuild failed for %s (the live read models are untouched)", strings.Join(failed, ", "))
}

func projParkedCommand(name, summary, action string) *command {
	return &command{
		name:    name,
		summary: summary,
		args:    "NAME",
		maxArgs: 1,
		groups:  projectionGroups,
		description: fmt.Sprintf("Asks the running server to %s the events projection NAME parked: the one at\n"+
			"--position, or all of them. `cspm projections status --json` lists them.", action),
		build: func(fs *flag.FlagSet) runFunc {
			cf := addClientFlags(fs)
			position := fs.Int64("position", 0, "the parked event's position (default: every parked event)")
			return func(ctx context.Context, inv *invocation) error {
				if len(inv.args) == 0 {
					return usageError("which projection? give its NAME (see `cspm projections list`)")
				}
				if *position < 0 {
					return usageError("--position must be positive")
				}
				c, err := cf.client(inv)
				if err != nil {
					return err
				}
				proj := inv.args[0]
				body := api.ParkedRequest{Position: *position}
				var res struct {
					Applied int `json:"applied"`
					Removed int `json:"removed"`
				}
				if err := c.do(ctx, http.MethodPost, "/api/v1/projections/"+url.PathEscape(proj)+"/parked/"+action, body, &res); err != nil {
					return err
				}
				if action == "retry" {
					fmt.Fprintf(inv.stdout, "%s: %d parked event(s) applied\n", proj, res.Applied)
				} else {
					fmt.Fprintf(inv.stdout, "%s: %d parked event(s) skipped\n", proj, res.Removed)
				}
				return nil
			}
		},
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// apiClient calls the server's API and unwraps its envelope.
type apiClient struct {
	base string
	key  string // sent as Authorization: Bearer
	http *http.Client
}

var errNotFound = errors.New("not found")

// apiError is a failed answer of the server.
type apiError struct {
	status int
	body   api.ErrorBody
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("the server answered %d %s: %s", e.status, e.body.Code, e.body.Message)
	for _, d := range e.body.Details {
		if d.Field != "" {
			msg += fmt.Sprintf("; %s: %s", d.Field, d.Message)
		} else if d.Message != "" {
			msg += "; " + d.Message
		}
	}
	return msg
}

func (e *apiError) Is(target error) bool {
	return target == errNotFound && e.status == http.StatusNotFound
}

func (c *apiClient) status(ctx context.Context) ([]api.ProjectionStatus, error) {
	var st []api.ProjectionStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/projections", nil, &st)
	return st, err
}

func (c *apiClient) do(ctx context.Context, method, path string, body, data any) error {
	var rd io.Reader
	contentType := ""
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	_, err := c.send(ctx, method, path, contentType, rd, -1, data)
	return err
}

// send makes one request (a body of size bytes, -1 unknown, sent as
// contentType) and decodes the envelope's data into data; a failed answer
// is an *apiError. It returns the answer's headers.
func (c *apiClient) send(ctx context.Context, method, path, contentType string, body io.Reader, size int64, data any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the cspm server at %s (is `cspm serve` running there? see --server / CSPM_HTTP_ADDR): %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.Header, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var env struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *api.ErrorBody  `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return resp.Header, fmt.Errorf("%s %s: the server answered %d with something other than the cspm envelope", method, path, resp.StatusCode)
	}
	if !env.Success || env.Error != nil {
		e := &apiError{status: resp.StatusCode}
		if env.Error != nil {
			e.body = *env.Error
		}
		return resp.Header, e
	}
	if data == nil {
		return resp.Header, nil
	}
	return resp.Header, json.Unmarshal(env.Data, data)
}
