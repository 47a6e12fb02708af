package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/api"
)

// Provisioning states of a deployment.
const (
	stateCreating = "Creating"
	stateFailed   = "Failed"
)

// skuManagedCompute is the deployment type of dedicated replicas, whose
// capacity (a replica count) may be 0.
const skuManagedCompute = "ManagedCompute"

// deploymentCmd is `cerulean deployment`: a project's deployments.
func (a *app) deploymentCmd() *cobra.Command {
	return group("deployment", "Manage a project's deployments", []string{"deployments", "deploy"},
		a.deploymentCreateCmd(),
		a.deploymentListCmd(),
		a.deploymentShowCmd(),
		a.deploymentUpdateCmd(),
		a.deploymentDeleteCmd(),
	)
}

// deploymentFlags are the flags naming one deployment: --project and
// --name (or the one positional argument).
type deploymentFlags struct {
	project string
	name    string
}

func (d *deploymentFlags) add(cmd *cobra.Command) {
	projectFlag(cmd, &d.project)
	cmd.Flags().StringVarP(&d.name, "name", "n", "", "deployment name (or give it as the argument)")
}

// resolve takes the name from --name or the argument.
func (d *deploymentFlags) resolve(args []string) error {
	switch {
	case len(args) == 1 && d.name != "" && d.name != args[0]:
		return usagef("--name %q and argument %q disagree", d.name, args[0])
	case len(args) == 1:
		d.name = args[0]
	case d.name == "":
		return usagef("required flag(s) \"name\" not set")
	}
	return nil
}

func (a *app) deploymentCreateCmd() *cobra.Command {
	var (
		id     deploymentFlags
		d      api.Deployment
		noWait bool
	)
	cmd := &cobra.Command{
		Use:   "create --project P --name N --model M [flags]",
		Short: "Deploy a model in a project and wait until it is ready",
		Example: `  cerulean deployment create --project demo --name chat --model llama3 --capacity 10
  cerulean deployment create -p demo -n chat --model llama3 --sku GlobalStandard --no-wait
  cerulean deployment create -p demo -n chat --model llama3 --sku ManagedCompute --instance-type cpu-2 --capacity 2`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			if err := id.resolve(args); err != nil {
				return err
			}
			if d.SKU.Capacity < 0 || d.SKU.Capacity == 0 && d.SKU.Name != skuManagedCompute {
				return usagef("--capacity %d: want at least 1 (0 or more replicas for ManagedCompute)", d.SKU.Capacity)
			}
			d.Name = id.name
			created, err := c.CreateDeployment(ctx, id.project, d)
			if err != nil {
				return fmt.Errorf("create deployment %s: %w", d.Name, err)
			}
			if !noWait && created.ProvisioningState == stateCreating {
				a.progress("Waiting for deployment %s to be ready...", created.Name)
				if created, err = c.WaitDeployment(ctx, id.project, created.Name); err != nil {
					return fmt.Errorf("wait for deployment %s: %w", d.Name, err)
				}
			}
			return a.printDeployment(created)
		}),
	}
	id.add(cmd)
	f := cmd.Flags()
	f.StringVar(&d.Model.Name, "model", "", "catalog model to deploy (required)")
	f.StringVar(&d.Model.Version, "version", "", "model version (default: the model's default version)")
	f.StringVar(&d.SKU.Name, "sku", "Standard", "deployment type, e.g. Standard, GlobalStandard, ProvisionedManaged, ManagedCompute")
	f.IntVar(&d.SKU.Capacity, "capacity", 1, "capacity: K-TPM for Standard, PTUs for ProvisionedManaged, replicas for ManagedCompute")
	f.StringVar(&d.VersionUpgradeOption, "version-upgrade-option", "", "OnceNewDefaultVersionAvailable, OnceCurrentVersionExpired or NoAutoUpgrade")
	f.StringVar(&d.RAIPolicyName, "rai-policy", "", "content filter policy name")
	f.StringVar(&d.InstanceType, "instance-type", "", "ManagedCompute: the instance type of each replica (default: the hub's first; see 'cerulean hub instance-types')")
	f.BoolVar(&d.ScaleToZero, "scale-to-zero", false, "ManagedCompute: at 0 replicas, start one on the first request instead of answering 503")
	f.BoolVar(&noWait, "no-wait", false, "return at once, while the deployment is still being created")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// printDeployment prints d; a Failed deployment is an error after that.
func (a *app) printDeployment(d api.Deployment) error {
	if err := a.print(d, func(w io.Writer) { deploymentDetail(w, d) }); err != nil {
		return err
	}
	if d.ProvisioningState == stateFailed {
		return fmt.Errorf("deployment %s failed: %s", d.Name, orDash(d.Reason))
	}
	return nil
}

func (a *app) deploymentListCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "list --project P",
		Aliases: []string{"ls"},
		Short:   "List a project's deployments",
		Args:    cobra.NoArgs,
		RunE: a.run(func(ctx context.Context, c *api.Client, _ []string) error {
			ds, err := c.ListDeployments(ctx, project)
			if err != nil {
				return fmt.Errorf("list deployments of project %s: %w", project, err)
			}
			if ds == nil {
				ds = []api.Deployment{}
			}
			return a.print(ds, func(w io.Writer) {
				row(w, "NAME", "MODEL", "VERSION", "SKU", "CAPACITY", "STATE")
				for _, d := range ds {
					row(w, d.Name, d.Model.Name, orDash(d.Model.Version), d.SKU.Name, itoa(d.SKU.Capacity), orDash(d.ProvisioningState))
				}
			})
		}),
	}
	projectFlag(cmd, &project)
	return cmd
}

