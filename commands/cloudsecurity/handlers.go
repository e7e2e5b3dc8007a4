package cloudsecurity

import "github.com/cspm-es/cspm-es/commands"

// Handlers runs the findings commands and the report import. It is safe
// for concurrent use.
type Handlers struct {
	kit *commands.Kit

	// Imports (WithImports): the report parsers and the store's
	// multi-stream append.
	reports Reports
	batch   commands.BatchStore
	// chunkBytes bounds the results of one ResultsRecorded event;
	// batchEvents the events of one atomic append of an import.
	chunkBytes, batchEvents int
	// Formats another module imports (WithFormatImporter).
	formatImporters map[string]FormatImporter
	// Triage of imported findings (WithImportedFindings).
	imported ImportedFindings
	// Inventory formats (WithInventories): handed to the assets module.
	inventories Inventories
	// Cloud accounts (WithKnownAccounts): the accounts read model.
	accounts KnownAccounts
	// Reports of formats another module records (WithScanImports).
	scans ScanImports
}

// New returns the findings command handlers on kit. It panics on a nil
// kit: that is a wiring mistake to catch at start-up.
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("cloudsecurity.New: nil kit")
	}
	return &Handlers{kit: kit, chunkBytes: defaultChunkBytes, batchEvents: defaultBatchEvents}
}

// WithImports lets the handlers import reports: reports parses them,
// batch appends their events with their scan's atomically.
func (h *Handlers) WithImports(reports Reports, batch commands.BatchStore) *Handlers {
	h.reports, h.batch = reports, batch
	return h
}
