package risk_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	riskcmd "github.com/cspm-es/cspm-es/commands/risk"
	"github.com/cspm-es/cspm-es/domain"
	rdomain "github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
)

func events(t *testing.T, d *commandstest.Deps, stream string) []any {
	t.Helper()
	rec, err := d.Store.ReadStream(context.Background(), stream, eventstore.ReadStreamOptions{})
	require.NoError(t, err)
	var out []any
	for _, r := range rec {
		v, err := d.Codec.Decode(r)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// A score is placed on the matrix in force when the command runs; a later
// matrix version leaves the earlier score as it was, naming its version.
func TestScoresKeepTheirMatrixVersion(t *testing.T) {
	d := commandstest.New(t)
	h := riskcmd.New(d.Kit)
	ctx := context.Background()
	a := commands.Meta{TeamID: "team-a", Actor: "alice"}

	res, err := h.IdentifyRisk(ctx, a, riskcmd.IdentifyRisk{Title: "leak", Owner: "alice", Inherent: &riskcmd.ScoreInput{Likelihood: "likely", Impact: "major"}})
	require.NoError(t, err)
	id := res.ID
	m := rdomain.MatrixSpec{Name: "3x3", Likelihood: []string{"low", "med", "high"}, Impact: []string{"low", "med", "high"}, Levels: []string{"ok", "bad"},
		Cells: [][]string{{"ok", "ok", "bad"}, {"ok", "bad", "bad"}, {"bad", "bad", "bad"}}}
	_, err = h.DefineMatrix(ctx, a, riskcmd.DefineMatrix{MatrixSpec: m})
	require.NoError(t, err)
	_, err = h.ScoreRisk(ctx, a, riskcmd.ScoreRisk{RiskID: id, Kind: rdomain.Current, Likelihood: "likely", Impact: "major"})
	var ve *domain.ValidationError
	require.ErrorAs(t, err, &ve, "the old labels are not on the new matrix")
	assert.Equal(t, "likelihood", ve.Fields[0].Field)
	_, err = h.ScoreRisk(ctx, a, riskcmd.ScoreRisk{RiskID: id, Kind: rdomain.Current, Likelihood: "med", Impact: "med"})
	require.NoError(t, err)

	got := events(t, d, riskcmd.RiskStreamID(id))
	require.Len(t, got, 3)
	assert.Equal(t, rdomain.Score{Likelihood: "likely", Impact: "major", Level: "critical", LevelRank: 4, MatrixVersion: 0}, got[1].(rdomain.RiskScored).Score)
	assert.Equal(t, rdomain.Score{Likelihood: "med", Impact: "med", Level: "bad", LevelRank: 2, MatrixVersion: 1}, got[2].(rdomain.RiskScored).Score)

	// Another team's risk is not found.
	_, err = h.ScoreRisk(ctx, commands.Meta{TeamID: "team-b"}, riskcmd.ScoreRisk{RiskID: id, Kind: rdomain.Current, Likelihood: "rare", Impact: "minor"})
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

// An acceptance expires at its expiry, dated at it, once.
func TestAcceptanceExpiry(t *testing.T) {
	d := commandstest.New(t)
	h := riskcmd.New(d.Kit)
	ctx := context.Background()
	a := commands.Meta{TeamID: "team-a", Actor: "ciso"}
	exp := commandstest.T0.Add(48 * time.Hour)
	res, err := h.AcceptRisk(ctx, a, riskcmd.AcceptRisk{Scope: rdomain.Scope{OccurrenceIDs: []string{"occ-1"}}, Reason: "no exploit path", Approver: "ciso", ExpiresAt: &exp})
	require.NoError(t, err)
	_, err = h.ExpireAcceptance(ctx, a, riskcmd.ExpireAcceptance{AcceptanceID: res.ID})
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, rdomain.CodeAcceptanceNotDue, re.Code)
	d.Clock.Advance(49 * time.Hour)
	_, err = h.ExpireAcceptance(ctx, a, riskcmd.ExpireAcceptance{AcceptanceID: res.ID})
	require.NoError(t, err)
	got := events(t, d, riskcmd.AcceptanceStreamID(res.ID))
	assert.Equal(t, rdomain.RiskAcceptanceExpired{AcceptanceID: res.ID, ExpiredAt: exp}, got[1])
	_, err = h.ExpireAcceptance(ctx, a, riskcmd.ExpireAcceptance{AcceptanceID: res.ID})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, rdomain.CodeAcceptanceEnded, re.Code)
}
