// Package logging builds cspm's slog loggers from configuration.
package logging

import (
	"io"
	"log/slog"

	"github.com/cspm-es/cspm-es/platform/config"
)

// New returns a logger writing to w at level, as text or JSON.
func New(w io.Writer, level slog.Leveler, format config.LogFormat) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// FromConfig is New with the configured level and format.
func FromConfig(w io.Writer, c config.Config) *slog.Logger {
	return New(w, c.LogLevel, c.LogFormat)
}

// Discard is a logger that drops everything (tests, quiet commands).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Err is the conventional attribute for an error.
func Err(err error) slog.Attr { return slog.Any("error", err) }
