package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/platform/config"
)

// startTimeout bounds the whole start: opening stores and binding the listener.
const startTimeout = time.Minute

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run the service (API, relay, projectors) until SIGINT/SIGTERM",
		description: "Runs cspm: opens the event store and the 14 module databases (embedded\n" +
			"SQLite under --data-dir by default, or MongoDB), then runs its --roles:\n" +
			"api (the HTTP API on --http-addr: commands and queries), relay (publishes\n" +
			"the event store to NATS, embedded under <data-dir>/nats unless --nats-url)\n" +
			"and projector (keeps the read models up to date from NATS). Any non-empty\n" +
			"subset works; several processes share the work through NATS. It prints\n" +
			"where its data lives and where it listens, and stops cleanly on SIGINT or\n" +
			"SIGTERM within --shutdown-timeout.",
		groups: config.AllGroups,
		build: func(*flag.FlagSet) runFunc {
			return serve
		},
	}
}

func serve(ctx context.Context, inv *invocation) error {
	cfg := inv.cfg
	if serveOwnsDataDir(cfg) {
		lock, err := lockDataDir(cfg, servePlace(cfg), serveLockHint)
		if err != nil {
			return err
		}
		// Released after the app has stopped (or failed to start); the
		// operating system releases it if the process dies.
		defer func() {
			if err := lock.Release(); err != nil {
				inv.log.Warn("data directory lock", "error", err)
			}
		}()
	}
	app := fx.New(serveOptionsTo(cfg, inv.stderr, inv.stdout))
	if err := app.Err(); err != nil {
		return fmt.Errorf("build: %w", err)
	}

	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	defer cancelStart()
	if err := app.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if !cfg.HasRole(config.RoleAPI) {
		inv.log.Info("cspm running", "data_dir", cfg.DataDir, "roles", config.JoinRoles(cfg.Roles))
	}

	// fx relays SIGINT and SIGTERM (and fx.Shutdowner requests) to Wait
	// from Start on.
	exitCode := exitOK
	select {
	case s := <-app.Wait():
		exitCode = s.ExitCode
		reason := "shutdown requested"
		if s.Signal != nil {
			reason = "signal " + s.Signal.String()
		}
		inv.log.Info("shutting down", "reason", reason, "timeout", cfg.ShutdownTimeout)
	case <-ctx.Done():
		inv.log.Info("shutting down", "reason", context.Cause(ctx).Error(), "timeout", cfg.ShutdownTimeout)
	}

	stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("stop: not finished within %s: %w", cfg.ShutdownTimeout, err)
		}
		return fmt.Errorf("stop: %w", err)
	}
	inv.log.Info("stopped")
	if exitCode != exitOK {
		return &exitError{code: exitCode}
	}
	return nil
}
