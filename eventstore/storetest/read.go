package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/eventstore"
)

func testConcurrentTailing(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	const (
		writers          = 8
		eventsPerWriter  = 250
		streamsPerWriter = 8
		total            = writers * eventsPerWriter
	)

	readerCtx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerDone := make(chan error, 1)
	var read []eventstore.RecordedEvent
	go func() {
		readerDone <- func() error {
			var after int64
			for len(read) < total {
				evs, err := s.ReadAll(readerCtx, after, 100)
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					if err := s.WaitForAppend(readerCtx, after); err != nil {
						return fmt.Errorf("after %d of %d events: %w", len(read), total, err)
					}
					continue
				}
				read = append(read, evs...)
				after = evs[len(evs)-1].Position
			}
			return nil
		}()
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			version := make([]int64, streamsPerWriter)
			for appended, i := 0, 0; appended < eventsPerWriter; i++ {
				k := i % streamsPerWriter
				batch := min(1+i%4, eventsPerWriter-appended)
				evs := make([]eventstore.NewEvent, batch)
				for j := range evs {
					evs[j] = newEvent("Ticked", fmt.Sprintf(`{"w":%d,"i":%d}`, w, appended+j))
				}
				stream := fmt.Sprintf("tail-%d-%d", w, k)
				if _, err := s.Append(ctx, request(stream, eventstore.Exact(version[k]), evs...)); err != nil {
					t.Errorf("writer %d: %v", w, err)
					stopReader()
					return
				}
				version[k] += int64(batch)
				appended += batch
			}
		})
	}
	wg.Wait()
	require.NoError(t, <-readerDone)

	require.Len(t, read, total)
	ids := make(map[string]bool, total)
	streamVersion := map[string]int64{}
	for i, e := range read {
		require.Equal(t, int64(i+1), e.Position, "positions are dense and strictly increasing")
		require.False(t, ids[e.EventID], "event %s read twice", e.EventID)
		ids[e.EventID] = true
		require.Equal(t, streamVersion[e.StreamID]+1, e.Version, "stream %s versions in order", e.StreamID)
		streamVersion[e.StreamID] = e.Version
	}
	assert.Len(t, streamVersion, writers*streamsPerWriter)
	assert.Equal(t, int64(total), head(t, s))
}

// waitClockPast returns once the clock has moved past ts at millisecond
// precision, so the next append is recorded strictly later than ts.
func waitClockPast(t *testing.T, ts time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !eventstore.NormalizeTime(time.Now()).After(ts) {
		require.True(t, time.Now().Before(deadline), "clock does not advance")
		<-time.After(time.Millisecond)
	}
}

func testReadStreamBounds(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	var marks []time.Time // recorded_at of each batch
	for b := range 3 {
		if b > 0 {
			waitClockPast(t, marks[b-1])
		}
		mustAppend(t, s, request("s", eventstore.Exact(int64(2*b)), newEvent("E", `{}`), newEvent("E", `{}`)))
		mustAppend(t, s, request(fmt.Sprintf("other-%d", b), eventstore.NoStream, newEvent("E", `{}`)))
		evs := readStream(t, s, "s", eventstore.ReadStreamOptions{FromVersion: int64(2*b + 1)})
		require.Len(t, evs, 2)
		marks = append(marks, evs[0].RecordedAt)
	}
	all := readStream(t, s, "s", eventstore.ReadStreamOptions{})
	require.Len(t, all, 6)

	for name, tc := range map[string]struct {
		opts eventstore.ReadStreamOptions
		want []int64
	}{
		"all":                  {eventstore.ReadStreamOptions{}, []int64{1, 2, 3, 4, 5, 6}},
		"from":                 {eventstore.ReadStreamOptions{FromVersion: 2}, []int64{2, 3, 4, 5, 6}},
		"to":                   {eventstore.ReadStreamOptions{ToVersion: 3}, []int64{1, 2, 3}},
		"from to":              {eventstore.ReadStreamOptions{FromVersion: 2, ToVersion: 4}, []int64{2, 3, 4}},
		"one version":          {eventstore.ReadStreamOptions{FromVersion: 5, ToVersion: 5}, []int64{5}},
		"past the head":        {eventstore.ReadStreamOptions{FromVersion: 7}, []int64{}},
		"until first batch":    {eventstore.ReadStreamOptions{Until: marks[0]}, []int64{1, 2}},
		"until second batch":   {eventstore.ReadStreamOptions{Until: marks[1]}, []int64{1, 2, 3, 4}},
		"until now":            {eventstore.ReadStreamOptions{Until: time.Now()}, []int64{1, 2, 3, 4, 5, 6}},
		"until before all":     {eventstore.ReadStreamOptions{Until: marks[0].Add(-time.Millisecond)}, []int64{}},
		"until between":        {eventstore.ReadStreamOptions{Until: marks[1].Add(-time.Nanosecond)}, []int64{1, 2}},
		"until and to":         {eventstore.ReadStreamOptions{Until: marks[1], ToVersion: 3}, []int64{1, 2, 3}},
		"from and until":       {eventstore.ReadStreamOptions{FromVersion: 2, Until: marks[1]}, []int64{2, 3, 4}},
		"until in other zones": {eventstore.ReadStreamOptions{Until: marks[0].In(time.FixedZone("x", 3600))}, []int64{1, 2}},
	} {
		assert.Equal(t, tc.want, versions(readStream(t, s, "s", tc.opts)), name)
	}
	assert.Empty(t, readStream(t, s, "missing", eventstore.ReadStreamOptions{}), "an unknown stream reads empty")

	for name, tc := range map[string]struct {
		asOf eventstore.AsOf
		want []int64
	}{
		"head":       {eventstore.AsOf{}, []int64{1, 2, 3, 4, 5, 6}},
		"version":    {eventstore.AsOf{Version: 3}, []int64{1, 2, 3}},
		"time":       {eventstore.AsOf{Time: marks[1]}, []int64{1, 2, 3, 4}},
		"both bound": {eventstore.AsOf{Time: marks[1], Version: 1}, []int64{1}},
	} {
		evs, err := eventstore.ReplayStream(ctx, s, "s", tc.asOf)
		require.NoError(t, err)
		assert.Equal(t, tc.want, versions(evs), "replay as of %s", name)
	}
}

