package api_test

import "github.com/cspm-es/cspm-es/api"

// withAllServices sets every optional service of d that the route table
// depends on (API keys, audit...) to a fake, so that fullEnv's route table
// is the whole API. Add a line here for each new optional service.
func withAllServices(d *api.Deps) {
	d.Audit = &fakeAudit{}
	d.Keys = &countingKeys{}
	d.Retention = fakeRetention{} // retention_test.go
}
