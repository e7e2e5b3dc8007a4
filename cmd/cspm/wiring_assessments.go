package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	acmd "github.com/cspm-es/cspm-es/commands/assessments"
	"github.com/cspm-es/cspm-es/domain"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers"
	"github.com/cspm-es/cspm-es/projections"
	aproj "github.com/cspm-es/cspm-es/projections/assessments"
	aquery "github.com/cspm-es/cspm-es/queries/assessments"
)

// Assessments (docs/assessments.md): catalogues loaded over HTTP (POST
// /api/v1/catalogs) or by `cspm catalogs load FILE`, the team's
// assessments, their evidence and the unified view.

var assessmentsModule = fx.Module("assessments",
	fx.Provide(newAssessmentService),
)

// assessmentService is api.AssessmentService: the commands and the
// queries in one.
type assessmentService struct {
	*acmd.Handlers
	*aquery.Service
}

// newAssessmentService runs the commands on the kit, reading catalogue
// files with the parser registry, and the queries on cspm_assessments.
func newAssessmentService(kit *commands.Kit, rm ReadModels) *assessmentService {
	return &assessmentService{acmd.New(kit, catalogParsers{}), aquery.New(rm.Stores[dbregistry.ASSESSMENTS])}
}

// catalogParsers adapts the parser registry to the catalogue load's port.
type catalogParsers struct{ parsers.Registry }

func (p catalogParsers) ParseCatalog(ctx context.Context, r io.Reader) (acmd.Parsed, error) {
	c, err := p.Registry.ParseCatalog(ctx, r)
	return acmd.Parsed{Catalogue: c.Catalogue, Mappings: c.Mappings}, err
}

// assessmentProjections are the module's projections (moduleProjections).
func assessmentProjections() []projections.Projection {
	return []projections.Projection{aproj.NewAssessments(), aproj.NewEvidence(), aproj.NewIndex()}
}

// ---- cspm catalogs load ----

func catalogsCommand() *command {
	return &command{
		name:    "catalogs",
		summary: "load framework catalogues",
		description: "Framework catalogues are data: CISO Assistant libraries (JSON) and Prowler\n" +
			"compliance frameworks, loaded as versions of their framework (public: every\n" +
			"team reads them). These commands work on the event store directly.",
		subs: []*command{catalogsLoadCommand()},
	}
}

func catalogsLoadCommand() *command {
	return &command{
		name:    "load",
		summary: "load a catalogue file (a framework version or a mapping set)",
		args:    "[--version V] [--team T] [--json] FILE",
		description: "Loads FILE: a framework version (named --version, else the file's own\n" +
			"version, else its content) or requirement mapping sets. The same content\n" +
			"again appends nothing (status unchanged).",
		groups:  storeGroups,
		maxArgs: 1,
		build: func(fs *flag.FlagSet) runFunc {
			version := fs.String("version", "", "the version to load it as")
			team := fs.String("team", "platform", "the team the events are signed by (catalogues are public)")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(ctx context.Context, inv *invocation) error {
				if len(inv.args) != 1 {
					return usageError("FILE is required")
				}
				return loadCatalogFile(ctx, inv, inv.args[0], *version, *team, *asJSON)
			}
		},
	}
}

func loadCatalogFile(ctx context.Context, inv *invocation, path, version, team string, asJSON bool) error {
	f, err := os.Open(path)
	if err != nil {
		return usageError("%v", err)
	}
	defer f.Close()
	store, auditKey, release, err := openEventStoreToWrite(ctx, inv, "cspm catalogs load")
	if err != nil {
		return err
	}
	defer release()
	h := acmd.New(commands.NewKit(store, eventstore.NewDomainCodec(), time.Now), catalogParsers{})
	res, err := h.LoadCatalog(ctx, commands.Meta{TeamID: team, Actor: cliActor, Route: "cli catalogs load"},
		acmd.LoadCatalog{FileName: filepath.Base(path), Version: version, Body: f})
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return usageError("%s: %v", path, err)
	}
	if err != nil {
		return err
	}
	takeCheckpoint(ctx, inv, store, auditKey)
	if asJSON {
		return json.NewEncoder(inv.stdout).Encode(res)
	}
	if fv := res.Framework; fv != nil {
		fmt.Fprintf(inv.stdout, "%s %s: %s (%d requirements, %d assessable)\n", fv.Framework, fv.Version, fv.Status, fv.Requirements, fv.Assessable)
	}
	for _, m := range res.Mappings {
		fmt.Fprintf(inv.stdout, "mapping %s (%s → %s): %s (%d pairs)\n", m.ID, m.Source, m.Target, m.Status, m.Pairs)
	}
	return nil
}
