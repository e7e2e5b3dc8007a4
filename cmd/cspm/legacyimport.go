package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/legacy"
	"github.com/cspm-es/cspm-es/platform/progress"
)

// `cspm import-legacy` reads the legacy platform's data (mongoexport
// files, or its MongoDB) and appends it to the event store as events, with
// the legacy documents' own times and an import marker, idempotently
// (docs/legacy-import.md, decisions 94 and 95). Like `cspm keys create` it
// works on the event store directly: the embedded store is refused while a
// server owns the data directory; the server's projectors pick the events
// up when it starts.

// legacyActor and legacyRoute mark the imported events (metadata actor and
// route); their correlation id names the legacy document.
const (
	legacyActor = "import-legacy"
	legacyRoute = "cli import-legacy"
)

// legacyLockHint is what the import says when a server owns the directory.
const legacyLockHint = "stop it first: the import appends to the event store directly, and the server's projectors read it when it starts again"

func importLegacyCommand() *command {
	return &command{
		name:    "import-legacy",
		summary: "import the legacy platform's users, cloud accounts, scan runs and findings into the event store",
		args:    "--from-dir DIR | --from-mongodb URI [--team T] [--report FILE] [--dry-run]",
		description: "Reads the legacy platform's data, from mongoexport files (--from-dir: files\n" +
			"named <db>.<collection>.json or <collection>.json, JSON Lines or --jsonArray,\n" +
			"Extended JSON canonical or relaxed) or from its MongoDB (--from-mongodb), and\n" +
			"appends it as events with the documents' own times, marked as imported (actor\n" +
			"import-legacy, correlation id legacy:<db>.<collection>:<_id>). The legacy\n" +
			"accounts collection and enhanced_cloud_accounts are merged, the enhanced\n" +
			"document winning; the database cspm_platform_core is read as cspm_platform.\n" +
			"Running it again imports nothing twice. Documents it cannot read or import\n" +
			"are skipped and listed with\n" +
			"the reason (--report FILE writes the whole report as JSON); exit status 1 when\n" +
			"any was skipped, 0 when everything read was imported (or was already).\n" +
			"Works on the event store directly: refused while a server owns --data-dir.",
		groups: storeGroups,
		build: func(fs *flag.FlagSet) runFunc {
			dir := fs.String("from-dir", "", "directory of mongoexport files (<db>.<collection>.json or <collection>.json)")
			uri := fs.String("from-mongodb", "", "the legacy platform's MongoDB, read only (mongodb://...; --mongodb-uri is the store written to)")
			team := fs.String("team", "", "team of the documents that name none (the legacy platform's single tenant)")
			report := fs.String("report", "", "write the report (read, imported, skipped and why) as JSON to FILE")
			dry := fs.Bool("dry-run", false, "read and check the legacy data, append nothing")
			asJSON := fs.Bool("json", false, "print the report as JSON instead of the summary table")
			workers := fs.Int("workers", 8, "documents of one kind imported at once (their streams are independent; the store commits them in groups)")
			return func(ctx context.Context, inv *invocation) error {
				if (*dir == "") == (*uri == "") {
					return usageError("import-legacy: give one of --from-dir or --from-mongodb")
				}
				if *workers < 1 || *workers > 64 {
					return usageError("import-legacy: --workers: %d is not between 1 and 64", *workers)
				}
				return importLegacy(ctx, inv, legacyOptions{dir: *dir, uri: *uri, team: *team, report: *report, dryRun: *dry, asJSON: *asJSON, workers: *workers})
			}
		},
	}
}

type legacyOptions struct {
	dir, uri, team, report string
	dryRun, asJSON         bool
	workers                int
}

// legacyDatabase is a legacy database read, and the name it was read as.
type legacyDatabase struct {
	Name       string `json:"name"`
	ReadAs     string `json:"read_as"`
	Deprecated bool   `json:"deprecated,omitempty"`
}

// legacyReport is what `import-legacy` did (--report, --json).
type legacyReport struct {
	Source    string           `json:"source"`
	DryRun    bool             `json:"dry_run,omitempty"`
	Databases []legacyDatabase `json:"databases"`
	// Ignored are the files or collections not read (not a collection the import knows).
	Ignored []string `json:"ignored,omitempty"`
	// Kinds are the counts per kind of document, in import order.
	Kinds []*legacyKind `json:"kinds"`
	// Skipped are the documents not imported (or imported in part), and why.
	Skipped  []legacy.Problem `json:"skipped"`
	Events   int              `json:"events"`   // appended by this run
	Position int64            `json:"position"` // the store's position after the last append (0: none)
	Duration string           `json:"duration"`
}

// legacyKind counts one kind of document.
type legacyKind struct {
	Kind     string `json:"kind"`
	Read     int    `json:"read"`     // documents read (accounts: merged accounts)
	Imported int    `json:"imported"` // appended now
	Already  int    `json:"already"`  // imported by an earlier run: nothing appended
	Skipped  int    `json:"skipped"`  // not imported (Skipped says why)
}

