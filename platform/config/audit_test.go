package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/config"
)

// The two tamper-evidence settings: where the audit key and checkpoint
// copies live (a storage setting: every command that opens the store
// takes it), and how often serve signs a checkpoint.
func TestLoad_AuditSettings(t *testing.T) {
	t.Parallel()
	c, err := load(t, config.AllGroups, nil, nil)
	require.NoError(t, err)
	assert.Empty(t, c.AuditDir)
	assert.Equal(t, 10*time.Second, c.AuditCheckpointInterval)
	if home, err := os.UserConfigDir(); err == nil {
		assert.Equal(t, filepath.Join(home, "cspm", "audit"), c.AuditDirectory(), "outside the data directory by default")
	}

	c, err = load(t, config.AllGroups, []string{"--audit-dir", "/flag/audit"},
		map[string]string{"CSPM_AUDIT_DIR": "/env/audit", "CSPM_AUDIT_CHECKPOINT_INTERVAL": "1m"})
	require.NoError(t, err)
	assert.Equal(t, "/flag/audit", c.AuditDirectory())
	assert.Equal(t, time.Minute, c.AuditCheckpointInterval)

	c, err = load(t, config.GroupRegistry|config.GroupStorage|config.GroupLogging, nil, map[string]string{"CSPM_AUDIT_DIR": "/env/audit"})
	require.NoError(t, err, "store commands take --audit-dir")
	assert.Equal(t, "/env/audit", c.AuditDirectory())

	_, err = load(t, config.AllGroups, nil, map[string]string{"CSPM_AUDIT_CHECKPOINT_INTERVAL": "0s"})
	assert.ErrorContains(t, err, "audit-checkpoint-interval / CSPM_AUDIT_CHECKPOINT_INTERVAL: must be positive")
	_, err = load(t, config.AllGroups, []string{"--audit-dir", "  "}, nil)
	assert.ErrorContains(t, err, "audit-dir / CSPM_AUDIT_DIR: must not be blank")
}
