// Package progress shows progress bars for long CLI operations (export,
// verify) on a terminal, and nothing anywhere else: when the output is a
// pipe, a file or a CI log every method is a no-op, so scripted output stays
// clean.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar is a progress bar, or a no-op. The zero value and nil are no-ops.
// A Bar is safe for use by one goroutine at a time plus the bar's own renderer.
type Bar struct {
	bar *progressbar.ProgressBar
}

// New returns a bar drawn on w when w is a terminal, else a no-op bar.
// total is the number of items expected; a negative total shows a spinner
// until Update gives one.
func New(w io.Writer, description string, total int64) *Bar {
	if !IsTerminal(w) {
		return &Bar{}
	}
	return newBar(w, description, total, false)
}

// NewBytes is New for a count of bytes (an upload): sizes and rates in
// KiB, MiB.
func NewBytes(w io.Writer, description string, total int64) *Bar {
	if !IsTerminal(w) {
		return &Bar{}
	}
	return newBar(w, description, total, true)
}

func newBar(w io.Writer, description string, total int64, bytes bool) *Bar {
	if total < 0 {
		total = -1
	}
	unit := progressbar.OptionSetItsString("events")
	if bytes {
		unit = progressbar.OptionShowBytes(true)
	}
	return &Bar{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		unit,
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprint(w, "\r") }),
	)}
}

// IsTerminal reports whether w is a terminal (an *os.File on a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Enabled reports whether the bar draws anything.
func (b *Bar) Enabled() bool { return b != nil && b.bar != nil }

// Update sets the progress to done of total; its signature fits callbacks
// like eventstore.Verify's. A total <= 0 leaves the total as it was.
func (b *Bar) Update(done, total int64) {
	if !b.Enabled() {
		return
	}
	if total > 0 && total != b.bar.GetMax64() {
		b.bar.ChangeMax64(total)
	}
	_ = b.bar.Set64(done) // rendering errors must not fail the operation
}

// Add advances the bar by n items.
func (b *Bar) Add(n int64) {
	if !b.Enabled() {
		return
	}
	_ = b.bar.Add64(n)
}

// Finish completes the bar and clears it from the terminal.
func (b *Bar) Finish() {
	if !b.Enabled() {
		return
	}
	_ = b.bar.Finish()
}
