package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/domain/access"
)

// The OpenAPI document (api/openapi.yaml) against the server: it loads
// and validates, it documents exactly the route table, its examples
// validate, and its error codes are the API's. The contract tests, which
// send real requests, are in openapi_contract_test.go.

func init() {
	// The API's answers that are not JSON are validated as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
}

// loadOpenAPI loads and validates a document (YAML or JSON), examples
// included.
func loadOpenAPI(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background(), openapi3.EnableExamplesValidation()))
	return doc
}

// servedOpenAPI is the document h serves at /openapi.json.
func servedOpenAPI(t *testing.T, h http.Handler) *openapi3.T {
	t.Helper()
	res := serve(t, h, request{Method: http.MethodGet, Path: "/openapi.json", Header: map[string]string{"Authorization": "-"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	return loadOpenAPI(t, res.Raw)
}

var openAPIParam = regexp.MustCompile(`\{([^}/]+)\}`)

// operations lists a document's operations by route key ("GET /api/v1/scans/:id").
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+openAPIParam.ReplaceAllString(path, ":$1")] = op
		}
	}
	return out
}

func extension(op *openapi3.Operation, name string) (string, bool) {
	v, ok := op.Extensions[name]
	s, _ := v.(string)
	return s, ok
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	src := loadOpenAPI(t, api.OpenAPIYAML())
	assert.Equal(t, "3.0.3", src.OpenAPI)
	assert.Equal(t, "cspm-es", src.Info.Title)
	require.Contains(t, src.Components.SecuritySchemes, "bearer")
	assert.Equal(t, "bearer", src.Components.SecuritySchemes["bearer"].Value.Scheme)

	srv := api.NewServer(api.ServerConfig{}, fullDeps(t))
	served := servedOpenAPI(t, srv.Handler())
	assert.Equal(t, slices.Sorted(mapsKeys(operations(src))), slices.Sorted(mapsKeys(operations(served))),
		"a server with every dependency serves the whole document")
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Every route of the table is documented with its operation id, role
// and scope, and every documented operation is a route.
func TestOpenAPICoversTheRouteTable(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.ServerConfig{}, fullDeps(t))
	doc := loadOpenAPI(t, api.OpenAPIYAML())
	ops := operations(doc)
	reads := api.QueryReads()
	reads["GET /api/v1/keys"] = api.KeyReads()
	for k, v := range api.VulnerabilityReads() {
		reads[k] = v
	}
	for k, v := range api.SLAReads() {
		reads[k] = v
	}
	for k, v := range api.SecurityScanReads() {
		reads[k] = v
	}
	for k, v := range api.AssessmentReads() {
		reads[k] = v
	}
	for k, v := range api.BIAReads() {
		reads[k] = v
	}
	for k, v := range api.IntegrationReads() {
		reads[k] = v
	}
	for k, v := range api.AIGovernanceReads() {
		reads[k] = v
	}
	for k, v := range api.KnowledgeBaseReads() {
		reads[k] = v
	}

	routes := map[string]bool{}
	for _, r := range srv.Routes() {
		routes[r.Key()] = true
		t.Run(r.Key(), func(t *testing.T) {
			op, ok := ops[r.Key()]
			require.True(t, ok, "%s is not in api/openapi.yaml: document it (docs/http-api.md, \"Adding a route\")", r.Key())
			assert.Equal(t, r.OperationID, op.OperationID, "operationId")
			scope, _ := extension(op, "x-cspm-scope")
			assert.Equal(t, r.Scope.String(), scope, "x-cspm-scope")
			role, hasRole := extension(op, "x-cspm-role")
			if r.Public {
				require.NotNil(t, op.Security, "a public route says security: []")
				assert.Empty(t, *op.Security, "a public route says security: []")
				assert.False(t, hasRole, "a public route has no x-cspm-role")
				return
			}
			if op.Security != nil {
				assert.NotEmpty(t, *op.Security, "only public routes go without a key")
			}
			assert.Equal(t, string(r.Role), role, "x-cspm-role")
			// What the guard answers.
			for _, status := range []int{401, 429, 500, 503} {
				assert.NotNil(t, op.Responses.Status(status), "%d is documented", status)
			}
			assert.Equal(t, r.Role != access.Viewer, op.Responses.Status(403) != nil,
				"403 is documented exactly when a key's role can be too low")
			if r.Scope == api.TeamResource {
				assert.NotNil(t, op.Responses.Status(404), "another team's resource is a 404")
			}
			if strings.Contains(r.Path, ":") {
				assert.NotNil(t, op.Responses.Status(400), "a path parameter can be invalid")
			}
			if op.RequestBody != nil {
				for _, status := range []int{400, 413, 415} {
					assert.NotNil(t, op.Responses.Status(status), "a body route documents %d", status)
				}
			}
			if want, isQuery := reads[r.Key()]; isQuery {
				got, _ := op.Extensions["x-cspm-reads"].([]any)
				assert.Equal(t, fmt.Sprint(want), fmt.Sprint(got), "x-cspm-reads are api.QueryReads")
			}
		})
	}
	for key, op := range ops {
		assert.True(t, routes[key], "api/openapi.yaml documents %s (%s), which the server does not register", key, op.OperationID)
	}
}

