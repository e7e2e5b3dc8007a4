package assessments_test

import (
	"slices"

	"github.com/cspm-es/cspm-es/projections"
)

type projectionsEvent = projections.Event

func concat(ss [][]projections.Event) []projections.Event { return slices.Concat(ss...) }
