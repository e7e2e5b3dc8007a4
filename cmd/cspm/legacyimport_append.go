package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	orchcmd "github.com/cspm-es/cspm-es/commands/orchestration"
	platformcmd "github.com/cspm-es/cspm-es/commands/platform"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	orchdomain "github.com/cspm-es/cspm-es/domain/orchestration"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/parsers/legacy"
	"github.com/cspm-es/cspm-es/platform/progress"
)

// legacyNamespace derives the ids of imported scans and findings from the
// team and the legacy ids (UUIDv5): the same document always gets the same
// stream, and two teams' documents never share one (decision 95).
var legacyNamespace = uuid.MustParse("6f1c2a52-5d0e-4c8e-9a53-0b7e1f3d9c41")

func legacyUUID(kind, team, id string) string {
	return uuid.NewSHA1(legacyNamespace, []byte(kind+"\x00"+team+"\x00"+id)).String()
}

// legacyImporter appends a Dataset through the modules' own command
// handlers, each command on a kit whose clock is the legacy document's
// time, under an idempotency key derived from the legacy id.
type legacyImporter struct {
	store commands.EventStore
	codec *eventstore.Codec
	rep   *legacyReport
	bar   *progress.Bar
	// mu guards rep and scans: documents of one kind are imported by
	// several goroutines (their streams are independent), so that the
	// store commits their appends in groups.
	mu sync.Mutex
	// scans maps a team's legacy scan id to the id of its imported scan.
	scans map[string]string
}

// step is one command of a document's import.
type step struct {
	name string    // suffix of the idempotency key ("" for the first)
	at   time.Time // the kit's clock
	run  func(ctx context.Context, kit *commands.Kit, meta commands.Meta) (commands.Result, error)
}

// outcome of a document's steps.
type outcome int

const (
	outSkipped outcome = iota
	outImported
	outAlready
)

// legacyMeta is the metadata of a document's commands: the import's
// actor and route, the legacy document as correlation id and an
// idempotency key of its own.
func legacyMeta(team, key string, srcs ...legacy.Source) commands.Meta {
	ids := make([]string, len(srcs))
	for i, s := range srcs {
		db := s.Database
		if db != "" {
			db += "."
		}
		ids[i] = db + s.Collection + ":" + s.ID
	}
	return commands.Meta{
		TeamID:         team,
		Actor:          legacyActor,
		Route:          legacyRoute,
		CorrelationID:  "legacy:" + strings.Join(ids, ","),
		IdempotencyKey: "legacy:" + key,
	}
}

// run runs a document's steps in order. A step that fails ends the
// document: skipped when it was the first, imported in part otherwise.
func (li *legacyImporter) run(ctx context.Context, kind string, src legacy.Source, meta commands.Meta, steps []step) (outcome, error) {
	defer li.bar.Add(1)
	appended, already := false, false
	baseKey := meta.IdempotencyKey
	for i, s := range steps {
		m := meta
		if s.name != "" {
			m.IdempotencyKey = baseKey + ":" + s.name
		}
		at := s.at
		if at.IsZero() {
			// No time at all (no field, and an _id that is not an
			// ObjectId): dated at the import.
			at = time.Now()
		}
		at = eventstore.NormalizeTime(at)
		kit := commands.NewKit(li.store, li.codec, func() time.Time { return at })
		res, err := s.run(ctx, kit, m)
		if err != nil {
			if !isRefusal(err) {
				return outSkipped, fmt.Errorf("import-legacy: %s %s: %w", kind, src.ID, err)
			}
			reason := err.Error()
			if i > 0 {
				reason = fmt.Sprintf("imported in part: %s not imported: %s", s.nameOr(), reason)
			}
			li.mu.Lock()
			if i == 0 {
				li.rep.skip(legacy.Problem{Source: src, Reason: reason})
				li.mu.Unlock()
				return outSkipped, nil
			}
			// Imported in part: counted as imported (or already), listed.
			li.rep.Skipped = append(li.rep.Skipped, legacy.Problem{Source: src, Reason: reason})
			li.mu.Unlock()
			break
		}
		if res.Duplicate {
			already = true
			continue
		}
		appended = true
		li.mu.Lock()
		li.rep.Events += len(res.EventIDs)
		if res.Position > li.rep.Position {
			li.rep.Position = res.Position
		}
		li.mu.Unlock()
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	k := li.rep.kind(kind)
	switch {
	case appended:
		k.Imported++
		return outImported, nil
	case already:
		k.Already++
		return outAlready, nil
	}
	return outSkipped, nil
}

func (s step) nameOr() string {
	if s.name == "" {
		return "the document"
	}
	return s.name
}

// isRefusal reports whether err is the domain refusing a command (bad
// input, a rule, an id in use, an idempotency key reused with other
// content): the document is skipped. Anything else (the store failing)
// stops the import.
func isRefusal(err error) bool {
	var ve *domain.ValidationError
	var re *domain.RuleError
	var inUse *commands.IDInUseError
	return errors.As(err, &ve) || errors.As(err, &re) || errors.As(err, &inUse) ||
		errors.Is(err, domain.ErrNotFound) || errors.Is(err, eventstore.ErrIdempotencyMismatch) ||
		errors.Is(err, eventstore.ErrConflict)
}

func (li *legacyImporter) account(ctx context.Context, a legacy.CloudAccount) error {
	id := csdomain.AccountID(a.TeamID, a.Provider, a.AccountID)
	meta := legacyMeta(a.TeamID, "account:"+a.Provider+"/"+a.AccountID, a.Sources...)
	src := a.Sources[len(a.Sources)-1]
	steps := []step{{at: a.CreatedAt, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
		return cscmd.New(kit).RegisterAccount(ctx, m, cscmd.RegisterAccount{
			Provider: a.Provider, UID: a.AccountID, Name: a.Name, Organization: a.Organization, Tags: a.Tags})
	}}}
	if a.Retired() {
		at := a.UpdatedAt
		if at.Before(a.CreatedAt) {
			at = a.CreatedAt
		}
		steps = append(steps, step{name: "retire", at: at, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			h := cscmd.New(kit).WithKnownAccounts(cscmd.KnownAccountsFunc(func(context.Context, string, string) (string, bool, error) {
				return "", false, nil // registered by the step before: never asked
			}))
			return h.RetireAccount(ctx, m, cscmd.RetireAccount{AccountID: id, Reason: "status " + a.Status + " in the legacy platform"})
		}})
	}
	_, err := li.run(ctx, "accounts", src, meta, steps)
	return err
}

