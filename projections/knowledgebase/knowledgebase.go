// Package knowledgebase is the knowledge base's projection into
// cspm_knowledge_base (docs/knowledge-base.md): documents, their chunks,
// the BM25 inverted index, the distinct chunk texts, the embedding cache
// and the catalogue of ids the search links (check and requirement ids
// learnt from imports).
package knowledgebase

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"

	cs "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/projections"
	"github.com/cspm-es/cspm-es/projections/fold"
)

// Names of the projection and its collections.
const (
	Name = "knowledgebase.documents"

	Documents    = "kb_documents"    // _id <team>/<document id>
	Chunks       = "kb_chunks"       // _id <team>/<document id>/<index>
	Postings     = "kb_postings"     // _id <team>/<term>/<document id>/<index>: the inverted index
	Teams        = "kb_teams"        // _id <team>: chunk count, total terms, generation
	Texts        = "kb_texts"        // _id <text hash>: one distinct chunk text, referenced by refs chunks (internal)
	Cache        = "embedding_cache" // _id <content hash>: model, vector (no text, no team)
	KnownChecks  = "kb_known_checks" // _id <check id>
	KnownReqs    = "kb_known_requirements"
	State        = "kb_state" // _id "embeddings": the embedding generation
	StateEmbedID = "embeddings"
)

// Projection maintains every knowledge-base read model. Documents are
// streams applied in order; the cross-stream documents (teams, texts,
// the cache, the catalogue) are sums and sets, whatever the order.
type Projection struct{}

var _ projections.Projection = Projection{}

// New returns the "knowledgebase.documents" projection.
func New() Projection { return Projection{} }

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Database implements projections.Projection.
func (Projection) Database() dbregistry.Constant { return dbregistry.KNOWLEDGE_BASE }

// EventTypes implements projections.Projection.
func (Projection) EventTypes() []string {
	return []string{kb.DocumentAdded{}.EventType(), kb.DocumentUpdated{}.EventType(), kb.DocumentRemoved{}.EventType(),
		kb.EmbeddingRecorded{}.EventType(), cs.ChecksDescribed{}.EventType()}
}

// Collections implements projections.Projection.
func (Projection) Collections() []readmodel.CollectionSpec {
	return []readmodel.CollectionSpec{
		// GET /api/v1/kb/documents: newest first.
		{Name: Documents, Indexes: []readmodel.Index{{Name: "by_team_updated", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "updated_at", Desc: true}}}}},
		// The semantic search loads a team's chunks; the embedder pages texts.
		{Name: Chunks, Indexes: []readmodel.Index{{Name: "by_team", Fields: []readmodel.IndexField{{Path: "team_id"}}}}},
		// BM25: a term's postings in a team.
		{Name: Postings, Indexes: []readmodel.Index{{Name: "by_team_term", Fields: []readmodel.IndexField{{Path: "team_id"}, {Path: "term"}}}}},
		{Name: Teams},
		{Name: Texts},
		// The unique content_hash (also the _id); counts by model.
		{Name: Cache, Indexes: []readmodel.Index{
			{Name: "content_hash", Fields: []readmodel.IndexField{{Path: "content_hash"}}, Unique: true},
			{Name: "by_model", Fields: []readmodel.IndexField{{Path: "model"}}},
		}},
		{Name: KnownChecks},
		{Name: KnownReqs},
		{Name: State},
	}
}

func esc(s string) string { return url.PathEscape(s) }

// DocumentID is a document's _id.
func DocumentID(team, id string) string { return esc(team) + "/" + id }

// ChunkID is a chunk's _id.
func ChunkID(team, doc string, index int) string {
	return esc(team) + "/" + doc + "/" + strconv.Itoa(index)
}

// PostingID is a posting's _id.
func PostingID(team, term, chunkID string) string { return esc(team) + "/" + term + "/" + chunkID }

