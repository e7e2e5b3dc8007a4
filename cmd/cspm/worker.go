package main

import (
	"context"
	"flag"
	"slices"
	"strings"

	"github.com/cspm-es/cspm-es/platform/config"
)

// workerCommand is `cspm worker`: `cspm serve` with the worker role alone
// (docs/scan-jobs.md, "Workers"). It takes scan jobs from the work queue on
// --nats-url, runs the built-in checks and the tools of --worker-tools,
// and records each job and imports its report in the event store the
// dispatching server uses (--data-dir or --store/--mongodb-uri), without
// taking the data directory's lock: several workers share one.
func workerCommand() *command {
	return &command{
		name:    "worker",
		summary: "run scan jobs from the work queue (built-in header/TLS checks, tools of --worker-tools)",
		description: "Runs a scan worker until SIGINT/SIGTERM: `cspm serve --roles worker`. It takes\n" +
			"the jobs of scan runs from the CSPM_JOBS work queue on --nats-url (required:\n" +
			"the NATS of the server that dispatches them), runs --worker-slots at once, and\n" +
			"writes to that server's event store (the same --data-dir, or --store mongo\n" +
			"with its --mongodb-uri). Tools: the built-in checks `headers` and `tls`, and\n" +
			"the command templates of --worker-tools (a YAML file, docs/scan-jobs.md). Each\n" +
			"job's report is imported like POST /api/v1/imports, once whatever the retries.\n" +
			"A worker killed mid-job loses its lease (--job-lease): the job runs again.",
		groups: config.AllGroups,
		build: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, inv *invocation) error {
				worker := []config.Role{config.RoleWorker}
				if !slices.Equal(inv.cfg.Roles, config.AllRoles) && !slices.Equal(inv.cfg.Roles, worker) {
					return usageError("cspm worker runs the worker role only (--roles %s): run `cspm serve --roles %s,worker` for more",
						config.JoinRoles(inv.cfg.Roles), config.JoinRoles(inv.cfg.Roles))
				}
				inv.cfg.Roles = worker
				if err := inv.cfg.Validate(); err != nil {
					return usageError("invalid configuration: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
				}
				return serve(ctx, inv)
			}
		},
	}
}
