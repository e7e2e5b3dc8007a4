package threatintel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
)

func TestNormalizeIndicator(t *testing.T) {
	good := []struct {
		typ      ti.IndicatorType
		in, want string
	}{
		{ti.TypeIPv4, " 192.0.2.1 ", "192.0.2.1"},
		{ti.TypeIPv6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{ti.TypeIPv6, "::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{ti.TypeCIDR, "10.1.2.3/8", "10.0.0.0/8"},
		{ti.TypeCIDR, "2001:DB8::1/32", "2001:db8::/32"},
		{ti.TypeDomain, "Evil.Example.COM.", "evil.example.com"},
		{ti.TypeDomain, "_dmarc.example.org", "_dmarc.example.org"},
		{ti.TypeDomain, "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{ti.TypeURL, "HTTPS://Evil.Example.com.:443/Path?q=A", "https://evil.example.com/Path?q=A"},
		{ti.TypeURL, "http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"},
		{ti.TypeMD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{ti.TypeSHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{ti.TypeSHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{ti.TypeEmail, "Phish@Evil.Example.com.", "phish@evil.example.com"},
	}
	for _, c := range good {
		got, err := ti.NormalizeIndicator(c.typ, c.in)
		require.NoError(t, err, "%s %q", c.typ, c.in)
		assert.Equal(t, c.want, got, "%s %q", c.typ, c.in)
	}
	bad := []struct {
		typ ti.IndicatorType
		in  string
	}{
		{ti.TypeIPv4, "2001:db8::1"}, {ti.TypeIPv4, "192.0.2.256"}, {ti.TypeIPv4, "010.0.0.1"},
		{ti.TypeIPv6, "192.0.2.1"}, {ti.TypeIPv6, "fe80::1%eth0"}, {ti.TypeCIDR, "10.0.0.0"}, {ti.TypeCIDR, "10.0.0.0/33"},
		{ti.TypeDomain, "localhost"}, {ti.TypeDomain, "-bad.example"}, {ti.TypeDomain, "bücher.example"}, {ti.TypeDomain, "a..b"},
		{ti.TypeURL, "evil.example.com/path"}, {ti.TypeURL, "http:///x"},
		{ti.TypeMD5, "d41d8cd98f00b204e9800998ecf8427"}, {ti.TypeSHA1, "d41d8cd98f00b204e9800998ecf8427e"}, {ti.TypeSHA256, "zz"},
		{ti.TypeEmail, "no-at.example.com"}, {ti.TypeEmail, "a@localhost"}, {"ssdeep", "x"}, {ti.TypeDomain, ""},
	}
	for _, c := range bad {
		_, err := ti.NormalizeIndicator(c.typ, c.in)
		var verr *domain.ValidationError
		assert.ErrorAs(t, err, &verr, "%s %q", c.typ, c.in)
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func created(t *testing.T, until time.Time) []ti.Event {
	t.Helper()
	evs, err := ti.CreateIndicator("ind-1", ti.IndicatorSpec{Type: ti.TypeDomain, Value: "Evil.Example.", Confidence: 80,
		Source: "partner feed", ValidUntil: until}, t0)
	require.NoError(t, err)
	return evs
}

func TestIndicator_ExpiryAndReobservation(t *testing.T) {
	// Given an indicator valid for 10 days
	h := created(t, t0.Add(10*24*time.Hour))
	in := ti.RehydrateIndicator(h...)
	assert.Equal(t, "evil.example", in.Value())
	// When the scheduler runs before the end: not due
	_, err := in.Expire(t0.Add(24 * time.Hour))
	var rule *domain.RuleError
	require.ErrorAs(t, err, &rule)
	assert.Equal(t, ti.CodeIndicatorNotDue, rule.Code)
	// When it runs after: expired, dated at the end
	evs, err := in.Expire(t0.Add(11 * 24 * time.Hour))
	require.NoError(t, err)
	assert.Equal(t, ti.IndicatorExpired{IndicatorID: "ind-1", ExpiredAt: t0.Add(10 * 24 * time.Hour)}, evs[0])
	h = append(h, evs...)
	in = ti.RehydrateIndicator(h...)
	assert.Equal(t, ti.IndicatorInactive, in.Status())
	_, err = in.Expire(t0.Add(12 * 24 * time.Hour))
	require.ErrorAs(t, err, &rule)
	assert.Equal(t, ti.CodeIndicatorExpired, rule.Code)
	// When it is observed again: active, extended by its own window
	at := t0.Add(20 * 24 * time.Hour)
	evs, err = in.Observe("sensor", time.Time{}, at)
	require.NoError(t, err)
	h = append(h, evs...)
	in = ti.RehydrateIndicator(h...)
	assert.Equal(t, ti.IndicatorActive, in.Status())
	assert.Equal(t, at.Add(10*24*time.Hour), in.ValidUntil())
	// Revoked: final
	evs, err = in.Revoke("false positive", at)
	require.NoError(t, err)
	in = ti.RehydrateIndicator(append(h, evs...)...)
	_, err = in.Observe("", time.Time{}, at)
	require.ErrorAs(t, err, &rule)
	assert.Equal(t, ti.CodeIndicatorRevoked, rule.Code)
}

func TestIndicator_UpdateKeepsValue(t *testing.T) {
	in := ti.RehydrateIndicator(created(t, time.Time{})...)
	_, err := in.Update(ti.IndicatorSpec{Value: "other.example", Confidence: 10, Source: "x"}, t0)
	var verr *domain.ValidationError
	require.ErrorAs(t, err, &verr)
	evs, err := in.Update(ti.IndicatorSpec{Value: "EVIL.example.", Confidence: 10, Source: "x"}, t0)
	require.NoError(t, err)
	assert.Equal(t, 10, evs[0].(ti.IndicatorUpdated).Confidence)
	_, err = in.Update(ti.IndicatorSpec{Confidence: 101, Source: ""}, t0)
	require.ErrorAs(t, err, &verr)
	assert.Len(t, verr.Fields, 2)
}

func TestExtractValues(t *testing.T) {
	v := func(typ ti.IndicatorType, s string) ti.ObservedValue { return ti.ObservedValue{Type: typ, Value: s} }
	assert.Empty(t, ti.ExtractValues("arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc", "i-0abc", "v1.2.3"))
	assert.Equal(t, []ti.ObservedValue{v(ti.TypeDomain, "evil.example.com")},
		ti.ExtractValues("arn:aws:route53:::hostedzone/Z1/Evil.Example.COM."))
	assert.Equal(t, []ti.ObservedValue{v(ti.TypeIPv4, "192.0.2.10"), v(ti.TypeIPv6, "2001:db8::1")},
		ti.ExtractValues("2001:DB8::1", "sg-1 allows 192.0.2.10/32"))
	assert.Equal(t, []ti.ObservedValue{v(ti.TypeDomain, "api.example.org")},
		ti.ExtractValues("https://api.example.org:8443/v1", "api.example.org"))
}
