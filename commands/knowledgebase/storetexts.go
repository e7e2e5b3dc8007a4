package knowledgebase

import (
	"context"
	"fmt"
	"slices"
	"sort"

	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
	"github.com/cspm-es/cspm-es/eventstore"
)

// LogReader reads the whole event log in position order (the event
// store).
type LogReader interface {
	ReadAll(ctx context.Context, after int64, limit int) ([]eventstore.RecordedEvent, error)
}

// StoreTexts is the embed job's MissingTexts read from the event store
// itself, with no read model (`cspm kb embed` runs without a projector):
// one pass over the log folds every team's documents into their current
// chunk texts, deduplicated by text hash, and collects the cache entries
// recorded. It is a snapshot: texts added after LoadStoreTexts are the
// next run's; entries recorded since are skipped by the job's check of
// the store.
type StoreTexts struct {
	texts    map[string]string // text hash → normalised text
	hashes   []string          // sorted
	recorded map[string]bool   // content hashes in the cache
}

// storeTextsPage is how many events one ReadAll returns.
const storeTextsPage = 1000

// LoadStoreTexts reads the log through codec.
func LoadStoreTexts(ctx context.Context, log LogReader, codec *eventstore.Codec) (*StoreTexts, error) {
	type docKey struct{ team, id string }
	docs := map[docKey]map[string]string{} // document → its chunks' text hash → text
	st := &StoreTexts{texts: map[string]string{}, recorded: map[string]bool{}}
	put := func(k docKey, text string, chunks []kb.ChunkSpan) {
		m := make(map[string]string, len(chunks))
		for _, c := range chunks {
			if body := kb.ChunkText(text, c); body != "" {
				m[c.TextHash] = kb.NormalizeChunk(body)
			}
		}
		docs[k] = m
	}
	types := []string{kb.DocumentAdded{}.EventType(), kb.DocumentUpdated{}.EventType(), kb.DocumentRemoved{}.EventType(), kb.EmbeddingRecorded{}.EventType()}
	var after int64
	for {
		page, err := log.ReadAll(ctx, after, storeTextsPage)
		if err != nil {
			return nil, fmt.Errorf("embed: read the log: %w", err)
		}
		for _, rec := range page {
			after = rec.Position
			if !slices.Contains(types, rec.Type) {
				continue
			}
			v, err := codec.Decode(rec)
			if err != nil {
				return nil, fmt.Errorf("embed: decode %s at %d: %w", rec.Type, rec.Position, err)
			}
			switch e := v.(type) {
			case kb.DocumentAdded:
				put(docKey{rec.Metadata.TeamID, e.DocumentID}, e.Text, e.Chunks)
			case kb.DocumentUpdated:
				put(docKey{rec.Metadata.TeamID, e.DocumentID}, e.Text, e.Chunks)
			case kb.DocumentRemoved:
				delete(docs, docKey{rec.Metadata.TeamID, e.DocumentID})
			case kb.EmbeddingRecorded:
				st.recorded[e.ContentHash] = true
			}
		}
		if len(page) < storeTextsPage {
			break
		}
	}
	for _, m := range docs {
		for h, text := range m {
			st.texts[h] = text
		}
	}
	st.hashes = make([]string, 0, len(st.texts))
	for h := range st.texts {
		st.hashes = append(st.hashes, h)
	}
	sort.Strings(st.hashes)
	return st, nil
}

// MissingTexts implements MissingTexts: the texts after the hash after,
// in hash order, without a cache entry of model when the log was read.
func (s *StoreTexts) MissingTexts(_ context.Context, model, after string, limit int) ([]MissingText, string, error) {
	i := sort.SearchStrings(s.hashes, after)
	if i < len(s.hashes) && s.hashes[i] == after {
		i++
	}
	var out []MissingText
	for ; i < len(s.hashes) && len(out) < limit; i++ {
		h := s.hashes[i]
		if s.recorded[kb.ContentHash(model, h)] {
			continue
		}
		out = append(out, MissingText{TextHash: h, Text: s.texts[h]})
	}
	if i >= len(s.hashes) {
		return out, "", nil
	}
	return out, s.hashes[i-1], nil
}

// CountTexts implements MissingTexts.
func (s *StoreTexts) CountTexts(_ context.Context, model string) (total, embedded int64, err error) {
	for _, h := range s.hashes {
		if s.recorded[kb.ContentHash(model, h)] {
			embedded++
		}
	}
	return int64(len(s.hashes)), embedded, nil
}
