package metering_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

// Environment of the child server the crash test starts.
const (
	envServe = "CERULEAN_TEST_SERVE" // "1": this process is the child server
	envDB    = "CERULEAN_TEST_DB"    // its database
)

func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		os.Exit(serveChild(os.Getenv(envDB)))
	}
	os.Exit(m.Run())
}

// serveChild is a small server: a real gateway over the SQLite store at
// path, a fake backend, and a Ledger with the default settings. It prints
// "ADDR <url>" when it listens and, on SIGTERM, drains and flushes as
// the real server does.
func serveChild(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	l := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st})
	ledgerCtx, stopLedger := context.WithCancel(context.Background())
	defer stopLedger()
	ledgerDone := make(chan error, 1)
	go func() { ledgerDone <- l.Run(ledgerCtx) }()

	mux := http.NewServeMux()
	newGateway(st, &fakeBackend{}, l).Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Printf("ADDR http://%s\n", ln.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stopLedger()
	if err := <-ledgerDone; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a running child server.
type child struct {
	cmd  *exec.Cmd
	addr string
}

// startChild starts the test binary as the server on the database at path.
func startChild(t *testing.T, path string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServe+"=1", envDB+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child server did not start: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if !ok {
		t.Fatalf("child server said %q", line)
	}
	go io.Copy(io.Discard, out)
	return &child{cmd: cmd, addr: addr}
}

// ok is a request that got a 200 and when its response was read.
type ok struct {
	id   string
	done time.Time
}

// load sends chat requests from workers goroutines, each with a unique
// client request id, until stop is closed or the server stops answering,
// and returns those that got a 200.
func load(addr, prefix string, workers int, stop <-chan struct{}, max int) []ok {
	var mu sync.Mutex
	var oks []ok
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for w := range workers {
		wg.Go(func() {
			for i := 0; max <= 0 || i < max; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				req, _ := http.NewRequest("POST", addr+"/openai/deployments/chat/chat/completions?api-version=2024-10-21",
					strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("api-key", testKey)
				req.Header.Set("x-ms-client-request-id", id)
				resp, err := hc.Do(req)
				if err != nil {
					return // the server is gone
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == http.StatusOK {
					mu.Lock()
					oks = append(oks, ok{id: id, done: time.Now()})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return oks
}

// TestCrashLossWindow SIGKILLs a server under load and checks, after a
// restart, that every request that got a 200 has exactly one usage record,
// except those whose record was still queued: it measures that window and
// checks it is within FlushEvery plus a commit. Then it checks that a
// graceful stop loses nothing and that nothing is counted twice.
func TestCrashLossWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st := openStore(t, path)
	if err := seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Phase 1: load, then SIGKILL.
	c := startChild(t, path)
	stop := make(chan struct{})
	var oks []ok
	done := make(chan struct{})
	go func() { oks = load(c.addr, "c1", 8, stop, 0); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	close(stop)
	<-done
	c.cmd.Wait()

	st = openStore(t, path)
	recs, err := st.ListUsage(ctx, store.UsageFilter{Project: testProject})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	stored := map[string]int{}
	for _, r := range recs {
		stored[r.RequestID]++
	}
	var missing []ok
	for _, o := range oks {
		if stored[o.id] == 0 {
			missing = append(missing, o)
		}
	}
	twice := 0
	for _, n := range stored {
		if n > 1 {
			twice++
		}
	}
	if twice > 0 {
		t.Errorf("%d requests have more than one record", twice)
	}
	var oldest time.Duration
	for _, m := range missing {
		oldest = max(oldest, killed.Sub(m.done))
	}
	t.Logf("crash: %d requests got a 200 in %v; %d records stored; %d 200s without a record, answered at most %v before the kill",
		len(oks), 1500*time.Millisecond, len(recs), len(missing), oldest.Round(time.Millisecond))
	if len(oks) < 100 {
		t.Fatalf("only %d requests succeeded before the kill: too little load to measure", len(oks))
	}
	// The bound the ledger promises: records of requests that ended within
	// FlushEvery plus a commit, never more than QueueSize + BatchSize.
	// The slack covers the parent seeing the response late on a busy
	// machine.
	bound := metering.DefaultFlushEvery + 500*time.Millisecond
	if raceEnabled {
		bound += 2 * time.Second
	}
	if oldest > bound {
		t.Errorf("a request answered %v before the kill has no record: beyond the loss window of %v", oldest, bound)
	}
	if len(missing) > metering.DefaultQueueSize+metering.DefaultBatchSize {
		t.Errorf("%d records lost, more than QueueSize + BatchSize", len(missing))
	}

	// Phase 2: restart on the same database, a bounded load, a graceful
	// stop: nothing is lost and nothing counted twice.
	c = startChild(t, path)
	oks2 := load(c.addr, "c2", 4, make(chan struct{}), 50)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child after SIGTERM: %v", err)
	}
	st = openStore(t, path)
	defer st.Close()
	recs2, err := st.ListUsage(ctx, store.UsageFilter{Project: testProject})
	if err != nil {
		t.Fatal(err)
	}
	stored2 := map[string]int{}
	for _, r := range recs2 {
		stored2[r.RequestID]++
	}
	for _, o := range oks2 {
		if stored2[o.id] != 1 {
			t.Errorf("request %s got a 200 before a graceful stop and has %d records, want 1", o.id, stored2[o.id])
		}
	}
	if want := len(recs) + len(oks2); len(recs2) != want {
		t.Errorf("%d records after the restart, want %d (the %d before and %d new)", len(recs2), want, len(recs), len(oks2))
	}
	for id, n := range stored {
		if stored2[id] != n {
			t.Errorf("request %s: %d records after the restart, %d before", id, stored2[id], n)
		}
	}
	if len(oks2) != 200 {
		t.Errorf("%d of 200 requests succeeded after the restart", len(oks2))
	}
}
