package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/commands"
	retcmd "github.com/cspm-es/cspm-es/commands/retention"
	"github.com/cspm-es/cspm-es/domain/retention"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Retention policies govern read-model expiry (docs/archival.md, decision
// 101): every TTL index the projections declare is mapped here to the
// retention module whose policy sets its expiry, or to none (an internal
// TTL that keeps its declared value). TestTTLIndexModules fails when a
// projection declares a TTL index this table does not name, or the table
// names one no projection declares.

// ttlIndex is one TTL index of a module database and the module governing
// it ("" : none, its declared TTL holds).
type ttlIndex struct {
	DB         dbregistry.Constant
	Collection string
	Index      string
	Module     string
	Why        string // for a TTL no policy governs
}

// ttlIndexes is the table. No projection declares a TTL index for webhook
// deliveries (the webhooks projection keeps a bounded outbox): the
// webhook-deliveries policy governs their events only.
var ttlIndexes = []ttlIndex{
	{DB: dbregistry.ORCHESTRATION, Collection: "scan_runs", Index: "expire_finished", Module: "scan-results"},
	{DB: dbregistry.ORCHESTRATION, Collection: "scan_summaries", Index: "expire_finished", Module: "scan-results"},
	{DB: dbregistry.ORCHESTRATION, Collection: "scan_finding_index", Index: "expire_resolved", Module: "scan-results"},
	{DB: dbregistry.ORCHESTRATION, Collection: "scan_jobs", Index: "expire_ended", Module: "scan-results"},
	{DB: dbregistry.ORCHESTRATION, Collection: "sub_jobs", Index: "expire_ended", Module: "scan-results"},
	{DB: dbregistry.CLOUD_SECURITY, Collection: "findings", Index: "expire_resolved", Module: "scan-results"},
	{DB: dbregistry.PLATFORM, Collection: "dashboard_scans", Index: "expire_finished_at", Module: "scan-results"},
	{DB: dbregistry.PLATFORM, Collection: "dashboard_findings", Index: "expire_resolved_at", Module: "scan-results"},
	{DB: dbregistry.PLATFORM, Collection: "dashboard_scan_jobs", Index: "expire_ended", Module: "scan-results"},
	{DB: dbregistry.ORCHESTRATION, Collection: "scan_job_actions", Index: "expire_drop",
		Why: "the scan-job reactor's own action records (one hour), not scan results"},
}

// ttlOverrides turns the policies in force into each module database's
// TTL overrides: every governed index gets its module's days (0 days: keep).
// Databases without a governed index get an empty map (declared TTLs).
func ttlOverrides(policies []retention.Policy) (map[dbregistry.Constant]map[readmodel.TTLKey]time.Duration, error) {
	days := make(map[string]int, len(policies))
	for _, p := range policies {
		days[p.Module] = p.Days
	}
	out := map[dbregistry.Constant]map[readmodel.TTLKey]time.Duration{}
	for _, ix := range ttlIndexes {
		if ix.Module == "" {
			continue
		}
		d, ok := days[ix.Module]
		if !ok {
			return nil, fmt.Errorf("TTL index %s.%s of %s: no policy for module %q", ix.Collection, ix.Index, ix.DB, ix.Module)
		}
		if out[ix.DB] == nil {
			out[ix.DB] = map[readmodel.TTLKey]time.Duration{}
		}
		out[ix.DB][readmodel.TTLKey{Collection: ix.Collection, Index: ix.Index}] = time.Duration(d) * 24 * time.Hour
	}
	return out, nil
}

// ttlReport is one governed TTL index as a cycle left it.
type ttlReport struct {
	Database   string `json:"database"`
	Collection string `json:"collection"`
	Index      string `json:"index"`
	Module     string `json:"module"`
	Days       int    `json:"days"` // 0: documents kept
}

// applyTTLPolicies sets every module database's TTL overrides from the
// policies (readmodel.TTLTuner): the SQLite sweep then expires by them,
// MongoDB's TTL indexes are changed in place (collMod). It returns the
// governed indexes and how many server indexes changed.
func applyTTLPolicies(ctx context.Context, rm ReadModels, policies []retention.Policy) ([]ttlReport, int, error) {
	overrides, err := ttlOverrides(policies)
	if err != nil {
		return nil, 0, err
	}
	changed := 0
	for _, db := range slices.Sorted(maps.Keys(rm.Stores)) {
		tuner, ok := rm.Stores[db].(readmodel.TTLTuner)
		if !ok {
			return nil, changed, fmt.Errorf("read models of %s (%T) cannot take the retention policies' TTLs", db, rm.Stores[db])
		}
		n, err := tuner.SetTTLs(ctx, overrides[db])
		changed += n
		if err != nil {
			return nil, changed, fmt.Errorf("apply the retention policies to the TTL indexes of %s: %w", db, err)
		}
	}
	var rep []ttlReport
	for _, ix := range ttlIndexes {
		if ix.Module == "" || rm.Stores[ix.DB] == nil {
			continue
		}
		d := overrides[ix.DB][readmodel.TTLKey{Collection: ix.Collection, Index: ix.Index}]
		rep = append(rep, ttlReport{Database: string(ix.DB), Collection: ix.Collection, Index: ix.Index, Module: ix.Module, Days: int(d / (24 * time.Hour))})
	}
	slices.SortFunc(rep, func(a, b ttlReport) int {
		return strings.Compare(a.Database+"."+a.Collection+"."+a.Index, b.Database+"."+b.Collection+"."+b.Index)
	})
	return rep, changed, nil
}

// applyTTLPoliciesAtStart reads the policies in force and applies them to
// freshly opened read models, before a projector ensures its collections:
// on MongoDB EnsureCollection then builds the TTL indexes with the policy,
// not the declared 180 days.
func applyTTLPoliciesAtStart(ctx context.Context, store eventstore.Store, rm ReadModels) error {
	policies, err := retcmd.Policies(ctx, store, eventstore.NewDomainCodec())
	if err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	if _, _, err := applyTTLPolicies(ctx, rm, policies); err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	return nil
}

// ttlApplyingRetention is the retention routes' service in serve: a
// policy set through the API is applied at once to this process's read
// models (their TTL overrides; on MongoDB the server's indexes). When that
// fails the policy is recorded all the same and the next retention cycle
// applies it.
type ttlApplyingRetention struct {
	*retcmd.Handlers
	rm  ReadModels
	log *slog.Logger
}

// SetPolicy records the policy, then applies the policies in force to the
// read models' TTL indexes.
func (r ttlApplyingRetention) SetPolicy(ctx context.Context, m commands.Meta, cmd retcmd.SetPolicy) (commands.Result, error) {
	res, err := r.Handlers.SetPolicy(ctx, m, cmd)
	if err != nil || len(r.rm.Stores) == 0 {
		return res, err
	}
	policies, err := r.Handlers.Policies(ctx)
	if err == nil {
		var changed int
		_, changed, err = applyTTLPolicies(ctx, r.rm, policies)
		if err == nil {
			r.log.Info("retention policy applied to the read models' TTL indexes", "module", cmd.Module, "days", cmd.Days, "ttl_indexes_changed", changed)
		}
	}
	if err != nil {
		r.log.Warn("retention policy recorded; its read-model TTLs are applied at the next retention cycle", "module", cmd.Module, "error", err)
	}
	return res, nil
}