func testHeadAndStreams(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)
	assert.Equal(t, int64(0), head(t, s))
	page, err := s.Streams(ctx, "", 10)
	require.NoError(t, err)
	assert.Empty(t, page)
	all, err := s.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, all)

	var events int64
	for _, i := range []int{4, 0, 6, 2, 5, 1, 3} {
		n := 1 + i%2
		evs := make([]eventstore.NewEvent, n)
		for j := range evs {
			evs[j] = newEvent("E", `{}`)
		}
		req := request(fmt.Sprintf("s-%d", i), eventstore.NoStream, evs...)
		req.StreamType = fmt.Sprintf("type-%d", i)
		res := mustAppend(t, s, req)
		events += int64(n)
		assert.Equal(t, events, res.LastPosition())
		assert.Equal(t, events, head(t, s))
	}

	var listed []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		page, err := s.Streams(ctx, after, 3)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		assert.LessOrEqual(t, len(page), 3)
		for _, si := range page {
			listed = append(listed, si.StreamID)
			evs := readStream(t, s, si.StreamID, eventstore.ReadStreamOptions{})
			require.NotEmpty(t, evs)
			last := evs[len(evs)-1]
			assert.Equal(t, eventstore.StreamInfo{StreamID: last.StreamID, StreamType: last.StreamType, Version: last.Version, LastHash: last.Hash}, si)
			assert.Equal(t, "type-"+si.StreamID[len("s-"):], si.StreamType)
		}
		after = page[len(page)-1].StreamID
	}
	assert.Equal(t, []string{"s-0", "s-1", "s-2", "s-3", "s-4", "s-5", "s-6"}, listed)

	// ReadAll pages in position order.
	var positions []int64
	for after := int64(0); ; {
		page, err := s.ReadAll(ctx, after, 4)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			positions = append(positions, e.Position)
		}
		after = page[len(page)-1].Position
	}
	want := make([]int64, events)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, positions)
}

type thingRenamed struct {
	Title  string `json:"title"`
	Source string `json:"source"`
}

func testUpcasting(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	mustAppend(t, s, request("thing", eventstore.NoStream,
		eventstore.NewEvent{Type: "ThingRenamed", SchemaVersion: 1, Data: json.RawMessage(`{"name":"old"}`)},
		eventstore.NewEvent{Type: "ThingRenamed", SchemaVersion: 2, Data: json.RawMessage(`{"title":"new","source":"api"}`)},
		eventstore.NewEvent{Type: "ThingUnknown", SchemaVersion: 1, Data: json.RawMessage(`{}`)},
	))

	codec := eventstore.NewCodec()
	codec.Register("ThingRenamed", thingRenamed{}, 2, map[int]eventstore.Upcaster{
		1: func(data json.RawMessage) (json.RawMessage, error) {
			var v1 struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(data, &v1); err != nil {
				return nil, err
			}
			return json.Marshal(thingRenamed{Title: v1.Name, Source: "v1"})
		},
	})
	evs := readStream(t, s, "thing", eventstore.ReadStreamOptions{})
	require.Len(t, evs, 3)
	assert.Equal(t, 1, evs[0].SchemaVersion, "old events are stored as written")
	assert.JSONEq(t, `{"name":"old"}`, string(evs[0].Data))

	got, err := codec.Decode(evs[0])
	require.NoError(t, err)
	assert.Equal(t, thingRenamed{Title: "old", Source: "v1"}, got, "v1 is upcast to v2 on read")
	got, err = codec.Decode(evs[1])
	require.NoError(t, err)
	assert.Equal(t, thingRenamed{Title: "new", Source: "api"}, got)
	_, err = codec.Decode(evs[2])
	assert.ErrorIs(t, err, eventstore.ErrUnknownEventType)
}

func testWaitForAppend(t *testing.T, open Open) {
	s, _ := open(t, eventstore.AuditKey{})
	ctx := testContext(t)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.WaitForAppend(short, 0), context.DeadlineExceeded, "waits while nothing is appended")

	mustAppend(t, s, request("s", eventstore.NoStream, newEvent("E", `{}`)))
	require.NoError(t, s.WaitForAppend(ctx, 0), "returns at once when the head is already past")

	woken := make(chan error, 1)
	go func() { woken <- s.WaitForAppend(ctx, 1) }()
	mustAppend(t, s, request("s", eventstore.Exact(1), newEvent("E", `{}`)))
	select {
	case err := <-woken:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("WaitForAppend not woken by an append")
	}
}
