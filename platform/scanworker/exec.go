package scanworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/platform/jobqueue"
)

// result is how a run of a tool went.
type result struct {
	ReportPath string
	TimedOut   bool
	Killed     bool
	Err        error // the tool failed (exit status, could not start)
	Stdout     string
	Stderr     string
}

// tail is the end of the run's stderr (else stdout), for a failure reason.
func (r result) tail() string {
	out := strings.TrimSpace(r.Stderr)
	if out == "" {
		out = strings.TrimSpace(r.Stdout)
	}
	if out == "" {
		return ""
	}
	if len(out) > 1000 {
		out = "…" + out[len(out)-1000:]
	}
	return "; output: " + out
}

// expand fills a command template's placeholders.
func expand(arg string, vars map[string]string) string {
	for k, v := range vars {
		arg = strings.ReplaceAll(arg, "{"+k+"}", v)
	}
	return arg
}

// runTool runs tool for the delivery under timeout, in dir.
func runTool(ctx context.Context, tool Tool, timeout time.Duration, d jobqueue.Delivery, dir string, cfg Config, log *slog.Logger) result {
	report := filepath.Join(dir, "report")
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	if len(tool.Command) == 1 && strings.HasPrefix(tool.Command[0], "builtin:") {
		return runBuiltin(ctx, strings.TrimPrefix(tool.Command[0], "builtin:"), d.Target, report, cfg)
	}
	if len(tool.Command) == 0 {
		return result{Err: errors.New("its command is empty")}
	}
	vars := map[string]string{"target": d.Target, "out": report, "region": d.Region, "account": d.AccountID,
		"scan": d.ScanID, "job": d.JobID, "workdir": dir}
	argv := make([]string, len(tool.Command))
	toStdout := true
	for i, a := range tool.Command {
		if strings.Contains(a, "{out}") {
			toStdout = false
		}
		argv[i] = expand(a, vars)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	setProcessGroup(cmd)
	killed := false
	cmd.Cancel = func() error { killed = true; return killGroup(cmd) }
	cmd.WaitDelay = 2 * time.Second
	stdout, stderr := newTailBuffer(cfg.MaxOutput), newTailBuffer(cfg.MaxOutput)
	cmd.Stderr = stderr
	var reportFile *os.File
	if toStdout {
		f, err := os.Create(report)
		if err != nil {
			return result{Err: err}
		}
		reportFile = f
		cmd.Stdout = &limitWriter{w: f, n: cfg.MaxReport}
	} else {
		cmd.Stdout = stdout
	}
	err := cmd.Run()
	if reportFile != nil {
		reportFile.Close()
	}
	res := result{ReportPath: report, Killed: killed, Stdout: stdout.String(), Stderr: stderr.String()}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		res.TimedOut = true
		return res
	}
	if ctx.Err() != nil {
		return res // stopped from outside: the caller knows why
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			res.Err = fmt.Errorf("exited with status %d", exit.ExitCode())
		} else {
			res.Err = err
		}
	}
	log.Debug("tool ran", "argv0", argv[0], "stderr_bytes", stderr.total)
	return res
}

var errTimedOut = errors.New("the tool ran out of time")

func runBuiltin(ctx context.Context, name, target, report string, cfg Config) result {
	b, ok := cfg.Builtins[name]
	if !ok {
		return result{Err: fmt.Errorf("no built-in tool %q in this worker", name)}
	}
	f, err := os.Create(report)
	if err != nil {
		return result{Err: err}
	}
	err = b(ctx, target, &limitWriter{w: f, n: cfg.MaxReport})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	res := result{ReportPath: report}
	switch {
	case errors.Is(context.Cause(ctx), errTimedOut):
		res.TimedOut = true
	case ctx.Err() != nil:
	case err != nil:
		res.Err = err
	}
	return res
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf   []byte
	max   int
	total int64
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.ToValidUTF8(string(t.buf), "") }

// limitWriter writes at most n bytes to w, then fails.
type limitWriter struct {
	w io.Writer
	n int64
}

var errReportTooLarge = errors.New("the report is over the worker's size limit")

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errReportTooLarge
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}
