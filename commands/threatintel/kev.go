package threatintel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cspm-es/cspm-es/commands"
	"github.com/cspm-es/cspm-es/domain"
	ti "github.com/cspm-es/cspm-es/domain/threatintel"
	"github.com/cspm-es/cspm-es/eventstore"
)

// Feeds is what the KEV import needs of the feed parser
// (platform/parsers/kev): a whole catalogue read and validated, or an
// error that rejects it whole.
type Feeds interface {
	ParseKEV(ctx context.Context, r io.Reader, format string) (ti.Catalogue, error)
}

// Stream ids and types of the KEV catalogue.
const (
	KEVCatalogueStreamID   = "kev-catalogue"
	StreamTypeKEVCatalogue = "KEVCatalogue"
	StreamTypeKEVImport    = "KEVImport"
	kevImportStreamPrefix  = "kevimport-"
	kevImportIDPrefix      = "kev-"
)

// ImportKEV imports one KEV feed (kev-json or kev-csv).
type ImportKEV struct {
	Format   string
	FileName string
	Force    bool // lift the mass-withdrawal guard
	Body     io.Reader
}

// KEVImportResult is what a KEV import did.
type KEVImportResult struct {
	ImportID         string `json:"import_id"`
	Status           string `json:"status"` // completed, unchanged, rejected
	Format           string `json:"format"`
	FileHash         string `json:"content_hash"`
	Size             int64  `json:"size"`
	CatalogueVersion string `json:"catalogue_version,omitempty"`
	CatalogueHash    string `json:"catalogue_hash,omitempty"`
	Reason           string `json:"reason,omitempty"`
	Entries          int    `json:"entries"`
	Published        int    `json:"published"`
	Updated          int    `json:"updated"`
	Withdrawn        int    `json:"withdrawn"`
	Unchanged        int    `json:"unchanged"`
	Events           int    `json:"events"`
	Position         int64  `json:"position"`
	Duplicate        bool   `json:"duplicate,omitempty"`
}

// KEV import statuses.
const (
	KEVCompleted = "completed"
	KEVUnchanged = "unchanged" // same content as the catalogue in force: nothing appended
	KEVRejected  = "rejected"
)

// KEVRejectedError is a feed refused whole; its result says why.
type KEVRejectedError struct{ Result KEVImportResult }

func (e *KEVRejectedError) Error() string { return "KEV feed rejected: " + e.Result.Reason }

// KEVImportID is the id of an import of the file whose hash is fileHash
// ("sha256:<hex>"): the catalogue is global, so the id is the file's.
func KEVImportID(fileHash string) string {
	h := fileHash[len("sha256:"):]
	return kevImportIDPrefix + h[:32]
}

