// Command ferretdb runs FerretDB 1.24 embedded, with its SQLite backend, on
// a free loopback port: the server of the MongoDB smoke layer of `make
// test` (see docs/read-model-store.md). It is a test tool, kept in a module
// of its own so that FerretDB and its dependencies stay out of the
// product's go.mod. FerretDB is not MongoDB: it has no transactions, no
// partial or TTL indexes and no renameCollection with dropTarget, so a run
// against it is a smoke test, never the gate (make test-mongo is).
//
// Serve mode prints the server's mongodb:// URI as one line on stdout once
// it answers a ping, then serves until SIGTERM or SIGINT, or until its
// standard input is closed (so it does not outlive a parent that dies):
//
//	ferretdb -dir /tmp/ferretdb-data
//
// Run mode starts the server, runs a command with the URI in an
// environment variable (CSPM_TEST_FERRETDB_URI by default), stops the
// server when the command ends, however it ends, and exits with the
// command's status:
//
//	ferretdb -- go test -race -count=1 ./platform/readmodel/mongostore/
//
// Without -dir the databases go to a temporary directory removed at stop.
// Server logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

type config struct {
	dir          string
	listen       string
	env          string
	stdin        bool
	logLevel     slog.Level
	readyTimeout time.Duration
	command      []string
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory of the SQLite databases (created if missing; default: a temporary directory removed at stop)")
	flag.StringVar(&c.listen, "listen", "127.0.0.1:0", "loopback TCP address to listen on (port 0: a free port)")
	flag.StringVar(&c.env, "env", "CSPM_TEST_FERRETDB_URI", "run mode: the environment variable that hands the URI to the command")
	flag.BoolVar(&c.stdin, "stdin", true, "serve mode: stop when standard input is closed")
	flag.TextVar(&c.logLevel, "log-level", slog.LevelError, "server log level on stderr: DEBUG, INFO, WARN or ERROR")
	flag.DurationVar(&c.readyTimeout, "ready-timeout", time.Minute, "give up if the server does not answer a ping within this time")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ferretdb [flags]                 serve; print the URI once ready")
		fmt.Fprintln(flag.CommandLine.Output(), "       ferretdb [flags] -- command ...  run command with the URI in $CSPM_TEST_FERRETDB_URI")
		flag.PrintDefaults()
	}
	flag.Parse()
	c.command = flag.Args()

	code, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run starts the server, serves or runs the command, and stops the server.
// It returns the exit code.
func run(c config) (int, error) {
	if err := loopback(c.listen); err != nil {
		return 2, err
	}
	dir, cleanup, err := dataDir(c.dir)
	if err != nil {
		return 1, err
	}
	defer cleanup()

	// Signals stop serve mode; in run mode they go to the command, and the
	// server stops when the command has ended.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: c.logLevel}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: c.listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return 1, fmt.Errorf("start FerretDB: %w", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = f.Run(ctx) // returns once ctx is canceled and the listener is closed
	}()
	defer func() { stop(errors.New("stopping")); <-served }()

	uri := f.MongoDBURI()
	if err := ping(ctx, uri, c.readyTimeout); err != nil {
		return 1, err
	}

	if len(c.command) == 0 {
		fmt.Println(uri)
		if c.stdin {
			go func() {
				_, _ = io.Copy(io.Discard, os.Stdin)
				stop(errors.New("standard input closed"))
			}()
		}
		select {
		case s := <-sigs:
			logger.Info("stopping", "signal", s)
		case <-ctx.Done():
			logger.Info("stopping", "cause", context.Cause(ctx))
		}
		return 0, nil
	}
	return runCommand(c.command, c.env+"="+uri, sigs)
}

// runCommand runs argv with env added to the environment, forwarding
// signals to it, and returns its exit code.
func runCommand(argv []string, env string, sigs <-chan os.Signal) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env)
	if err := cmd.Start(); err != nil {
		return 127, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				if code := exit.ExitCode(); code > 0 {
					return code, nil
				}
				return 1, fmt.Errorf("%s: %w", argv[0], err) // killed by a signal
			}
			if err != nil {
				return 1, fmt.Errorf("%s: %w", argv[0], err)
			}
			return 0, nil
		}
	}
}

// dataDir returns the absolute data directory, creating it if missing; an
// empty name gives a temporary directory that cleanup removes.
func dataDir(name string) (dir string, cleanup func(), err error) {
	if name == "" {
		dir, err := os.MkdirTemp("", "ferretdb-")
		if err != nil {
			return "", nil, err
		}
		return dir, func() { _ = os.RemoveAll(dir) }, nil
	}
	dir, err = filepath.Abs(name)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	return dir, func() {}, nil
}

// loopback refuses an address that is not on the loopback interface: the
// server has no authentication.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: want a loopback IP address such as 127.0.0.1", addr)
	}
	return nil
}

// ping waits until the server answers a ping, or timeout passes.
func ping(ctx context.Context, uri string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", uri, err)
	}
	defer func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }()
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		return fmt.Errorf("ping %s: %w", uri, err)
	}
	return nil
}