func (a *app) deploymentShowCmd() *cobra.Command {
	var id deploymentFlags
	cmd := &cobra.Command{
		Use:   "show --project P --name N",
		Short: "Show a deployment",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			if err := id.resolve(args); err != nil {
				return err
			}
			d, err := c.GetDeployment(ctx, id.project, id.name)
			if err != nil {
				return fmt.Errorf("show deployment %s: %w", id.name, err)
			}
			return a.print(d, func(w io.Writer) { deploymentDetail(w, d) })
		}),
	}
	id.add(cmd)
	return cmd
}

func deploymentDetail(w io.Writer, d api.Deployment) {
	field(w, "Name", d.Name)
	field(w, "Project", d.Project)
	field(w, "Model", d.Model.Name)
	field(w, "Version", d.Model.Version)
	field(w, "Format", d.Model.Format)
	field(w, "SKU", d.SKU.Name)
	field(w, "Capacity", itoa(d.SKU.Capacity))
	if d.InstanceType != "" {
		field(w, "Instance type", d.InstanceType)
		field(w, "Scale to zero", fmt.Sprint(d.ScaleToZero))
	}
	field(w, "State", d.ProvisioningState)
	if d.Reason != "" {
		field(w, "Reason", d.Reason)
	}
	field(w, "Version upgrade", d.VersionUpgradeOption)
	field(w, "RAI policy", d.RAIPolicyName)
	var limits []string
	for _, l := range d.RateLimits {
		limits = append(limits, fmt.Sprintf("%s %d/%ds", l.Key, l.Count, l.RenewalPeriod))
	}
	field(w, "Rate limits", strings.Join(limits, ", "))
	if d.Capabilities != nil {
		field(w, "Capabilities", capabilityList(*d.Capabilities))
	}
	field(w, "Created", timeCell(d.CreatedAt))
	field(w, "Updated", timeCell(d.UpdatedAt))
}

func (a *app) deploymentUpdateCmd() *cobra.Command {
	var (
		id     deploymentFlags
		noWait bool
	)
	cmd := &cobra.Command{
		Use:   "update --project P --name N [--capacity C] [--version V] [--version-upgrade-option O] [--rai-policy R]",
		Short: "Change a deployment's capacity, version or policies",
		Args:  cobra.MaximumNArgs(1),
	}
	id.add(cmd)
	f := cmd.Flags()
	capacity := f.Int("capacity", 0, "new capacity")
	version := f.String("version", "", "new model version")
	upgrade := f.String("version-upgrade-option", "", "OnceNewDefaultVersionAvailable, OnceCurrentVersionExpired or NoAutoUpgrade")
	rai := f.String("rai-policy", "", "content filter policy name")
	instanceType := f.String("instance-type", "", "ManagedCompute: new instance type (replaces every replica)")
	scaleToZero := f.Bool("scale-to-zero", false, "ManagedCompute: at 0 replicas, start one on the first request (--scale-to-zero=false turns it off)")
	f.BoolVar(&noWait, "no-wait", false, "return at once if the change redeploys the model")
	cmd.RunE = a.run(func(ctx context.Context, c *api.Client, args []string) error {
		if err := id.resolve(args); err != nil {
			return err
		}
		// Only the flags given change anything.
		var u api.DeploymentUpdate
		if f.Changed("capacity") {
			if *capacity < 0 {
				return usagef("--capacity %d: want at least 1 (0 or more replicas for ManagedCompute)", *capacity)
			}
			u.Capacity = capacity
		}
		if f.Changed("version") {
			u.Version = version
		}
		if f.Changed("version-upgrade-option") {
			u.VersionUpgradeOption = upgrade
		}
		if f.Changed("rai-policy") {
			u.RAIPolicyName = rai
		}
		if f.Changed("instance-type") {
			u.InstanceType = instanceType
		}
		if f.Changed("scale-to-zero") {
			u.ScaleToZero = scaleToZero
		}
		if u == (api.DeploymentUpdate{}) {
			return usagef("nothing to update: give --capacity, --version, --version-upgrade-option, --rai-policy, --instance-type or --scale-to-zero")
		}
		d, err := c.UpdateDeployment(ctx, id.project, id.name, u)
		if err != nil {
			return fmt.Errorf("update deployment %s: %w", id.name, err)
		}
		if !noWait && d.ProvisioningState == stateCreating {
			a.progress("Waiting for deployment %s to be ready...", d.Name)
			if d, err = c.WaitDeployment(ctx, id.project, d.Name); err != nil {
				return fmt.Errorf("wait for deployment %s: %w", id.name, err)
			}
		}
		return a.printDeployment(d)
	})
	return cmd
}

func (a *app) deploymentDeleteCmd() *cobra.Command {
	var (
		id     deploymentFlags
		noWait bool
	)
	cmd := &cobra.Command{
		Use:   "delete --project P --name N",
		Short: "Delete a deployment and release its quota",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.run(func(ctx context.Context, c *api.Client, args []string) error {
			if err := id.resolve(args); err != nil {
				return err
			}
			if err := c.DeleteDeployment(ctx, id.project, id.name); err != nil {
				return fmt.Errorf("delete deployment %s: %w", id.name, err)
			}
			if noWait {
				a.done("Deleting deployment %s.", id.name)
				return nil
			}
			a.progress("Waiting for deployment %s to be deleted...", id.name)
			d, err := c.WaitDeployment(ctx, id.project, id.name)
			switch {
			case api.IsNotFound(err):
				a.done("Deleted deployment %s.", id.name)
				return nil
			case err != nil:
				return fmt.Errorf("wait for deployment %s: %w", id.name, err)
			}
			return fmt.Errorf("deployment %s was not deleted: its state is %s (%s)", id.name, d.ProvisioningState, orDash(d.Reason))
		}),
	}
	id.add(cmd)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return at once, while the deployment is still being deleted")
	return cmd
}
