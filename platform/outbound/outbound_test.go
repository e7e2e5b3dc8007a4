package outbound_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/platform/outbound"
)

func TestHTTPSender(t *testing.T) {
	t.Parallel()
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/hang":
			// The body read first: the server notices the client's
			// hang-up (and cancels the context) only once it has it.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		default:
			got = r.Header.Clone()
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(srv.Close)
	s := outbound.NewHTTPSender(200 * time.Millisecond)

	status, err := s.Send(t.Context(), srv.URL+"/in", map[string]string{"X-CSPM-Delivery": "whd-1"}, []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "whd-1", got.Get("X-CSPM-Delivery"))

	status, err = s.Send(t.Context(), srv.URL+"/redirect", nil, []byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusFound, status, "a redirect is answered, not followed (a 3xx is no acknowledgement)")

	_, err = s.Send(t.Context(), srv.URL+"/hang", nil, []byte(`{}`))
	require.Error(t, err, "a receiver that hangs fails the attempt at the bound")
	assert.NotContains(t, err.Error(), srv.URL, "the error does not repeat the URL")
}

func TestTCPProber(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	p := outbound.TCPProber{Timeout: time.Second}
	assert.NoError(t, p.Probe(t.Context(), up.URL))
	assert.Error(t, p.Probe(t.Context(), downURL))
	assert.Error(t, p.Probe(t.Context(), "not a url"))
}
