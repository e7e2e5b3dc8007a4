package legacy

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"
)

func (l *Loader) team(f doc, e *errs) string {
	t := e.s(f.str("team_id", "teamId", "tenant_id", "organization_id"))
	if t == "" {
		t = l.opts.DefaultTeam
	}
	return t
}

func (l *Loader) user(src Source, f doc) (User, error) {
	var e errs
	u := User{Source: src, ID: src.ID, TeamID: l.team(f, &e)}
	u.Email = strings.ToLower(e.s(f.required("email", "email_address")))
	u.Name = e.s(f.str("full_name", "name", "display_name", "username"))
	u.Role = strings.ToLower(e.s(f.str("role")))
	active, err := f.bool(true, "is_active", "active", "enabled")
	if err != nil && e.err == nil {
		e.err = err
	}
	u.Active = active
	if st := strings.ToLower(e.s(f.str("status"))); st == "disabled" || st == "inactive" || st == "deleted" {
		u.Active = false
	}
	u.CreatedAt = e.t(f.time("created_at", "createdAt", "date_joined"))
	u.LastLoginAt = e.t(f.time("last_login", "last_login_at", "lastLogin"))
	if e.err != nil {
		return User{}, e.err
	}
	if _, err := mail.ParseAddress(u.Email); err != nil {
		return User{}, fmt.Errorf("email: %q is not an address", u.Email)
	}
	if u.TeamID == "" {
		return User{}, errors.New("team_id: missing (and no default team)")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = f.oidTime()
	}
	return u, nil
}

// provider lower-cases a provider and maps the legacy spellings.
func provider(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	switch p {
	case "amazon", "amazon web services", "amazon_web_services":
		return "aws"
	case "microsoft", "microsoft azure":
		return "azure"
	case "google", "google cloud", "google_cloud", "gcloud":
		return "gcp"
	case "k8s":
		return "kubernetes"
	}
	return p
}

func (l *Loader) account(src Source, f doc) (CloudAccount, error) {
	var e errs
	a := CloudAccount{Sources: []Source{src}, TeamID: l.team(f, &e)}
	a.Provider = provider(e.s(f.required("provider", "cloud_provider", "cloud")))
	a.AccountID = e.s(f.required("account_id", "cloud_account_id", "aws_account_id", "subscription_id", "project_id", "account_number"))
	a.Name = e.s(f.str("name", "account_name", "alias", "display_name"))
	a.Organization = e.s(f.str("organization", "organization_name", "org_name", "org"))
	a.Status = strings.ToLower(e.s(f.str("status", "state")))
	if active, err := f.bool(true, "is_active", "active", "enabled"); err == nil && !active && a.Status == "" {
		a.Status = "inactive"
	}
	tags, err := f.tags("tags", "labels")
	if err != nil && e.err == nil {
		e.err = err
	}
	a.Tags = tags
	regions, err := f.strings("regions", "enabled_regions")
	if err != nil && e.err == nil {
		e.err = err
	}
	a.Regions = regions
	a.CreatedAt = e.t(f.time("created_at", "createdAt", "onboarded_at"))
	a.UpdatedAt = e.t(f.time("updated_at", "updatedAt", "last_modified"))
	if e.err != nil {
		return CloudAccount{}, e.err
	}
	if a.TeamID == "" {
		return CloudAccount{}, errors.New("team_id: missing (and no default team)")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = f.oidTime()
	}
	return a, nil
}

// scanStatus maps the legacy statuses onto requested, running, completed, failed.
func scanStatus(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "pending", "queued", "requested", "scheduled", "created":
		return "requested", true
	case "running", "in_progress", "started", "scanning":
		return "running", true
	case "completed", "complete", "success", "succeeded", "finished", "done":
		return "completed", true
	case "failed", "failure", "error", "errored", "cancelled", "canceled", "timeout", "timed_out":
		return "failed", true
	}
	return "", false
}

