package trivy

import (
	"errors"
	"io"
)

// errPastLimit: the reader was asked to go past the current element's
// limit.
var errPastLimit = errors.New("past the element limit")

// source reads the report, counting bytes, and refuses to read past limit
// (the end of the current element's allowance): the decoder can never
// buffer more than one element and its read-ahead.
type source struct {
	r     io.Reader
	pos   int64
	limit int64
	err   error // the underlying reader's error, other than io.EOF
}

func (s *source) Read(p []byte) (int, error) {
	if s.pos >= s.limit {
		return 0, errPastLimit
	}
	if int64(len(p)) > s.limit-s.pos {
		p = p[:s.limit-s.pos]
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}
