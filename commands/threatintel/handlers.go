package threatintel

import "github.com/cspm-es/cspm-es/commands"

// Handlers runs the threat-intelligence commands. It is safe for
// concurrent use.
type Handlers struct {
	kit   *commands.Kit
	feeds Feeds
}

// New returns the handlers on kit; it panics on a nil kit (a wiring
// mistake).
func New(kit *commands.Kit) *Handlers {
	if kit == nil {
		panic("threatintel.New: nil kit")
	}
	return &Handlers{kit: kit}
}

// WithFeeds lets the handlers import KEV feeds, read by feeds.
func (h *Handlers) WithFeeds(feeds Feeds) *Handlers {
	h.feeds = feeds
	return h
}