// The served document has exactly the routes of the server that serves
// it: one without queries does not document them.
func TestOpenAPIServedDocumentIsTheServers(t *testing.T) {
	t.Parallel()
	srv := api.NewServer(api.ServerConfig{}, api.Deps{Commands: &fakeCommands{}, Auth: testAuth})
	ops := operations(servedOpenAPI(t, srv.Handler()))
	var want []string
	for _, r := range srv.Routes() {
		want = append(want, r.Key())
	}
	assert.ElementsMatch(t, want, slices.Collect(mapsKeys(ops)))
	assert.NotContains(t, ops, "GET /api/v1/scans")
	assert.NotContains(t, ops, "GET /api/v1/projections")
}

// Every example in the document validates against its schema; every
// operation with a body has an example of it.
func TestOpenAPIExamplesValidate(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPIYAML())
	checked := 0
	check := func(where string, schema *openapi3.SchemaRef, value any, opts ...openapi3.SchemaValidationOption) {
		t.Helper()
		require.NotNil(t, schema, where)
		opts = append(opts, openapi3.EnableFormatValidation(), openapi3.MultiErrors())
		assert.NoError(t, schema.Value.VisitJSON(value, opts...), where)
		checked++
	}
	checkMedia := func(where string, mt *openapi3.MediaType, opts ...openapi3.SchemaValidationOption) int {
		n := 0
		if mt.Example != nil {
			check(where, mt.Schema, mt.Example, opts...)
			n++
		}
		for name, ex := range mt.Examples {
			check(where+" example "+name, mt.Schema, ex.Value.Value, opts...)
			n++
		}
		return n
	}
	for key, op := range operations(doc) {
		if rb := op.RequestBody; rb != nil {
			for ct, mt := range rb.Value.Content {
				n := checkMedia(key+" request "+ct, mt, openapi3.VisitAsRequest())
				assert.Positive(t, n, "%s (%s) has an example request body", key, op.OperationID)
			}
		}
		for status, resp := range op.Responses.Map() {
			for ct, mt := range resp.Value.Content {
				checkMedia(key+" "+status+" "+ct, mt, openapi3.VisitAsResponse())
			}
		}
		for _, p := range op.Parameters {
			if p.Value.Example != nil {
				check(key+" parameter "+p.Value.Name, p.Value.Schema, p.Value.Example)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		if s.Value.Example != nil {
			check("schema "+name, s, s.Value.Example)
		}
	}
	for name, p := range doc.Components.Parameters {
		if p.Value.Example != nil {
			check("parameter "+name, p.Value.Schema, p.Value.Example)
		}
	}
	assert.Greater(t, checked, 40, "examples checked")
}

// The error codes the document lists are the API's: every Code constant
// of api/errors.go and every rule code of the domain.
func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPIYAML())
	apiCodes := codeConstants(t, ".", "errors.go")
	domainCodes := codeConstants(t, "../domain", "")
	require.Contains(t, apiCodes, api.CodeValidationFailed)
	require.NotEmpty(t, domainCodes)

	enum := func(s *openapi3.Schema) []string {
		var out []string
		for _, v := range s.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	all := enum(doc.Components.Schemas["ErrorCode"].Value)
	assert.ElementsMatch(t, dedupe(append(slices.Clone(apiCodes), domainCodes...)), all,
		"components.schemas.ErrorCode lists every code of api/errors.go and of the domain rules")

	// Each status's codes are codes, and 422 has every rule code.
	for name, s := range doc.Components.Schemas {
		if !strings.HasSuffix(name, "Codes") {
			continue
		}
		codes := enum(s.Value.Properties["error"].Value.Properties["code"].Value)
		require.NotEmpty(t, codes, name)
		assert.Subset(t, all, codes, name)
		if name == "UnprocessableEntityCodes" {
			assert.Subset(t, codes, domainCodes, name)
		}
	}
}

// codeConstants lists the string constants named Code* under dir (in the
// file named, or in every non-test Go file below dir).
func codeConstants(t *testing.T, dir, file string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if file != "" && filepath.Base(path) != file {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(spec.Values) {
					continue
				}
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					out = append(out, v)
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return dedupe(out)
}

func dedupe(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// exampleBody is the example request body of the operation opID.
func exampleBody(t *testing.T, doc *openapi3.T, opID string) string {
	t.Helper()
	for _, op := range operations(doc) {
		if op.OperationID == opID {
			require.NotNil(t, op.RequestBody, opID)
			ex := op.RequestBody.Value.Content.Get("application/json").Example
			require.NotNil(t, ex, opID)
			b, err := json.Marshal(ex)
			require.NoError(t, err)
			return string(b)
		}
	}
	require.Fail(t, "no operation "+opID)
	return ""
}

var errNoBearer = errors.New("no bearer key")
