package orchestration_test

import "github.com/cspm-es/cspm-es/projections/projectionstest"

// The shared vocabulary of the projection tests (projectionstest/memtx.go).
type eventData = projectionstest.EventData

var (
	t0                     = projectionstest.T0
	at                     = projectionstest.At
	newMemTx               = projectionstest.NewMemTx
	apply                  = projectionstest.Apply
	stream                 = projectionstest.Stream
	assertOrderIndependent = projectionstest.AssertOrderIndependent
	positions              = projectionstest.Positions
)
