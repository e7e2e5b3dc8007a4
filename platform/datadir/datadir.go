// Package datadir guards a cspm data directory: an exclusive lock that one
// process holds for its whole life (released by the operating system when
// the process ends, however it ends), with the holder's pid, start time and
// command written beside it so that whoever is refused can say who holds
// it. It also holds the permission rules of what cspm creates there: the
// directory owner-only (0700), every file owner-only (0600).
//
// The lock is flock(2) on <dir>/cspm.lock, an advisory lock on an open file
// description: two opens of the file conflict even within one process, and
// a process that dies (SIGKILL included) releases it. The file itself stays
// after the lock is released (removing it would let two processes lock two
// different files of the same name); its content describes the last holder.
// flock does not reach across machines on every network file system: keep
// the data directory on a local disk.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the lock file inside the data directory.
const FileName = "cspm.lock"

// Permissions of what cspm creates in the data directory: the directory
// and everything in it is for the user cspm runs as, and nobody else (the
// event store, the read models and admin.key are all readable secrets or
// integrity-relevant data).
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// ErrBusy: another process holds the data directory. The error is a
// *BusyError naming the holder.
var ErrBusy = errors.New("data directory in use")

// Holder describes the process that holds (or last held) the lock.
type Holder struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	Command   string    `json:"command"`
	Host      string    `json:"host,omitempty"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another process (its pid is not recorded yet)"
	}
	s := fmt.Sprintf("pid %d", h.PID)
	var more []string
	if h.Command != "" {
		more = append(more, h.Command)
	}
	if !h.StartedAt.IsZero() {
		more = append(more, "since "+h.StartedAt.UTC().Format(time.RFC3339))
	}
	if h.Host != "" {
		more = append(more, "on "+h.Host)
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, ", ") + ")"
	}
	return s
}

// BusyError is the ErrBusy Acquire returns.
type BusyError struct {
	Dir    string
	Holder Holder
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("data directory %s is in use by %s", e.Dir, e.Holder)
}

// Is makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Lock is a held data directory.
type Lock struct {
	dir string
	f   *os.File
}

// Dir is the locked directory.
func (l *Lock) Dir() string { return l.dir }

// Acquire creates dir if needed (DirMode) and takes its lock without
// waiting: if another process (or another Lock of this one) holds it, it
// returns a *BusyError naming the holder. command describes this process
// for the next one refused (e.g. "cspm serve --roles api,relay,projector").
func Acquire(dir, command string) (*Lock, error) {
	if err := MkdirAll(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	// No O_TRUNC: the file names the current holder until we hold the lock.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("open the lock of data directory %s: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if !held {
		_ = f.Close()
		h, _ := ReadHolder(dir)
		return nil, &BusyError{Dir: dir, Holder: h}
	}
	l := &Lock{dir: dir, f: f}
	if err := l.describe(command); err != nil {
		_ = l.Release()
		return nil, fmt.Errorf("record the holder of data directory %s: %w", dir, err)
	}
	return l, nil
}

// describe writes this process as the holder.
func (l *Lock) describe(command string) error {
	h := Holder{PID: os.Getpid(), StartedAt: time.Now().UTC(), Command: command}
	h.Host, _ = os.Hostname()
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(append(raw, '\n'), 0); err != nil {
		return err
	}
	return nil
}

// Release gives the lock up (closing the file releases it). The file stays.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("release data directory %s: %w", l.dir, err)
	}
	return nil
}

// ReadHolder reads who holds (or last held) dir's lock. A holder that has
// locked the file but not written it yet reads as the zero Holder.
func ReadHolder(dir string) (Holder, error) {
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	if len(strings.TrimSpace(string(raw))) == 0 {
		return h, nil
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return Holder{}, fmt.Errorf("read %s: %w", filepath.Join(dir, FileName), err)
	}
	return h, nil
}

// MkdirAll creates dir (and missing parents) with DirMode. An existing
// directory keeps its mode: that is the operator's choice.
func MkdirAll(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return nil
}

// CreateFile creates path empty with FileMode if it does not exist, so
// that a library which creates it otherwise (SQLite: 0644 less the umask,
// and its -wal and -shm files with the main file's mode) creates nothing
// readable by others. An existing file is left as it is.
func CreateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}
