package progress

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNew_NotATerminalIsANoOp(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	bar := New(&b, "exporting", 10)
	assert.False(t, bar.Enabled())
	bar.Update(3, 10)
	bar.Add(2)
	bar.Finish()
	assert.Empty(t, b.String())

	f, err := os.CreateTemp(t.TempDir(), "out")
	assert.NoError(t, err)
	defer f.Close()
	assert.False(t, IsTerminal(f), "a regular file is not a terminal")
	assert.False(t, New(f, "x", 1).Enabled())
}

func TestNilAndZeroBarsAreNoOps(t *testing.T) {
	t.Parallel()
	var nilBar *Bar
	nilBar.Update(1, 2)
	nilBar.Add(1)
	nilBar.Finish()
	var zero Bar
	zero.Update(1, 2)
	zero.Finish()
	assert.False(t, nilBar.Enabled())
	assert.False(t, zero.Enabled())
}

func TestBar_DrawsWhenEnabled(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	bar := newBar(&b, "verifying", -1, false) // unknown total: spinner
	assert.True(t, bar.Enabled())
	bar.Update(5, 10) // total learned from the callback
	bar.Add(5)
	bar.Finish()
	assert.Contains(t, b.String(), "verifying")
	assert.Contains(t, b.String(), "/10", "the total comes from Update")
}
