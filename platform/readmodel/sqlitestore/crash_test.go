package sqlitestore_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/sqlitestore"
)

const crashEnv = "CSPM_READMODEL_CRASH_CHILD"

// crashBatch rewrites every document with its generation, which is also
// the checkpoint.
func crashBatch(gen int64) readmodel.Batch {
	b := readmodel.Batch{Projection: "p", Checkpoint: gen, Puts: map[string][]readmodel.Doc{}}
	for i := range 300 {
		b.Puts["items"] = append(b.Puts["items"], readmodel.Doc{"_id": fmt.Sprintf("d%03d", i), "gen": gen, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})
	}
	return b
}

// TestCrashLeavesBatchAndCheckpointTogether kills a process that commits
// batches in a loop (SIGKILL, mid-transaction most of the time) and checks
// that the file holds one whole generation whose number is the checkpoint.
func TestCrashLeavesBatchAndCheckpointTogether(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.sqlite")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesBatchAndCheckpointTogether$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(out)
	committed := int64(0)
	for committed < 5 && lines.Scan() {
		if n, err := strconv.ParseInt(lines.Text(), 10, 64); err == nil {
			committed = n
		}
	}
	require.GreaterOrEqual(t, committed, int64(5), "the child did not commit")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	s, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	cp, err := s.Checkpoint(t.Context(), "p")
	require.NoError(t, err)
	require.GreaterOrEqual(t, cp, committed)
	by, err := s.CountBy(t.Context(), "items", readmodel.Filter{}, "gen")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{strconv.FormatInt(cp, 10): 300}, by, "documents and checkpoint from the same batch")
}

func crashChild(t *testing.T, path string) {
	s, err := sqlitestore.Open(t.Context(), path, sqlitestore.Options{})
	require.NoError(t, err)
	for gen := int64(1); ; gen++ {
		require.NoError(t, s.Commit(t.Context(), crashBatch(gen)))
		fmt.Println(gen)
	}
}