func (l *Loader) scanRun(src Source, f doc) (ScanRun, error) {
	var e errs
	s := ScanRun{Source: src, ID: src.ID, TeamID: l.team(f, &e)}
	s.ScanID = e.s(f.str("scan_id", "scanId", "run_id"))
	if s.ScanID == "" {
		s.ScanID = src.ID
	}
	s.AccountID = e.s(f.required("account_id", "cloud_account_id", "aws_account_id", "subscription_id", "project_id"))
	s.Provider = provider(e.s(f.str("provider", "cloud_provider", "cloud")))
	s.Tool = strings.ToLower(e.s(f.required("tool", "scanner", "scan_tool", "engine")))
	s.Target = e.s(f.str("target"))
	raw := e.s(f.required("status", "state"))
	s.CreatedAt = e.t(f.time("created_at", "createdAt", "requested_at", "scheduled_at"))
	s.StartedAt = e.t(f.time("started_at", "startedAt", "start_time"))
	s.CompletedAt = e.t(f.time("completed_at", "completedAt", "finished_at", "end_time", "ended_at"))
	s.ResourceCount = e.i(f.int("resources_scanned", "resource_count", "total_resources"))
	s.Error = e.s(f.str("error", "error_message", "failure_reason"))
	if e.err != nil {
		return ScanRun{}, e.err
	}
	st, ok := scanStatus(raw)
	if !ok {
		return ScanRun{}, fmt.Errorf("status: %q is not a scan status (pending, running, completed, failed...)", raw)
	}
	s.Status = st
	if s.Provider == "" {
		s.Provider = "other"
	}
	if s.TeamID == "" {
		return ScanRun{}, errors.New("team_id: missing (and no default team)")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = first(s.StartedAt, f.oidTime())
	}
	if s.Status == "completed" && s.CompletedAt.IsZero() {
		return ScanRun{}, errors.New("completed_at: missing on a completed scan")
	}
	if s.ResourceCount < 0 {
		return ScanRun{}, fmt.Errorf("resources_scanned: %d is negative", s.ResourceCount)
	}
	return s, nil
}

func first(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// severity maps the legacy severities onto the platform's.
func severity(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return "critical", true
	case "high":
		return "high", true
	case "medium", "moderate":
		return "medium", true
	case "low":
		return "low", true
	case "informational", "info", "information", "none":
		return "informational", true
	}
	return "", false
}

// findingStatus maps the legacy statuses onto open, resolved, suppressed.
func findingStatus(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "open", "active", "new", "fail", "failed", "reopened", "in_progress":
		return "open", true
	case "resolved", "fixed", "closed", "mitigated", "remediated", "pass", "passed":
		return "resolved", true
	case "suppressed", "muted", "accepted", "risk_accepted", "false_positive", "ignored", "exception":
		return "suppressed", true
	}
	return "", false
}

func (l *Loader) finding(src Source, f doc) (Finding, error) {
	var e errs
	fd := Finding{Source: src, ID: src.ID, TeamID: l.team(f, &e)}
	fd.ScanID = e.s(f.required("scan_id", "scanId", "scan_run_id"))
	fd.AccountID = e.s(f.str("account_id", "cloud_account_id", "aws_account_id"))
	fd.CheckID = e.s(f.required("check_id", "rule_id", "control_id"))
	fd.Title = e.s(f.required("title", "check_title", "name"))
	rawSev := e.s(f.required("severity"))
	fd.ResourceID = e.s(f.required("resource_id", "resource_arn", "resource_uid", "resource"))
	fd.Region = e.s(f.str("region"))
	fd.Description = e.s(f.str("description", "status_extended", "message"))
	rawStatus := e.s(f.str("status", "state"))
	fd.FirstSeen = e.t(f.time("first_seen", "first_seen_at", "created_at", "detected_at"))
	fd.ResolvedAt = e.t(f.time("resolved_at", "fixed_at", "closed_at"))
	fd.SuppressedReason = e.s(f.str("suppression_reason", "suppressed_reason", "mute_reason", "justification"))
	fd.SuppressedUntil = e.t(f.time("suppressed_until", "mute_until", "expires_at"))
	fd.SuppressedAt = e.t(f.time("suppressed_at", "muted_at"))
	fd.ResolutionComment = e.s(f.str("resolution_comment", "resolution"))
	lastSeen := e.t(f.time("last_seen", "last_seen_at", "updated_at"))
	if e.err != nil {
		return Finding{}, e.err
	}
	sev, ok := severity(rawSev)
	if !ok {
		return Finding{}, fmt.Errorf("severity: %q is not a severity (critical, high, medium, low, informational)", rawSev)
	}
	fd.Severity = sev
	st, ok := findingStatus(rawStatus)
	if !ok {
		return Finding{}, fmt.Errorf("status: %q is not a finding status (open, resolved, suppressed...)", rawStatus)
	}
	fd.Status = st
	if fd.TeamID == "" {
		return Finding{}, errors.New("team_id: missing (and no default team)")
	}
	if fd.FirstSeen.IsZero() {
		fd.FirstSeen = f.oidTime()
	}
	if fd.Status == "resolved" && fd.ResolvedAt.IsZero() {
		fd.ResolvedAt = first(lastSeen, fd.FirstSeen)
	}
	if fd.Status == "suppressed" {
		if fd.SuppressedAt.IsZero() {
			fd.SuppressedAt = first(lastSeen, fd.FirstSeen)
		}
		if fd.SuppressedReason == "" {
			fd.SuppressedReason = "suppressed in the legacy platform (" + strings.ToLower(strings.TrimSpace(rawStatus)) + ")"
		}
	}
	return fd, nil
}

