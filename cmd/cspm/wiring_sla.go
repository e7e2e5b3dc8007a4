package main

import (
	"time"

	"github.com/cspm-es/cspm-es/commands"
	vulncmd "github.com/cspm-es/cspm-es/commands/vulnerabilities"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	vulnquery "github.com/cspm-es/cspm-es/queries/vulnerabilities"
)

// slaService is api.SLAService: the SLA policy command and the SLA
// queries (docs/sla.md) in one.
type slaService struct {
	*vulncmd.SLAHandlers
	*vulnquery.SLAService
}

// newSLAService sets policies on the kit and reads cspm_vulnerabilities,
// breaches measured against the wall clock.
func newSLAService(kit *commands.Kit, rm ReadModels) *slaService {
	return &slaService{vulncmd.NewSLA(kit), vulnquery.NewSLA(rm.Stores[dbregistry.VULNERABILITIES], time.Now)}
}
