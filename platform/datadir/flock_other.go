//go:build !unix

package datadir

import (
	"errors"
	"os"
)

// tryLock: only Unix systems (flock) are supported; elsewhere cspm refuses
// rather than run unguarded.
func tryLock(*os.File) (bool, error) {
	return false, errors.New("data directory locking needs flock(2), a Unix system call")
}
