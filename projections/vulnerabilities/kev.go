package vulnerabilities

import (
	"context"
	"fmt"
	"slices"
	"time"

	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	vuln "github.com/cspm-es/cspm-es/domain/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// The KEV join (decision 55): the occurrences projection also folds the
// KEV catalogue's events into its own database, so a published entry
// flags every occurrence of its CVE (any team) in the same pass, an
// occurrence arriving after the entry is flagged on arrival, and "was it
// KEV at T" is answered without joining cspm_threat_intelligence.
const (
	// KEVStatusCollection: one document per CVE ever in KEV (_id: the
	// normalised CVE id): whether it is listed now, the entry's due date
	// and ransomware flag, and its listing intervals (from, to; to null
	// while listed). Public data, like the catalog.
	KEVStatusCollection = "kev_status"
	// VulnMembersCollection: per vulnerability id, the occurrences of
	// that id in every team, in append-only pages (the head document,
	// _id the vulnerability id, counts pages; page n is
	// "<id>/<n>"), so a KEV entry reaches its occurrences in
	// O(occurrences of the CVE), not by a scan of all.
	VulnMembersCollection = "vulnerability_members"
	// MembersPageSize bounds one page of a vulnerability's members.
	MembersPageSize = 4096
)

func membersPageID(vulnID string, n int64) string { return fmt.Sprintf("%s/%d", vulnID, n) }

// addMember records a new occurrence of vulnID (called once, when the
// occurrence document is created).
func addMember(ctx context.Context, tx projections.Tx, vulnID, oid string) error {
	head, found, err := fold.Get(ctx, tx, VulnMembersCollection, vulnID)
	if err != nil {
		return err
	}
	pages := fold.Num(head, "pages")
	if !found || pages == 0 {
		head, pages = readmodel.Doc{"_id": vulnID, "vulnerability_id": vulnID, "pages": int64(1), "members": int64(0)}, 1
	}
	pid := membersPageID(vulnID, pages-1)
	page, _, err := fold.Get(ctx, tx, VulnMembersCollection, pid)
	if err != nil {
		return err
	}
	ids := fold.Strs(page, "ids")
	if len(ids) >= MembersPageSize {
		pages++
		pid, ids = membersPageID(vulnID, pages-1), nil
	}
	// Sorted within its page, so a vulnerability's members (up to a page
	// of them) are the same document whatever order its occurrences
	// arrived in (rebuild equivalence, order independence).
	at, _ := slices.BinarySearch(ids, oid)
	ids = slices.Insert(ids, at, oid)
	tx.Put(VulnMembersCollection, readmodel.Doc{"_id": pid, "ids": strs(ids)})
	head["pages"], head["members"] = pages, fold.Num(head, "members")+1
	tx.Put(VulnMembersCollection, head)
	return nil
}

// members calls fn with every occurrence id of vulnID.
func members(ctx context.Context, tx projections.Tx, vulnID string, fn func(oid string) error) error {
	head, found, err := fold.Get(ctx, tx, VulnMembersCollection, vulnID)
	if err != nil || !found {
		return err
	}
	for n := range fold.Num(head, "pages") {
		page, _, err := fold.Get(ctx, tx, VulnMembersCollection, membersPageID(vulnID, n))
		if err != nil {
			return err
		}
		for _, oid := range fold.Strs(page, "ids") {
			if err := fn(oid); err != nil {
				return err
			}
		}
	}
	return nil
}

// kevEvent folds a KEV entry's event: the CVE's status, then every
// occurrence of it and its catalog entry.
func kevEvent(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	var (
		entry ti.KEVEntry
		kind  string
		at    time.Time
	)
	switch e := fold.Value(ev.Data).(type) {
	case ti.KEVEntryPublished:
		entry, kind, at = e.Entry, "published", e.PublishedAt
	case ti.KEVEntryUpdated:
		entry, kind, at = e.Entry, "updated", e.UpdatedAt
	case ti.KEVEntryWithdrawn:
		entry, kind, at = e.Entry, "withdrawn", e.WithdrawnAt
		if entry.CVEID == "" {
			entry.CVEID = e.CVEID
		}
	default:
		return nil
	}
	cve := vuln.NormalizeID(entry.CVEID)
	if cve == "" {
		return nil
	}
	st, found, err := fold.Get(ctx, tx, KEVStatusCollection, cve)
	if err != nil {
		return err
	}
	if found && fold.Num(st, "updated_position") >= ev.Position {
		return nil // redelivered: the catalogue is one stream, in order
	}
	if !found {
		st = readmodel.Doc{"_id": cve, "intervals": []any{}}
	}
	intervals := fold.Objs(st, "intervals")
	open := len(intervals) > 0 && intervals[len(intervals)-1]["to"] == nil
	listed := kind != "withdrawn"
	switch {
	case listed && !open:
		intervals = append(intervals, map[string]any{"from": readmodel.NormalizeTime(at), "to": nil})
	case !listed && open:
		intervals[len(intervals)-1]["to"] = readmodel.NormalizeTime(at)
	}
	iv := make([]any, len(intervals))
	for i, x := range intervals {
		iv[i] = map[string]any{"from": x["from"], "to": x["to"]}
	}
	st["intervals"], st["listed"], st["updated_position"] = iv, listed, ev.Position
	st["due_date"], st["ransomware"] = fold.TimeOrNil(entry.DueDate), entry.RansomwareKnown()
	st["first_listed"] = iv[0].(map[string]any)["from"]
	st["since"], st["withdrawn_at"] = nil, nil
	if listed {
		st["since"] = intervals[len(intervals)-1]["from"]
	} else {
		st["withdrawn_at"] = readmodel.NormalizeTime(at)
	}
	tx.Put(KEVStatusCollection, st)

	if c, ok, err := fold.Get(ctx, tx, CatalogCollection, cve); err != nil {
		return err
	} else if ok {
		setKEV(c, st)
		tx.Put(CatalogCollection, c)
	}
	return members(ctx, tx, cve, func(oid string) error {
		d, ok, err := fold.Get(ctx, tx, OccurrencesCollection, oid)
		if err != nil || !ok {
			return err
		}
		setKEV(d, st)
		tx.Put(OccurrencesCollection, d)
		return nil
	})
}

// setKEV copies a CVE's KEV status (nil: never in KEV) onto an
// occurrence or catalog document: the copy is the whole status, so the
// result does not depend on which of the two arrived first.
func setKEV(d readmodel.Doc, st readmodel.Doc) {
	d["kev"] = fold.Flag(st, "listed")
	d["kev_due_date"], d["kev_ransomware"] = nil, false
	d["kev_since"], d["kev_withdrawn_at"] = nil, nil
	// kev_ever and the listing intervals answer ?kev=true&as_of=T: the
	// occurrences ever listed, on an index, filtered by interval.
	d["kev_ever"], d["kev_intervals"] = st != nil, []any{}
	if st == nil {
		return
	}
	d["kev_intervals"] = st["intervals"]
	d["kev_since"], d["kev_withdrawn_at"] = st["since"], st["withdrawn_at"]
	if fold.Flag(st, "listed") {
		d["kev_due_date"], d["kev_ransomware"] = st["due_date"], fold.Flag(st, "ransomware")
	}
}

// kevStatus is the KEV status of a vulnerability id (nil: never listed).
func kevStatus(ctx context.Context, tx projections.Tx, vulnID string) (readmodel.Doc, error) {
	st, found, err := fold.Get(ctx, tx, KEVStatusCollection, vulnID)
	if err != nil || !found {
		return nil, err
	}
	return st, nil
}
