// Package scantext holds what the parsers of native scanners (Nuclei, ZAP,
// testssl.sh, SSLyze) share: texts cut to size and cleaned, targets and
// URLs normalised for the identity rules (decision 58), a bounded reader
// of whole reports. Pure: no I/O beyond the reader it is given.
package scantext

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRawBytes caps a raw request, response, evidence, attack or curl
// command a report embeds: what is kept of it is at most this many bytes
// (cut between characters and marked). It is kept as text, never executed,
// fetched or rendered.
const MaxRawBytes = 1024

// MaxReportBytes bounds a report a parser reads whole (ZAP, testssl.sh,
// SSLyze: their reports are kilobytes to a few megabytes).
const MaxReportBytes = 256 << 20

// MaxLineBytes bounds one line of a JSONL report (Nuclei): a real
// phpinfo hit was 148 KB.
const MaxLineBytes = 16 << 20

// ErrTooLarge: a report or a line over its limit.
var ErrTooLarge = errors.New("too large")

// Clean makes s valid UTF-8 and replaces control characters (but line
// breaks and tabs when multiline) with spaces.
func Clean(s string, multiline bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && (!multiline || (r != '\n' && r != '\t' && r != '\r')) {
			return ' '
		}
		return r
	}, s)
}

// Line is s cleaned to one line, trimmed, and cut to max characters.
func Line(s string, max int) string {
	return Cut(strings.TrimSpace(Clean(s, false)), max)
}

// Cut shortens s to at most max characters, between characters.
func Cut(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// Raw is a raw request, response or evidence as it is kept: cleaned
// (multiline) and cut to MaxRawBytes, with how much was cut.
func Raw(s string) string {
	s = Clean(s, true)
	if len(s) <= MaxRawBytes {
		return s
	}
	cut := MaxRawBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[%d bytes cut]", len(s)-cut)
}

// URL normalises a URL for an identity: scheme and host lower case, the
// default port dropped, "/" for an empty path; the path and query kept as
// written. ok is false when s is not an absolute URL.
func URL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	host = strings.ToLower(host)
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	u.Host = JoinHostPort(host, port)
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	u.Fragment, u.RawFragment = "", ""
	u.User = nil // never keep credentials a URL may carry
	return u.String(), true
}

// JoinHostPort is host:port (bracketing IPv6), or host without a port.
func JoinHostPort(host, port string) string {
	if port == "" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// HostPort normalises "host:port" (lower case host); ok is false when s
// is not one.
func HostPort(s string) (string, bool) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil || host == "" {
		return "", false
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", false
	}
	return JoinHostPort(strings.ToLower(host), port), true
}

// HostOf is the lower-case host name of a URL, a host:port or a bare host.
func HostOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		return strings.ToLower(u.Hostname())
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		return strings.ToLower(h)
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(strings.Trim(s, "[]"))
}

// ReadAll reads a whole report of at most MaxReportBytes.
func ReadAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxReportBytes {
		return nil, fmt.Errorf("report over %d MiB: %w", MaxReportBytes>>20, ErrTooLarge)
	}
	return b, nil
}

// Lines calls fn with each non-blank line of r (at most MaxLineBytes
// each) and its number.
func Lines(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("line %d over %d MiB: %w", n+1, MaxLineBytes>>20, ErrTooLarge)
	}
	return sc.Err()
}

// FirstNonSpace is the first byte of b that is not white space or a
// UTF-8 byte order mark, 0 when none.
func FirstNonSpace(b []byte) byte {
	b = trimBOM(b)
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}

// TrimBOM drops a leading UTF-8 byte order mark.
func TrimBOM(b []byte) []byte { return trimBOM(b) }
