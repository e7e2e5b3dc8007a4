package cloudsecurity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/cloudsecurity"
	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	"github.com/cspm-es/cspm-es/domain"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
)

// importedView is what the findings read model says of imported findings,
// by team and id: the port the triage commands ask (cmd/cspm implements it
// over the real read model; its app test covers that).
type importedView struct {
	mu       sync.Mutex
	findings map[string]cloudsecurity.ImportedFinding // team + "/" + id
	err      error
}

func (v *importedView) set(team, id string, f cloudsecurity.ImportedFinding) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.findings[team+"/"+id] = f
}

func (v *importedView) ImportedFinding(_ context.Context, team, id string) (cloudsecurity.ImportedFinding, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f, ok := v.findings[team+"/"+id]
	return f, ok, v.err
}

const (
	fndA = "fnd-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fndB = "fnd-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func newTriageDeps(t *testing.T) (*deps, *importedView) {
	t.Helper()
	d := newDeps(t)
	view := &importedView{findings: map[string]cloudsecurity.ImportedFinding{}}
	d.h.WithImportedFindings(view)
	return d, view
}

func TestTriageImportedFinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("resolve starts the triage stream, suppress appends to it", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen, LastSeen: ct.T0.Add(-time.Hour)})
		d.Clock.Advance(time.Minute)
		res, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA, Reason: "fixed by hand"})
		require.NoError(t, err)
		assert.Equal(t, fndA, res.ID)
		assert.Equal(t, "finding-"+fndA, res.StreamID)
		assert.Equal(t, int64(1), res.Version)
		d.Clock.Advance(time.Minute)
		until := ct.T0.Add(48 * time.Hour)
		res, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "accepted risk", Until: &until})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)

		events := d.Stream(t, "finding-"+fndA)
		require.Len(t, events, 2)
		assert.Equal(t, commands.StreamTypeFinding, events[0].StreamType)
		ct.AssertMetadata(t, ct.TeamA, events...)
		assert.Equal(t, []any{
			csdomain.FindingResolved{FindingID: fndA, Reason: "fixed by hand", ResolvedAt: ct.T0.Add(time.Minute)},
			csdomain.FindingSuppressed{FindingID: fndA, Reason: "accepted risk", Until: until, SuppressedAt: ct.T0.Add(2 * time.Minute)},
		}, d.Decoded(t, "finding-"+fndA))
		state, err := commands.State(d.Codec, events)
		require.NoError(t, err)
		assert.Equal(t, csdomain.TriageState{FindingID: fndA, Resolved: true, ResolvedAt: ct.T0.Add(time.Minute), ResolutionReason: "fixed by hand",
			Suppressed: true, SuppressedAt: ct.T0.Add(2 * time.Minute), SuppressedUntil: until, SuppressionReason: "accepted risk"}, state)
	})

	t.Run("the rules", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen, LastSeen: ct.T0.Add(-time.Hour)})
		view.set(ct.TeamA.TeamID, fndB, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleFixed, LastSeen: ct.T0.Add(-time.Hour)})
		_, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		require.NoError(t, err)
		head := d.Head(t)

		// Twice in a row, before the read model shows the first: the
		// triage stream says it stands.
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		ct.RequireRule(t, err, csdomain.CodeFindingAlreadyResolved)
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndB})
		ct.RequireRule(t, err, csdomain.CodeFindingAlreadyFixed)
		past := d.Clock.Now().Add(-time.Minute)
		_, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: fndB, Reason: " ", Until: &past})
		ct.RequireFields(t, err, "reason", "until")
		_, err = d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndB, Reason: strings.Repeat("r", 4097)})
		ct.RequireFields(t, err, "reason")
		assert.Equal(t, head, d.Head(t), "nothing appended")

		// A scan reported it failing after the resolution: it reopened,
		// and may be resolved again.
		d.Clock.Advance(time.Hour)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen, LastSeen: ct.T0.Add(30 * time.Minute)})
		res, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA, Reason: "again"})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version)

		// A fixed finding may be suppressed (the mark outlives a reopening),
		// but not twice while the first is in force.
		_, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: fndB, Reason: "accepted"})
		require.NoError(t, err)
		_, err = d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: fndB, Reason: "accepted again"})
		ct.RequireRule(t, err, csdomain.CodeFindingAlreadySuppressed)
	})

	t.Run("another team's finding, an unknown one: 404, nothing appended", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen})
		_, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		require.NoError(t, err)
		head := d.Head(t)
		for _, id := range []string{fndA, fndB} { // A's finding, with a triage stream; an unknown one
			_, err = d.h.ResolveFinding(ctx, ct.TeamB, cloudsecurity.ResolveFinding{FindingID: id})
			require.ErrorIs(t, err, domain.ErrNotFound)
			_, err = d.h.SuppressFinding(ctx, ct.TeamB, cloudsecurity.SuppressFinding{FindingID: id, Reason: "mine now"})
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		// Even were the read model to claim B has it, A's triage stream is
		// not B's to append to.
		view.set(ct.TeamB.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen})
		_, err = d.h.SuppressFinding(ctx, ct.TeamB, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "mine now"})
		require.ErrorIs(t, err, domain.ErrNotFound)
		assert.Equal(t, head, d.Head(t))
	})

	t.Run("a retry with the same key is a duplicate; another body is a mismatch", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen})
		meta := ct.WithKey(ct.TeamA, "suppress-1")
		first, err := d.h.SuppressFinding(ctx, meta, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "accepted"})
		require.NoError(t, err)
		again, err := d.h.SuppressFinding(ctx, meta, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "accepted"})
		require.NoError(t, err)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.EventIDs, again.EventIDs)
		_, err = d.h.SuppressFinding(ctx, meta, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "other"})
		require.ErrorIs(t, err, eventstore.ErrIdempotencyMismatch)
	})

	t.Run("two first triages racing: one creates the stream, the other follows it", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.set(ct.TeamA.TeamID, fndA, cloudsecurity.ImportedFinding{Status: csdomain.LifecycleOpen})
		var once sync.Once
		racing := d.with(&ct.HookedStore{EventStore: d.Store, AfterRead: func(string) {
			once.Do(func() { // the rival appends between this read and its append
				_, err := d.h.SuppressFinding(ctx, ct.TeamA, cloudsecurity.SuppressFinding{FindingID: fndA, Reason: "rival"})
				require.NoError(t, err)
			})
		}})
		racing.WithImportedFindings(view)
		res, err := racing.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Version, "decided again on the rival's event")
	})

	t.Run("the read model failing, or not wired", func(t *testing.T) {
		t.Parallel()
		d, view := newTriageDeps(t)
		view.err = errors.New("read models down")
		_, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		require.ErrorContains(t, err, "read models down")
		bare := cloudsecurity.New(d.Kit)
		_, err = bare.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: fndA})
		require.ErrorContains(t, err, "not configured")
		assert.Equal(t, int64(0), d.Head(t))
	})

	t.Run("legacy findings keep their own rules", func(t *testing.T) {
		t.Parallel()
		d, _ := newTriageDeps(t)
		_, err := d.h.ResolveFinding(ctx, ct.TeamA, cloudsecurity.ResolveFinding{FindingID: "f-legacy"})
		require.ErrorIs(t, err, domain.ErrNotFound, "no Finding stream: a legacy finding never raised")
		assert.Equal(t, int64(0), d.Head(t))
	})
}
