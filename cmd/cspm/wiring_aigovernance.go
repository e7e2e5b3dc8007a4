package main

import (
	"go.uber.org/fx"

	"github.com/cspm-es/cspm-es/commands"
	aicmd "github.com/cspm-es/cspm-es/commands/aigovernance"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	"github.com/cspm-es/cspm-es/projections"
	aiproj "github.com/cspm-es/cspm-es/projections/aigovernance"
	aiquery "github.com/cspm-es/cspm-es/queries/aigovernance"
)

// AI governance (docs/ai-governance.md): the team's model registry, EU AI
// Act classification and obligations (assessed through the assessments
// module's EU AI Act catalogue), bias tests, model incidents.

var aiGovernanceModule = fx.Module("aigovernance",
	fx.Provide(newAIGovernanceService),
)

// aiGovernanceService is api.AIGovernanceService: the commands and the
// queries in one.
type aiGovernanceService struct {
	*aicmd.Handlers
	*aiquery.Service
}

// newAIGovernanceService runs the commands on the kit and the queries on
// cspm_ai_governance.
func newAIGovernanceService(kit *commands.Kit, rm ReadModels) *aiGovernanceService {
	return &aiGovernanceService{aicmd.New(kit), aiquery.New(rm.Stores[dbregistry.AI_GOVERNANCE])}
}

// aiGovernanceProjections are the module's projections (moduleProjections).
func aiGovernanceProjections() []projections.Projection {
	return []projections.Projection{aiproj.NewRegistry(), aiproj.NewObligations()}
}
