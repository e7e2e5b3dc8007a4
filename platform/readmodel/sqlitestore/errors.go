package sqlitestore

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/sqlitedb"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// isNoSuchTable: the collection was never created (it reads as empty).
func isNoSuchTable(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_ERROR && strings.Contains(se.Error(), "no such table")
}

// SQLite names the index of a violated expression index:
// "UNIQUE constraint failed: index 'ix_by_asset_1a2b3c4d'".
var uniqueIndexRE = regexp.MustCompile(`UNIQUE constraint failed: index '([^']+)'`)

// uniqueViolation reports a unique-constraint error and the physical index
// it names ("" if it names columns instead).
func uniqueViolation(err error) (physical string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return "", false
	}
	if m := uniqueIndexRE.FindStringSubmatch(se.Error()); m != nil {
		return m[1], true
	}
	return "", true
}

// unavailable marks err with readmodel.ErrUnavailable when it means the
// database cannot serve right now (see sqlitedb.Unavailable), and with
// readmodel.ErrCorrupt too when the file is damaged (see isCorrupt).
func unavailable(err error) error {
	if err == nil || errors.Is(err, readmodel.ErrUnavailable) || !sqlitedb.Unavailable(err) {
		return err
	}
	if isCorrupt(err) {
		return fmt.Errorf("%w: %w: %w", readmodel.ErrUnavailable, readmodel.ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %w", readmodel.ErrUnavailable, err)
}

// isCorrupt: SQLite says the file is malformed (SQLITE_CORRUPT) or not a
// database at all (SQLITE_NOTADB). Neither heals by waiting.
func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}
