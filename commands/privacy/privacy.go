// Package privacy runs the crypto-shredding command (docs/privacy.md,
// decisions 91-93): forget a data subject of the caller's team by
// destroying the subject's key (outside the event store), then record the
// fact as an event that names the subject by its keyed id only.
package privacy

import (
	"context"
	"fmt"

	"github.com/cspm-es/cspm-es/commands"
	domprivacy "github.com/cspm-es/cspm-es/domain/privacy"
)

// StreamType is the stream type of a data subject ("datasubject-<subject id>").
const StreamType = "DataSubject"

// StreamID is the stream of the data subject subjectID (already scoped by
// team: the id is keyed with it).
func StreamID(subjectID string) string { return "datasubject-" + subjectID }

// Keys is the port to the subjects' keys (platform/privacy.Keyring).
type Keys interface {
	// SubjectID is the id of subject in team (normalized).
	SubjectID(team, subject string) (string, error)
	// Forget destroys the key of subject in team; existed is false when
	// there was none.
	Forget(team, subject string) (subjectID string, existed bool, err error)
}

// Forget forgets a data subject of the caller's team.
type Forget struct {
	// Subject as personal fields name it: an email or a name, matched
	// after normalization (trimmed, spaces collapsed, lower case).
	Subject string `json:"subject"`
}

// Forgotten is the outcome: the command's Result (ID is the subject id)
// and whether a key was destroyed.
type Forgotten struct {
	commands.Result
	SubjectID  string `json:"subject_id"`
	KeyExisted bool   `json:"key_existed"`
}

// Handlers runs the privacy commands. It is safe for concurrent use.
type Handlers struct {
	kit  *commands.Kit
	keys Keys
}

// New returns the handlers; it panics on a nil kit or keys (a wiring
// mistake).
func New(kit *commands.Kit, keys Keys) *Handlers {
	if kit == nil || keys == nil {
		panic("privacy.New: nil kit or keys")
	}
	return &Handlers{kit: kit, keys: keys}
}

// Forget destroys the subject's key, then appends DataSubjectForgotten
// to the subject's stream. The key goes first: if the append fails the
// data is erased all the same, and a retry records it (KeyExisted false).
// Forgetting again is allowed and recorded again. The subject is in no
// event, log line or error: only its id.
func (h *Handlers) Forget(ctx context.Context, meta commands.Meta, cmd Forget) (Forgotten, error) {
	if err := domprivacy.CheckSubject(cmd.Subject); err != nil {
		return Forgotten{}, err
	}
	id, err := h.keys.SubjectID(meta.TeamID, cmd.Subject)
	if err != nil {
		return Forgotten{}, fmt.Errorf("forget: %w", err)
	}
	// The idempotency fingerprint digests the body: give it the id, not
	// the subject (the fingerprint is stored).
	c := commands.Call{Name: "ForgetDataSubject", TargetID: id, Body: struct {
		SubjectID string `json:"subject_id"`
	}{id}, StreamID: StreamID(id), Type: StreamType}
	var existed bool
	res, err := commands.Upsert(ctx, h.kit, meta, c, func([]domprivacy.SubjectForgotten) ([]domprivacy.SubjectForgotten, error) {
		_, had, err := h.keys.Forget(meta.TeamID, cmd.Subject)
		if err != nil {
			return nil, fmt.Errorf("forget: %w", err)
		}
		existed = existed || had // a retry after a conflict finds no key
		return []domprivacy.SubjectForgotten{{SubjectID: id, KeyExisted: existed, ForgottenAt: h.kit.Now()}}, nil
	})
	if err != nil {
		return Forgotten{}, err
	}
	res.ID = id
	return Forgotten{Result: res, SubjectID: id, KeyExisted: existed}, nil
}
