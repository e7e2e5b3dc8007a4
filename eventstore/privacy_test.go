package eventstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/domain/assessments"
	"github.com/cspm-es/cspm-es/domain/bia"
	"github.com/cspm-es/cspm-es/domain/risk"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/eventstore/sqlite"
	"github.com/cspm-es/cspm-es/platform/privacy"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

func keyring(t testing.TB) *privacy.Keyring {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	k, err := privacy.Open(filepath.Join(t.TempDir(), "privacy"), box)
	require.NoError(t, err)
	return k
}

// TestPersonalFieldsSealed: personal fields are stored sealed, read back
// clear, read as erased once the subject is forgotten, and the chain still
// verifies; other fields and other teams' subjects are untouched.
func TestPersonalFieldsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := keyring(t)
	codec := eventstore.NewDomainCodec()
	codec.SetSubjectKeys(keys)
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.sqlite"), sqlite.Options{Synchronous: "normal"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })

	appendAs := func(team, stream string, ev any) {
		ne, err := codec.EncodeFor(team, ev)
		require.NoError(t, err)
		_, err = store.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "T", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{ne}, Metadata: eventstore.Metadata{TeamID: team, Actor: "key:k1"}})
		require.NoError(t, err)
	}
	appendAs("t1", "risk-acc-1", risk.RiskAccepted{AcceptanceID: "a1", Reason: "Alice Doe says it is fine", Approver: "Alice@Example.com", ExpiresAt: when, AcceptedAt: when})
	appendAs("t1", "assessment-1", assessments.AssessmentCreated{AssessmentID: "as1", Name: "Q1", Assignees: []string{"alice@example.com", "bob@example.com"}, AsOf: when, CreatedAt: when})
	appendAs("t1", "bia-1", bia.BusinessProcessAdded{BIAID: "b1", Process: bia.Process{ProcessID: "p1", Name: "Payroll", Owner: "alice@example.com"}, AddedAt: when})
	appendAs("t2", "risk-acc-2", risk.RiskAccepted{AcceptanceID: "a2", Reason: "ok", Approver: "alice@example.com", ExpiresAt: when, AcceptedAt: when})

	all, err := store.ReadAll(ctx, 0, 100)
	require.NoError(t, err)
	require.Len(t, all, 4)
	for _, e := range all {
		assert.NotContains(t, string(bytes.ToLower(e.Data)), "alice", "stored %s holds the clear value", e.Type)
		assert.True(t, eventstore.IsSealed(e.Data), e.Type)
	}
	decode := func(e eventstore.RecordedEvent) any {
		v, err := codec.Decode(e)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, "Alice@Example.com", decode(all[0]).(risk.RiskAccepted).Approver)
	assert.Equal(t, "Alice Doe says it is fine", decode(all[0]).(risk.RiskAccepted).Reason)
	assert.Equal(t, "Payroll", decode(all[2]).(bia.BusinessProcessAdded).Process.Name)

	_, existed, err := keys.Forget("t1", "alice@example.com")
	require.NoError(t, err)
	require.True(t, existed)

	acc := decode(all[0]).(risk.RiskAccepted)
	assert.Equal(t, eventstore.Erased, acc.Approver)
	assert.Equal(t, eventstore.Erased, acc.Reason, "the approver's justification goes with the approver")
	assert.Equal(t, "a1", acc.AcceptanceID)
	assert.Equal(t, []string{eventstore.Erased, "bob@example.com"}, decode(all[1]).(assessments.AssessmentCreated).Assignees)
	p := decode(all[2]).(bia.BusinessProcessAdded).Process
	assert.Equal(t, eventstore.Erased, p.Owner)
	assert.Equal(t, "Payroll", p.Name)
	assert.Equal(t, "alice@example.com", decode(all[3]).(risk.RiskAccepted).Approver, "team t2's alice is not t1's")

	// Nothing was rewritten: the chain verifies.
	rep, err := eventstore.Verify(ctx, store, eventstore.VerifyOptions{})
	require.NoError(t, err)
	assert.Nil(t, rep.Broken)
	assert.EqualValues(t, 4, rep.EventsChecked)

	// A process without keys neither shows nor erases.
	bare := eventstore.NewDomainCodec()
	v, err := bare.Decode(all[3])
	require.NoError(t, err)
	assert.Equal(t, eventstore.Sealed, v.(risk.RiskAccepted).Approver)
}

// TestPersonalFieldsWithoutKeys: a codec without keys stores clear values,
// and events stored before sealing existed decode as they did.
func TestPersonalFieldsWithoutKeys(t *testing.T) {
	t.Parallel()
	codec := eventstore.NewDomainCodec()
	ne, err := codec.Encode(risk.RiskIdentified{RiskID: "r1", Title: "x", Owner: "carol"})
	require.NoError(t, err)
	assert.False(t, eventstore.IsSealed(ne.Data))
	keyed := eventstore.NewDomainCodec()
	keyed.SetSubjectKeys(keyring(t))
	v, err := keyed.Decode(eventstore.RecordedEvent{Type: ne.Type, SchemaVersion: 1, Data: ne.Data})
	require.NoError(t, err)
	assert.Equal(t, "carol", v.(risk.RiskIdentified).Owner)

	// Empty person fields stay empty (nothing to seal), and so does the
	// text that would be sealed under them.
	ne, err = keyed.EncodeFor("t1", risk.RiskAccepted{AcceptanceID: "a", Reason: "because"})
	require.NoError(t, err)
	assert.False(t, eventstore.IsSealed(ne.Data))
	var m map[string]any
	require.NoError(t, json.Unmarshal(ne.Data, &m))
	assert.Equal(t, "because", m["reason"])
}

// TestPersonalFieldsDeclared: every declared path names a JSON field of
// its event type (a renamed field would leave the data clear).
func TestPersonalFieldsDeclared(t *testing.T) {
	t.Parallel()
	codec := eventstore.NewDomainCodec()
	keyed := eventstore.NewDomainCodec()
	keyed.SetSubjectKeys(keyring(t))
	samples := map[string]any{}
	for _, s := range personalSamples() {
		samples[s.(interface{ EventType() string }).EventType()] = s
	}
	for name, fields := range codec.PersonalFields() {
		s, ok := samples[name]
		require.True(t, ok, "no sample of %s", name)
		ne, err := keyed.EncodeFor("t1", s)
		require.NoError(t, err)
		assert.NotContains(t, string(ne.Data), "person@example.com", "%s: %v", name, fields)
		assert.NotContains(t, string(ne.Data), "free text", "%s: %v", name, fields)
	}
	assert.Len(t, samples, len(codec.PersonalFields()))
}
