// Package outbound reaches the integrations' endpoints: webhook deliveries
// posted over HTTP (a bounded timeout, no redirects followed, the answer's
// body drained and dropped) and health probes by TCP connect.
package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one delivery (a receiver that hangs is a failed
// attempt after it) and one probe.
const DefaultTimeout = 10 * time.Second

// HTTPSender posts deliveries.
type HTTPSender struct{ client *http.Client }

// NewHTTPSender returns a sender whose attempts end after timeout (0:
// DefaultTimeout).
func NewHTTPSender(timeout time.Duration) *HTTPSender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &HTTPSender{client: &http.Client{Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send posts body to rawURL with headers and returns the status.
func (s *HTTPSender) Send(ctx context.Context, rawURL string, headers map[string]string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the integration, not needed in every error
		}
		return 0, fmt.Errorf("webhook post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TCPProber connects to an endpoint's host and port.
type TCPProber struct{ Timeout time.Duration }

// Probe connects to rawURL's host (port 80 or 443 by scheme when absent)
// and closes the connection.
func (p TCPProber) Probe(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("probe: %q is not a URL with a host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("tcp connect: %w", err)
	}
	return c.Close()
}