func (r *legacyReport) kind(name string) *legacyKind {
	for _, k := range r.Kinds {
		if k.Kind == name {
			return k
		}
	}
	k := &legacyKind{Kind: name}
	r.Kinds = append(r.Kinds, k)
	return k
}

func importLegacy(ctx context.Context, inv *invocation, o legacyOptions) error {
	start := time.Now()
	rep := &legacyReport{DryRun: o.dryRun, Skipped: []legacy.Problem{}}
	for _, k := range []string{"users", "accounts", "scan_runs", "findings"} {
		rep.kind(k)
	}
	loader := legacy.NewLoader(legacy.Options{DefaultTeam: o.team})
	var err error
	if o.dir != "" {
		rep.Source = o.dir
		err = readLegacyDir(inv, o.dir, loader, rep)
	} else {
		rep.Source = redactURI(o.uri)
		err = readLegacyMongo(ctx, inv, o.uri, loader, rep)
	}
	if err != nil {
		return err
	}
	ds := loader.Dataset()
	rep.kind("users").Read = ds.Read[legacy.CollUsers]
	rep.kind("accounts").Read = ds.Read[legacy.CollCloudAccounts] + ds.Read[legacy.CollEnhancedCloudAccounts]
	rep.kind("scan_runs").Read = ds.Read[legacy.CollScanRuns]
	rep.kind("findings").Read = ds.Read[legacy.CollFindings]
	for _, p := range ds.Problems {
		rep.skip(p)
	}
	if !o.dryRun {
		if err := appendLegacy(ctx, inv, ds, rep, o.workers); err != nil {
			return err
		}
	}
	rep.sortSkipped()
	rep.Duration = time.Since(start).Round(time.Millisecond).String()
	if o.report != "" {
		if err := writeFileAtomic(o.report, func(w io.Writer) error { return writeJSON(w, rep) }); err != nil {
			return fmt.Errorf("import-legacy: write the report: %w", err)
		}
	}
	if o.asJSON {
		if err := writeJSON(inv.stdout, rep); err != nil {
			return err
		}
	} else {
		printLegacyReport(inv.stdout, rep)
	}
	if len(rep.Skipped) > 0 {
		return &exitError{code: exitFailure}
	}
	return nil
}

// skip counts a problem against its kind and lists it.
func (r *legacyReport) skip(p legacy.Problem) {
	r.Skipped = append(r.Skipped, p)
	switch p.Collection {
	case legacy.CollUsers:
		r.kind("users").Skipped++
	case legacy.CollCloudAccounts, legacy.CollEnhancedCloudAccounts:
		r.kind("accounts").Skipped++
	case legacy.CollScanRuns:
		r.kind("scan_runs").Skipped++
	case legacy.CollFindings:
		r.kind("findings").Skipped++
	}
}

// sortSkipped orders the skipped documents by collection (import order),
// database, then index: the same on every run, however the documents of a
// kind were scheduled.
func (r *legacyReport) sortSkipped() {
	slices.SortStableFunc(r.Skipped, func(a, b legacy.Problem) int {
		if c := slices.Index(legacy.Collections, a.Collection) - slices.Index(legacy.Collections, b.Collection); c != 0 {
			return c
		}
		if c := strings.Compare(a.Database, b.Database); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
}

// legacyNames resolves the legacy databases' names: the registry's default
// names (the legacy platform had no prefix) and their deprecated aliases.
var legacyNames = dbregistry.MustNew("")

// readAs is the name database is read as (cspm_platform_core →
// cspm_platform), noted once in the report with a warning.
func readAs(inv *invocation, rep *legacyReport, database string) string {
	name, deprecated := database, false
	if res, err := legacyNames.Resolve(database); err == nil {
		name, deprecated = res.Name, res.Deprecated
		if deprecated {
			inv.log.Warn(res.Warning(), "component", "import-legacy")
		}
	}
	if !slices.ContainsFunc(rep.Databases, func(d legacyDatabase) bool { return d.Name == database }) {
		rep.Databases = append(rep.Databases, legacyDatabase{Name: database, ReadAs: name, Deprecated: deprecated})
	}
	return name
}

// legacyFile is one mongoexport file of a known collection.
type legacyFile struct {
	path, database, collection string
	size                       int64
}

// readLegacyDir reads the mongoexport files of dir: <db>.<collection>.json
// or <collection>.json (database unknown).
func readLegacyDir(inv *invocation, dir string, loader *legacy.Loader, rep *legacyReport) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("import-legacy: --from-dir: %w", err)
	}
	var files []legacyFile
	var total int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		base := strings.TrimSuffix(name, ".json")
		database, collection := "", base
		if i := strings.LastIndexByte(base, '.'); i >= 0 {
			database, collection = base[:i], base[i+1:]
		}
		if !legacy.Known(collection) {
			rep.Ignored = append(rep.Ignored, name)
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("import-legacy: %w", err)
		}
		if database != "" {
			database = readAs(inv, rep, database)
		}
		files = append(files, legacyFile{path: filepath.Join(dir, name), database: database, collection: collection, size: info.Size()})
		total += info.Size()
	}
	if len(files) == 0 {
		return usageError("import-legacy: no mongoexport file of %s in %s (<db>.<collection>.json or <collection>.json)",
			strings.Join(legacy.Collections, ", "), dir)
	}
	// Collections in import order; a collection's files by name.
	slices.SortFunc(files, func(a, b legacyFile) int {
		if c := slices.Index(legacy.Collections, a.collection) - slices.Index(legacy.Collections, b.collection); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	bar := progress.NewBytes(inv.stderr, "reading legacy files", total)
	defer bar.Finish()
	for _, f := range files {
		if err := readLegacyFile(f, loader, bar); err != nil {
			return err
		}
	}
	return nil
}

func readLegacyFile(f legacyFile, loader *legacy.Loader, bar *progress.Bar) error {
	r, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("import-legacy: %w", err)
	}
	if err != nil {
		return fmt.Errorf("import-legacy: %w", err)
	}
	defer r.Close()
	// A broken --jsonArray file is a Problem in the loader (the documents
	// before the break are kept): the import goes on with the next file.
	_, _ = loader.ReadFile(f.database, f.collection, &barReader{r: r, bar: bar})
	return nil
}

