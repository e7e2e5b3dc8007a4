package securityscans

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCertificateStatus(t *testing.T) {
	na := time.Date(2026, 4, 20, 20, 2, 0, 0, time.UTC)
	require.Equal(t, CertValid, CertificateStatus(na, na.Add(-31*24*time.Hour)))
	require.Equal(t, CertExpiring, CertificateStatus(na, na.Add(-30*24*time.Hour)))
	require.Equal(t, CertExpiring, CertificateStatus(na, na.Add(-time.Second)))
	require.Equal(t, CertExpired, CertificateStatus(na, na))
	// Valid at the scan, expired now: the clock's finding.
	require.True(t, ExpiredSinceScan(na, na.Add(-57*24*time.Hour), na.Add(time.Hour)))
	require.False(t, ExpiredSinceScan(na, na.Add(time.Hour), na.Add(2*time.Hour)), "expired at the scan: the scanner's finding")
	require.False(t, ExpiredSinceScan(na, na.Add(-time.Hour), na.Add(-time.Minute)))
}
