package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// keysCmd is `cerulean keys`: show and regenerate a project's two keys.
func (a *app) keysCmd() *cobra.Command {
	return group("keys", "Show and regenerate a project's keys", []string{"key"},
		a.keysListCmd(),
		a.keysRegenerateCmd(),
	)
}

func (a *app) keysListCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "list --project P",
		Aliases: []string{"ls"},
		Short:   "Show a project's keys",
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			keys, err := c.ListKeys(ctx, project)
			if err != nil {
				return fmt.Errorf("list keys of project %s: %w", project, err)
			}
			return a.printKeys(keys)
		}),
	}
	projectFlag(cmd, &project)
	return cmd
}

func (a *app) keysRegenerateCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "regenerate --project P key1|key2",
		Short: "Replace one key; the other keeps working",
		Long: `Replace one key of a project with a new random one. The other key keeps
working, so clients can move to it first: rotate without downtime.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"key1", "key2"},
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			name := strings.ToLower(args[0])
			if name != "key1" && name != "key2" {
				return usagef("key %q: want key1 or key2", args[0])
			}
			keys, err := c.RegenerateKey(ctx, project, name)
			if err != nil {
				return fmt.Errorf("regenerate %s of project %s: %w", name, project, err)
			}
			return a.printKeys(keys)
		}),
	}
	projectFlag(cmd, &project)
	return cmd
}

func (a *app) printKeys(keys api.Keys) error {
	return a.print(keys, func(w io.Writer) {
		row(w, "NAME", "KEY")
		row(w, "key1", keys.Key1)
		row(w, "key2", keys.Key2)
	})
}

// projectFlag adds the required --project flag.
func projectFlag(cmd *cobra.Command, project *string) {
	cmd.Flags().StringVarP(project, "project", "p", "", "project name (required)")
	_ = cmd.MarkFlagRequired("project")
}
