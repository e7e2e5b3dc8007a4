package trivy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy"
)

// endless is a report whose one vulnerability never ends.
type endless struct {
	head []byte
	n    int64
}

func (e *endless) Read(p []byte) (int, error) {
	if len(e.head) > 0 {
		n := copy(p, e.head)
		e.head = e.head[n:]
		e.n += int64(n)
		return n, nil
	}
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestLimits_EndlessElementStopsAtTheLimit(t *testing.T) {
	e := &endless{head: []byte(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Target":"x","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[{"Title":"`)}
	_, err := trivy.Parse(t.Context(), e, func(trivy.Item) error { return nil })
	requireParseError(t, err, trivy.ErrTooLarge)
	assert.Less(t, e.n, int64(trivy.MaxElementBytes+(1<<20)), "read %d bytes", e.n)
}

func TestLimits_LongIdentifier(t *testing.T) {
	report := strings.Replace(string(sample(t, jar)), `"PkgName": "org.apache.tomcat:tomcat-catalina"`, `"PkgName": "`+strings.Repeat("a", trivy.MaxIdentifierBytes+1)+`"`, 1)
	_, _, err := parseAll(t, []byte(report))
	pe := requireParseError(t, err, trivy.ErrTooLarge)
	assert.Equal(t, "PkgName", pe.Field)
}

func TestLimits_HeldItems(t *testing.T) {
	// A result whose Target comes after more than MaxHeldItems secrets
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Class":"secret","Secrets":[`)
	for i := 0; i <= trivy.MaxHeldItems; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"RuleID":"r","Severity":"LOW","StartLine":1,"EndLine":1}`)
	}
	b.WriteString(`],"Target":"f"}]}`)
	_, _, err := parseAll(t, b.Bytes())
	requireParseError(t, err, trivy.ErrTooLarge)
	// One fewer is held and emitted once the Target is read
	held := bytes.Replace(b.Bytes(), []byte(`{"RuleID":"r","Severity":"LOW","StartLine":1,"EndLine":1},`), nil, 1)
	items, _, err := parseAll(t, held)
	require.NoError(t, err)
	require.Len(t, items, trivy.MaxHeldItems)
	assert.Equal(t, "f", items[0].Secret.Target)
}

func TestLimits_HugeArrayOfUnreadValuesIsSkippedInBoundedMemory(t *testing.T) {
	// Licenses (not read) with many elements: skipped token by token
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[{"Target":"f","Class":"license","Licenses":[`)
	for i := 0; i < 100_000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"Severity":"LOW","Name":"MIT","PkgName":"p"}`)
	}
	b.WriteString(`]}]}`)
	_, s, err := parseAll(t, b.Bytes())
	require.NoError(t, err)
	assert.Equal(t, 1, s.SkippedResults)
}

func TestLimits_TooManyResults(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"SchemaVersion":2,"ArtifactType":"filesystem","Results":[`)
	for i := 0; i <= trivy.MaxResults; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"Target":"f","Class":"secret"}`)
	}
	b.WriteString(`]}`)
	_, _, err := parseAll(t, b.Bytes())
	requireParseError(t, err, trivy.ErrTooManyDistinct)
}
