// Package pull downloads GGUF models from Hugging Face (or any server with
// its URL layout, {endpoint}/{repo}/resolve/{revision}/{file}).
//
// A download goes to FILE.partial next to its destination and is renamed
// when complete and checked. An interrupted download leaves the .partial
// behind and the next Pull resumes it with a Range request (or starts over
// when the server ignores ranges). The file's SHA-256 is checked against
// Options.SHA256 and against the X-Linked-ETag header Hugging Face sends for
// LFS files; a mismatch deletes the partial. Finally the file must parse as
// GGUF.
package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// Options says what to download and where.
type Options struct {
	// Endpoint is the hub's base URL; empty means DefaultEndpoint.
	Endpoint string
	// Repo is "owner/name"; File is the path of the file in the repository.
	Repo, File string
	// Revision is a branch, tag or commit; empty means "main".
	Revision string
	// Token, when set, is sent as "Authorization: Bearer TOKEN" (for gated
	// and private repositories). Go's client drops it on redirects to
	// another host, such as Hugging Face's CDN.
	Token string
	// Dir is the models folder: the file is saved as
	// Dir/<Repo with "/" replaced by "__">/<File>.
	Dir string
	// SHA256, when set, is the expected hex SHA-256 of the file.
	SHA256 string
	// Client makes the requests; nil means a client without an overall
	// timeout (downloads are long) but with connection timeouts.
	Client *http.Client
	// Progress receives the progress display; nil means none.
	Progress io.Writer
	// IsTerminal makes the display one line redrawn in place with \r;
	// otherwise it prints a plain line every few seconds.
	IsTerminal bool

	now func() time.Time // the clock, for tests; nil means time.Now
}

// Result describes the downloaded file.
type Result struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Architecture is general.architecture.
	Architecture string `json:"architecture"`
	// Parameters is the number of weights (the tensors' elements).
	Parameters uint64 `json:"parameters"`
	// Resumed is how many bytes came from an earlier, interrupted download.
	Resumed int64 `json:"resumed,omitempty"`
	// Existing is true when the file was already there and nothing was
	// downloaded.
	Existing bool `json:"existing,omitempty"`
}

// ErrChecksum is wrapped by the error of a download whose SHA-256 is not
// the expected one.
var ErrChecksum = errors.New("checksum mismatch")

// Path returns where Pull saves o's file.
func (o Options) Path() (string, error) {
	if err := checkRepo(o.Repo); err != nil {
		return "", err
	}
	if err := checkFile(o.File); err != nil {
		return "", err
	}
	return filepath.Join(o.Dir, strings.ReplaceAll(o.Repo, "/", "__"), filepath.FromSlash(o.File)), nil
}

func checkRepo(repo string) error {
	parts := strings.Split(repo, "/")
	if len(parts) != 2 || !validSegment(parts[0]) || !validSegment(parts[1]) {
		return fmt.Errorf("pull: repository %q: want OWNER/NAME", repo)
	}
	return nil
}

