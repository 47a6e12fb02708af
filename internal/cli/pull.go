package cli

import (
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/pull"
)

// pullOutput is what `models pull -o json` prints.
type pullOutput struct {
	Repo     string `json:"repo"`
	File     string `json:"file"`
	Revision string `json:"revision"`
	pull.Result
}

// modelsPullCmd is `cerulean models pull`: download a GGUF file from
// Hugging Face into the data folder. It runs locally; no server is needed.
func (a *app) modelsPullCmd() *cobra.Command {
	var endpoint, revision, sum string
	cmd := &cobra.Command{
		Use:   "pull OWNER/REPO/FILE.gguf",
		Short: "Download a GGUF model from Hugging Face into the data folder",
		Long: `Download a GGUF file from a Hugging Face repository into
<data folder>/models/OWNER__REPO/FILE (the data folder is CERULEAN_DATA, else
$XDG_DATA_HOME/cerulean or ~/.local/share/cerulean).

An interrupted download is resumed by running the same command again. The
file's SHA-256 is checked against the one Hugging Face publishes (and
against --sha256 when given), and the file must be valid GGUF. A file that
is already there is not downloaded again.

HF_TOKEN, when set, is sent for gated and private repositories; HF_ENDPOINT
(or --endpoint) points at a mirror. The argument may also be a
https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE (or /blob/) URL.`,
		Example: `  cerulean models pull Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf
  cerulean models pull bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q8_0.gguf --revision main`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parsePullRef(args[0])
			if err != nil {
				return err
			}
			if _, err := hex.DecodeString(sum); err != nil || (sum != "" && len(sum) != 64) {
				return usagef("--sha256 %q: want 64 hex digits", sum)
			}
			if cmd.Flags().Changed("revision") || ref.revision == "" {
				ref.revision = revision
			}
			if !cmd.Flags().Changed("endpoint") && ref.endpoint != "" {
				endpoint = ref.endpoint
			}
			if endpoint == "" {
				endpoint = a.env.Getenv("HF_ENDPOINT")
			}
			o := pull.Options{
				Endpoint:   endpoint,
				Repo:       ref.repo,
				File:       ref.file,
				Revision:   ref.revision,
				Token:      a.env.Getenv("HF_TOKEN"),
				Dir:        filepath.Join(config.Defaults(a.env.Getenv).DataDir, "models"),
				SHA256:     sum,
				Progress:   a.env.Stderr,
				IsTerminal: isTerminal(a.env.Stderr),
			}
			path, err := o.Path()
			if err != nil {
				return usageError{err}
			}
			if _, err := os.Stat(path); err != nil {
				a.progress("Pulling %s/%s (revision %s) into %s", ref.repo, ref.file, ref.revision, filepath.Dir(path))
			}
			res, err := pull.Pull(cmd.Context(), o)
			if err != nil {
				return err
			}
			if res.Existing {
				a.progress("Already downloaded: %s", res.Path)
			}
			out := pullOutput{Repo: ref.repo, File: ref.file, Revision: ref.revision, Result: res}
			if err := a.print(out, func(w io.Writer) {
				field(w, "Path", res.Path)
				field(w, "Size", byteSize(res.Size)+" ("+strconv.FormatInt(res.Size, 10)+" bytes)")
				field(w, "Architecture", res.Architecture)
				field(w, "Parameters", paramCount(res.Parameters)+" ("+strconv.FormatUint(res.Parameters, 10)+")")
				if res.SHA256 != "" {
					field(w, "SHA-256", res.SHA256)
				}
			}); err != nil {
				return err
			}
			a.done("\nAdd it to the catalog with: cerulean models add %s", res.Path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&revision, "revision", "main", "branch, tag or commit of the repository")
	f.StringVar(&endpoint, "endpoint", "", "hub URL (default $HF_ENDPOINT, else https://huggingface.co)")
	f.StringVar(&sum, "sha256", "", "expected SHA-256 of the file, in hex")
	return cmd
}

// pullRef is a parsed `models pull` argument.
type pullRef struct {
	repo, file, revision, endpoint string
}

// parsePullRef takes OWNER/REPO/FILE or a Hugging Face file URL.
func parsePullRef(s string) (pullRef, error) {
	bad := usagef("%q: want OWNER/REPO/FILE.gguf, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf", s)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return pullRef{}, bad
		}
		parts := strings.SplitN(strings.Trim(u.Path, "/"), "/", 5)
		if len(parts) != 5 || (parts[2] != "resolve" && parts[2] != "blob") {
			return pullRef{}, usagef("%q: want a URL like https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE.gguf", s)
		}
		return pullRef{repo: parts[0] + "/" + parts[1], revision: parts[3], file: parts[4], endpoint: u.Scheme + "://" + u.Host}, nil
	}
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return pullRef{}, bad
	}
	return pullRef{repo: parts[0] + "/" + parts[1], file: parts[2]}, nil
}

// isTerminal reports whether w is a terminal (a character device), so that
// progress can redraw one line in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
