package mongostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cspm-es/cspm-es/platform/readmodel"
	"github.com/cspm-es/cspm-es/platform/readmodel/mongostore"
	"github.com/cspm-es/cspm-es/platform/readmodel/readmodeltest"
)

// The servers the contract suite runs against: a real MongoDB (the gate,
// make test-mongo) and FerretDB 1.24 with its SQLite backend (the smoke
// layer of make test, started by the tools/ferretdb module).
const (
	mongoURIEnv   = "CSPM_TEST_MONGODB_URI"
	ferretURIEnv  = "CSPM_TEST_FERRETDB_URI"
	mongoSkipMsg  = "MongoDB read-model contract suite NOT RUN: " + mongoURIEnv + " is not set (make test-mongo)"
	ferretSkipMsg = "FerretDB smoke run of the read-model contract suite NOT RUN: " + ferretURIEnv + " is not set (make test-ferretdb)"
)

// ferretDB is what FerretDB 1.24 lacks of what the suite checks.
var ferretDB = readmodeltest.Target{
	Name: "FerretDB 1.24 with SQLite (SMOKE LAYER; make test-mongo against a replica set is the gate)",
	Lacks: []readmodeltest.Capability{
		readmodeltest.Transactions,
		readmodeltest.PartialIndexes,
		readmodeltest.TTLIndexes,
		readmodeltest.RenameOverTarget,
		readmodeltest.DuplicateKeyDetails,
	},
}

// TestMain prints what the suite did not check on the servers it ran
// against (go test shows test logs only with -v or on failure).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, line := range readmodeltest.Summary() {
		fmt.Println(line)
	}
	os.Exit(code)
}

func client(t *testing.T, env, skipMsg string) *mongo.Client {
	t.Helper()
	uri := os.Getenv(env)
	if uri == "" {
		t.Skip(skipMsg)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Disconnect(context.Background())) })
	return c
}

// openFresh opens a store on a database of its own, dropped afterwards.
func openFresh(t *testing.T, c *mongo.Client, opts mongostore.Options) *mongostore.Store {
	t.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "cspm_rmtest_" + hex.EncodeToString(rnd[:])
	s, err := mongostore.Open(t.Context(), c, name, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.NoError(t, c.Database(name).Drop(context.Background()))
	})
	return s
}

// TestContract runs the suite in the deployment's own mode (transactions on
// a replica set), and TestContractPositionGuards again with position guards
// forced.
func TestContract(t *testing.T) {
	c := client(t, mongoURIEnv, mongoSkipMsg)
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store {
		return openFresh(t, c, mongostore.Options{Mode: mongostore.ModeAuto})
	})
}

func TestContractPositionGuards(t *testing.T) {
	c := client(t, mongoURIEnv, mongoSkipMsg)
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store {
		return openFresh(t, c, mongostore.Options{Mode: mongostore.ModeGuards})
	})
}

// TestContractFerretDB is the smoke layer: the suite against FerretDB,
// which has no transactions (the store runs with position guards), so
// the capabilities it lacks are declared and reported, not checked.
func TestContractFerretDB(t *testing.T) {
	c := client(t, ferretURIEnv, ferretSkipMsg)
	s := openFresh(t, c, mongostore.Options{})
	require.False(t, s.Info().Transactions, "FerretDB reports no replica set: ModeAuto chooses position guards")
	_, err := mongostore.Open(t.Context(), c, "cspm_rmtest_txn", mongostore.Options{Mode: mongostore.ModeTransactions})
	require.ErrorIs(t, err, mongostore.ErrNoTransactions)

	readmodeltest.RunTarget(t, ferretDB, func(t *testing.T) readmodel.Store {
		return openFresh(t, c, mongostore.Options{NoPartialIndexes: true})
	})
}
