package dbregistry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/dbregistry"
)

func TestNew_DefaultNames(t *testing.T) {
	t.Parallel()
	reg, err := dbregistry.New("")
	require.NoError(t, err)

	// docs/architecture.md §3, in order, plus the write side first.
	want := []struct {
		constant dbregistry.Constant
		name     string
		side     dbregistry.Side
	}{
		{dbregistry.EVENTS, "cspm_events", dbregistry.Write},
		{dbregistry.PLATFORM, "cspm_platform", dbregistry.Read},
		{dbregistry.CLOUD_SECURITY, "cspm_cloud_security", dbregistry.Read},
		{dbregistry.CLOUD_ASSETS, "cspm_cloud_assets", dbregistry.Read},
		{dbregistry.ORCHESTRATION, "cspm_orchestration", dbregistry.Read},
		{dbregistry.VULNERABILITIES, "cspm_vulnerabilities", dbregistry.Read},
		{dbregistry.RISK_MANAGEMENT, "cspm_risk_management", dbregistry.Read},
		{dbregistry.ASSESSMENTS, "cspm_assessments", dbregistry.Read},
		{dbregistry.CONTAINER_REGISTRY, "cspm_container_registries", dbregistry.Read},
		{dbregistry.SECURITY_SCANS, "cspm_security_scans", dbregistry.Read},
		{dbregistry.THREAT_INTELLIGENCE, "cspm_threat_intelligence", dbregistry.Read},
		{dbregistry.AI_GOVERNANCE, "cspm_ai_governance", dbregistry.Read},
		{dbregistry.INTEGRATIONS, "cspm_integrations", dbregistry.Read},
		{dbregistry.KNOWLEDGE_BASE, "cspm_knowledge_base", dbregistry.Read},
		{dbregistry.BIA, "cspm_bia", dbregistry.Read},
	}
	entries := reg.Entries()
	require.Len(t, entries, len(want))
	for i, w := range want {
		e := entries[i]
		assert.Equal(t, w.constant, e.Constant, "entry %d", i)
		assert.Equal(t, w.name, e.DefaultName, "%s default name", w.constant)
		assert.Equal(t, w.name, e.Name, "%s effective name", w.constant)
		assert.Equal(t, w.side, e.Side, "%s side", w.constant)
		assert.NotEmpty(t, e.Purpose, "%s purpose", w.constant)
		assert.Equal(t, w.name, reg.Name(w.constant))
	}
	assert.Equal(t, "cspm_platform", reg.Name(dbregistry.PLATFORM))
	assert.Contains(t, entries[dbIndex(t, entries, dbregistry.CLOUD_SECURITY)].Purpose, "enhanced_cloud_accounts")
}

func dbIndex(t *testing.T, entries []dbregistry.Entry, c dbregistry.Constant) int {
	t.Helper()
	for i, e := range entries {
		if e.Constant == c {
			return i
		}
	}
	t.Fatalf("constant %s not in entries", c)
	return -1
}

func TestNew_Prefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prefix  string
		wantErr string // substring; "" means valid
	}{
		{name: "empty", prefix: ""},
		{name: "underscore separator", prefix: "acme_"},
		{name: "dash separator", prefix: "staging-"},
		{name: "digits", prefix: "t42_"},
		{name: "longest that fits", prefix: strings.Repeat("p", dbregistry.MaxNameLen-len("cspm_container_registries"))},
		{name: "one byte too long", prefix: strings.Repeat("p", dbregistry.MaxNameLen-len("cspm_container_registries")+1), wantErr: "cspm_container_registries\" is 64 bytes"},
		{name: "upper case", prefix: "Acme_", wantErr: "character 'A' at byte 0"},
		{name: "dot", prefix: "acme.", wantErr: "character '.'"},
		{name: "slash", prefix: "a/b", wantErr: "character '/'"},
		{name: "space", prefix: "a b", wantErr: "character ' '"},
		{name: "dollar", prefix: "$x", wantErr: "character '$'"},
		{name: "non ascii", prefix: "é_", wantErr: "is not allowed"},
		{name: "nul", prefix: "a\x00", wantErr: "is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := dbregistry.New(tt.prefix)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, tt.prefix, reg.Prefix())
				for _, e := range reg.Entries() {
					assert.Equal(t, tt.prefix+e.DefaultName, e.Name)
					assert.LessOrEqual(t, len(e.Name), dbregistry.MaxNameLen)
				}
				assert.NoError(t, dbregistry.ValidatePrefix(tt.prefix))
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, dbregistry.ErrInvalidName)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, reg)
		})
	}
}

