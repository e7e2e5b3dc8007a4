package eventstore

import "github.com/cspm-es/cspm-es/domain/knowledgebase"

// The knowledge base's events (docs/knowledge-base.md, decisions 80-81),
// registered from their own file so that each module's list merges alone.
func init() {
	domainEvents = append(domainEvents, []struct {
		sample    domainEvent
		version   int
		upcasters map[int]Upcaster
	}{
		{sample: knowledgebase.DocumentAdded{}, version: 1},
		{sample: knowledgebase.DocumentUpdated{}, version: 1},
		{sample: knowledgebase.DocumentRemoved{}, version: 1},
		{sample: knowledgebase.EmbeddingRecorded{}, version: 1},
	}...)
}