func checkFile(file string) error {
	if file == "" || strings.HasPrefix(file, "/") || strings.Contains(file, `\`) {
		return fmt.Errorf("pull: file %q: want a path inside the repository", file)
	}
	for _, p := range strings.Split(file, "/") {
		if !validSegment(p) {
			return fmt.Errorf("pull: file %q: want a path inside the repository", file)
		}
	}
	return nil
}

func validSegment(s string) bool { return s != "" && s != "." && s != ".." }

// URL returns the download URL of o's file.
func (o Options) URL() string {
	ep := strings.TrimRight(o.Endpoint, "/")
	if ep == "" {
		ep = DefaultEndpoint
	}
	rev := o.Revision
	if rev == "" {
		rev = "main"
	}
	var file []string
	for _, p := range strings.Split(o.File, "/") {
		file = append(file, url.PathEscape(p))
	}
	return ep + "/" + o.Repo + "/resolve/" + url.PathEscape(rev) + "/" + strings.Join(file, "/")
}

// Pull downloads o's file, resuming a partial download, checks it and
// returns what it is. If the file is already there it is only checked
// (against o.SHA256 when set) and described.
func Pull(ctx context.Context, o Options) (Result, error) {
	path, err := o.Path()
	if err != nil {
		return Result{}, err
	}
	if o.SHA256 != "" {
		if !isSHA256(o.SHA256) {
			return Result{}, fmt.Errorf("pull: SHA-256 %q: want 64 hex digits", o.SHA256)
		}
		o.SHA256 = strings.ToLower(o.SHA256)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if _, err := os.Stat(path); err == nil {
		return existing(o, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}
	d := &download{o: o, path: path, partial: path + ".partial"}
	d.client = d.withRedirectHook(o.Client)
	res, err := d.run(ctx)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// existing checks and describes a file that is already downloaded.
func existing(o Options, path string) (Result, error) {
	res := Result{Path: path, Existing: true}
	if o.SHA256 != "" {
		sum, err := hashFile(path, sha256.New())
		if err != nil {
			return Result{}, err
		}
		res.SHA256 = hex.EncodeToString(sum.Sum(nil))
		if res.SHA256 != o.SHA256 {
			return Result{}, fmt.Errorf("pull: %s is already there but its SHA-256 is %s, not %s; delete it to download again: %w", path, res.SHA256, o.SHA256, ErrChecksum)
		}
	}
	if err := describe(path, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// download is one Pull in progress.
type download struct {
	o             Options
	path, partial string
	client        *http.Client
	linkedETag    string // the SHA-256 a response in the redirect chain named
}

// withRedirectHook returns a copy of c that records X-Linked-ETag from the
// redirect responses: Hugging Face sends it on the 302 to its CDN, and the
// client only returns the final response.
func (d *download) withRedirectHook(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = time.Minute
		cc.Transport = tr
	}
	next := cc.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Response != nil {
			d.noteETag(req.Response.Header)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// noteETag keeps the SHA-256 from an X-Linked-ETag header, if it holds one
// (for files not in LFS it is a git blob hash, which is not a SHA-256).
func (d *download) noteETag(h http.Header) {
	v := strings.TrimPrefix(strings.TrimSpace(h.Get("X-Linked-Etag")), "W/")
	v = strings.Trim(v, `"`)
	if isSHA256(v) {
		d.linkedETag = strings.ToLower(v)
	}
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// name is how errors refer to the file.
func (d *download) name() string { return d.o.Repo + "/" + d.o.File }

func (d *download) run(ctx context.Context) (Result, error) {
	var offset int64
	if st, err := os.Stat(d.partial); err == nil {
		offset = st.Size()
	}
	asked := offset
	resp, offset, total, err := d.request(ctx, offset)
	if err != nil {
		return Result{}, err
	}
	if asked > 0 && offset == 0 && d.o.Progress != nil {
		fmt.Fprintf(d.o.Progress, "The server cannot resume a download: starting %s over (%s were already there).\n", d.name(), size(asked))
	}
	var body io.ReadCloser = http.NoBody
	if resp != nil {
		body = resp.Body
		d.noteETag(resp.Header)
	}
	defer body.Close()

	flags := os.O_WRONLY | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(d.partial, flags, 0o644)
	if err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}
	defer f.Close() // a second Close after the explicit one is harmless
	h := sha256.New()
	if offset > 0 {
		if _, err := hashFile(d.partial, h); err != nil {
			return Result{}, err
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return Result{}, fmt.Errorf("pull: %w", err)
		}
	}

	p := newProgress(d.o.Progress, d.o.IsTerminal, d.o.now)
	p.start(total, offset)
	n, err := copyWithProgress(io.MultiWriter(f, h), body, p)
	if err != nil {
		f.Close()
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("pull: %s: interrupted after %s; run the same command to resume from %s: %w",
				d.name(), size(offset+n), d.partial, ctx.Err())
		}
		return Result{}, fmt.Errorf("pull: %s: download failed after %s (run again to resume): %w", d.name(), size(offset+n), err)
	}
	p.finish()
	got := offset + n
	if total >= 0 && got != total {
		f.Close()
		return Result{}, fmt.Errorf("pull: %s: the server sent %d bytes, want %d; run again to resume", d.name(), got, total)
	}
	if err := f.Sync(); err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}
	if err := f.Close(); err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}

	sum := hex.EncodeToString(h.Sum(nil))
	for _, want := range []struct{ sum, from string }{{d.o.SHA256, "--sha256"}, {d.linkedETag, "the server's X-Linked-ETag"}} {
		if want.sum != "" && want.sum != sum {
			os.Remove(d.partial)
			return Result{}, fmt.Errorf("pull: %s: SHA-256 is %s, want %s (from %s); the download was deleted: %w",
				d.name(), sum, want.sum, want.from, ErrChecksum)
		}
	}
	if err := os.Rename(d.partial, d.path); err != nil {
		return Result{}, fmt.Errorf("pull: %w", err)
	}
	res := Result{Path: d.path, Size: got, SHA256: sum, Resumed: offset}
	if err := describe(d.path, &res); err != nil {
		os.Remove(d.path)
		return Result{}, fmt.Errorf("%w; the file was deleted", err)
	}
	return res, nil
}

