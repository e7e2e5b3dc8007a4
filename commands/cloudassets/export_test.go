package cloudassets

// SetLimits sets the bytes of records one InventoryRecorded holds and the
// events of one append (tests cut imports between appends).
func (h *Handlers) SetLimits(chunkBytes, batchEvents int) {
	h.chunkBytes, h.batchEvents = chunkBytes, batchEvents
}
