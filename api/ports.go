package api

import (
	"context"

	"github.com/cspm-es/cspm-es/commands"
)

// CommandService is what the command routes call. *commands.Handlers
// satisfies it.
type CommandService interface {
	RequestScan(ctx context.Context, m commands.Meta, cmd commands.RequestScan) (commands.Result, error)
	StartScan(ctx context.Context, m commands.Meta, cmd commands.StartScan) (commands.Result, error)
	CompleteScan(ctx context.Context, m commands.Meta, cmd commands.CompleteScan) (commands.Result, error)
	FailScan(ctx context.Context, m commands.Meta, cmd commands.FailScan) (commands.Result, error)
	RaiseFindings(ctx context.Context, m commands.Meta, cmd commands.RaiseFindings) (commands.BatchResult, error)
	ResolveFinding(ctx context.Context, m commands.Meta, cmd commands.ResolveFinding) (commands.Result, error)
	SuppressFinding(ctx context.Context, m commands.Meta, cmd commands.SuppressFinding) (commands.Result, error)
}

// ReadinessChecker is one named check run by /readyz. Ready returns nil
// when the dependency it guards can serve; it must honour ctx.
type ReadinessChecker interface {
	Name() string
	Ready(ctx context.Context) error
}

// ReadinessCheck adapts a function into a ReadinessChecker:
//
//	api.ReadinessCheck("eventstore", func(ctx context.Context) error {
//		_, err := store.HeadPosition(ctx)
//		return err
//	})
func ReadinessCheck(name string, ready func(ctx context.Context) error) ReadinessChecker {
	return namedCheck{name: name, ready: ready}
}

type namedCheck struct {
	name  string
	ready func(ctx context.Context) error
}

func (c namedCheck) Name() string                    { return c.name }
func (c namedCheck) Ready(ctx context.Context) error { return c.ready(ctx) }

// Database is one entry of the database registry as GET
// /api/v1/system/databases shows it.
type Database struct {
	Constant    string `json:"constant"`     // registry constant, e.g. ORCHESTRATION
	Name        string `json:"name"`         // effective name (prefix applied)
	DefaultName string `json:"default_name"` // name without prefix
	Purpose     string `json:"purpose"`
	Side        string `json:"side,omitempty"` // write or read side, when the registry says
}

// DatabaseLister lists the database registry.
type DatabaseLister interface {
	Databases() []Database
}

// DatabaseListerFunc adapts a function into a DatabaseLister, e.g. over
// dbregistry.Registry.Entries.
type DatabaseListerFunc func() []Database

// Databases calls f.
func (f DatabaseListerFunc) Databases() []Database { return f() }
