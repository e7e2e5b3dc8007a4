// Package integrations is the integrations module's domain: integration
// definitions (webhook, ticketing, chat, SIEM, cloud connection) whose
// secret is only ever held sealed (ciphertext and key id, never in clear),
// their health checks, setup wizard sessions, and the outbound webhooks'
// deliveries with their retry rule (docs/integrations.md).
package integrations
