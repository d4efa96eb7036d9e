package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// readyTimeout bounds the wait for the frontend when ctx has no deadline.
const readyTimeout = 30 * time.Second

// configureNamespace waits until the frontend answers for the namespace, then
// brings its retention and custom search attributes to what opts asks for.
// The namespace itself was written to the database before the server started.
func configureNamespace(ctx context.Context, addr string, opts Options, logger *slog.Logger) error {
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	var c client.Client
	var desc *workflowservice.DescribeNamespaceResponse
	err := retry(readyCtx, func(ctx context.Context) error {
		var err error
		if c == nil {
			c, err = client.DialContext(ctx, client.Options{
				HostPort:  addr,
				Namespace: opts.Namespace,
				Logger:    sdklog.NewStructuredLogger(logger),
			})
			if err != nil {
				c = nil
				return err
			}
		}
		desc, err = c.WorkflowService().DescribeNamespace(ctx,
			&workflowservice.DescribeNamespaceRequest{Namespace: opts.Namespace})
		return err
	})
	if c != nil {
		defer c.Close()
	}
	if err != nil {
		return fmt.Errorf("wait for the frontend at %s: %w", addr, err)
	}

	if cur := desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); cur != opts.Retention {
		_, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: opts.Namespace,
			Config: &namespacepb.NamespaceConfig{
				WorkflowExecutionRetentionTtl: durationpb.New(opts.Retention),
			},
		})
		if err != nil {
			return fmt.Errorf("set retention of namespace %s to %s: %w", opts.Namespace, opts.Retention, err)
		}
	}

	return addSearchAttributes(ctx, c.OperatorService(), opts.Namespace, opts.SearchAttributes)
}

// addSearchAttributes registers the attributes of want that the namespace
// lacks. A namespace created on this boot has them all already; an older one
// may not.
func addSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient,
	ns string, want map[string]enumspb.IndexedValueType,
) error {
	if len(want) == 0 {
		return nil
	}
	list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", ns, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		have, ok := list.GetCustomAttributes()[name]
		if !ok {
			missing[name] = want[name]
			continue
		}
		if have != want[name] {
			return fmt.Errorf("search attribute %s of namespace %s has type %s, want %s; "+
				"the type of a search attribute cannot change (start with a new --data-dir)",
				name, ns, have, want[name])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        ns,
		SearchAttributes: missing,
	})
	if err != nil {
		return fmt.Errorf("add search attributes %v to namespace %s: %w",
			slices.Sorted(maps.Keys(missing)), ns, err)
	}
	return nil
}

// retry calls fn until it succeeds or ctx ends, backing off from 20 ms to
// 500 ms. Each attempt gets at most 5 s.
func retry(ctx context.Context, fn func(context.Context) error) error {
	wait := 20 * time.Millisecond
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
