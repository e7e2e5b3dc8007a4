package main

import (
	"time"

	"github.com/cspm-es/cspm-es/commands"
	biacmd "github.com/cspm-es/cspm-es/commands/bia"
	"github.com/cspm-es/cspm-es/platform/dbregistry"
	biaquery "github.com/cspm-es/cspm-es/queries/bia"
)

// biaService is api.BIAService: the business impact analysis commands
// and queries (docs/bia.md) in one.
type biaService struct {
	*biacmd.Handlers
	*biaquery.Service
}

// newBIAService decides on the kit and reads cspm_bia; "now" (the end of
// a comparison without ?to=) is the wall clock.
func newBIAService(kit *commands.Kit, rm ReadModels) *biaService {
	return &biaService{biacmd.New(kit), biaquery.New(rm.Stores[dbregistry.BIA], time.Now)}
}
