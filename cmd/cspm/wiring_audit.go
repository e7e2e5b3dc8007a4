package main

import (
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	platformquery "github.com/cspm-es/cspm-es/queries/platform"
)

// auditModule gives the api role the audit queries: the audit log read
// model (platform.audit_log, in cspm_platform) and, for the stream views
// and verify, the event store with the state rebuild `cspm events replay`
// uses.
var auditModule = fx.Module("audit",
	fx.Provide(newAuditQueries),
)

func newAuditQueries(rm ReadModels, store eventstore.Store, codec *eventstore.Codec, audit auditSetup) *platformquery.Audit {
	return platformquery.NewAudit(platformquery.AuditDeps{
		Log:    rm.Stores[dbregistry.PLATFORM],
		Events: store,
		State: func(events []eventstore.RecordedEvent) (any, error) {
			return commands.State(codec, events)
		},
		// Verify checks with the same key and directory as `cspm events verify`.
		AuditKey: audit.Key,
		AuditDir: audit.Dir,
	})
}
