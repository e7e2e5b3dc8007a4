// Package threatintel holds the threat-intelligence command handlers: the
// CISA KEV catalogue import (one global stream, "kev-catalogue", diffed
// by content; rejections on "kevimport-<id>") and the indicators of
// compromise of each team ("indicator-<id>"). docs/threat-intelligence.md.
package threatintel
