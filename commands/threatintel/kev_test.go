package threatintel_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ct "github.com/cspm-es/cspm-es/commands/commandstest"
	tcmd "github.com/cspm-es/cspm-es/commands/threatintel"
	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
)

// feeds is the KEV parser behind the handlers' port (cmd/cspm wires the same).
type feeds struct{}

func (feeds) ParseKEV(ctx context.Context, r io.Reader, format string) (ti.Catalogue, error) {
	return kev.Parse(ctx, r, kev.Format(format), kev.Options{})
}

const (
	may22 = "known_exploited_vulnerabilities_2025.05.22_subset.json"
	jun09 = "known_exploited_vulnerabilities_2025.06.09_subset.json"
)

var countRE = regexp.MustCompile(`"count": [0-9]+`)

// feed is a sample subset with its count set to its entries (a whole
// feed, as the import demands).
func feed(t *testing.T, name string, entries int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "kev", "testdata", name))
	require.NoError(t, err)
	return countRE.ReplaceAll(b, []byte(`"count": `+strconv.Itoa(entries)))
}

func setup(t *testing.T) (*ct.Deps, *tcmd.Handlers) {
	d := ct.New(t)
	return d, tcmd.New(d.Kit).WithFeeds(feeds{})
}

func importKEV(t *testing.T, h *tcmd.Handlers, body []byte, force bool) (tcmd.KEVImportResult, error) {
	t.Helper()
	return h.ImportKEV(context.Background(), ct.TeamA, tcmd.ImportKEV{Format: "kev-json", FileName: "kev.json", Force: force, Body: bytes.NewReader(body)})
}

func cves[E any](evs []any, id func(E) string) []string {
	var out []string
	for _, e := range evs {
		if x, ok := e.(E); ok {
			out = append(out, id(x))
		}
	}
	return out
}

// TestImportKEV_Pair: 2025-05-22 then 2025-06-09, imported in order: the
// second import publishes 9, updates 9 (8 ransomware Unknown -> Known, 1
// short description), withdraws 1 (CVE-2025-4664), leaves 5 unchanged.
func TestImportKEV_Pair(t *testing.T) {
	d, h := setup(t)
	first, err := importKEV(t, h, feed(t, may22, 15), false)
	require.NoError(t, err)
	assert.Equal(t, tcmd.KEVCompleted, first.Status)
	assert.Equal(t, 15, first.Published)
	assert.Equal(t, 16, first.Events)

	d.Clock.Advance(time.Hour)
	second, err := importKEV(t, h, feed(t, jun09, 23), false)
	require.NoError(t, err)
	assert.Equal(t, [4]int{9, 9, 1, 5}, [4]int{second.Published, second.Updated, second.Withdrawn, second.Unchanged})
	assert.Equal(t, "2025.06.09", second.CatalogueVersion)

	evs := d.Decoded(t, tcmd.KEVCatalogueStreamID)[16:]
	assert.Equal(t, []string{"CVE-2021-32030", "CVE-2023-39780", "CVE-2024-56145", "CVE-2025-21479", "CVE-2025-21480",
		"CVE-2025-27038", "CVE-2025-35939", "CVE-2025-3935", "CVE-2025-5419"},
		cves(evs, func(e ti.KEVEntryPublished) string { return e.Entry.CVEID }))
	assert.Equal(t, []string{"CVE-2025-4664"}, cves(evs, func(e ti.KEVEntryWithdrawn) string { return e.CVEID }))
	updated := map[string][]string{}
	for _, e := range evs {
		if u, ok := e.(ti.KEVEntryUpdated); ok {
			updated[u.Entry.CVEID] = u.Changed
			assert.Equal(t, u.Changed[0] == ti.FieldRansomware, u.RansomwareConfirmed, u.Entry.CVEID)
		}
	}
	ransom := []string{ti.FieldRansomware}
	assert.Equal(t, map[string][]string{"CVE-2012-1710": ransom, "CVE-2012-4681": ransom, "CVE-2021-44529": ransom,
		"CVE-2022-27924": ransom, "CVE-2022-30333": ransom, "CVE-2023-43208": ransom, "CVE-2024-21762": ransom,
		"CVE-2024-57727": ransom, "CVE-2025-4428": {ti.FieldShortDescription}}, updated)
	acc := evs[len(evs)-1].(ti.KEVCatalogueAccepted)
	assert.Equal(t, 23, acc.Entries)
	assert.Equal(t, ct.T0.Add(time.Hour), acc.AcceptedAt)
}

