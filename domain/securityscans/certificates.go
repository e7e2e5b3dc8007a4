// Package securityscans holds the rules of the native security scans'
// read side that need the clock (decision 60): what a certificate's
// validity means now. Pure: the caller gives the time.
package securityscans

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Certificate statuses, judged at query time from not_after and now.
const (
	CertValid    = "valid"
	CertExpiring = "expiring" // expires within ExpiringWithin
	CertExpired  = "expired"
)

// ExpiringWithin is how soon an expiry counts as "expiring".
const ExpiringWithin = 30 * 24 * time.Hour

// CertificateStatus is the status of a certificate that expires at
// notAfter, at now.
func CertificateStatus(notAfter, now time.Time) string {
	switch {
	case !now.Before(notAfter):
		return CertExpired
	case notAfter.Sub(now) <= ExpiringWithin:
		return CertExpiring
	}
	return CertValid
}

// ExpiredSinceScan reports a certificate that was valid when it was
// scanned and has expired since: the clock's finding, not the scanner's.
func ExpiredSinceScan(notAfter, scannedAt, now time.Time) bool {
	return scannedAt.Before(notAfter) && !now.Before(notAfter)
}

// TargetID names a target in paths (/api/v1/targets/{target}): "tgt-" and
// 32 hex digits of a sha256 of the target as the results name it (a URL
// or host:port, which paths cannot carry whole).
func TargetID(target string) string {
	sum := sha256.Sum256([]byte(target))
	return "tgt-" + hex.EncodeToString(sum[:])[:32]
}
