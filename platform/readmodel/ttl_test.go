package readmodel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
)

func TestEffectiveTTL(t *testing.T) {
	const day = 24 * time.Hour
	declared := readmodel.Index{Name: "expire_finished", Fields: []readmodel.IndexField{{Path: "finished_at"}}, TTL: 180 * day}
	plain := readmodel.Index{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}}}
	overrides := map[readmodel.TTLKey]time.Duration{
		{Collection: "scan_runs", Index: "expire_finished"}: 30 * day,
		{Collection: "findings", Index: "expire_finished"}:  0,
	}
	cases := []struct {
		name string
		coll string
		ix   readmodel.Index
		ttls map[readmodel.TTLKey]time.Duration
		want time.Duration
		keep bool
	}{
		{"no overrides: the declared TTL", "scan_runs", declared, nil, 180 * day, false},
		{"the override of the live collection", "scan_runs", declared, overrides, 30 * day, false},
		{"a shadow takes its live collection's override", "scan_runs__rebuild", declared, overrides, 30 * day, false},
		{"0 keeps", "findings", declared, overrides, 0, true},
		{"another collection: declared", "scan_jobs", declared, overrides, 180 * day, false},
		{"not a TTL index: never expires, whatever the overrides", "scan_runs", plain, map[readmodel.TTLKey]time.Duration{{Collection: "scan_runs", Index: "by_team"}: day}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, keep := readmodel.EffectiveTTL(c.ttls, c.coll, c.ix)
			require.Equal(t, c.want, got)
			require.Equal(t, c.keep, keep)
		})
	}
}

func TestValidateTTLs(t *testing.T) {
	k := readmodel.TTLKey{Collection: "scan_runs", Index: "expire_finished"}
	require.NoError(t, readmodel.ValidateTTLs(nil))
	require.NoError(t, readmodel.ValidateTTLs(map[readmodel.TTLKey]time.Duration{k: 0}))
	require.NoError(t, readmodel.ValidateTTLs(map[readmodel.TTLKey]time.Duration{k: readmodel.MaxTTL}))
	for name, bad := range map[string]map[readmodel.TTLKey]time.Duration{
		"negative":          {k: -time.Second},
		"not whole seconds": {k: 1500 * time.Millisecond},
		"above MaxTTL":      {k: readmodel.MaxTTL + time.Second},
		"a shadow name":     {{Collection: "scan_runs__rebuild", Index: "expire_finished"}: time.Hour},
		"a bad collection":  {{Collection: "Scan", Index: "expire_finished"}: time.Hour},
		"a bad index":       {{Collection: "scan_runs", Index: "Expire"}: time.Hour},
	} {
		require.ErrorIs(t, readmodel.ValidateTTLs(bad), readmodel.ErrInvalid, name)
	}
}
