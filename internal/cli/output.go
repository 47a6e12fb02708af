package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// print writes v as indented JSON with -o json, else calls table to write
// the human form.
func (a *app) print(v any, table func(w io.Writer)) error {
	if a.output == "json" {
		return writeJSON(a.env.Stdout, v)
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 8, 2, ' ', 0)
	table(tw)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// done tells what a command without a result did, in table mode only, so
// that -o json output stays empty and parseable.
func (a *app) done(format string, args ...any) {
	if a.output != "json" {
		fmt.Fprintf(a.env.Stdout, format+"\n", args...)
	}
}

// progress is a note to the user on stderr (e.g. "waiting..."), never part
// of the output.
func (a *app) progress(format string, args ...any) {
	fmt.Fprintf(a.env.Stderr, format+"\n", args...)
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// row writes one tab-separated line of a table.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// field writes one "Label:<tab>value" line of a detail view; empty values
// are shown as "-".
func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%s:\t%s\n", label, orDash(value))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// timeCell formats a time in UTC, or "-" when it is unset.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func itoa(n int) string { return strconv.Itoa(n) }

// price formats a price without trailing zeros.
func price(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// confirm asks a yes/no question on stderr and reads the answer from stdin.
// Only "y" or "yes" agree; end of input declines.
func (a *app) confirm(question string) (bool, error) {
	fmt.Fprintf(a.env.Stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		if err == io.EOF {
			fmt.Fprintln(a.env.Stderr)
			return false, nil
		}
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// group is a command that only holds subcommands: without one it prints
// its help; with an unknown one it is a usage error.
func group(use, short string, aliases []string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Aliases: aliases,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	return cmd
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
