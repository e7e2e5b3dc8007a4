package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/config"
)

// The configuration tables in the docs list every setting with its default.
func TestDocs_ListEverySetting(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"docs/configuration.md", "README.md"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", doc))
		require.NoError(t, err)
		text := string(raw)
		for _, s := range config.Settings() {
			row := ""
			for line := range strings.SplitSeq(text, "\n") {
				if strings.HasPrefix(line, "| `--"+s.Flag+"` |") {
					row = line
				}
			}
			if !assert.NotEmpty(t, row, "%s: no table row for --%s", doc, s.Flag) {
				continue
			}
			assert.Contains(t, row, "`"+s.Env+"`", "%s: row of --%s", doc, s.Flag)
			if s.Default != "" {
				assert.Contains(t, row, "`"+s.Default+"`", "%s: default of --%s", doc, s.Flag)
			}
		}
	}
}
