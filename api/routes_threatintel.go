package api

import (
	"strings"

	"github.com/labstack/echo/v4"

	cscmd "github.com/cspm-es/cspm-es/commands/cloudsecurity"
	"github.com/cspm-es/cspm-es/domain/access"
)

// Threat intelligence: the KEV catalogue arrives through POST
// /api/v1/imports (?format=kev-json|kev-csv). The catalogue is global
// public data, so importing it needs the admin role (of any team); the
// analyst role the import route asks for is enough for scanner reports
// only (docs/threat-intelligence.md, decision 51).

// feedImportParams reads ?force= and refuses a KEV feed to a key below
// admin.
func feedImportParams(c echo.Context, p params, cmd *cscmd.ImportReport) error {
	force, err := p.flag(paramForce)
	if err != nil {
		return err
	}
	cmd.Force = force != nil && *force
	if isKEVFormat(cmd.Format) {
		if have := principal(c).Role; !have.Allows(access.Admin) {
			return &forbiddenError{have: have, need: access.Admin}
		}
	}
	return nil
}

// isKEVFormat tells a KEV feed's format name (kev-json, kev-csv).
func isKEVFormat(format string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(format)), "kev-")
}
