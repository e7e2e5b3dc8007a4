package datadir_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/datadir"
)

// holderEnv makes the test binary a helper process that holds the lock of
// the directory it names until it is killed (see TestMain).
const holderEnv = "DATADIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		l, err := datadir.Acquire(dir, "datadir test holder")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		// Until killed (stdin is never written); the lock goes with the process.
		_, _ = os.Stdin.Read(make([]byte, 1))
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestAcquire_SecondLockConflictsAndNamesTheHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := datadir.Acquire(dir, "cspm serve --roles api,relay,projector")
	require.NoError(t, err)
	t.Cleanup(func() { _ = first.Release() })

	// A second open file description of the same file conflicts, even in
	// this process.
	second, err := datadir.Acquire(dir, "cspm keys create")
	require.Error(t, err)
	assert.Nil(t, second)
	assert.ErrorIs(t, err, datadir.ErrBusy)
	var busy *datadir.BusyError
	require.ErrorAs(t, err, &busy)
	assert.Equal(t, os.Getpid(), busy.Holder.PID)
	assert.Equal(t, "cspm serve --roles api,relay,projector", busy.Holder.Command)
	assert.WithinDuration(t, time.Now(), busy.Holder.StartedAt, time.Minute)
	assert.Contains(t, err.Error(), fmt.Sprintf("in use by pid %d (cspm serve --roles api,relay,projector, since ", os.Getpid()))
	assert.Contains(t, err.Error(), dir)

	// The refused attempt did not overwrite the holder's description.
	h, err := datadir.ReadHolder(dir)
	require.NoError(t, err)
	assert.Equal(t, "cspm serve --roles api,relay,projector", h.Command)

	// Released, the next one gets it and describes itself.
	require.NoError(t, first.Release())
	require.NoError(t, first.Release(), "releasing twice is harmless")
	third, err := datadir.Acquire(dir, "cspm keys revoke")
	require.NoError(t, err)
	defer third.Release()
	h, err = datadir.ReadHolder(dir)
	require.NoError(t, err)
	assert.Equal(t, "cspm keys revoke", h.Command)
}

func TestAcquire_CreatesOwnerOnlyDirectoryAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	l, err := datadir.Acquire(dir, "test")
	require.NoError(t, err)
	defer l.Release()
	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, datadir.DirMode, st.Mode().Perm())
	st, err = os.Stat(filepath.Join(dir, datadir.FileName))
	require.NoError(t, err)
	assert.Equal(t, datadir.FileMode, st.Mode().Perm())
}

// The operating system releases the lock of a process that dies without
// a word (SIGKILL).
func TestAcquire_ReleasedWhenTheHolderIsKilled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe() // kept open: the helper holds until killed
	require.NoError(t, err)
	defer stdin.Close()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held", strings.TrimSpace(line))

	_, err = datadir.Acquire(dir, "second")
	var busy *datadir.BusyError
	require.ErrorAs(t, err, &busy)
	assert.Equal(t, cmd.Process.Pid, busy.Holder.PID)
	assert.Equal(t, "datadir test holder", busy.Holder.Command)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	l, err := datadir.Acquire(dir, "after the kill")
	require.NoError(t, err)
	require.NoError(t, l.Release())
}

func TestCreateFile_OwnerOnlyAndKeepsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.sqlite")
	require.NoError(t, datadir.CreateFile(path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, datadir.FileMode, st.Mode().Perm())

	require.NoError(t, os.WriteFile(path, []byte("content"), 0o600))
	require.NoError(t, datadir.CreateFile(path))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "content", string(raw))

	err = datadir.CreateFile(filepath.Join(dir, "missing", "x.sqlite"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

func TestReadHolder_ZeroWhileNotYetWritten(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, datadir.FileName), nil, 0o600))
	h, err := datadir.ReadHolder(dir)
	require.NoError(t, err)
	assert.Zero(t, h.PID)
	assert.Contains(t, (&datadir.BusyError{Dir: dir, Holder: h}).Error(), "pid is not recorded yet")
}
