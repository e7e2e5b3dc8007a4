package cloudsecurity

// SetImportLimits lets tests make imports of a few results take several
// chunks and several appends.
func (h *Handlers) SetImportLimits(chunkBytes, batchEvents int) {
	h.chunkBytes, h.batchEvents = chunkBytes, batchEvents
}
