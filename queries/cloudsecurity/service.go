package cloudsecurity

import "github.com/cspm-es/cspm-es/queries"

// Stores are the module databases the findings queries read, one store
// each.
type Stores struct {
	CloudSecurity queries.DocReader // cspm_cloud_security: findings, imports, muting_rules
}

// Service runs the findings queries. It is safe for concurrent use if the
// stores are.
type Service struct {
	cloudSecurity queries.DocReader
}

// New returns the findings queries. It panics on a missing store: that is
// a wiring mistake to catch at start-up.
func New(s Stores) *Service {
	if s.CloudSecurity == nil {
		panic("cloudsecurity.New: a store is missing")
	}
	return &Service{cloudSecurity: s.CloudSecurity}
}

// The read models projections/cloudsecurity writes (a test checks the
// names agree).
const (
	findingsCollection    = "findings"
	importsCollection     = "imports"
	mutingRulesCollection = "muting_rules"
)