func scanProvider(p string) string {
	if _, ok := orchdomain.ParseProvider(p); ok {
		return p
	}
	return "other"
}

func (li *legacyImporter) scanRun(ctx context.Context, s legacy.ScanRun) error {
	scanID := legacyUUID("scan_runs", s.TeamID, s.ScanID)
	meta := legacyMeta(s.TeamID, "scan_runs:"+s.ID, s.Source)
	steps := []step{{at: s.CreatedAt, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
		return orchcmd.New(kit).RequestScan(ctx, m, orchcmd.RequestScan{
			ScanID: scanID, AccountID: s.AccountID, Provider: scanProvider(s.Provider), Tool: s.Tool, Target: s.Target})
	}}}
	started := s.StartedAt
	if started.IsZero() {
		started = s.CreatedAt
	}
	if s.Status == "running" || s.Status == "completed" || (s.Status == "failed" && !s.StartedAt.IsZero()) {
		steps = append(steps, step{name: "start", at: started, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			return orchcmd.New(kit).StartScan(ctx, m, orchcmd.StartScan{ScanID: scanID, StartedAt: &started})
		}})
	}
	switch s.Status {
	case "completed":
		done := s.CompletedAt
		steps = append(steps, step{name: "complete", at: done, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			return orchcmd.New(kit).CompleteScan(ctx, m, orchcmd.CompleteScan{ScanID: scanID, CompletedAt: &done, ResourceCount: s.ResourceCount})
		}})
	case "failed":
		at := s.CompletedAt
		if at.IsZero() {
			at = started
		}
		reason := s.Error
		if reason == "" {
			reason = "failed in the legacy platform"
		}
		steps = append(steps, step{name: "fail", at: at, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			return orchcmd.New(kit).FailScan(ctx, m, orchcmd.FailScan{ScanID: scanID, Reason: reason})
		}})
	}
	out, err := li.run(ctx, "scan_runs", s.Source, meta, steps)
	if out != outSkipped {
		li.mu.Lock()
		li.scans[s.TeamID+"\x00"+s.ScanID] = scanID
		li.mu.Unlock()
	}
	return err
}

func (li *legacyImporter) finding(ctx context.Context, f legacy.Finding) error {
	li.mu.Lock()
	scanID, ok := li.scans[f.TeamID+"\x00"+f.ScanID]
	li.mu.Unlock()
	if !ok {
		li.mu.Lock()
		defer li.mu.Unlock()
		li.rep.skip(legacy.Problem{Source: f.Source, Reason: fmt.Sprintf("scan_id: scan run %q of team %s was not imported (not in the legacy data, or skipped)", f.ScanID, f.TeamID)})
		li.bar.Add(1)
		return nil
	}
	id := legacyUUID("findings", f.TeamID, f.ID)
	meta := legacyMeta(f.TeamID, "findings:"+f.ID, f.Source)
	steps := []step{{at: f.FirstSeen, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
		br, err := cscmd.New(kit).RaiseFindings(ctx, m, cscmd.RaiseFindings{ScanID: scanID, Findings: []cscmd.FindingInput{{
			FindingID: id, CheckID: f.CheckID, Title: f.Title, Severity: f.Severity,
			ResourceID: f.ResourceID, Region: f.Region, Description: f.Description}}})
		if err != nil {
			return commands.Result{}, err
		}
		res := br.Items[0]
		res.Duplicate = br.Duplicate || res.Duplicate
		return res, nil
	}}}
	switch f.Status {
	case "resolved":
		reason := f.ResolutionComment
		if reason == "" {
			reason = "resolved in the legacy platform"
		}
		steps = append(steps, step{name: "resolve", at: f.ResolvedAt, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			return cscmd.New(kit).ResolveFinding(ctx, m, cscmd.ResolveFinding{FindingID: id, Reason: reason})
		}})
	case "suppressed":
		var until *time.Time
		if !f.SuppressedUntil.IsZero() {
			u := f.SuppressedUntil
			until = &u
		}
		steps = append(steps, step{name: "suppress", at: f.SuppressedAt, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
			return cscmd.New(kit).SuppressFinding(ctx, m, cscmd.SuppressFinding{FindingID: id, Reason: f.SuppressedReason, Until: until})
		}})
	}
	_, err := li.run(ctx, "findings", f.Source, meta, steps)
	return err
}

