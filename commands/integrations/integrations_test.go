package integrations_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/commands/commandstest"
	incmd "github.com/cspm-es/cspm-es/commands/integrations"
	in "github.com/cspm-es/cspm-es/domain/integrations"
	"github.com/cspm-es/cspm-es/eventstore"
	"github.com/cspm-es/cspm-es/platform/secretbox"
)

const secret = "the-clear-signing-secret-42"

var meta = commands.Meta{TeamID: "team-a", Actor: "key:test"}

// sender answers the statuses it is given, in turn, and keeps what it got.
type sender struct {
	mu       sync.Mutex
	statuses []int
	errs     []error
	got      []map[string]string
	bodies   [][]byte
}

func (s *sender) Send(_ context.Context, _ string, h map[string]string, body []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.bodies = append(s.got, h), append(s.bodies, body)
	i := len(s.got) - 1
	var err error
	if i < len(s.errs) {
		err = s.errs[i]
	}
	if i < len(s.statuses) {
		return s.statuses[i], err
	}
	return 204, err
}

func setup(t *testing.T, store commands.EventStore, snd incmd.Sender) (*commandstest.Deps, *incmd.Handlers, string) {
	t.Helper()
	d := commandstest.New(t)
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	require.NoError(t, err)
	kit := d.Kit
	if hs, ok := store.(*commandstest.HookedStore); ok {
		hs.EventStore = d.Store
		kit = d.KitOver(hs)
	}
	h := incmd.New(kit, box, snd, nil).WithBackoff(in.Backoff{Min: time.Second, Max: time.Minute})
	s := secret
	res, err := h.CreateIntegration(t.Context(), meta, incmd.CreateIntegration{Name: "pager", Kind: "webhook",
		Config: map[string]string{"url": "https://h.example/in"}, EventKinds: []string{"scan_run_failed"}, Secret: &s})
	require.NoError(t, err)
	return d, h, res.ID
}

func TestCreateIntegration_TheSecretIsSealed(t *testing.T) {
	t.Parallel()
	d, h, id := setup(t, nil, nil)
	stream := d.Stream(t, incmd.IntegrationStreamID(id))
	require.Len(t, stream, 1)
	assert.NotContains(t, string(stream[0].Data), secret)
	assert.Contains(t, string(stream[0].Data), `"key_id"`)
	commandstest.AssertMetadata(t, meta, stream...)

	short := "too-short"
	_, err := h.CreateIntegration(t.Context(), meta, incmd.CreateIntegration{Name: "x", Kind: "webhook",
		Config: map[string]string{"url": "https://h.example"}, EventKinds: []string{"sla_breached"}, Secret: &short})
	commandstest.RequireFields(t, err, "secret")
	_, err = h.CreateIntegration(t.Context(), meta, incmd.CreateIntegration{Name: "x", Kind: "webhook",
		Config: map[string]string{"url": "https://h.example"}, EventKinds: []string{"sla_breached"}})
	commandstest.RequireFields(t, err, "secret")

	// Another team cannot reach it.
	_, err = h.ChangeIntegration(t.Context(), commands.Meta{TeamID: "team-b"}, incmd.ChangeIntegration{IntegrationID: id, Name: "mine"})
	assert.Error(t, err)
}

func TestDeliverWebhook_SignedRetriedNeverAfterTheAcknowledgement(t *testing.T) {
	t.Parallel()
	snd := &sender{statuses: []int{503, 0, 204}, errs: []error{nil, errors.New("context deadline exceeded"), nil}}
	d, h, id := setup(t, nil, snd)
	cmd := incmd.DeliverWebhook{IntegrationID: id, EventID: "ev-1", EventKind: "scan_run_failed", Body: []byte(`{"a":1}`)}

	a, err := h.DeliverWebhook(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.False(t, a.Delivered)
	assert.Equal(t, commandstest.T0.Add(time.Second), a.NextAttemptAt)
	a, err = h.DeliverWebhook(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.False(t, a.Delivered)
	assert.Equal(t, commandstest.T0.Add(2*time.Second), a.NextAttemptAt, "the backoff doubles")
	a, err = h.DeliverWebhook(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.True(t, a.Delivered)

	_, err = h.DeliverWebhook(t.Context(), meta, cmd)
	commandstest.RequireRule(t, err, in.CodeAlreadyDelivered)
	assert.Len(t, snd.got, 3, "nothing sent after the acknowledgement")

	for i, hd := range snd.got {
		ts := commandstest.T0.Unix()
		assert.Equal(t, in.Sign([]byte(secret), ts, snd.bodies[i]), hd[in.HeaderSignature])
		assert.Equal(t, in.DeliveryID(id, "ev-1"), hd[in.HeaderDelivery], "the same id on every attempt")
	}
	var types []string
	for _, e := range d.Stream(t, incmd.DeliveryStreamID(in.DeliveryID(id, "ev-1"))) {
		types = append(types, e.Type)
		assert.NotContains(t, string(e.Data), secret)
	}
	assert.Equal(t, []string{"WebhookDeliveryFailed", "WebhookDeliveryFailed", "WebhookDelivered"}, types)

	// Another team's delivery to this integration: not found.
	_, err = h.DeliverWebhook(t.Context(), commands.Meta{TeamID: "team-b"}, cmd)
	assert.Error(t, err)
}

// An acknowledgement whose append fails is the at-least-once window: the
// delivery is sent again, and recorded then.
func TestDeliverWebhook_AnUnrecordedAcknowledgementIsSentAgain(t *testing.T) {
	t.Parallel()
	fail := true
	hooked := &commandstest.HookedStore{}
	snd := &sender{}
	_, h, id := setup(t, hooked, snd)
	hooked.BeforeAppend = func(req eventstore.AppendRequest) error {
		if fail && req.StreamType == incmd.StreamTypeDelivery {
			fail = false
			return errors.New("store down")
		}
		return nil
	}
	cmd := incmd.DeliverWebhook{IntegrationID: id, EventID: "ev-1", EventKind: "scan_run_failed", Body: []byte(`{}`)}
	a, err := h.DeliverWebhook(t.Context(), meta, cmd)
	require.Error(t, err)
	assert.True(t, a.Delivered && a.Unrecordable)
	a, err = h.DeliverWebhook(t.Context(), meta, cmd)
	require.NoError(t, err)
	assert.True(t, a.Delivered)
	_, err = h.DeliverWebhook(t.Context(), meta, cmd)
	commandstest.RequireRule(t, err, in.CodeAlreadyDelivered)
	assert.Len(t, snd.got, 2)
}
