package knowledgebase

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cspm-es/cspm-es/domain"
)

// Documents are a team's own (stream "kbdoc-<id>"). Their events carry
// the whole normalised text and its chunk spans (decision 80): the store
// stays the source of truth, a rebuild re-derives every chunk without
// re-running the chunking rule, and a later change of the rule changes
// only documents added or updated after it.

// Format is a document's format.
type Format string

// The formats.
const (
	FormatText     Format = "text"
	FormatMarkdown Format = "markdown"
)

// Size limits of a document.
const (
	// MaxTextBytes bounds a document's text (UTF-8 bytes), below the event
	// store's 256 KiB per event with room for the chunk spans.
	MaxTextBytes = 160 << 10
	MaxTitle     = domain.MaxShortText
	MaxChunks    = 2000
)

// Event is any knowledge-base event.
type Event interface{ EventType() string }

// DocumentAdded: the team holds this document from AddedAt.
type DocumentAdded struct {
	DocumentID string      `json:"document_id"`
	Title      string      `json:"title"`
	Format     Format      `json:"format"`
	Text       string      `json:"text"` // normalised line endings
	Chunking   Chunking    `json:"chunking"`
	Chunks     []ChunkSpan `json:"chunks"`
	AddedAt    time.Time   `json:"added_at"`
}

// DocumentUpdated: the document's title, format and text are these from
// UpdatedAt; its chunks replace the previous ones.
type DocumentUpdated struct {
	DocumentID string      `json:"document_id"`
	Title      string      `json:"title"`
	Format     Format      `json:"format"`
	Text       string      `json:"text"`
	Chunking   Chunking    `json:"chunking"`
	Chunks     []ChunkSpan `json:"chunks"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// DocumentRemoved: the team no longer holds the document.
type DocumentRemoved struct {
	DocumentID string    `json:"document_id"`
	RemovedAt  time.Time `json:"removed_at"`
}

func (DocumentAdded) EventType() string   { return "KnowledgeDocumentAdded" }
func (DocumentUpdated) EventType() string { return "KnowledgeDocumentUpdated" }
func (DocumentRemoved) EventType() string { return "KnowledgeDocumentRemoved" }

// Rule codes.
const (
	CodeDocumentNotAdded = "DOCUMENT_NOT_ADDED"
	CodeDocumentRemoved  = "DOCUMENT_REMOVED"
)

// DocumentSpec is what a person gives.
type DocumentSpec struct {
	Title  string
	Format Format // "" is text
	Text   string
}

// checked validates s, returning the normalised text and its chunks.
func checked(s *DocumentSpec, c Chunking) (string, []ChunkSpan, error) {
	s.Title = strings.TrimSpace(s.Title)
	if s.Format == "" {
		s.Format = FormatText
	}
	var v domain.Validator
	if len(s.Text) > MaxTextBytes {
		// Checked first and alone: nothing else of a huge text is read.
		v.Add("text", "must be at most %d bytes (got %d)", MaxTextBytes, len(s.Text))
		return "", nil, v.Err()
	}
	v.Check(s.Title != "", "title", "is required")
	v.Text("title", s.Title, MaxTitle)
	v.Check(s.Format == FormatText || s.Format == FormatMarkdown, "format", "must be text or markdown")
	v.Check(utf8.ValidString(s.Text), "text", "must be UTF-8")
	v.Check(!strings.ContainsRune(s.Text, 0), "text", "must not contain NUL")
	text := Normalize(s.Text)
	v.Check(strings.TrimSpace(text) != "", "text", "is required")
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	chunks := Split(text, s.Format, c)
	if len(chunks) > MaxChunks {
		v.Add("text", "makes %d chunks, at most %d", len(chunks), MaxChunks)
		return "", nil, v.Err()
	}
	return text, chunks, nil
}

// AddDocument decides a new document id at at.
func AddDocument(id string, s DocumentSpec, c Chunking, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(id != "", "document_id", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	text, chunks, err := checked(&s, c)
	if err != nil {
		return nil, err
	}
	return []Event{DocumentAdded{DocumentID: id, Title: s.Title, Format: s.Format, Text: text, Chunking: c, Chunks: chunks, AddedAt: at}}, nil
}

// Document is a document's state. Build it with RehydrateDocument.
type Document struct {
	added, removed bool
	id             string
}

// RehydrateDocument folds a document's events.
func RehydrateDocument(events ...Event) *Document {
	d := &Document{}
	for _, e := range events {
		switch e := e.(type) {
		case DocumentAdded:
			d.added, d.id = true, e.DocumentID
		case DocumentRemoved:
			d.removed = true
		}
	}
	return d
}

func (d *Document) live() error {
	switch {
	case !d.added:
		return domain.Rule(CodeDocumentNotAdded, "the document does not exist")
	case d.removed:
		return domain.Rule(CodeDocumentRemoved, "the document %s was removed", d.id)
	}
	return nil
}

// Update decides a new title, format and text.
func (d *Document) Update(s DocumentSpec, c Chunking, at time.Time) ([]Event, error) {
	if err := d.live(); err != nil {
		return nil, err
	}
	text, chunks, err := checked(&s, c)
	if err != nil {
		return nil, err
	}
	return []Event{DocumentUpdated{DocumentID: d.id, Title: s.Title, Format: s.Format, Text: text, Chunking: c, Chunks: chunks, UpdatedAt: at}}, nil
}

// Remove decides the document's removal.
func (d *Document) Remove(at time.Time) ([]Event, error) {
	if err := d.live(); err != nil {
		return nil, err
	}
	return []Event{DocumentRemoved{DocumentID: d.id, RemovedAt: at}}, nil
}
