package main

// isolationPathOf is the path the isolation test calls a team command
// route with, when its path has a parameter that is not a resource id:
// team B forgets the subject that owns team A's risks (isolation_risk_test.go),
// which must leave team A's data as it was (subjects are scoped by team).
var isolationPathOf = map[string]string{
	"forgetDataSubject": "/api/v1/privacy/subjects/iso-owner-a/forget",
}
