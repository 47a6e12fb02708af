package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// hubInstanceTypesCmd is `cerulean hub instance-types NAME`: a hub's
// compute catalog for ManagedCompute deployments, listed or (with --set)
// changed.
func (a *app) hubInstanceTypesCmd() *cobra.Command {
	var it api.InstanceType
	cmd := &cobra.Command{
		Use:   "instance-types HUB [--set NAME --threads N --memory-mb M --price P]",
		Short: "List a hub's instance types for ManagedCompute replicas, or add or change one",
		Example: `  cerulean hub instance-types default
  cerulean hub instance-types default --set cpu-8 --threads 8 --memory-mb 16384 --price 0.40`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			if it.Name != "" {
				if it.Threads < 1 || it.MemoryMB < 1 {
					return usagef("--set %s needs --threads and --memory-mb", it.Name)
				}
				put, err := c.PutInstanceType(ctx, args[0], it)
				if err != nil {
					return fmt.Errorf("set instance type %s of hub %s: %w", it.Name, args[0], err)
				}
				return a.print(put, func(w io.Writer) { instanceTypeRows(w, []api.InstanceType{put}) })
			}
			its, err := c.ListInstanceTypes(ctx, args[0])
			if err != nil {
				return fmt.Errorf("instance types of hub %s: %w", args[0], err)
			}
			if its == nil {
				its = []api.InstanceType{}
			}
			return a.print(its, func(w io.Writer) { instanceTypeRows(w, its) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&it.Name, "set", "", "add or replace the instance type of this name")
	f.IntVar(&it.Threads, "threads", 0, "with --set: engine threads per replica")
	f.IntVar(&it.MemoryMB, "memory-mb", 0, "with --set: memory per replica in MB")
	f.Float64Var(&it.PricePerHour, "price", 0, "with --set: price per replica-hour")
	return cmd
}

func instanceTypeRows(w io.Writer, its []api.InstanceType) {
	row(w, "NAME", "THREADS", "MEMORY MB", "PRICE/HOUR")
	for _, it := range its {
		row(w, it.Name, itoa(it.Threads), itoa(it.MemoryMB), strconv.FormatFloat(it.PricePerHour, 'f', -1, 64))
	}
}
