package cloudsecurity

import (
	"strconv"
	"strings"
)

// The compact form of an evaluation's requirements, as the read models
// keep it: one line per requirement, sorted by id, fields separated by
// tabs (ids and check ids hold no control characters: the import refuses
// them):
//
//	<id> \t <status> \t <pass> \t <fail> \t <muted_fail> \t <manual> \t <check>,<check>...
//
// One string decodes far faster than a document's array of arrays (the
// framework pages and changes read it whole: decision 44).

// RequirementRow is one requirement of an evaluation.
type RequirementRow struct {
	ID     string
	Status RequirementStatus
	Tally  RequirementTally
	Checks []string
}

// EncodeRequirementRows writes rows (sorted by id) in the compact form.
func EncodeRequirementRows(rows []RequirementRow) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(r.ID)
		b.WriteByte('\t')
		b.WriteString(string(r.Status))
		for _, n := range []int{r.Tally.Pass, r.Tally.Fail, r.Tally.MutedFail, r.Tally.Manual} {
			b.WriteByte('\t')
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteByte('\t')
		b.WriteString(strings.Join(r.Checks, ","))
	}
	return b.String()
}

// DecodeRequirementRows reads the compact form (malformed lines are
// skipped).
func DecodeRequirementRows(s string) []RequirementRow {
	if s == "" {
		return nil
	}
	out := make([]RequirementRow, 0, strings.Count(s, "\n")+1)
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.SplitN(line, "\t", 7)
		if len(f) < 6 {
			continue
		}
		r := RequirementRow{ID: f[0], Status: ParseRequirementStatus(f[1])}
		r.Tally.Pass, _ = strconv.Atoi(f[2])
		r.Tally.Fail, _ = strconv.Atoi(f[3])
		r.Tally.MutedFail, _ = strconv.Atoi(f[4])
		r.Tally.Manual, _ = strconv.Atoi(f[5])
		if len(f) == 7 && f[6] != "" {
			r.Checks = strings.Split(f[6], ",")
		}
		out = append(out, r)
	}
	return out
}

// DecodeRequirementStates reads only the ids and statuses of the compact
// form (what a comparison needs).
func DecodeRequirementStates(s string) []RequirementState {
	if s == "" {
		return nil
	}
	out := make([]RequirementState, 0, strings.Count(s, "\n")+1)
	for line := range strings.SplitSeq(s, "\n") {
		id, rest, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		st, _, _ := strings.Cut(rest, "\t")
		out = append(out, RequirementState{ID: id, Status: ParseRequirementStatus(st)})
	}
	return out
}

// TeamRequirementRow is one requirement of a team's framework: its
// accounts counted by the requirement's status there.
type TeamRequirementRow struct {
	ID                                          string
	Pass, Fail, Manual, NotEvaluated, MutedFail int
}

// EncodeTeamRows writes rows (sorted by id): id and the five counts.
func EncodeTeamRows(rows []TeamRequirementRow) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(r.ID)
		for _, n := range []int{r.Pass, r.Fail, r.Manual, r.NotEvaluated, r.MutedFail} {
			b.WriteByte('\t')
			b.WriteString(strconv.Itoa(n))
		}
	}
	return b.String()
}

// DecodeTeamRows reads EncodeTeamRows' form.
func DecodeTeamRows(s string) []TeamRequirementRow {
	if s == "" {
		return nil
	}
	out := make([]TeamRequirementRow, 0, strings.Count(s, "\n")+1)
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			continue
		}
		r := TeamRequirementRow{ID: f[0]}
		for i, p := range []*int{&r.Pass, &r.Fail, &r.Manual, &r.NotEvaluated, &r.MutedFail} {
			*p, _ = strconv.Atoi(f[i+1])
		}
		out = append(out, r)
	}
	return out
}
