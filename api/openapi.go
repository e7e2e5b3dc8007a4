package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

// The OpenAPI 3 document of the API is maintained by hand beside the
// route table, in openapi.yaml. The tests (openapi_test.go) hold the two
// together: every route of the table is documented with its operation id,
// role and scope, every documented operation is a route, every example
// validates, and real answers of the server validate against it.

//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIYAML returns the API's OpenAPI document as maintained (YAML),
// with every operation the API can serve.
func OpenAPIYAML() []byte { return slices.Clone(openAPIYAML) }

// openAPISource is the embedded document decoded once per process.
var openAPISource = sync.OnceValues(func() (map[string]any, error) {
	var raw any
	if err := yaml.Unmarshal(openAPIYAML, &raw); err != nil {
		return nil, fmt.Errorf("api: decode openapi.yaml: %w", err)
	}
	doc, ok := jsonValue(raw).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("api: openapi.yaml is not a mapping")
	}
	return doc, nil
})

// jsonValue turns decoded YAML into values encoding/json renders as JSON
// (YAML allows non-string mapping keys; JSON does not).
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = map[string]string{
	"get": http.MethodGet, "put": http.MethodPut, "post": http.MethodPost, "delete": http.MethodDelete,
	"options": http.MethodOptions, "head": http.MethodHead, "patch": http.MethodPatch, "trace": http.MethodTrace,
}

var openAPIPathParam = regexp.MustCompile(`\{([^}/]+)\}`)

// echoPath turns an OpenAPI path template (/scans/{id}) into echo's
// (/scans/:id).
func echoPath(openAPIPath string) string {
	return openAPIPathParam.ReplaceAllString(openAPIPath, ":$1")
}

// openAPIFor renders the document as JSON with exactly the operations of
// table: a server built without some optional part (queries, projection
// administration...) does not document its routes.
func openAPIFor(table []Route) ([]byte, error) {
	src, err := openAPISource()
	if err != nil {
		return nil, err
	}
	served := make(map[string]bool, len(table))
	for _, r := range table {
		served[r.Key()] = true
	}
	doc := make(map[string]any, len(src))
	for k, v := range src {
		doc[k] = v
	}
	srcPaths, _ := src["paths"].(map[string]any)
	paths := make(map[string]any, len(srcPaths))
	for path, item := range srcPaths {
		srcItem, _ := item.(map[string]any)
		kept := make(map[string]any, len(srcItem))
		ops := 0
		for key, v := range srcItem {
			if method, isOp := openAPIMethods[key]; isOp {
				if !served[method+" "+echoPath(path)] {
					continue
				}
				ops++
			}
			kept[key] = v
		}
		if ops > 0 {
			paths[path] = kept
		}
	}
	doc["paths"] = paths
	return json.Marshal(doc)
}

// openAPIHandler serves the document as JSON: GET /openapi.json. It is
// rendered on the first request (the route table is complete by then)
// and kept.
func (s *Server) openAPIHandler() echo.HandlerFunc {
	render := sync.OnceValues(func() ([]byte, error) { return openAPIFor(s.table) })
	return func(c echo.Context) error {
		body, err := render()
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set(headerContentTypeOption, "nosniff")
		h.Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	}
}
