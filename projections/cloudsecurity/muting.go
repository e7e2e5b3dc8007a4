package cloudsecurity

import (
	"context"
	"slices"
	"time"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Muting. Every rule has a document in muting_rules (what queries list),
// and every team one document in muting_index holding its active rules'
// matches (what a finding is checked against when it is saved). A finding
// document says whether it is muted now (muted) and by which rules
// (muted_by). A rule's change re-checks every finding it matched before or
// matches now; a finding's save checks it against the team's active rules.
// Rules never reach back: a scan's delta counts what was muted then (the
// scan deltas do), and a finding's history is untouched.

// Collections of muting.
const (
	MutingRulesCollection = "muting_rules" // one document per rule
	mutingIndexCollection = "muting_index" // one per team: its active rules' matches
)

// Rule statuses.
const (
	RuleActive  = "active"
	RuleRemoved = "removed"
	RuleExpired = "expired"
)

func mutingCollections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		{Name: MutingRulesCollection, Indexes: []readmodel.Index{
			{Name: "by_team_created", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "created_at", Desc: true}}},
			// GET /api/v1/muting-rules?status=...
			{Name: "by_team_status_created", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "status"}, {Path: "created_at", Desc: true}}},
			// The expiry scheduler: the active rules whose expiry has passed, any team.
			{Name: "by_status_expires", Fields: []readmodel.IndexField{{Path: "status"}, {Path: "expires_at"}}},
		}},
		{Name: mutingIndexCollection},
	}
}

func mutingEventTypes() []string {
	return []string{csdomain.MutingRuleCreated{}.EventType(), csdomain.MutingRuleChanged{}.EventType(),
		csdomain.MutingRuleRemoved{}.EventType(), csdomain.MutingRuleExpired{}.EventType()}
}

// applyMuting folds a muting rule event; false when ev is none.
func applyMuting(ctx context.Context, tx projections.Tx, ev projections.Event) (bool, error) {
	team := ev.Metadata.TeamID
	var (
		id     string
		status = RuleActive
		def    *ruleDef
		ended  time.Time
		reason string
	)
	switch e := fold.Value(ev.Data).(type) {
	case csdomain.MutingRuleCreated:
		id = e.RuleID
		def = &ruleDef{name: e.Name, reason: e.Reason, owner: e.Owner, match: e.Match, expiresAt: e.ExpiresAt, since: e.CreatedAt, created: e.CreatedAt}
	case csdomain.MutingRuleChanged:
		id = e.RuleID
		def = &ruleDef{name: e.Name, reason: e.Reason, owner: e.Owner, match: e.Match, expiresAt: e.ExpiresAt, since: e.ChangedAt}
	case csdomain.MutingRuleRemoved:
		id, status, ended, reason = e.RuleID, RuleRemoved, e.RemovedAt, e.Reason
	case csdomain.MutingRuleExpired:
		id, status, ended = e.RuleID, RuleExpired, e.ExpiredAt
	default:
		return false, nil
	}
	doc, _, err := fold.Get(ctx, tx, MutingRulesCollection, id)
	if err != nil {
		return true, err
	}
	old := ruleFrom(doc)
	r := old
	if def != nil {
		// The latest definition by time wins (a change never precedes the
		// creation in a stream; this keeps redeliveries harmless).
		if r.since.IsZero() || !def.since.Before(r.since) {
			created := r.created
			r.ruleDef = *def
			if created.IsZero() || (!def.created.IsZero() && def.created.Before(created)) {
				created = def.created
			}
			r.created = created
		}
	} else if r.status == RuleActive || r.status == "" {
		r.status, r.ended, r.endReason = status, ended, reason
	}
	if r.status == "" {
		r.status = RuleActive
	}
	r.id, r.team = id, team
	tx.Put(MutingRulesCollection, r.doc())

	idx, err := loadMutingIndex(ctx, tx, team)
	if err != nil {
		return true, err
	}
	if r.status == RuleActive {
		idx[id] = r.match
	} else {
		delete(idx, id)
	}
	putMutingIndex(tx, team, idx)

	// Re-check every finding the rule matched before or matches now.
	wasActive := old.status == RuleActive || old.status == ""
	return true, recheck(ctx, tx, team, idx, func(s csdomain.MuteSubject) bool {
		return (wasActive && !old.since.IsZero() && old.match.Matches(s)) || (r.status == RuleActive && r.match.Matches(s))
	}, []csdomain.MuteMatch{old.match, r.match})
}

