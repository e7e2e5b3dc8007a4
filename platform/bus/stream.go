package bus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the event stream (docs/bus-and-relay.md).
const (
	DefaultStreamName    = "CSPM_EVENTS"
	DefaultSubjectPrefix = "cspm.events"
	// DefaultDuplicateWindow is how long JetStream remembers a Nats-Msg-Id
	// to drop a second publish of the same event.
	DefaultDuplicateWindow = 2 * time.Minute
)

// Message headers on every event message. The payload is the JSON envelope
// of eventstore.RecordedEvent.
const (
	// HeaderWatermillUUID is Watermill's message UUID header
	// (watermill-nats NATSMarshaler); it carries the event id so Watermill
	// subscribers and tools read our messages as their own.
	HeaderWatermillUUID = "_watermill_message_uuid"
	// HeaderMsgID is JetStream's de-duplication id: the event id.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderExpectedLastSeq is the stream sequence the server must be at
	// before storing the message: position-1.
	HeaderExpectedLastSeq = "Nats-Expected-Last-Sequence"
	// HeaderPosition is the event's global position (== stream sequence).
	HeaderPosition   = "Cspm-Position"
	HeaderEventType  = "Cspm-Event-Type"
	HeaderStreamID   = "Cspm-Stream-Id"
	HeaderStreamType = "Cspm-Stream-Type"
	HeaderTeamID     = "Cspm-Team-Id"
	// HeaderDataRef marks a message published by reference: its envelope
	// carries no data ("data": null) because the event is larger than the
	// server's max payload, and consumers read the event from the event
	// store at HeaderPosition. Its value says where: "store".
	HeaderDataRef = "Cspm-Data-Ref"
)

// Subject is the subject of an event of eventType from module under the
// default prefix: cspm.events.<module>.<eventType>.
func Subject(module, eventType string) string {
	return subject(DefaultSubjectPrefix, module, eventType)
}

func subject(prefix, module, eventType string) string {
	return prefix + "." + token(module) + "." + token(eventType)
}

// token makes s one valid subject token: '.', '*', '>' and white space
// (which would split, widen or break the subject) become '_'. The routing
// subject is derived data; the exact event type travels in HeaderEventType.
func token(s string) string {
	if s == "" {
		return "_"
	}
	if !strings.ContainsAny(s, ".*> \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// StreamConfig describes the event stream. The zero value is the
// production stream: CSPM_EVENTS on cspm.events.>, file storage, limits
// retention, 2 minute duplicate window, one replica, kept forever.
type StreamConfig struct {
	// Name of the stream. Default DefaultStreamName.
	Name string
	// SubjectPrefix; the stream captures <prefix>.>. Default
	// DefaultSubjectPrefix.
	SubjectPrefix string
	// Duplicates is the de-duplication window. Default 2 minutes.
	Duplicates time.Duration
	// Replicas on a clustered server. Default 1.
	Replicas int
	// MaxAge and MaxBytes bound retention (0: unbounded), oldest messages
	// first. The stream is a transport, not the source of truth: a
	// projection behind the stream's first sequence catches up from the
	// event store (docs/decisions.md 103-104). A MaxAge below the
	// duplicate window shortens that window to it.
	MaxAge   time.Duration
	MaxBytes int64
}

// WithDefaults fills the zero fields.
func (c StreamConfig) WithDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStreamName
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicateWindow
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge < 0 {
		c.MaxAge = 0
	}
	if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		// JetStream refuses a duplicate window longer than the max age.
		c.Duplicates = c.MaxAge
	}
	return c
}

// Subject is the subject of eventType from module in this stream.
func (c StreamConfig) Subject(module, eventType string) string {
	return subject(c.WithDefaults().SubjectPrefix, module, eventType)
}

// ModuleSubjects is the filter matching every event of module.
func (c StreamConfig) ModuleSubjects(module string) string {
	return c.WithDefaults().SubjectPrefix + "." + token(module) + ".>"
}

// JetStream is the server-side stream configuration.
func (c StreamConfig) JetStream() jetstream.StreamConfig {
	c = c.WithDefaults()
	maxBytes := c.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:        c.Name,
		Description: "cspm event store, relayed by position (stream sequence == event position)",
		Subjects:    []string{c.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Duplicates:  c.Duplicates,
		Replicas:    c.Replicas,
		// A deleted message would be a hole the relay cannot refill (its
		// checkpoint is the last sequence); a purge would hide events from
		// consumers. Reset the stream instead (delete and recreate).
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
}

// EnsureStream creates the stream or updates it to cfg; calling it again
// with the same cfg changes nothing.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	sc := cfg.JetStream()
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("bus: ensure stream %s: %w", sc.Name, err)
	}
	return s, nil
}

// DeleteStream deletes the stream with its messages and consumers; a
// missing stream is not an error.
func DeleteStream(ctx context.Context, js jetstream.JetStream, name string) error {
	if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bus: delete stream %s: %w", name, err)
	}
	return nil
}

// redact hides credentials in a URL list for error messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		u.User = url.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// Bounded reports whether messages may leave the stream (MaxAge or
// MaxBytes set): a consumer may then find its next message gone.
func (c StreamConfig) Bounded() bool { return c.MaxAge > 0 || c.MaxBytes > 0 }

// FirstSeq is the first sequence of a stream in state st: the oldest
// message it still holds, or the last sequence + 1 when it holds none (all
// expired, or none published yet).
func FirstSeq(st jetstream.StreamState) int64 {
	if st.Msgs == 0 || st.FirstSeq == 0 {
		return int64(st.LastSeq) + 1
	}
	return int64(st.FirstSeq)
}
