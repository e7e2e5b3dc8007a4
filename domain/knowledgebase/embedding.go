package knowledgebase

import (
	"math"
	"time"

	"github.com/cspm-es/cspm-es/domain"
)

// Embeddings (stream "embedding-<content hash>", one per model and text;
// decision 81): the vector of one normalised chunk text by one model.
// The event holds no text, no document and no team: the cache maps a
// hash to a vector; each team's chunk rows reference the text hash.

// EmbeddingRecorded: Model embedded the text whose hash is TextHash as
// Vector.
type EmbeddingRecorded struct {
	ContentHash string    `json:"content_hash"` // ContentHash(Model, TextHash)
	TextHash    string    `json:"text_hash"`
	Model       string    `json:"model"`
	Dimensions  int       `json:"dimensions"`
	Vector      []float32 `json:"vector"`
	RecordedAt  time.Time `json:"recorded_at"`
}

func (EmbeddingRecorded) EventType() string { return "EmbeddingRecorded" }

// MaxDimensions bounds a vector (the event store's 256 KiB per event
// holds 8192 floats in JSON comfortably).
const MaxDimensions = 8192

// RecordEmbedding decides the event for one vector.
func RecordEmbedding(model, textHash string, vector []float32, at time.Time) ([]Event, error) {
	var v domain.Validator
	v.Check(model != "", "model", "is required")
	v.Text("model", model, domain.MaxShortText)
	v.Check(len(textHash) == 64, "text_hash", "must be a hex SHA-256")
	v.Check(len(vector) > 0 && len(vector) <= MaxDimensions, "vector", "must have 1 to %d dimensions", MaxDimensions)
	for i, x := range vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			v.Add("vector", "component %d is not a finite number", i)
			break
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{EmbeddingRecorded{ContentHash: ContentHash(model, textHash), TextHash: textHash, Model: model,
		Dimensions: len(vector), Vector: vector, RecordedAt: at}}, nil
}

// Cosine is the cosine similarity of a and b (0 when either is zero or
// their lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
