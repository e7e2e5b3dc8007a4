package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// GET /docs renders /openapi.json with Redoc (MIT, api/docsui/LICENSE),
// served from the binary: no CDN, so the page works air-gapped. The page
// has no inline script, and a Content-Security-Policy that allows only
// this origin (Redoc needs inline styles and a blob: worker for search).
// Its files are served by the same route: GET /docs?asset=<file>.

//go:embed docsui/redoc.standalone.js docsui/redoc.standalone.js.LICENSE.txt docsui/LICENSE
var docsUI embed.FS

// docsAsset is one embedded file of the docs page.
type docsAsset struct {
	body        []byte
	gzipped     func() []byte // compressed on first use
	contentType string
	etag        string // strong, of the uncompressed body
}

// docsAssets are the files GET /docs?asset= serves, by name.
var docsAssets = sync.OnceValue(func() map[string]*docsAsset {
	types := map[string]string{
		"redoc.standalone.js":             "text/javascript; charset=utf-8",
		"redoc.standalone.js.LICENSE.txt": "text/plain; charset=utf-8",
		"LICENSE":                         "text/plain; charset=utf-8",
	}
	out := make(map[string]*docsAsset, len(types))
	for name, ct := range types {
		body, err := docsUI.ReadFile("docsui/" + name)
		if err != nil {
			panic("api: embedded docs asset " + name + ": " + err.Error())
		}
		sum := sha256.Sum256(body)
		out[name] = &docsAsset{
			body:        body,
			gzipped:     sync.OnceValue(func() []byte { return gzipBytes(body) }),
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
	}
	return out
})

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// docsScript is the Redoc bundle's name. The page asks for it with its
// content hash (v), so that it can be cached for good and a new bundle is
// fetched at once.
const docsScript = "redoc.standalone.js"

// paramDocsAsset names a file of the docs page: GET /docs?asset=<file>.
// The page adds v=<content hash> to it, which the server ignores.
const paramDocsAsset = "asset"

var docsPageTemplate = template.Must(template.New("docs").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cspm-es API</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="docs?asset={{.Script}}&amp;v={{.Version}}"></script>
</body>
</html>
`))

// docsCSP allows what Redoc needs from this origin only.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var docsPage = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	v := strings.Trim(docsAssets()[docsScript].etag, `"`)
	if err := docsPageTemplate.Execute(&buf, map[string]string{"Script": docsScript, "Version": v}); err != nil {
		panic("api: docs page: " + err.Error())
	}
	return buf.Bytes()
})

// docs serves GET /docs: the page, or with ?asset= one of its files.
// Other query parameters are ignored (a link to the page may carry some).
func (s *Server) docs(c echo.Context) error {
	h := c.Response().Header()
	h.Set(headerContentTypeOption, "nosniff")
	name, ok := c.QueryParams()[paramDocsAsset]
	if !ok {
		h.Set(echo.HeaderCacheControl, "no-cache")
		h.Set(echo.HeaderContentSecurityPolicy, docsCSP)
		return c.HTMLBlob(http.StatusOK, docsPage())
	}
	return s.docsAsset(c, name[0])
}

// docsAsset serves a file of the docs page: the Redoc bundle and its
// licences, cached for a year (the page names the bundle by content hash),
// gzip-compressed for clients that take it.
func (s *Server) docsAsset(c echo.Context, name string) error {
	a, ok := docsAssets()[name]
	if !ok {
		return &requestError{status: http.StatusNotFound, body: ErrorBody{
			Code: CodeNotFound, Message: "not found",
			Details: []ErrorDetail{{Field: paramDocsAsset, In: InQuery, Message: "no such file of the docs page"}},
		}}
	}
	body, etag := a.body, a.etag
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	h.Set(echo.HeaderVary, echo.HeaderAcceptEncoding)
	if acceptsGzip(c.Request().Header.Values(echo.HeaderAcceptEncoding)) {
		body, etag = a.gzipped(), strings.TrimSuffix(etag, `"`)+`-gzip"`
		h.Set(echo.HeaderContentEncoding, "gzip")
	}
	h.Set("ETag", etag)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		h.Del(echo.HeaderContentEncoding)
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.contentType, body)
}

// acceptsGzip reads Accept-Encoding: gzip listed without q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// etagMatches reads If-None-Match: * or a list of entity tags (weak ones
// compared weakly, as RFC 9110 asks for this header).
func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" || part == etag {
			return true
		}
	}
	return false
}
