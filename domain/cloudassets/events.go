package cloudassets

import (
	"encoding/json"
	"time"
)

// Event is one of the module's events.
type Event interface{ EventType() string }

// Sync modes of an inventory import.
const (
	// SyncComplete: the import lists every asset of each scope it holds;
	// an asset of such a scope that it does not list is removed.
	SyncComplete = "complete"
	// SyncPartial: the import lists some assets; it removes nothing.
	SyncPartial = "partial"
)

// ValidSync reports a known sync mode.
func ValidSync(s string) bool { return s == SyncComplete || s == SyncPartial }

// Scope is what a complete sync covers: the assets of one type in one
// region of one account of a provider. A row without a type belongs to a
// scope of type "", which no sync completes.
type Scope struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Type     string `json:"type"`
}

// Record is one inventory row, as the identity rule and the parser made
// it: the asset it names, where it lives, its tags, and the row itself
// (Raw, bounded: RawTruncated says a row too large was left out) with the
// hash of its content (Hash: sha256 of the row's canonical JSON, whatever
// the order of its columns), which tells a changed asset.
type Record struct {
	AssetID      string            `json:"asset_id"` // in the importing team (the parser leaves it empty)
	Key          string            `json:"key"`      // what the rule kept: an ARN, an id, or provider|account|region|type|id
	Type         string            `json:"type,omitempty"`
	Provider     string            `json:"provider"`
	Account      string            `json:"account,omitempty"`
	Region       string            `json:"region,omitempty"`
	Name         string            `json:"name,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Hash         string            `json:"hash"`
	Raw          json.RawMessage   `json:"raw,omitempty"`
	RawTruncated bool              `json:"raw_truncated,omitempty"`
}

// Scope is the record's scope.
func (r Record) Scope() Scope {
	return Scope{Provider: r.Provider, Account: r.Account, Region: r.Region, Type: r.Type}
}

// InventoryStarted: an inventory report was accepted; its records follow.
type InventoryStarted struct {
	ImportID    string    `json:"import_id"`
	Format      string    `json:"format"`
	Tool        string    `json:"tool"`
	Table       string    `json:"table,omitempty"`
	Sync        string    `json:"sync"`
	ContentHash string    `json:"content_hash"`
	Size        int64     `json:"size"`
	FileName    string    `json:"file_name,omitempty"`
	StartedAt   time.Time `json:"started_at"`
}

// InventoryRecorded: a chunk of an inventory import's records, all seen by
// the sync at ObservedAt.
type InventoryRecorded struct {
	ImportID     string       `json:"import_id"`
	ObservedAt   time.Time    `json:"observed_at"`
	IdentityRule IdentityRule `json:"identity_rule"`
	Records      []Record     `json:"records"`
}

// InventoryCompleted: every record of the import is recorded. Sync says
// whether the import listed every asset of each of its Scopes (complete)
// or only some (partial). A complete sync's scopes are those its rows
// named: a result of zero rows names none and so removes nothing.
type InventoryCompleted struct {
	ImportID     string       `json:"import_id"`
	ObservedAt   time.Time    `json:"observed_at"`
	IdentityRule IdentityRule `json:"identity_rule"`
	Sync         string       `json:"sync"`
	Scopes       []Scope      `json:"scopes"`
	Records      int          `json:"records"`
	Assets       int          `json:"assets"`
	Chunks       int          `json:"chunks"`
	CompletedAt  time.Time    `json:"completed_at"`
}

// InventoryRejected: an inventory report was refused whole; nothing else
// of it is recorded.
type InventoryRejected struct {
	ImportID    string    `json:"import_id"`
	Format      string    `json:"format"`
	Table       string    `json:"table,omitempty"`
	Sync        string    `json:"sync"`
	ContentHash string    `json:"content_hash"`
	Size        int64     `json:"size"`
	FileName    string    `json:"file_name,omitempty"`
	Reason      string    `json:"reason"`
	RejectedAt  time.Time `json:"rejected_at"`
}

func (InventoryStarted) EventType() string   { return "InventoryStarted" }
func (InventoryRecorded) EventType() string  { return "InventoryRecorded" }
func (InventoryCompleted) EventType() string { return "InventoryCompleted" }
func (InventoryRejected) EventType() string  { return "InventoryRejected" }

// CompletesScopes reports whether the completion removes what it did not
// see: a complete sync, under a type.
func (e InventoryCompleted) CompletesScopes() bool { return e.Sync == SyncComplete }