// Apply implements projections.Projection.
func (p Projection) Apply(ctx context.Context, tx projections.Tx, ev projections.Event) error {
	team := ev.Metadata.TeamID
	var err error
	switch e := fold.Value(ev.Data).(type) {
	case kb.DocumentAdded:
		err = p.put(ctx, tx, ev, team, e.DocumentID, e.Title, e.Format, e.Text, e.Chunks, e.AddedAt, true)
	case kb.DocumentUpdated:
		err = p.put(ctx, tx, ev, team, e.DocumentID, e.Title, e.Format, e.Text, e.Chunks, e.UpdatedAt, false)
	case kb.DocumentRemoved:
		err = p.remove(ctx, tx, ev, team, e.DocumentID, true)
	case kb.EmbeddingRecorded:
		tx.Put(Cache, readmodel.Doc{"_id": e.ContentHash, "content_hash": e.ContentHash, "text_hash": e.TextHash, "model": e.Model,
			"dimensions": int64(e.Dimensions), VectorField: EncodeVector(e.Vector), "recorded_at": e.RecordedAt})
		tx.Put(State, readmodel.Doc{"_id": StateEmbedID, "generation": ev.Position})
	case cs.ChecksDescribed:
		for _, c := range e.Checks {
			if c.CheckID == "" {
				continue
			}
			tx.Put(KnownChecks, readmodel.Doc{"_id": c.CheckID, "title": c.Title, "service": c.Service})
			for fw, reqs := range c.Compliance {
				for _, r := range reqs {
					if r == "" {
						continue
					}
					d, found, gerr := fold.Get(ctx, tx, KnownReqs, r)
					if gerr != nil {
						return fmt.Errorf("%s: %w", Name, gerr)
					}
					fws := []string{}
					if found {
						fws = fold.Strs(d, "frameworks")
					}
					if !contains(fws, fw) {
						fws = append(fws, fw)
						sort.Strings(fws)
						tx.Put(KnownReqs, readmodel.Doc{"_id": r, "frameworks": anys(fws)})
					}
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// VectorField holds a cache entry's vector: its float32 components,
// little-endian, base64 (standard, padded). Loading a team's vectors for
// the semantic search decodes them several times faster than a JSON array
// of numbers, and they take half the room.
const VectorField = "vector_f32le"

// EncodeVector is v as VectorField stores it.
func EncodeVector(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// put writes a document and its chunks (an update first removes the
// previous chunks).
func (p Projection) put(ctx context.Context, tx projections.Tx, ev projections.Event, team, id, title string, format kb.Format, text string,
	chunks []kb.ChunkSpan, at any, added bool) error {
	if team == "" || id == "" {
		return nil
	}
	created := at
	if !added {
		d, found, err := fold.Get(ctx, tx, Documents, DocumentID(team, id))
		if err != nil {
			return err
		}
		if found {
			created = d["created_at"]
		}
		if err := p.remove(ctx, tx, ev, team, id, false); err != nil {
			return err
		}
	}
	stats, err := teamStats(ctx, tx, team)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		body := kb.ChunkText(text, c)
		if body == "" {
			continue
		}
		cid := ChunkID(team, id, c.Index)
		counts, n := kb.TermCounts(body)
		terms := make([]string, 0, len(counts))
		for t, tf := range counts {
			terms = append(terms, t)
			tx.Put(Postings, readmodel.Doc{"_id": PostingID(team, t, cid), "team_id": team, "term": t, "chunk_id": cid,
				"tf": int64(tf), "len": int64(n)})
		}
		sort.Strings(terms)
		var mentions []any
		for _, m := range kb.Mentions(body) {
			mentions = append(mentions, m.Kind+":"+m.ID)
		}
		tx.Put(Chunks, readmodel.Doc{"_id": cid, "team_id": team, "document_id": id, "title": title, "index": int64(c.Index),
			"heading": c.Heading, "text": body, "text_hash": c.TextHash, "len": int64(n), "terms": anys(terms), "mentions": orEmpty(mentions)})
		td, found, err := fold.Get(ctx, tx, Texts, c.TextHash)
		if err != nil {
			return err
		}
		if !found {
			td = readmodel.Doc{"_id": c.TextHash, "text": kb.NormalizeChunk(body), "refs": int64(0)}
		}
		td["refs"] = fold.Num(td, "refs") + 1
		tx.Put(Texts, td)
		stats["chunks"] = fold.Num(stats, "chunks") + 1
		stats["total_len"] = fold.Num(stats, "total_len") + int64(n)
	}
	stats["generation"] = ev.Position
	tx.Put(Teams, stats)
	tx.Put(Documents, readmodel.Doc{"_id": DocumentID(team, id), "team_id": team, "document_id": id, "title": title,
		"format": string(format), "text": text, "bytes": int64(len(text)), "chunks": int64(len(chunks)), "created_at": created, "updated_at": at,
		"created_by": ev.Metadata.Actor, "updated_position": ev.Position})
	return nil
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

func teamStats(ctx context.Context, tx projections.Tx, team string) (readmodel.Doc, error) {
	d, found, err := fold.Get(ctx, tx, Teams, esc(team))
	if err != nil {
		return nil, err
	}
	if !found {
		d = readmodel.Doc{"_id": esc(team), "team_id": team, "chunks": int64(0), "total_len": int64(0), "generation": int64(0)}
	}
	return d, nil
}

// remove deletes a document's chunks and postings (and the document when
// whole).
func (p Projection) remove(ctx context.Context, tx projections.Tx, ev projections.Event, team, id string, whole bool) error {
	if team == "" || id == "" {
		return nil
	}
	d, found, err := fold.Get(ctx, tx, Documents, DocumentID(team, id))
	if err != nil || !found {
		return err
	}
	stats, err := teamStats(ctx, tx, team)
	if err != nil {
		return err
	}
	for i := range int(fold.Num(d, "chunks")) {
		cid := ChunkID(team, id, i)
		c, found, err := fold.Get(ctx, tx, Chunks, cid)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		for _, t := range fold.Strs(c, "terms") {
			tx.Delete(Postings, PostingID(team, t, cid))
		}
		tx.Delete(Chunks, cid)
		h := fold.Str(c, "text_hash")
		if td, found, err := fold.Get(ctx, tx, Texts, h); err != nil {
			return err
		} else if found {
			if n := fold.Num(td, "refs") - 1; n > 0 {
				td["refs"] = n
				tx.Put(Texts, td)
			} else {
				tx.Delete(Texts, h)
			}
		}
		stats["chunks"] = max(fold.Num(stats, "chunks")-1, 0)
		stats["total_len"] = max(fold.Num(stats, "total_len")-fold.Num(c, "len"), 0)
	}
	stats["generation"] = ev.Position
	tx.Put(Teams, stats)
	if whole {
		tx.Delete(Documents, DocumentID(team, id))
	}
	return nil
}
