package threatintel_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/platform/parsers/kev"
	"github.com/cspm-es/cspm-es/projections"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	pti "github.com/cspm-es/cspm-es/projections/threatintel"
)

func catalogue(t *testing.T, name string) ti.Catalogue {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "platform", "parsers", "kev", "testdata", name))
	require.NoError(t, err)
	c, err := kev.Parse(context.Background(), bytes.NewReader(b), kev.FormatJSON, kev.Options{AllowPartial: true})
	require.NoError(t, err)
	c.Count = len(c.Entries)
	return c
}

// kevStream decides the imports of cats in turn, an hour apart, and
// returns the catalogue stream's events (positions from 1).
func kevStream(t *testing.T, cats ...ti.Catalogue) []projections.Event {
	t.Helper()
	var history []ti.Event
	for i, c := range cats {
		evs, _, err := ti.RehydrateKEVCatalogue(history...).Accept(c, ti.KEVImport{ImportID: "kev-" + string(rune('a'+i)), Format: "kev-json"}, pt.At(time.Duration(i)*time.Hour))
		require.NoError(t, err)
		history = append(history, evs...)
	}
	data := make([]pt.EventData, len(history))
	pos := make([]int64, len(history))
	for i, e := range history {
		data[i], pos[i] = e, int64(i+1)
	}
	return pt.Stream("team-admin", pos, data...)
}

// The 2025-05-22 -> 2025-06-09 pair: 23 listed entries and one withdrawn
// (CVE-2025-4664), its history closed at the second import; an updated
// entry has two versions; redelivery changes nothing.
func TestKEV_PairAndHistory(t *testing.T) {
	t.Parallel()
	p := pti.NewKEV()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
	}
	evs := kevStream(t, catalogue(t, "known_exploited_vulnerabilities_2025.05.22_subset.json"),
		catalogue(t, "known_exploited_vulnerabilities_2025.06.09_subset.json"))
	tx := pt.Apply(t, p, evs...)
	listed := 0
	for _, d := range tx.Colls[pti.KEVEntriesCollection] {
		if d["status"] == pti.KEVListed {
			listed++
		}
	}
	assert.Equal(t, 23, listed)
	assert.Len(t, tx.Colls[pti.KEVEntriesCollection], 24)

	w := tx.Doc(t, pti.KEVEntriesCollection, "CVE-2025-4664")
	assert.Equal(t, pti.KEVWithdrawn, w["status"])
	assert.Equal(t, pt.At(time.Hour), w["withdrawn_at"])
	assert.Equal(t, pt.T0, w["listed_since"])

	u := tx.Doc(t, pti.KEVEntriesCollection, "CVE-2024-21762")
	assert.Equal(t, true, u["ransomware"])
	assert.Equal(t, []any{ti.FieldRansomware}, u["changed"])
	versions := 0
	for _, h := range tx.Colls[pti.KEVHistoryCollection] {
		if h["cve_id"] == "CVE-2024-21762" {
			versions++
			if h["kind"] == "published" {
				assert.Equal(t, false, h["ransomware"])
				assert.Equal(t, pt.At(time.Hour), h["valid_to"], "closed by the update")
			} else {
				assert.Nil(t, h["valid_to"])
			}
		}
	}
	assert.Equal(t, 2, versions)
	cat := tx.Doc(t, pti.KEVCatalogCollection, pti.KEVCatalogDocID)
	assert.Equal(t, "2025.06.09", cat["catalogue_version"])
	assert.Equal(t, int64(23), cat["entries"])

	// Redelivery of the whole stream: the same documents.
	again := pt.Apply(t, p, append(evs, evs...)...)
	assert.Equal(t, tx.Colls, again.Colls)
}

// Indicators: created, observed, expired, revoked; redelivery harmless;
// teams apart (order independence across indicator streams).
func TestIndicators(t *testing.T) {
	t.Parallel()
	p := pti.NewIndicators()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
	}
	create := func(id, value string) ti.IndicatorCreated {
		return ti.IndicatorCreated{IndicatorID: id, Type: ti.TypeDomain, Value: value, RawValue: value, Confidence: 50,
			Source: "feed", ValidFrom: pt.T0, ValidUntil: pt.At(time.Hour), CreatedAt: pt.T0}
	}
	a := pt.Stream("team-a", pt.Positions(1, 4, 6), create("i1", "evil.example"),
		ti.IndicatorExpired{IndicatorID: "i1", ExpiredAt: pt.At(time.Hour)},
		ti.IndicatorObserved{IndicatorID: "i1", ObservedAt: pt.At(2 * time.Hour), ValidUntil: pt.At(3 * time.Hour)})
	b := pt.Stream("team-b", pt.Positions(2, 3, 5), create("i1", "evil.example"),
		ti.IndicatorUpdated{IndicatorID: "i1", Confidence: 90, Source: "s", ValidFrom: pt.T0, UpdatedAt: pt.At(time.Minute)},
		ti.IndicatorRevoked{IndicatorID: "i1", Reason: "fp", RevokedAt: pt.At(2 * time.Minute)})
	tx := pt.Apply(t, p, append(a, b...)...)
	da := tx.Doc(t, pti.IndicatorsCollection, pti.IndicatorDocID("team-a", "i1"))
	assert.Equal(t, "active", da["status"])
	assert.Equal(t, int64(1), da["observations"])
	assert.Equal(t, pt.At(3*time.Hour), da["valid_until"])
	db := tx.Doc(t, pti.IndicatorsCollection, pti.IndicatorDocID("team-b", "i1"))
	assert.Equal(t, "revoked", db["status"])
	assert.Equal(t, int64(90), db["confidence"])
	assert.Nil(t, db["valid_until"])
	pt.AssertOrderIndependent(t, p, [][]projections.Event{a, b})
	assert.Equal(t, tx.Colls, pt.Apply(t, p, append(append(a, b...), a...)...).Colls)
}