// request sends the GET, with a Range from offset when offset > 0. It
// returns the response to read (nil when the partial is already complete),
// the offset the body starts at (0 when the server ignored the range) and
// the file's total size (-1 if unknown).
func (d *download) request(ctx context.Context, offset int64) (*http.Response, int64, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.o.URL(), nil)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pull: %w", err)
	}
	req.Header.Set("User-Agent", "cerulean")
	if d.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.o.Token)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pull: %s: %w", d.name(), err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		// A full body: the server ignored the Range, or there was none.
		return resp, 0, resp.ContentLength, nil
	case http.StatusPartialContent:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if ok && start == offset {
			return resp, offset, total, nil
		}
		resp.Body.Close()
		if offset == 0 {
			return nil, 0, 0, fmt.Errorf("pull: %s: the server answered 206 with Content-Range %q to a request without a range", d.name(), resp.Header.Get("Content-Range"))
		}
		// A range we did not ask for: start over.
		os.Remove(d.partial)
		return d.request(ctx, 0)
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		d.noteETag(resp.Header)
		if _, total, ok := contentRange(resp.Header.Get("Content-Range")); ok && total == offset {
			return nil, offset, offset, nil // the partial is complete
		}
		if offset == 0 {
			return nil, 0, 0, fmt.Errorf("pull: %s: HTTP 416 to a request without a range", d.name())
		}
		os.Remove(d.partial)
		return d.request(ctx, 0)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	detail := strings.TrimSpace(string(msg))
	if detail != "" {
		detail = ": " + detail
	}
	rev := d.o.Revision
	if rev == "" {
		rev = "main"
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, 0, 0, fmt.Errorf("pull: %s not found: no file %q in repository %q at revision %q (HTTP 404 from %s)",
			d.name(), d.o.File, d.o.Repo, rev, req.URL.Host)
	case http.StatusUnauthorized, http.StatusForbidden:
		hint := "set HF_TOKEN to a token that can read it"
		if d.o.Token != "" {
			hint = "check that HF_TOKEN can read it and that you accepted the model's license"
		}
		return nil, 0, 0, fmt.Errorf("pull: %s: access denied (HTTP %d); the repository may be gated or private: %s%s",
			d.name(), resp.StatusCode, hint, detail)
	}
	return nil, 0, 0, fmt.Errorf("pull: %s: HTTP %d%s", d.name(), resp.StatusCode, detail)
}

// contentRange parses "bytes START-END/TOTAL" or "bytes */TOTAL"; total is
// -1 when given as "*".
func contentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total = t
	}
	if span == "*" {
		return 0, total, true
	}
	a, _, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, total, true
}

// copyWithProgress copies src to dst, reporting to p.
func copyWithProgress(dst io.Writer, src io.Reader, p *progress) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			if _, err := dst.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			p.add(int64(k))
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// hashFile feeds the file at path to h and returns h.
func hashFile(path string, h hash.Hash) (hash.Hash, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	return h, nil
}

// describe opens path as GGUF and fills in res's size, architecture and
// parameter count.
func describe(path string, res *Result) error {
	f, err := gguf.Open(path)
	if err != nil {
		return fmt.Errorf("pull: %s is not a usable GGUF file: %w", path, err)
	}
	defer f.Close()
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	res.Size = st.Size()
	res.Architecture = f.Architecture()
	res.Parameters = 0
	for _, t := range f.Tensors {
		res.Parameters += t.NumElements()
	}
	return nil
}
