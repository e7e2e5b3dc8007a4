package integrations

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// An SLA breach is time passing, not a command: no event of the
// vulnerabilities module says "breached" (the SLA clocks compute it from
// due_at and now, docs/sla.md). The breach watcher of `cspm serve` records
// each breach it sees once, as SLABreachRecorded on a stream whose id is a
// digest of the team, the clock and its due date: recording it again is a
// conflict, so a breach is one event, and a clock that reopens with a new
// due date breaches anew.

// SLABreachRecorded: an SLA clock of the team passed its due date.
type SLABreachRecorded struct {
	BreachID        string    `json:"breach_id"`
	ClockID         string    `json:"clock_id"`
	Module          string    `json:"module"`
	Severity        string    `json:"severity"`
	VulnerabilityID string    `json:"vulnerability_id,omitempty"`
	ArtifactID      string    `json:"artifact_id,omitempty"`
	Check           string    `json:"check,omitempty"`
	Resource        string    `json:"resource,omitempty"`
	KEV             bool      `json:"kev,omitempty"`
	DueAt           time.Time `json:"due_at"`
	RecordedAt      time.Time `json:"recorded_at"`
}

func (SLABreachRecorded) EventType() string { return "SLABreachRecorded" }

// BreachID is the id of the breach of clock in team at dueAt.
func BreachID(team, clock string, dueAt time.Time) string {
	h := sha256.New()
	for _, p := range []string{team, clock, dueAt.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return "slb-" + hex.EncodeToString(h.Sum(nil))[:32]
}
