package projectionstest

import (
	"fmt"

	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
)

// ImportRequest is the append that stores one import's events (ImportEvents,
// PairScan1...) in a real event store for team, as the import command
// would: one new stream "import-<import id>" of type Import. Tests of the
// processes use it while they cannot import through the API.
func ImportRequest(codec *eventstore.Codec, team string, events ...EventData) (eventstore.AppendRequest, error) {
	if len(events) == 0 {
		return eventstore.AppendRequest{}, fmt.Errorf("import request: no events")
	}
	var importID string
	switch e := events[0].(type) {
	case csdomain.ImportStarted:
		importID = e.ImportID
	case csdomain.ChecksDescribed:
		importID = e.ImportID
	case csdomain.ResultsRecorded:
		importID = e.ImportID
	default:
		return eventstore.AppendRequest{}, fmt.Errorf("import request: %s does not start an import", events[0].EventType())
	}
	req := eventstore.AppendRequest{StreamID: "import-" + importID, StreamType: "Import", Expected: eventstore.NoStream,
		Metadata: eventstore.Metadata{TeamID: team, Actor: "test", CommandID: "import-" + importID}}
	for _, e := range events {
		ne, err := codec.Encode(e)
		if err != nil {
			return eventstore.AppendRequest{}, fmt.Errorf("import request: %w", err)
		}
		req.Events = append(req.Events, ne)
	}
	return req, nil
}
