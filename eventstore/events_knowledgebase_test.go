package eventstore_test

import (
	"time"

	kb "github.com/cspm-es/cspm-es/domain/knowledgebase"
)

// knowledgeBaseSamples are the knowledge base's events for the codec's
// round trip.
func knowledgeBaseSamples(when time.Time) []interface{ EventType() string } {
	chunks := []kb.ChunkSpan{{Index: 0, Start: 0, End: 5, Heading: "Intro", TextHash: kb.TextHash("hello")}}
	return []interface{ EventType() string }{
		kb.DocumentAdded{DocumentID: "d1", Title: "Runbook <x>", Format: kb.FormatMarkdown, Text: "hello", Chunking: kb.DefaultChunking, Chunks: chunks, AddedAt: when},
		kb.DocumentUpdated{DocumentID: "d1", Title: "Runbook", Format: kb.FormatText, Text: "hello", Chunking: kb.DefaultChunking, Chunks: chunks, UpdatedAt: when},
		kb.DocumentRemoved{DocumentID: "d1", RemovedAt: when},
		kb.EmbeddingRecorded{ContentHash: kb.ContentHash("m", kb.TextHash("hello")), TextHash: kb.TextHash("hello"), Model: "m", Dimensions: 3,
			Vector: []float32{0.25, -1, 3.5}, RecordedAt: when},
	}
}
