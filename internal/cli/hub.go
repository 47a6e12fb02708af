package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// hubCmd is `cerulean hub`: hubs and their model quota.
func (a *app) hubCmd() *cobra.Command {
	return group("hub", "Manage hubs and see their quota", []string{"hubs"},
		a.hubListCmd(),
		a.hubShowCmd(),
		a.hubCreateCmd(),
		a.hubQuotaCmd(),
		a.hubInstanceTypesCmd(),
	)
}

func (a *app) hubListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List hubs",
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			hs, err := c.ListHubs(ctx)
			if err != nil {
				return fmt.Errorf("list hubs: %w", err)
			}
			if hs == nil {
				hs = []api.Hub{}
			}
			return a.print(hs, func(w io.Writer) {
				row(w, "NAME", "DESCRIPTION", "QUOTAS", "CREATED")
				for _, h := range hs {
					row(w, h.Name, orDash(h.Description), itoa(len(h.Quotas)), timeCell(h.CreatedAt))
				}
			})
		}),
	}
}

func (a *app) hubShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a hub and its quota limits",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			h, err := c.GetHub(ctx, args[0])
			if err != nil {
				return fmt.Errorf("show hub %s: %w", args[0], err)
			}
			return a.print(h, func(w io.Writer) { hubDetail(w, h) })
		}),
	}
}

func hubDetail(w io.Writer, h api.Hub) {
	field(w, "Name", h.Name)
	field(w, "Description", h.Description)
	field(w, "Created", timeCell(h.CreatedAt))
	if len(h.Quotas) == 0 {
		field(w, "Quotas", "")
		return
	}
	fmt.Fprintln(w, "\nMODEL\tSKU\tLIMIT")
	for _, q := range h.Quotas {
		row(w, q.Model, q.SKU, itoa(q.Limit))
	}
}

func (a *app) hubCreateCmd() *cobra.Command {
	var h api.Hub
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a hub (with the server's default quota)",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			h.Name = args[0]
			created, err := c.CreateHub(ctx, h)
			if err != nil {
				return fmt.Errorf("create hub %s: %w", h.Name, err)
			}
			return a.print(created, func(w io.Writer) { hubDetail(w, created) })
		}),
	}
	cmd.Flags().StringVar(&h.Description, "description", "", "description")
	return cmd
}

func (a *app) hubQuotaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "quota NAME",
		Short: "Show a hub's quota: limit and use per model and deployment type",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			qs, err := c.HubQuotas(ctx, args[0])
			if err != nil {
				return fmt.Errorf("quota of hub %s: %w", args[0], err)
			}
			if qs == nil {
				qs = []api.QuotaUsage{}
			}
			return a.print(qs, func(w io.Writer) {
				row(w, "MODEL", "SKU", "USED", "LIMIT", "UNIT")
				for _, q := range qs {
					row(w, q.Model, q.SKU, itoa(q.Used), itoa(q.Limit), orDash(q.Unit))
				}
			})
		}),
	}
}