// Merge merges the accounts of the legacy collection (CollCloudAccounts) and
// enhanced_cloud_accounts by (team, provider, account id), the enhanced
// document winning field by field: a field the enhanced document has (not
// empty) is taken from it, one it lacks from the legacy document. Tags
// are merged key by key (enhanced winning), regions are the enhanced ones
// when it has any. CreatedAt is the earlier of the two (the account
// existed since the legacy record), UpdatedAt the later. The result is
// sorted by CreatedAt, then key.
func Merge(legacyAccounts, enhanced []CloudAccount) []CloudAccount {
	byKey := map[string]*CloudAccount{}
	var order []string
	add := func(a CloudAccount) {
		k := a.Key()
		cur, ok := byKey[k]
		if !ok {
			c := a
			c.Sources = slices.Clone(a.Sources)
			c.Tags = maps.Clone(a.Tags)
			byKey[k] = &c
			order = append(order, k)
			return
		}
		cur.Sources = append(cur.Sources, a.Sources...)
		over := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		over(&cur.Name, a.Name)
		over(&cur.Organization, a.Organization)
		over(&cur.Status, a.Status)
		if len(a.Tags) > 0 {
			if cur.Tags == nil {
				cur.Tags = map[string]string{}
			}
			maps.Copy(cur.Tags, a.Tags)
		}
		if len(a.Regions) > 0 {
			cur.Regions = a.Regions
		}
		if !a.CreatedAt.IsZero() && (cur.CreatedAt.IsZero() || a.CreatedAt.Before(cur.CreatedAt)) {
			cur.CreatedAt = a.CreatedAt
		}
		if a.UpdatedAt.After(cur.UpdatedAt) {
			cur.UpdatedAt = a.UpdatedAt
		}
	}
	for _, a := range legacyAccounts {
		add(a)
	}
	for _, a := range enhanced {
		add(a)
	}
	out := make([]CloudAccount, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	slices.SortStableFunc(out, func(a, b CloudAccount) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Key(), b.Key())
	})
	return out
}

// Dataset merges the accounts and returns everything read. Users, scan
// runs and findings are sorted by their creation time, then legacy id, so
// that an import appends in the legacy platform's order.
func (l *Loader) Dataset() Dataset {
	ds := Dataset{
		Users:    slices.Clone(l.users),
		Accounts: Merge(l.legacy, l.enhanced),
		ScanRuns: slices.Clone(l.scans),
		Findings: slices.Clone(l.findings),
		Read:     maps.Clone(l.read),
		Problems: slices.Clone(l.problems),
	}
	slices.SortStableFunc(ds.Users, func(a, b User) int { return byTime(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	slices.SortStableFunc(ds.ScanRuns, func(a, b ScanRun) int { return byTime(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	slices.SortStableFunc(ds.Findings, func(a, b Finding) int { return byTime(a.FirstSeen, b.FirstSeen, a.ID, b.ID) })
	return ds
}

func byTime(a, b time.Time, ida, idb string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(ida, idb)
}
