package kev_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func parse(t testing.TB, data []byte, f kev.Format, opts kev.Options) (threatintel.Catalogue, error) {
	t.Helper()
	return kev.Parse(context.Background(), strings.NewReader(string(data)), f, opts)
}

func mustParse(t testing.TB, name string) threatintel.Catalogue {
	t.Helper()
	f := kev.FormatJSON
	if strings.HasSuffix(name, ".csv") {
		f = kev.FormatCSV
	}
	c, err := parse(t, sample(t, name), f, kev.Options{AllowPartial: true})
	require.NoError(t, err)
	return c
}

const (
	may22    = "known_exploited_vulnerabilities_2025.05.22_subset.json"
	jun09    = "known_exploited_vulnerabilities_2025.06.09_subset.json"
	aug25    = "known_exploited_vulnerabilities_2025.08.25_excerpt.json"
	aug25CSV = "known_exploited_vulnerabilities_2025.08.25_excerpt.csv"
)
