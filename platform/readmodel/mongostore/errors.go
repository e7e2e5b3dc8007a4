package mongostore

import (
	"errors"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cspm-es/cspm-es/platform/mongodb"
	"github.com/cspm-es/cspm-es/platform/readmodel"
)

// Server error codes.
const (
	codeDuplicateKey       = 11000
	codeDuplicateKeyUpdate = 11001
	codeNamespaceExists    = 48
	codeNamespaceNotFound  = 26
)

// idIndex is the name of the _id index: a duplicate on it from a guarded
// upsert means the stored document is newer than the batch.
const idIndex = "_id_"

// The server's message: "E11000 duplicate key error collection: db.coll
// index: name dup key: {...}".
var dupKeyRE = regexp.MustCompile(`collection: [^.\s]+\.(\S+) index: (\S+)`)

// dupKey is one duplicate-key error: the collection (if the message names
// it) and index.
type dupKey struct{ collection, index string }

// duplicateKeys returns every duplicate-key error in err, in order.
func duplicateKeys(err error) []dupKey {
	var out []dupKey
	add := func(code int, msg string) {
		if code != codeDuplicateKey && code != codeDuplicateKeyUpdate {
			return
		}
		d := dupKey{}
		if m := dupKeyRE.FindStringSubmatch(msg); m != nil {
			d = dupKey{collection: m[1], index: m[2]}
		}
		out = append(out, d)
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			add(e.Code, e.Message)
		}
	}
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		for _, e := range bwe.WriteErrors {
			add(e.Code, e.Message)
		}
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		add(int(ce.Code), ce.Message)
	}
	return out
}

// classify turns a duplicate-key error into a *readmodel.DuplicateError
// naming the index; other errors are returned as they are.
func classify(err error, coll string) error {
	dups := duplicateKeys(err)
	if len(dups) == 0 {
		return err
	}
	return fmt.Errorf("%w: %v", &readmodel.DuplicateError{Collection: coll, Index: dups[0].index}, err)
}

// guardResult sorts the errors of an unordered, position-guarded bulk
// write: duplicates on _id_ are stale writes skipped by the guard; the
// first other write error is the batch's error.
func guardResult(err error, coll string) error {
	if err == nil {
		return nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		return classify(err, coll)
	}
	for _, e := range bwe.WriteErrors {
		dups := duplicateKeys(mongo.WriteException{WriteErrors: mongo.WriteErrors{e.WriteError}})
		if len(dups) == 1 && dups[0].index == idIndex {
			continue // the stored document is at or past this batch
		}
		return classify(mongo.WriteException{WriteErrors: mongo.WriteErrors{e.WriteError}}, coll)
	}
	return nil
}

func hasCode(err error, code int) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(code)
}

// unavailable marks err with readmodel.ErrUnavailable when it means the
// deployment cannot serve right now: a network error, a timeout (server
// selection included) or a disconnected client.
func unavailable(err error) error {
	if err == nil || errors.Is(err, readmodel.ErrUnavailable) {
		return err
	}
	if mongodb.Unavailable(err) {
		return fmt.Errorf("%w: %w", readmodel.ErrUnavailable, err)
	}
	return err
}