// readLegacyMongo reads the known collections of the legacy databases of
// uri: every database the registry knows by its default name or a
// deprecated alias (cspm_platform_core), and the database the URI names.
func readLegacyMongo(ctx context.Context, inv *invocation, uri string, loader *legacy.Loader, rep *legacyReport) error {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(time.Minute))
	if err != nil {
		return fmt.Errorf("import-legacy: --from-mongodb: %w", err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	dbs, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("import-legacy: list the databases of %s: %w", redactURI(uri), err)
	}
	slices.Sort(dbs)
	type source struct{ database, readAs, collection string }
	var sources []source
	var total int64
	for _, db := range dbs {
		if _, err := legacyNames.Resolve(db); err != nil {
			continue // not a legacy platform database (admin, local...)
		}
		colls, err := client.Database(db).ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("import-legacy: list the collections of %s: %w", db, err)
		}
		as := ""
		for _, c := range colls {
			if !legacy.Known(c) {
				continue
			}
			if as == "" {
				as = readAs(inv, rep, db)
			}
			n, err := client.Database(db).Collection(c).EstimatedDocumentCount(ctx)
			if err != nil {
				return fmt.Errorf("import-legacy: count %s.%s: %w", db, c, err)
			}
			total += n
			sources = append(sources, source{database: db, readAs: as, collection: c})
		}
	}
	if len(sources) == 0 {
		return usageError("import-legacy: no collection of %s in the legacy databases of %s", strings.Join(legacy.Collections, ", "), redactURI(uri))
	}
	slices.SortStableFunc(sources, func(a, b source) int {
		return slices.Index(legacy.Collections, a.collection) - slices.Index(legacy.Collections, b.collection)
	})
	bar := progress.New(inv.stderr, "reading legacy documents", total)
	defer bar.Finish()
	for _, s := range sources {
		cur, err := client.Database(s.database).Collection(s.collection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return fmt.Errorf("import-legacy: read %s.%s: %w", s.database, s.collection, err)
		}
		i := 0
		for cur.Next(ctx) {
			loader.AddRaw(legacy.Source{Database: s.readAs, Collection: s.collection, Index: i}, cur.Current)
			i++
			bar.Add(1)
		}
		err = cur.Err()
		_ = cur.Close(ctx)
		if err != nil {
			return fmt.Errorf("import-legacy: read %s.%s at document %d: %w", s.database, s.collection, i, err)
		}
	}
	return nil
}

// redactURI hides a URI's password.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	creds, host, ok := strings.Cut(rest, "@")
	if !ok {
		return uri
	}
	user, _, _ := strings.Cut(creds, ":")
	return scheme + "://" + user + ":***@" + host
}

func printLegacyReport(w io.Writer, rep *legacyReport) {
	verb := "imported"
	if rep.DryRun {
		verb = "read (dry run: nothing appended)"
	}
	fmt.Fprintf(w, "legacy data from %s %s in %s\n", rep.Source, verb, rep.Duration)
	for _, d := range rep.Databases {
		if d.Deprecated {
			fmt.Fprintf(w, "  database %s read as %s (deprecated name)\n", d.Name, d.ReadAs)
		}
	}
	for _, name := range rep.Ignored {
		fmt.Fprintf(w, "  ignored  %s (not a collection the import reads)\n", name)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tread\timported\talready imported\tskipped\t")
	for _, k := range rep.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", k.Kind, k.Read, k.Imported, k.Already, k.Skipped)
	}
	_ = tw.Flush()
	if !rep.DryRun {
		fmt.Fprintf(w, "events appended: %d", rep.Events)
		if rep.Position > 0 {
			fmt.Fprintf(w, ", through position %d", rep.Position)
		}
		fmt.Fprintln(w)
	}
	for i, p := range rep.Skipped {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more skipped (--report FILE lists them all)\n", len(rep.Skipped)-i)
			break
		}
		where := p.Collection
		if p.Database != "" {
			where = p.Database + "." + where
		}
		id := p.ID
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(w, "  skipped %s[%d] _id %s: %s\n", where, p.Index, id, p.Reason)
	}
}
