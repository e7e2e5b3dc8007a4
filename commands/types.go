package commands

// Meta is who sends a command and how to make it safe to retry. TeamID comes
// from the caller's credentials, never from a request body.
type Meta struct {
	TeamID         string
	Actor          string
	CorrelationID  string
	IdempotencyKey string // optional; a retry with the same key returns the first Result
	// Route is what issued the command, for the audit log: "POST
	// /api/v1/scans/:id/start" (method and route template) over HTTP,
	// "cli keys create" from the CLI.
	Route string
}

// Result is what an accepted command returns (docs/architecture.md §6).
type Result struct {
	ID        string   `json:"id"` // the aggregate's id (scan id, finding id)
	StreamID  string   `json:"stream_id"`
	Version   int64    `json:"version"`
	Position  int64    `json:"position"` // pass this position to read your writes
	EventIDs  []string `json:"event_ids"`
	Duplicate bool     `json:"duplicate,omitempty"` // an idempotent retry: nothing was appended
}

// BatchResult is the outcome of a command that appends to several streams.
type BatchResult struct {
	Items     []Result `json:"items"`
	Position  int64    `json:"position"` // the highest position of the batch
	Duplicate bool     `json:"duplicate,omitempty"`
}
