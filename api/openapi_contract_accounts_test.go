package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cspm-es/cspm-es/api"
	"github.com/cspm-es/cspm-es/commands"
	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
	csdomain "github.com/cspm-es/cspm-es/domain/cloudsecurity"
	"github.com/cspm-es/cspm-es/eventstore"
	pt "github.com/cspm-es/cspm-es/projections/projectionstest"
	"github.com/cspm-es/cspm-es/queries"
	csquery "github.com/cspm-es/cspm-es/queries/cloudsecurity"
)

// contractAccounts is the account service as cmd/cspm wires it: the
// commands (asking the accounts read model) and the queries.
type contractAccounts struct {
	*cscmd.Handlers
	*csquery.Service
}

// fakeAccounts serves the account routes in the fullDeps server.
type fakeAccounts struct{}

func (fakeAccounts) RegisterAccount(context.Context, commands.Meta, cscmd.RegisterAccount) (commands.Result, error) {
	return commands.Result{ID: "acc-1", StreamID: "account-acc-1", Version: 1, Position: 1, EventIDs: []string{"e1"}}, nil
}

func (fakeAccounts) RenameAccount(context.Context, commands.Meta, cscmd.RenameAccount) (commands.Result, error) {
	return commands.Result{ID: "acc-1", StreamID: "account-acc-1", Version: 2, Position: 2, EventIDs: []string{"e2"}}, nil
}

func (fakeAccounts) TagAccount(context.Context, commands.Meta, cscmd.TagAccount) (commands.Result, error) {
	return commands.Result{ID: "acc-1", StreamID: "account-acc-1", Version: 3, Position: 3, EventIDs: []string{"e3"}}, nil
}

func (fakeAccounts) RetireAccount(context.Context, commands.Meta, cscmd.RetireAccount) (commands.Result, error) {
	return commands.Result{ID: "acc-1", StreamID: "account-acc-1", Version: 4, Position: 4, EventIDs: []string{"e4"}}, nil
}

func (fakeAccounts) ListAccounts(context.Context, string, csquery.AccountFilter, queries.Page) (csquery.AccountList, error) {
	return csquery.AccountList{}, nil
}

func (fakeAccounts) GetAccount(_ context.Context, _, id string) (csquery.Account, error) {
	return csquery.Account{}, queries.NotFound("account", id)
}

// accountsContract sends the account routes through the contract (called
// by TestOpenAPIContract): an account first seen in an import, registered
// accounts, their changes, and what can go wrong.
func accountsContract(t *testing.T, c *contract, env *contractEnv) {
	t.Helper()
	viewer := map[string]string{"Authorization": "Bearer " + testKey(access.Viewer, "team-a")}
	teamB := map[string]string{"Authorization": "Bearer " + testKey(access.Analyst, "team-b")}

	// Team A imported the second scan of the pair (stored directly).
	req, err := pt.ImportRequest(eventstore.NewDomainCodec(), "team-a", pt.PairScan2()...)
	require.NoError(t, err)
	_, err = env.store.Append(context.Background(), req)
	require.NoError(t, err)
	seen := csdomain.AccountID("team-a", "aws", pt.PairAccount)

	reg := c.send(t, request{Path: "/api/v1/accounts", Body: exampleBody(t, c.doc, "registerAccount"),
		Header: map[string]string{"Idempotency-Key": "contract-account-1"}}, 201, docValid)
	acc := data[api.CommandResult](t, reg)
	assert.Equal(t, csdomain.AccountID("team-a", "aws", "123456789012"), acc.ID)
	assert.Equal(t, "/api/v1/accounts/"+acc.ID, reg.Header.Get("Location"))
	c.send(t, request{Path: "/api/v1/accounts", Body: exampleBody(t, c.doc, "registerAccount")}, 422, docValid)
	c.send(t, request{Path: "/api/v1/accounts", Body: exampleBody(t, c.doc, "registerAccount"), Header: viewer}, 403, docValid)
	res := c.send(t, request{Path: "/api/v1/accounts", Body: `{"provider": "aws", "uid": " "}`}, 400, docInvalid)
	assert.Equal(t, "uid", res.Env.Error.Details[0].Field)
	c.send(t, request{Path: "/api/v1/accounts", Body: `{"provider": "aws"}`}, 400, docInvalid)

	c.send(t, request{Path: "/api/v1/accounts/" + acc.ID + "/rename", Body: exampleBody(t, c.doc, "renameAccount")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/accounts/" + acc.ID + "/rename", Body: exampleBody(t, c.doc, "renameAccount")}, 422, docValid)
	c.send(t, request{Path: "/api/v1/accounts/" + acc.ID + "/tag", Body: exampleBody(t, c.doc, "tagAccount")}, 202, docValid)
	c.send(t, request{Path: "/api/v1/accounts/" + acc.ID + "/tag", Body: `{"tags": {"": "x"}}`}, 400, docEither)
	c.send(t, request{Path: "/api/v1/accounts/" + acc.ID + "/rename", Body: `{"name": "x"}`, Header: teamB}, 404, docValid)

	// The account seen in the import: known once the projection has it.
	list := c.get(t, "/api/v1/accounts?min_position="+fmt.Sprint(headOf(t, env)), 200, docValid)
	var ids []string
	for _, a := range data[[]csquery.Account](t, list) {
		ids = append(ids, a.ID)
	}
	assert.Subset(t, ids, []string{seen, acc.ID}, "registered, and first seen in an import")
	renamed := c.send(t, request{Path: "/api/v1/accounts/" + seen + "/rename", Body: `{"name": "audit"}`}, 202, docValid)
	retired := c.send(t, request{Path: "/api/v1/accounts/" + seen + "/retire", Body: exampleBody(t, c.doc, "retireAccount")}, 202, docValid)
	assert.Equal(t, int64(2), data[api.CommandResult](t, retired).Version, "the rename created its stream")
	c.send(t, request{Path: "/api/v1/accounts/" + seen + "/retire", Header: map[string]string{"Content-Length": "0"}}, 422, docEither)
	_ = renamed

	got := c.get(t, "/api/v1/accounts/"+seen+"?min_position="+fmt.Sprint(headOf(t, env)), 200, docValid)
	a := data[csquery.Account](t, got)
	assert.Equal(t, "audit", a.Name)
	assert.Equal(t, "retired", a.Status)
	assert.Equal(t, int64(3), a.OpenFindings.Total, "scan 2 fixed scan 1's six and raised three")
	c.get(t, "/api/v1/accounts?provider=aws&status=retired", 200, docValid)
	c.get(t, "/api/v1/accounts?status=gone", 400, docInvalid)
	c.get(t, "/api/v1/accounts/acc-00000000000000000000000000000000", 404, docValid)
	byB := c.get(t, "/api/v1/accounts", 200, docValid, "Authorization", teamB["Authorization"])
	assert.Empty(t, data[[]json.RawMessage](t, byB))
	c.send(t, request{Method: http.MethodGet, Path: "/api/v1/accounts/" + seen, Header: teamB}, 404, docValid)
}

func headOf(t *testing.T, env *contractEnv) int64 {
	t.Helper()
	h, err := env.store.HeadPosition(context.Background())
	require.NoError(t, err)
	return h
}
