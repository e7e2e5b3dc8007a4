package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

func dbCommand() *command {
	return &command{
		name:        "db",
		summary:     "database registry",
		description: "Inspect the database registry: the event store and the 14 module databases.",
		subs:        []*command{dbListCommand()},
	}
}

func dbListCommand() *command {
	return &command{
		name:    "list",
		summary: "list every database: constant, name, side, purpose",
		description: "Lists the registry: each database's constant, effective name (with\n" +
			"--db-prefix applied), side (write: the event store; read: a module's read\n" +
			"models) and purpose.",
		groups: config.GroupRegistry | config.GroupLogging,
		build: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON instead of a table")
			return func(_ context.Context, inv *invocation) error {
				reg, err := dbregistry.New(inv.cfg.DBPrefix)
				if err != nil {
					return err
				}
				return printRegistry(inv, reg, *asJSON)
			}
		},
	}
}

func printRegistry(inv *invocation, reg *dbregistry.Registry, asJSON bool) error {
	entries := reg.Entries()
	if asJSON {
		enc := json.NewEncoder(inv.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONSTANT\tNAME\tSIDE\tPURPOSE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Constant, e.Name, e.Side, e.Purpose)
	}
	return tw.Flush()
}
