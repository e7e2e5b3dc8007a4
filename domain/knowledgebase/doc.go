// Package knowledgebase is the knowledge base's domain (docs/knowledge-base.md):
// a team's documents (text and Markdown) and their chunking, the hashes that
// key the embedding cache, the embeddings recorded per content hash, the
// BM25 tokenizer and the ids a text mentions. Pure Go: no I/O, no clock.
package knowledgebase
