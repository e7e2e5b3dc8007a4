// Package privacy holds the data-subject events of crypto-shredding
// (docs/privacy.md, decisions 91-93). Personal fields of other modules'
// events are sealed under their subject's key by the event codec; a
// subject is forgotten by destroying that key, and the fact is recorded
// here, without the subject in clear.
package privacy

import (
	"strings"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// SubjectForgotten: the key of the data subject SubjectID (the keyed hash
// of the normalized subject, never the subject itself) was destroyed at
// ForgottenAt; KeyExisted is false when there was no key to destroy (a
// subject never seen, or forgotten before).
type SubjectForgotten struct {
	SubjectID   string    `json:"subject_id"`
	KeyExisted  bool      `json:"key_existed"`
	ForgottenAt time.Time `json:"forgotten_at"`
}

// EventType is the stored type name.
func (SubjectForgotten) EventType() string { return "DataSubjectForgotten" }

// MaxSubjectLen bounds a subject as given.
const MaxSubjectLen = 320

// CheckSubject validates a subject as given by the operator.
func CheckSubject(subject string) error {
	var v domain.Validator
	s := strings.TrimSpace(subject)
	switch {
	case s == "":
		v.Add("subject", "must not be empty")
	case len(subject) > MaxSubjectLen:
		v.Add("subject", "must be at most 320 bytes")
	}
	return v.Err()
}
