package cloudsecurity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	"github.com/cspm-es/cspm-es/queries/cloudsecurity"
	qt "github.com/cspm-es/cspm-es/queries/queriestest"
)

// The pair's account, first seen in scan 1's import: scan 2 fixed six
// findings and raised three, bob resolved one of those by hand.
func TestAccounts_ListAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, qt.ImportPair("team-a").Events)
	ctx := context.Background()
	id := csdomain.AccountID("team-a", "aws", pt.PairAccount)

	list, err := e.svc.ListAccounts(ctx, "team-a", cloudsecurity.AccountFilter{}, queries.Page{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	a := list.Items[0]
	assert.Equal(t, id, a.ID)
	assert.Equal(t, "aws", a.Provider)
	assert.Equal(t, pt.PairAccount, a.UID)
	assert.Equal(t, pt.PairAccount, a.Name, "no name in the report: its uid")
	assert.Equal(t, "active", a.Status)
	assert.False(t, a.Registered)
	assert.Equal(t, pt.T0.Add(3600e9), a.FirstSeen.UTC())
	require.NotNil(t, a.LastScan)
	assert.Equal(t, "scan-2", a.LastScan.ScanID)
	assert.Equal(t, int64(2), a.OpenFindings.Total)
	assert.Equal(t, map[string]int64{"critical": 0, "high": 0, "medium": 0, "low": 2, "informational": 0}, a.OpenFindings.BySeverity)
	require.Len(t, a.Trend, 2)
	assert.Equal(t, []int64{6, 3}, []int64{a.Trend[0].Failing, a.Trend[1].Failing})

	got, err := e.svc.GetAccount(ctx, "team-a", id)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	name, found, err := e.svc.KnownAccount(ctx, "team-a", id)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, pt.PairAccount, name)

	for filter, n := range map[cloudsecurity.AccountFilter]int{
		{Provider: "AWS"}: 1, {Provider: "gcp"}: 0, {Status: "active"}: 1, {Status: "retired"}: 0, {Provider: "aws", Status: "active"}: 1,
	} {
		l, err := e.svc.ListAccounts(ctx, "team-a", filter, queries.Page{})
		require.NoError(t, err)
		assert.Len(t, l.Items, n, "%+v", filter)
	}
	_, err = e.svc.ListAccounts(ctx, "team-a", cloudsecurity.AccountFilter{Status: "gone"}, queries.Page{Limit: -1})
	assert.Equal(t, []string{"status", "limit"}, qt.FieldsOf(t, err))

	// Another team sees nothing of it.
	_, err = e.svc.GetAccount(ctx, "team-b", id)
	assert.ErrorIs(t, err, queries.ErrNotFound)
	other, err := e.svc.ListAccounts(ctx, "team-b", cloudsecurity.AccountFilter{}, queries.Page{})
	require.NoError(t, err)
	assert.Empty(t, other.Items)
	_, found, err = e.svc.KnownAccount(ctx, "team-b", id)
	require.NoError(t, err)
	assert.False(t, found)
}

// Pages follow the name order with a cursor.
func TestAccounts_Pages(t *testing.T) {
	t.Parallel()
	h := &qt.History{}
	for _, uid := range []string{"333", "111", "222"} {
		h.AddAs("team-a", "alice", csdomain.CloudAccountRegistered{AccountID: csdomain.AccountID("team-a", "gcp", uid),
			Provider: "gcp", UID: uid, Name: "project-" + uid, RegisteredAt: pt.T0})
	}
	e := newEnv(t, h.Events)
	ctx := context.Background()
	var names []string
	p := queries.Page{Limit: 2}
	for {
		l, err := e.svc.ListAccounts(ctx, "team-a", cloudsecurity.AccountFilter{Provider: "gcp"}, p)
		require.NoError(t, err)
		for _, a := range l.Items {
			names = append(names, a.Name)
		}
		if l.NextCursor == "" {
			break
		}
		p.Cursor = l.NextCursor
	}
	assert.Equal(t, []string{"project-111", "project-222", "project-333"}, names)
}
