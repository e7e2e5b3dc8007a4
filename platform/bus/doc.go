// Package bus sets up the NATS JetStream side of cspm: an embedded
// nats-server for the single-binary default, a connection that survives a
// server that is down for a while, the event stream and the durable pull
// consumers projectors read from.
//
// Publishing and consuming use nats.go's jetstream API directly rather than
// Watermill's publisher and subscriber, which wait for one ack per message;
// the message format stays Watermill-compatible (HeaderWatermillUUID = event
// id, payload = the JSON envelope). See docs/bus-and-relay.md.
package bus
