package main

import (
	"net/http"
	"testing"

	"github.com/cspm-es/cspm-es/api"
)

// isolationQuery is the query string the isolation test sends to the
// list routes that need one (the search needs q).
var isolationQuery = map[string]string{
	"/api/v1/kb/search": "q=rotate+keys+runbook+isokbsecretword&mode=auto",
}

// isolationKnowledgeBase adds, as team A, a document, an updated one and
// a removed one, all about rotating keys (what team B searches for too),
// and returns their ids and a word only team A's texts hold.
func isolationKnowledgeBase(t *testing.T, a *testApp, as []string) (docs []string, secret string) {
	t.Helper()
	secret = "isokbsecretword"
	add := func(title, text string) string {
		var res api.CommandResult
		must(t, a.call(t, http.MethodPost, "/api/v1/kb/documents", map[string]any{"title": title, "format": "markdown", "text": text}, as...), http.StatusCreated).data(t, &res)
		return res.ID
	}
	active := add("iso kb active", "# Keys\n\nRotate keys per the runbook; "+secret+" lives here.")
	updated := add("iso kb updated", "Old runbook text.")
	must(t, a.call(t, http.MethodPut, "/api/v1/kb/documents/"+updated, map[string]any{"title": "iso kb updated 2", "text": "Rotate keys weekly: " + secret + "."}, as...), http.StatusAccepted)
	removed := add("iso kb removed", "Rotate keys runbook, removed: "+secret+".")
	must(t, a.call(t, http.MethodDelete, "/api/v1/kb/documents/"+removed, nil, as...), http.StatusAccepted)
	return []string{active, updated, removed}, secret
}
