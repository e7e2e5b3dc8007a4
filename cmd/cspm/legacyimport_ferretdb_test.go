package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The MongoDB smoke layer of the legacy import: the seed documents loaded
// into FerretDB 1.24 (make test-ferretdb starts it and sets the URI), then
// imported with --from-mongodb. FerretDB is not MongoDB: this checks the
// reading path (listing databases and collections, the deprecated name,
// cursors, BSON decoding of ObjectId, dates, int64) but not a MongoDB
// server's own behaviour (its BSON type edge cases, a replica set's read
// concern, authentication). What cannot be loaded into a server is only
// checked by the file import: a line that is not JSON, a second document
// with the same _id (refused by the server), a document without _id (the
// server gives it one).
const legacyFerretEnv = "CSPM_TEST_FERRETDB_URI"

// loadSeedIntoMongo inserts every document of the seed files that a
// server accepts into <db>.<collection>; it returns how many it inserted
// per collection.
func loadSeedIntoMongo(t *testing.T, c *mongo.Client) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(legacySeed, "*.json"))
	require.NoError(t, err)
	inserted := map[string]int{}
	for _, p := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(p), ".json"), ".")
		require.Len(t, parts, 2)
		coll := c.Database(parts[0]).Collection(parts[1])
		t.Cleanup(func() { _ = c.Database(parts[0]).Drop(context.Background()) })
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var docs [][]byte
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			var arr []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &arr))
			for _, d := range arr {
				docs = append(docs, d)
			}
		} else {
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				docs = append(docs, append([]byte(nil), sc.Bytes()...))
			}
		}
		for _, d := range docs {
			var doc bson.D
			if err := bson.UnmarshalExtJSON(d, false, &doc); err != nil {
				continue // not a document: only the file import sees it
			}
			if _, err := coll.InsertOne(t.Context(), doc); err != nil {
				require.True(t, mongo.IsDuplicateKeyError(err), "%s: %v", p, err)
				continue
			}
			inserted[parts[1]]++
		}
	}
	return inserted
}

func TestImportLegacy_FerretDB(t *testing.T) {
	uri := os.Getenv(legacyFerretEnv)
	if uri == "" {
		t.Skip("no MongoDB-compatible server (FerretDB smoke layer) to import from: " + legacyFerretEnv + " is not set; make test, through make test-ferretdb, runs this test against FerretDB")
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	inserted := loadSeedIntoMongo(t, c)
	assert.Equal(t, map[string]int{"users": 4, "cloud_accounts": 4, "enhanced_cloud_accounts": 3, "scan_runs": 4, "findings": 7}, inserted,
		"the broken scan run line is not a document; the second finding with the same _id is refused")

	cfg, env := legacyEnv(t)
	r, first := importLegacyRun(t, env, "--from-mongodb", uri, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, "%s\n%s", r.stdout, r.stderr)
	assert.Equal(t, map[string]legacyKind{
		"users":     {Kind: "users", Read: 4, Imported: 3, Skipped: 1},
		"accounts":  {Kind: "accounts", Read: 7, Imported: 4, Skipped: 2},
		"scan_runs": {Kind: "scan_runs", Read: 4, Imported: 3, Skipped: 1},
		// The document without _id got one from the server; it names no
		// team, so it is --team's, whose scan legacy-scan-1 is not: skipped.
		"findings": {Kind: "findings", Read: 7, Imported: 4, Skipped: 3},
	}, kinds(first))
	assert.Contains(t, first.Databases, legacyDatabase{Name: "cspm_platform_core", ReadAs: "cspm_platform", Deprecated: true})
	assert.Contains(t, r.stdout, "database cspm_platform_core read as cspm_platform (deprecated name)")
	head := headPosition(t, cfg)
	assert.Equal(t, head, first.Position)

	// The same documents from files: the same streams, nothing appended
	// (the idempotency keys are the legacy ids, whatever the source).
	r, fromFiles := importLegacyRun(t, env, "--from-dir", legacySeed, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Zero(t, fromFiles.Events, "%+v", fromFiles.Kinds)
	assert.Equal(t, 4, kinds(fromFiles)["findings"].Already)

	r, second := importLegacyRun(t, env, "--from-mongodb", uri, "--team", "team-default")
	require.Equal(t, exitFailure, r.code, r.stderr)
	assert.Zero(t, second.Events)
	assert.Equal(t, head, headPosition(t, cfg), "the second run appends nothing")
}
