package mongostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

const skipMsg = "MongoDB read-model contract suite NOT RUN: CSPM_TEST_MONGODB_URI is not set (make test-mongo)"

func client(t *testing.T) *mongo.Client {
	t.Helper()
	uri := os.Getenv("CSPM_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip(skipMsg)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Disconnect(context.Background())) })
	return c
}

// openFresh opens a store on a database of its own, dropped afterwards.
func openFresh(t *testing.T, c *mongo.Client, mode mongostore.Mode) readmodel.Store {
	t.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "cspm_rmtest_" + hex.EncodeToString(rnd[:])
	s, err := mongostore.Open(t.Context(), c, name, mongostore.Options{Mode: mode})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.NoError(t, c.Database(name).Drop(context.Background()))
	})
	return s
}

// TestContract runs the suite in the deployment's own mode (transactions on
// a replica set), and again with position guards forced.
func TestContract(t *testing.T) {
	c := client(t)
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store { return openFresh(t, c, mongostore.ModeAuto) })
}

func TestContractPositionGuards(t *testing.T) {
	c := client(t)
	readmodeltest.Run(t, func(t *testing.T) readmodel.Store { return openFresh(t, c, mongostore.ModeGuards) })
}