// TestImportKEV_SameContentIdempotent: the same feed again, and the same
// content under another version label, append nothing.
func TestImportKEV_SameContentIdempotent(t *testing.T) {
	d, h := setup(t)
	_, err := importKEV(t, h, feed(t, may22, 15), false)
	require.NoError(t, err)
	head := d.Head(t)
	again, err := importKEV(t, h, feed(t, may22, 15), false)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, tcmd.KEVUnchanged, again.Status)
	relabelled := bytes.Replace(feed(t, may22, 15), []byte(`"2025.05.22"`), []byte(`"2025.05.22b"`), 1)
	again, err = importKEV(t, h, relabelled, false)
	require.NoError(t, err)
	assert.Equal(t, tcmd.KEVUnchanged, again.Status)
	assert.Equal(t, head, d.Head(t))
}

// TestImportKEV_TruncatedRejected: a truncated feed (its count says more
// than it holds, or cut mid-file) is rejected whole; the catalogue in
// force does not change; the same file again gets the same rejection.
func TestImportKEV_TruncatedRejected(t *testing.T) {
	d, h := setup(t)
	_, err := importKEV(t, h, feed(t, may22, 15), false)
	require.NoError(t, err)
	before := len(d.Stream(t, tcmd.KEVCatalogueStreamID))
	for _, body := range [][]byte{feed(t, jun09, 1360), feed(t, jun09, 23)[:5000]} {
		res, err := importKEV(t, h, body, false)
		var rej *tcmd.KEVRejectedError
		require.ErrorAs(t, err, &rej)
		assert.Equal(t, tcmd.KEVRejected, res.Status)
		assert.NotEmpty(t, res.Reason)
		head := d.Head(t)
		again, err := importKEV(t, h, body, false)
		require.ErrorAs(t, err, &rej)
		assert.True(t, again.Duplicate)
		assert.Equal(t, head, d.Head(t))
	}
	assert.Len(t, d.Stream(t, tcmd.KEVCatalogueStreamID), before)
}

// TestImportKEV_MassWithdrawalGuard: a feed keeping one entry of the 23 in
// force would withdraw 22 (> max(10, 2%)): refused, nothing appended,
// unless forced.
func TestImportKEV_MassWithdrawalGuard(t *testing.T) {
	d, h := setup(t)
	_, err := importKEV(t, h, feed(t, jun09, 23), false)
	require.NoError(t, err)
	cat, err := feeds{}.ParseKEV(context.Background(), bytes.NewReader(feed(t, jun09, 23)), "kev-json")
	require.NoError(t, err)
	tiny := tinyFeed(t, cat.Entries[0])
	head := d.Head(t)
	_, err = importKEV(t, h, tiny, false)
	var rule *domain.RuleError
	require.ErrorAs(t, err, &rule)
	assert.Equal(t, ti.CodeKEVMassWithdrawal, rule.Code)
	assert.Equal(t, head, d.Head(t))

	res, err := importKEV(t, h, tiny, true)
	require.NoError(t, err)
	assert.Equal(t, 22, res.Withdrawn)
	evs := d.Decoded(t, tcmd.KEVCatalogueStreamID)
	assert.True(t, evs[len(evs)-1].(ti.KEVCatalogueAccepted).Forced)
}

func tinyFeed(t *testing.T, e ti.KEVEntry) []byte {
	t.Helper()
	// One valid entry, the CVE of one in force.
	js := `{"catalogVersion":"x","dateReleased":"2025-06-10T00:00:00Z","count":1,"vulnerabilities":[{"cveID":"` + e.CVEID +
		`","vendorProject":"v","product":"p","vulnerabilityName":"n","dateAdded":"2025-01-01","shortDescription":"d","requiredAction":"a","dueDate":"2025-01-22","knownRansomwareCampaignUse":"Unknown","notes":""}]}`
	return []byte(js)
}
