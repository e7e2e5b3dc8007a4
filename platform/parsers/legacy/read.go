package legacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MaxDocumentSize bounds one document's Extended JSON text. MongoDB's own
// limit is 16 MiB of BSON; Extended JSON spells it in more bytes.
const MaxDocumentSize = 48 << 20

// Options tune a Loader.
type Options struct {
	// DefaultTeam is the team of documents that name none (the legacy
	// platform ran one tenant per deployment).
	DefaultTeam string
}

// Loader accumulates the documents of every collection read, then merges
// them (Dataset). It is not safe for concurrent use.
type Loader struct {
	opts     Options
	users    []User
	legacy   []CloudAccount
	enhanced []CloudAccount
	scans    []ScanRun
	findings []Finding
	seen     map[string]map[string]Source // collection → _id → first source
	read     map[string]int
	problems []Problem
}

// NewLoader returns an empty Loader.
func NewLoader(opts Options) *Loader {
	return &Loader{opts: opts, seen: map[string]map[string]Source{}, read: map[string]int{}}
}

// ReadFile reads one mongoexport file of collection (JSON Lines, or one
// array with --jsonArray: told apart by the first byte). It returns the
// number of documents met; its error is the reader's failure, or a broken
// array (the documents before the break are kept). Bad documents are
// Problems, not errors.
func (l *Loader) ReadFile(database, collection string, r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	first, err := firstByte(br)
	if err == io.EOF {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("legacy: read %s.%s: %w", database, collection, err)
	}
	if first == '[' {
		return l.readArray(database, collection, br)
	}
	return l.readLines(database, collection, br)
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xEF: // a UTF-8 byte order mark
			if next, _ := br.Peek(2); bytes.Equal(next, []byte{0xBB, 0xBF}) {
				_, _ = br.Discard(2)
				continue
			}
		}
		return b, br.UnreadByte()
	}
}

// readArray reads a --jsonArray file: one JSON array of documents.
func (l *Loader) readArray(database, collection string, r io.Reader) (int, error) {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // '['
		return 0, fmt.Errorf("legacy: %s.%s: %w", database, collection, err)
	}
	n := 0
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			src := Source{Database: database, Collection: collection, Index: n}
			l.problem(src, fmt.Sprintf("the array breaks here, the rest of the file is not read: %v", err))
			return n, fmt.Errorf("legacy: %s.%s: document %d: %w", database, collection, n, err)
		}
		l.AddExtJSON(Source{Database: database, Collection: collection, Index: n}, raw)
		n++
	}
	if _, err := dec.Token(); err != nil { // ']'
		return n, fmt.Errorf("legacy: %s.%s: after document %d: %w", database, collection, n, err)
	}
	return n, nil
}

// readLines reads JSON Lines: one document a line. A document spread over
// several lines (mongoexport --pretty) is gathered until it parses; a line
// starting a new document ('{' in the first column) ends a broken one,
// which is reported and skipped.
func (l *Loader) readLines(database, collection string, br *bufio.Reader) (int, error) {
	n := 0
	var pending []byte
	flush := func() {
		if len(bytes.TrimSpace(pending)) == 0 {
			pending = pending[:0]
			return
		}
		l.AddExtJSON(Source{Database: database, Collection: collection, Index: n}, pending)
		n++
		pending = pending[:0]
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			trimmed := bytes.TrimSpace(line)
			switch {
			case len(trimmed) == 0:
			case len(pending) > 0 && line[0] == '{':
				// A new document starts while the pending one never parsed.
				flush()
				pending = append(pending, line...)
			default:
				pending = append(pending, line...)
			}
			// A document ends on its own line (JSON Lines) or on a '}' in the
			// first column (--pretty): only then is the gathered text tried,
			// so that a long broken document costs linear time.
			if len(pending) > 0 && (len(pending) == len(line) || line[0] == '}') && json.Valid(pending) {
				flush()
			}
			if len(pending) > MaxDocumentSize {
				l.problem(Source{Database: database, Collection: collection, Index: n},
					fmt.Sprintf("document longer than %d bytes", MaxDocumentSize))
				n++
				pending = pending[:0]
			}
		}
		if errors.Is(err, io.EOF) {
			flush()
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("legacy: read %s.%s: %w", database, collection, err)
		}
	}
}

// AddExtJSON reads one document in Extended JSON (canonical or relaxed).
// It reports whether the document was kept.
func (l *Loader) AddExtJSON(src Source, raw []byte) bool {
	var doc bson.D
	if err := bson.UnmarshalExtJSON(bytes.TrimSpace(raw), false, &doc); err != nil {
		l.read[src.Collection]++
		l.problem(src, fmt.Sprintf("not a document in Extended JSON: %v", err))
		return false
	}
	return l.AddDocument(src, doc)
}

// AddRaw reads one BSON document (as a MongoDB cursor returns it).
func (l *Loader) AddRaw(src Source, raw bson.Raw) bool {
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		l.read[src.Collection]++
		l.problem(src, fmt.Sprintf("not a BSON document: %v", err))
		return false
	}
	return l.AddDocument(src, doc)
}

// AddDocument reads one document of src.Collection. It reports whether
// the document was kept; when not, Dataset().Problems says why.
func (l *Loader) AddDocument(src Source, doc bson.D) bool {
	l.read[src.Collection]++
	f := fields(doc)
	id, ok := f.id()
	if !ok {
		l.problem(src, "no _id")
		return false
	}
	src.ID = id
	if first, dup := l.seen[src.Collection][id]; dup {
		l.problem(src, fmt.Sprintf("duplicate _id: already read from %s.%s document %d", first.Database, first.Collection, first.Index))
		return false
	}
	var err error
	switch src.Collection {
	case CollUsers:
		var u User
		if u, err = l.user(src, f); err == nil {
			l.users = append(l.users, u)
		}
	case CollCloudAccounts, CollEnhancedCloudAccounts:
		var a CloudAccount
		if a, err = l.account(src, f); err == nil {
			if src.Collection == CollCloudAccounts {
				l.legacy = append(l.legacy, a)
			} else {
				l.enhanced = append(l.enhanced, a)
			}
		}
	case CollScanRuns:
		var s ScanRun
		if s, err = l.scanRun(src, f); err == nil {
			l.scans = append(l.scans, s)
		}
	case CollFindings:
		var fd Finding
		if fd, err = l.finding(src, f); err == nil {
			l.findings = append(l.findings, fd)
		}
	default:
		err = fmt.Errorf("collection %q is not imported", src.Collection)
	}
	if err != nil {
		l.problem(src, err.Error())
		return false
	}
	if l.seen[src.Collection] == nil {
		l.seen[src.Collection] = map[string]Source{}
	}
	l.seen[src.Collection][id] = src
	return true
}

func (l *Loader) problem(src Source, reason string) {
	l.problems = append(l.problems, Problem{Source: src, Reason: reason})
}