// recheck re-evaluates the mute of the team's findings that affected says
// a rule change may touch (the scopes its matches allow).
func recheck(ctx context.Context, tx projections.Tx, team string, idx map[string]csdomain.MuteMatch, affected func(csdomain.MuteSubject) bool, matches []csdomain.MuteMatch) error {
	ids, err := lifecycle.Members(ctx, tx, team, func(s csdomain.Scope) bool {
		for _, m := range matches {
			if scopeMayMatch(m, s) {
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	for _, m := range matches {
		ids = append(ids, m.FindingIDs...) // findings named directly, wherever they are
	}
	slices.Sort(ids)
	for _, fid := range slices.Compact(ids) {
		d, found, err := fold.Get(ctx, tx, FindingsCollection, fid)
		if err != nil {
			return err
		}
		if !found || fold.Str(d, "team_id") != team || fold.Str(d, "source") != SourceImport {
			continue
		}
		if !affected(subjectOf(d)) {
			continue
		}
		if setMuted(d, idx) {
			tx.Put(FindingsCollection, fold.OmitEmpty(d))
		}
	}
	return nil
}

// scopeMayMatch: could a finding of scope s match m (ignoring the criteria
// a scope does not decide)?
func scopeMayMatch(m csdomain.MuteMatch, s csdomain.Scope) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return len(m.FindingIDs) == 0 && in(m.Checks, s.Check) && in(m.Accounts, s.Account) && in(m.Regions, s.Region)
}

func subjectOf(d readmodel.Doc) csdomain.MuteSubject {
	tags := fold.TagsFrom(d, "tags")
	return csdomain.MuteSubject{FindingID: d.ID(), Check: fold.Str(d, "check_id"), Resource: fold.Str(d, "resource_id"),
		Account: fold.Str(d, "account_id"), Region: fold.Str(d, "region"), Tags: tags}
}

// setMuted sets a finding document's muted and muted_by from the team's
// active rules; it reports a change.
func setMuted(d readmodel.Doc, idx map[string]csdomain.MuteMatch) bool {
	s := subjectOf(d)
	var by []string
	for id, m := range idx {
		if m.Matches(s) {
			by = append(by, id)
		}
	}
	slices.Sort(by)
	old := fold.Strs(d, "muted_by")
	if slices.Equal(old, by) && fold.Flag(d, "muted") == (len(by) > 0) { // a false flag may be left out (fold.OmitEmpty)
		return false
	}
	l := make([]any, len(by))
	for i, x := range by {
		l[i] = x
	}
	d["muted_by"], d["muted"] = l, len(by) > 0
	return true
}

type ruleDef struct {
	name, reason, owner string
	match               csdomain.MuteMatch
	expiresAt, since    time.Time
	created             time.Time
}

type ruleDoc struct {
	ruleDef
	id, team, status, endReason string
	ended                       time.Time
}

func ruleFrom(d readmodel.Doc) ruleDoc {
	return ruleDoc{
		ruleDef: ruleDef{name: fold.Str(d, "name"), reason: fold.Str(d, "reason"), owner: fold.Str(d, "owner"),
			match: fold.MuteMatchFrom(fold.Obj(d, "match")), expiresAt: fold.Time(d, "expires_at"), since: fold.Time(d, "since"),
			created: fold.Time(d, "created_at")},
		id: d.ID(), team: fold.Str(d, "team_id"), status: fold.Str(d, "status"), endReason: fold.Str(d, "end_reason"),
		ended: fold.Time(d, "ended_at"),
	}
}

func (r ruleDoc) doc() readmodel.Doc {
	return readmodel.Doc{
		"_id": r.id, "team_id": r.team, "name": r.name, "reason": r.reason, "owner": r.owner,
		"match": fold.MuteMatchDoc(r.match), "expires_at": fold.TimeOrNil(r.expiresAt), "since": fold.TimeOrNil(r.since),
		"created_at": fold.TimeOrNil(r.created), "status": r.status, "ended_at": fold.TimeOrNil(r.ended), "end_reason": r.endReason,
	}
}

func mutingIndexID(team string) string { return csdomain.Scope{}.ID(team) }

func loadMutingIndex(ctx context.Context, tx projections.Tx, team string) (map[string]csdomain.MuteMatch, error) {
	d, _, err := fold.Get(ctx, tx, mutingIndexCollection, mutingIndexID(team))
	if err != nil {
		return nil, err
	}
	out := map[string]csdomain.MuteMatch{}
	for id, v := range fold.Obj(d, "rules") {
		m, _ := v.(map[string]any)
		out[id] = fold.MuteMatchFrom(m)
	}
	return out, nil
}

func putMutingIndex(tx projections.Tx, team string, idx map[string]csdomain.MuteMatch) {
	rules := map[string]any{}
	for id, m := range idx {
		rules[id] = fold.MuteMatchDoc(m)
	}
	tx.Put(mutingIndexCollection, readmodel.Doc{"_id": mutingIndexID(team), "team_id": team, "rules": rules})
}
