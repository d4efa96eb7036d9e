package workflows_test

import (
	"errors"

	"go.temporal.io/sdk/workflow"
)

func asContinueAsNew(err error, target **workflow.ContinueAsNewError) bool {
	return errors.As(err, target)
}