// ImportKEV reads a feed whole and:
//   - a feed that does not parse or breaks the feed's rules (truncated,
//     count mismatch, missing fields) is rejected whole: KEVImportRejected
//     on the import's own stream, the catalogue in force unchanged (the
//     same file again is answered with that rejection);
//   - a feed with the content in force (whatever its version label or
//     form) appends nothing: status unchanged, duplicate;
//   - a feed withdrawing more than the guard allows is refused
//     (KEV_MASS_WITHDRAWAL, nothing appended) unless forced;
//   - otherwise its diff against the catalogue in force is appended to
//     "kev-catalogue" in one atomic append, KEVCatalogueAccepted last.
//
// Who may import is the caller's business (the API lets admins of any
// team; docs/threat-intelligence.md): the events carry the importer's
// metadata, the catalogue is everyone's.
func (h *Handlers) ImportKEV(ctx context.Context, meta commands.Meta, cmd ImportKEV) (KEVImportResult, error) {
	if h.feeds == nil {
		return KEVImportResult{}, errors.New("commands: KEV imports are not configured (WithFeeds)")
	}
	var v domain.Validator
	v.Check(cmd.Format == "kev-json" || cmd.Format == "kev-csv", "format", "must be kev-json or kev-csv")
	v.Text("file_name", cmd.FileName, domain.MaxShortText)
	if err := v.Err(); err != nil {
		return KEVImportResult{}, err
	}
	md, err := commands.Metadata(meta)
	if err != nil {
		return KEVImportResult{}, err
	}
	sum := sha256.New()
	counted := &countingReader{r: io.TeeReader(cmd.Body, sum)}
	cat, parseErr := h.feeds.ParseKEV(ctx, counted, cmd.Format)
	if _, err := io.Copy(io.Discard, counted); err != nil { // the rest, for the hash
		return KEVImportResult{}, fmt.Errorf("kev import: read the feed: %w", err)
	}
	if ctx.Err() != nil {
		return KEVImportResult{}, ctx.Err()
	}
	fileHash := "sha256:" + hex.EncodeToString(sum.Sum(nil))
	res := KEVImportResult{ImportID: KEVImportID(fileHash), Format: cmd.Format, FileHash: fileHash, Size: counted.n}
	if parseErr == nil && len(cat.Entries) == 0 {
		parseErr = errors.New("the feed holds no entries")
	}
	if parseErr != nil {
		return h.rejectKEV(ctx, md, res, cmd, parseErr)
	}
	imp := ti.KEVImport{ImportID: res.ImportID, Format: cmd.Format, FileHash: fileHash, Size: counted.n, FileName: cmd.FileName, Force: cmd.Force}
	c := commands.Call{Name: "ImportKEV", TargetID: KEVCatalogueStreamID, StreamID: KEVCatalogueStreamID, Type: StreamTypeKEVCatalogue}
	for attempt := 0; ; attempt++ {
		recorded, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil {
			return KEVImportResult{}, fmt.Errorf("kev import: read %s: %w", c.StreamID, err)
		}
		history, err := commands.Decode[ti.Event](h.kit.Codec(), recorded)
		if err != nil {
			return KEVImportResult{}, fmt.Errorf("kev import: %w", err)
		}
		state := ti.RehydrateKEVCatalogue(history...)
		events, d, err := state.Accept(cat, imp, h.kit.Now())
		if err != nil {
			return KEVImportResult{}, fmt.Errorf("kev import: %w", err)
		}
		res.CatalogueVersion, res.Entries = cat.Version, len(cat.Entries)
		if len(events) == 0 {
			res.Status, res.Duplicate, res.CatalogueHash, res.Unchanged = KEVUnchanged, true, state.ContentHash(), len(cat.Entries)
			if n := len(recorded); n > 0 {
				res.Position = recorded[n-1].Position
			}
			return res, nil
		}
		expected := eventstore.NoStream
		if n := len(recorded); n > 0 {
			expected = eventstore.Exact(recorded[n-1].Version)
		}
		req, err := h.kit.AppendRequest(c, expected, md, eventstore.Idempotency{}, commands.Anys(events))
		if err != nil {
			return KEVImportResult{}, err
		}
		ar, err := h.kit.Store().Append(ctx, req)
		if errors.Is(err, eventstore.ErrConflict) && attempt < 3 {
			continue // another import moved the catalogue: diff against it
		}
		if err != nil {
			return KEVImportResult{}, fmt.Errorf("kev import: append to %s: %w", c.StreamID, err)
		}
		acc := events[len(events)-1].(ti.KEVCatalogueAccepted)
		res.Status, res.CatalogueHash = KEVCompleted, acc.ContentHash
		res.Published, res.Updated, res.Withdrawn, res.Unchanged = len(d.Published), len(d.Updated), len(d.Withdrawn), d.Unchanged
		res.Events, res.Position = len(events), ar.LastPosition()
		return res, nil
	}
}

// rejectKEV records why a feed was refused, on the import's own stream,
// and nothing else; the same file refused before is answered with that.
func (h *Handlers) rejectKEV(ctx context.Context, md eventstore.Metadata, res KEVImportResult, cmd ImportKEV, cause error) (KEVImportResult, error) {
	c := commands.Call{Name: "ImportKEV", TargetID: res.ImportID, StreamID: kevImportStreamPrefix + res.ImportID, Type: StreamTypeKEVImport}
	earlier := func() (KEVImportResult, bool, error) {
		evs, err := h.kit.Store().ReadStream(ctx, c.StreamID, eventstore.ReadStreamOptions{})
		if err != nil || len(evs) == 0 {
			return KEVImportResult{}, false, err
		}
		v, err := h.kit.Codec().Decode(evs[0])
		if err != nil {
			return KEVImportResult{}, false, err
		}
		e, ok := v.(ti.KEVImportRejected)
		if !ok {
			return KEVImportResult{}, false, fmt.Errorf("kev import: %s holds %T", c.StreamID, v)
		}
		r := KEVImportResult{ImportID: e.ImportID, Status: KEVRejected, Format: e.Format, FileHash: e.FileHash, Size: e.Size,
			Reason: e.Reason, Events: 1, Position: evs[0].Position, Duplicate: true}
		return r, true, &KEVRejectedError{Result: r}
	}
	if r, done, err := earlier(); done || err != nil {
		return r, err
	}
	reason := domain.Clip(cause.Error(), domain.MaxReason)
	ev := ti.KEVImportRejected{ImportID: res.ImportID, Format: res.Format, FileHash: res.FileHash, Size: res.Size,
		FileName: cmd.FileName, Reason: reason, RejectedAt: h.kit.Now()}
	req, err := h.kit.AppendRequest(c, eventstore.NoStream, md, eventstore.Idempotency{}, []any{ev})
	if err != nil {
		return KEVImportResult{}, err
	}
	ar, err := h.kit.Store().Append(ctx, req)
	if errors.Is(err, eventstore.ErrConflict) {
		if r, done, err := earlier(); done || err != nil {
			return r, err
		}
	}
	if err != nil {
		return KEVImportResult{}, fmt.Errorf("kev import: append to %s: %w", c.StreamID, err)
	}
	res.Status, res.Reason, res.Events, res.Position = KEVRejected, reason, 1, ar.LastPosition()
	return res, &KEVRejectedError{Result: res}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
