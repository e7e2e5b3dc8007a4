package platform

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/access"
	platformproj "github.com/cspm-es/cspm-es/projections/platform"
)

func TestAuditNamesMatch(t *testing.T) {
	t.Parallel()
	assert.Equal(t, platformproj.AuditLogCollection, auditLogCollection)

	// The redacted fields are the API key's stored secret material.
	issued := access.APIKeyIssued{Salt: "s", Hash: "h"}
	raw, err := json.Marshal(issued)
	require.NoError(t, err)
	var data map[string]any
	require.NoError(t, json.Unmarshal(raw, &data))
	fields := redactedFields[issued.EventType()]
	require.Len(t, fields, 2)
	for _, f := range fields {
		assert.Contains(t, []any{"s", "h"}, data[f], f)
	}
}