// Correlation: a value on 100,000 resources is one observed_values
// document (count 100,000, a sample of 20) and 100,000 sightings; the
// same resource again only moves last_seen; teams apart.
func TestCorrelation_ManySightings(t *testing.T) {
	t.Parallel()
	p := pti.NewCorrelation()
	for _, spec := range p.Collections() {
		require.NoError(t, spec.Validate())
	}
	const n = 100_000
	var results []csdomain.CheckResult
	for i := range n {
		results = append(results, csdomain.CheckResult{Provider: "aws", Account: "123456789012", Region: "eu-west-1", Check: "ec2_sg_open",
			Resource: fmt.Sprintf("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-%06d", i), ResourceName: "allows 203.0.113.7/32",
			Result: csdomain.ResultFail, ObservedAt: pt.T0})
	}
	var data []pt.EventData
	var pos []int64
	for i := 0; i < n; i += 1000 {
		data = append(data, csdomain.ResultsRecorded{ImportID: "imp-1", ScanID: "s1", EvaluatedAt: pt.T0, Results: results[i : i+1000]})
		pos = append(pos, int64(len(pos)+1))
	}
	again := csdomain.ResultsRecorded{ImportID: "imp-2", Results: []csdomain.CheckResult{results[0]}}
	again.Results[0].ObservedAt = pt.At(time.Hour)
	data, pos = append(data, again), append(pos, int64(len(pos)+1))
	tx := pt.Apply(t, p, pt.Stream("team-a", pos, data...)...)

	o := tx.Doc(t, pti.ObservedValuesCollection, pti.ObservedValueDocID("team-a", "203.0.113.7"))
	assert.Equal(t, int64(n), o["sightings"])
	assert.Len(t, o["sample"], pti.SampleSize)
	assert.Equal(t, pt.At(time.Hour), o["last_seen"])
	assert.Len(t, tx.Colls[pti.SightingsCollection], n)
	assert.Len(t, tx.Colls[pti.ObservedValuesCollection], 1)

	b := pt.Apply(t, p, pt.Stream("team-b", pt.Positions(1), csdomain.ResultsRecorded{Results: results[:1]})...)
	_, found, err := b.Get(context.Background(), pti.ObservedValuesCollection, pti.ObservedValueDocID("team-a", "203.0.113.7"))
	require.NoError(t, err)
	assert.False(t, found)
}

// Correlation is order independent: two imports of team A and one of team
// B sharing a value, in any interleaving, give the same documents (the
// sample is the smallest resources, the times are min and max).
func TestCorrelation_OrderIndependent(t *testing.T) {
	t.Parallel()
	res := func(i int, at time.Duration) csdomain.CheckResult {
		return csdomain.CheckResult{Provider: "aws", Account: "1", Check: "c", Resource: fmt.Sprintf("arn:aws:ec2:::eip/%03d", i),
			ResourceName: "evil.example.com", Result: csdomain.ResultFail, ObservedAt: pt.At(at)}
	}
	var first, second []csdomain.CheckResult
	for i := range 30 {
		first = append(first, res(i, 0))
		second = append(second, res(60-i, time.Hour))
	}
	a1 := pt.Stream("team-a", pt.Positions(1, 3), csdomain.ResultsRecorded{ImportID: "i1", Results: first[:15]}, csdomain.ResultsRecorded{ImportID: "i1", Results: first[15:]})
	a2 := pt.Stream("team-a", pt.Positions(2, 5), csdomain.ResultsRecorded{ImportID: "i2", Results: second[:15]}, csdomain.ResultsRecorded{ImportID: "i2", Results: second[15:]})
	b := pt.Stream("team-b", pt.Positions(4), csdomain.ResultsRecorded{ImportID: "i3", Results: first[:3]})
	pt.AssertOrderIndependent(t, pti.NewCorrelation(), [][]projections.Event{a1, a2, b})
	tx := pt.Apply(t, pti.NewCorrelation(), append(append(a1, a2...), b...)...)
	o := tx.Doc(t, pti.ObservedValuesCollection, pti.ObservedValueDocID("team-a", "evil.example.com"))
	assert.Equal(t, int64(60), o["sightings"])
	assert.Equal(t, "arn:aws:ec2:::eip/000", o["sample"].([]any)[0])
	assert.Equal(t, pt.At(time.Hour), o["last_seen"])
}