func TestNew_TooLongPrefixNamesEveryOffendingDatabase(t *testing.T) {
	t.Parallel()
	_, err := dbregistry.New(strings.Repeat("x", 50))
	require.Error(t, err)
	// 50 + len("cspm_bia") = 58 fits; the long names do not, and each is named.
	assert.Contains(t, err.Error(), "cspm_container_registries")
	assert.Contains(t, err.Error(), "cspm_threat_intelligence")
	assert.NotContains(t, err.Error(), "cspm_bia\"")
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		prefix         string
		input          string
		want           dbregistry.Constant
		wantName       string
		wantDeprecated bool
		wantErr        error
	}{
		{name: "current name", input: "cspm_platform", want: dbregistry.PLATFORM, wantName: "cspm_platform"},
		{name: "events", input: "cspm_events", want: dbregistry.EVENTS, wantName: "cspm_events"},
		{name: "container registries plural", input: "cspm_container_registries", want: dbregistry.CONTAINER_REGISTRY, wantName: "cspm_container_registries"},
		{name: "deprecated alias", input: "cspm_platform_core", want: dbregistry.PLATFORM, wantName: "cspm_platform", wantDeprecated: true},
		{name: "prefixed name", prefix: "acme_", input: "acme_cspm_bia", want: dbregistry.BIA, wantName: "acme_cspm_bia"},
		{name: "default name under prefix", prefix: "acme_", input: "cspm_bia", want: dbregistry.BIA, wantName: "acme_cspm_bia"},
		{name: "prefixed alias", prefix: "acme_", input: "acme_cspm_platform_core", want: dbregistry.PLATFORM, wantName: "acme_cspm_platform", wantDeprecated: true},
		{name: "bare alias under prefix", prefix: "acme_", input: "cspm_platform_core", want: dbregistry.PLATFORM, wantName: "acme_cspm_platform", wantDeprecated: true},
		{name: "unknown", input: "cspm_nope", wantErr: dbregistry.ErrUnknownName},
		{name: "singular container registry is not a name", input: "cspm_container_registry", wantErr: dbregistry.ErrUnknownName},
		{name: "constant is not a name", input: "PLATFORM", wantErr: dbregistry.ErrUnknownName},
		{name: "case matters", input: "CSPM_PLATFORM", wantErr: dbregistry.ErrUnknownName},
		{name: "empty", input: "", wantErr: dbregistry.ErrUnknownName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := dbregistry.MustNew(tt.prefix)
			got, err := reg.Resolve(tt.input)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.True(t, errors.Is(err, tt.wantErr), "Resolve(%q) error = %v; want %v", tt.input, err, tt.wantErr)
				assert.Contains(t, err.Error(), "known:")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Constant)
			assert.Equal(t, tt.wantName, got.Name)
			assert.Equal(t, tt.input, got.Requested)
			assert.Equal(t, tt.wantDeprecated, got.Deprecated)
			if tt.wantDeprecated {
				assert.Contains(t, got.Warning(), "deprecated")
				assert.Contains(t, got.Warning(), tt.wantName)
			} else {
				assert.Empty(t, got.Warning())
			}
		})
	}
}

func TestName_PanicsOnUndeclaredConstant(t *testing.T) {
	t.Parallel()
	reg := dbregistry.MustNew("")
	assert.PanicsWithValue(t, `dbregistry: undeclared constant "NOPE"`, func() { reg.Name("NOPE") })
	_, ok := reg.Entry("NOPE")
	assert.False(t, ok)
}

func TestSQLiteFile(t *testing.T) {
	t.Parallel()
	reg := dbregistry.MustNew("acme_")
	assert.Equal(t, "data/acme_cspm_events.sqlite", reg.SQLiteFile("data", dbregistry.EVENTS))
}

func TestEntries_IsACopy(t *testing.T) {
	t.Parallel()
	reg := dbregistry.MustNew("")
	e := reg.Entries()
	e[0].Name = "changed"
	assert.Equal(t, "cspm_events", reg.Name(dbregistry.EVENTS))
}

func TestMustNew_Panics(t *testing.T) {
	t.Parallel()
	assert.Panics(t, func() { dbregistry.MustNew("BAD") })
}
