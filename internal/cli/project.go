package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// projectCmd is `cerulean project`: create, list, show and delete projects.
func (a *app) projectCmd() *cobra.Command {
	return group("project", "Manage projects: an endpoint with two keys and its deployments", []string{"projects"},
		a.projectCreateCmd(),
		a.projectListCmd(),
		a.projectShowCmd(),
		a.projectDeleteCmd(),
	)
}

func (a *app) projectCreateCmd() *cobra.Command {
	var p api.CreateProject
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			p.Name = args[0]
			created, err := c.CreateProject(ctx, p)
			if err != nil {
				return fmt.Errorf("create project %s: %w", p.Name, err)
			}
			if err := a.print(created, func(w io.Writer) { projectDetail(w, created) }); err != nil {
				return err
			}
			if a.output != "json" {
				a.progress("Its keys: cerulean keys list --project %s", created.Name)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&p.Hub, "hub", "", `hub that owns the project's quota (default "default")`)
	f.StringVar(&p.Region, "region", "", "region label")
	f.StringVar(&p.Description, "description", "", "description")
	return cmd
}

func (a *app) projectListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List projects",
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			ps, err := c.ListProjects(ctx)
			if err != nil {
				return fmt.Errorf("list projects: %w", err)
			}
			if ps == nil {
				ps = []api.Project{}
			}
			return a.print(ps, func(w io.Writer) {
				row(w, "NAME", "HUB", "REGION", "ENDPOINT", "CREATED")
				for _, p := range ps {
					row(w, p.Name, p.Hub, orDash(p.Region), p.Endpoint, timeCell(p.CreatedAt))
				}
			})
		}),
	}
}

func (a *app) projectShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a project",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			p, err := c.GetProject(ctx, args[0])
			if err != nil {
				return fmt.Errorf("show project %s: %w", args[0], err)
			}
			return a.print(p, func(w io.Writer) { projectDetail(w, p) })
		}),
	}
}

func projectDetail(w io.Writer, p api.Project) {
	field(w, "Name", p.Name)
	field(w, "Hub", p.Hub)
	field(w, "Region", p.Region)
	field(w, "Description", p.Description)
	field(w, "Endpoint", p.Endpoint)
	field(w, "Created", timeCell(p.CreatedAt))
}

func (a *app) projectDeleteCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a project with its keys and deployments",
		Args:  cobra.ExactArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			name := args[0]
			if !yes {
				ok, err := a.confirm(fmt.Sprintf("Delete project %s with its keys and deployments?", name))
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("project %s not deleted: not confirmed (pass --yes to skip the question)", name)
				}
			}
			if err := c.DeleteProject(ctx, name); err != nil {
				return fmt.Errorf("delete project %s: %w", name, err)
			}
			a.done("Deleted project %s.", name)
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