// appendLegacy appends the dataset: users, accounts, scan runs, findings,
// each kind in the legacy platform's order.
func appendLegacy(ctx context.Context, inv *invocation, ds legacy.Dataset, rep *legacyReport, workers int) error {
	store, auditKey, release, err := openEventStoreForImport(ctx, inv)
	if err != nil {
		return err
	}
	defer release()
	total := int64(len(ds.Users) + len(ds.Accounts) + len(ds.ScanRuns) + len(ds.Findings))
	bar := progress.New(inv.stderr, "importing legacy documents", total)
	defer bar.Finish()
	// The codec seals personal fields (users' emails and names, owners)
	// with the data directory's privacy keyring, as serve does.
	codec, _, err := newDomainCodec(inv.cfg, inv.log)
	if err != nil {
		return err
	}
	li := &legacyImporter{store: store, codec: codec, rep: rep, bar: bar, scans: map[string]string{}}
	defer func() {
		if rep.Events > 0 {
			takeCheckpoint(ctx, inv, store, auditKey)
		}
	}()
	// Each kind after the one before (a finding needs its scan); within a
	// kind, documents in parallel.
	if err := parallel(ctx, workers, ds.Users, li.user); err != nil {
		return err
	}
	if err := parallel(ctx, workers, ds.Accounts, li.account); err != nil {
		return err
	}
	if err := parallel(ctx, workers, ds.ScanRuns, li.scanRun); err != nil {
		return err
	}
	if err := parallel(ctx, workers, ds.Findings, li.finding); err != nil {
		return err
	}
	inv.log.Info("legacy import done", "component", "import-legacy", "events", rep.Events, "position", rep.Position, "skipped", len(rep.Skipped))
	return nil
}

func (li *legacyImporter) user(ctx context.Context, u legacy.User) error {
	meta := legacyMeta(u.TeamID, "users:"+u.ID, u.Source)
	_, err := li.run(ctx, "users", u.Source, meta, []step{{at: u.CreatedAt, run: func(ctx context.Context, kit *commands.Kit, m commands.Meta) (commands.Result, error) {
		return platformcmd.New(kit).ImportUser(ctx, m, platformcmd.ImportUser{
			Email: u.Email, Name: u.Name, Role: u.Role, Active: u.Active, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt})
	}}})
	return err
}

// openEventStoreForImport opens the event store to append, as `keys
// create` does (the data directory's lock held on the embedded store), but
// creates the embedded store when there is none yet: importing the legacy
// data may be the first thing a new deployment does.
func openEventStoreForImport(ctx context.Context, inv *invocation) (eventstore.Store, eventstore.AuditKey, func(), error) {
	cfg := inv.cfg
	if cfg.Store == config.StoreSQLite {
		reg, err := dbregistry.New(cfg.DBPrefix)
		if err != nil {
			return nil, eventstore.AuditKey{}, nil, err
		}
		if _, err := existingSQLiteStore(cfg, reg); err != nil {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, eventstore.AuditKey{}, nil, fmt.Errorf("import-legacy: --data-dir: %w", err)
			}
			lock, err := lockDataDir(cfg, "cspm import-legacy", legacyLockHint)
			if err != nil {
				return nil, eventstore.AuditKey{}, nil, err
			}
			store, key, err := openWritableEventStore(ctx, cfg, reg, inv.log)
			if err != nil {
				_ = lock.Release()
				return nil, eventstore.AuditKey{}, nil, err
			}
			return store, key, func() {
				closeStore(inv, store)
				if err := lock.Release(); err != nil {
					inv.log.Warn("data directory lock", "error", err)
				}
			}, nil
		}
	}
	return openEventStoreToWrite(ctx, inv, "cspm import-legacy", legacyLockHint)
}

// parallel runs do over items with n goroutines; the first error stops
// the rest (items not started are not run).
func parallel[T any](ctx context.Context, n int, items []T, do func(context.Context, T) error) error {
	if n < 1 {
		n = 1
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan T)
	var wg sync.WaitGroup
	for range min(n, max(len(items), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range next {
				if err := do(ctx, item); err != nil {
					cancel(err)
				}
			}
		}()
	}
	func() {
		defer close(next)
		for _, item := range items {
			select {
			case next <- item:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
