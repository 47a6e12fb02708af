package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// States of a replica.
const (
	Starting   = "Starting"   // its process is starting or not yet healthy
	Ready      = "Ready"      // healthy: takes requests
	Unhealthy  = "Unhealthy"  // running but failing health checks: takes none
	Restarting = "Restarting" // its process ended; waiting out the backoff
	Stopped    = "Stopped"    // stopped on purpose (scaled down, released)
)

// ReplicaStatus is what Replicas reports of one replica.
type ReplicaStatus struct {
	ID       int
	State    string
	URL      string // base URL, "" while it has none
	PID      int    // 0 while no process runs
	Restarts int    // how often its process was restarted
	InFlight int    // requests it is serving now
	Cold     bool   // started by a request to a scale-to-zero deployment
	// LastError is why its process last ended or failed its health check.
	LastError string
	Since     time.Time // when it entered State
}

// replica is one supervised worker process, restarted when it dies. Its
// loop runs in its own goroutine until stop is called.
type replica struct {
	id int
	g  *group
	// cold marks a replica a request to a scale-to-zero deployment
	// started: stopped again when idle.
	cold atomic.Bool

	inflight atomic.Int64
	stopCtx  context.Context
	stop     context.CancelFunc
	done     chan struct{} // closed when the loop returned

	// first receives the outcome of the first start (nil: Ready) exactly
	// once; buffered.
	first chan error

	mu        sync.Mutex // guards the fields below; taken after Supervisor.mu, never before
	state     string
	url       string
	pid       int
	restarts  int
	lastErr   string
	since     time.Time
	lastUsed  time.Time
	firstSent bool
}

func (r *replica) status() ReplicaStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReplicaStatus{ID: r.id, State: r.state, URL: r.url, PID: r.pid, Restarts: r.restarts,
		InFlight: int(r.inflight.Load()), Cold: r.cold.Load(), LastError: r.lastErr, Since: r.since}
}

// ready reports whether the replica takes requests, and its URL.
func (r *replica) ready() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.url, r.state == Ready
}

func (r *replica) setState(s *Supervisor, state, errText string) {
	r.mu.Lock()
	changed := r.state != state
	r.state = state
	if errText != "" {
		r.lastErr = errText
	}
	if changed {
		r.since = s.now()
	}
	if state != Ready && state != Unhealthy {
		r.url, r.pid = "", 0
	}
	r.mu.Unlock()
	if changed {
		s.log.Info("replica state", "project", r.g.key.project, "deployment", r.g.key.name, "replica", r.id, "state", state, "err", errText)
		s.notify()
	}
}

// reportFirst hands the first start's outcome to whoever waits for it.
func (r *replica) reportFirst(err error) {
	r.mu.Lock()
	sent := r.firstSent
	r.firstSent = true
	r.mu.Unlock()
	if !sent {
		r.first <- err
	}
}

func (r *replica) touch(now time.Time) {
	r.mu.Lock()
	r.lastUsed = now
	r.mu.Unlock()
}

func (r *replica) idleSince() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastUsed
}

// run is the replica's loop: start the process, watch it, restart it with
// backoff when it dies, until stop.
func (r *replica) run(s *Supervisor, spec spec) {
	defer close(r.done)
	failures := 0
	for {
		started := s.now()
		err := r.once(s, spec)
		if r.stopCtx.Err() != nil {
			r.setState(s, Stopped, "")
			r.reportFirst(errors.New("replica stopped before it was ready"))
			return
		}
		r.reportFirst(err)
		if s.now().Sub(started) >= s.o.BackoffReset {
			failures = 0
		}
		failures++
		wait := backoff(s.o.BackoffMin, s.o.BackoffMax, failures)
		r.setState(s, Restarting, err.Error())
		s.log.Warn("replica ended: restarting", "project", r.g.key.project, "deployment", r.g.key.name,
			"replica", r.id, "err", err, "backoff", wait)
		select {
		case <-r.stopCtx.Done():
			r.setState(s, Stopped, "")
			return
		case <-time.After(wait):
		}
		r.mu.Lock()
		r.restarts++
		r.mu.Unlock()
	}
}

// backoff is min·2^(n-1), capped at max.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return clampDuration(d, max)
}

func clampDuration(d, max time.Duration) time.Duration {
	if d > max {
		return max
	}
	return d
}

// spec is what a replica's process runs.
type spec struct {
	modelFile string
	threads   int
}

// once runs the process one time: start, wait for its listening line,
// health-check it until it exits or is stopped. It returns why it ended.
func (r *replica) once(s *Supervisor, sp spec) error {
	r.setState(s, Starting, "")
	ctx := r.stopCtx
	args := append(append([]string(nil), s.o.Args...), "worker", "--model", sp.modelFile, "--addr", "127.0.0.1:0",
		"--threads", strconv.Itoa(sp.threads))
	cmd := exec.CommandContext(ctx, s.o.Command, args...)
	cmd.Env = append(append(os.Environ(), s.o.Env...), KeyEnv+"="+s.key)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = s.o.StopTimeout
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("start worker: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("start worker %s: %w", s.o.Command, err)
	}
	r.mu.Lock()
	r.pid = cmd.Process.Pid
	r.mu.Unlock()

	urls := make(chan string, 1)
	go readStdout(outR, urls)
	tail := &tailLog{}
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		tail.read(errR, s, r)
	}()
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
	}()
	ended := func(err error) error {
		<-stderrDone
		msg := "worker exited"
		if err != nil {
			msg = "worker " + err.Error()
		}
		if t := tail.last(); t != "" {
			msg += ": " + t
		}
		return errors.New(msg)
	}

	startTimer := time.NewTimer(s.o.StartTimeout)
	defer startTimer.Stop()
	var url string
	select {
	case url = <-urls:
	case err := <-exited:
		return ended(err)
	case <-startTimer.C:
		cmd.Process.Kill()
		<-exited
		<-stderrDone
		return fmt.Errorf("worker printed no %q line within %s", ListeningPrefix, s.o.StartTimeout)
	}
	r.mu.Lock()
	r.url = url
	r.mu.Unlock()

	tick := time.NewTicker(s.o.HealthInterval)
	defer tick.Stop()
	fails := 0
	check := func() {
		if err := s.probe(ctx, url); err != nil {
			if ctx.Err() != nil {
				return
			}
			fails++
			r.mu.Lock()
			state := r.state
			r.mu.Unlock()
			if state == Starting {
				if fails >= s.o.RestartAfter {
					s.log.Warn("replica never became healthy: killing it", "replica", r.id, "err", err)
					cmd.Process.Kill()
				}
				return
			}
			r.setState(s, Unhealthy, err.Error())
			if fails >= s.o.RestartAfter {
				s.log.Warn("replica unhealthy: killing it", "replica", r.id, "fails", fails, "err", err)
				cmd.Process.Kill()
			}
			return
		}
		fails = 0
		r.setState(s, Ready, "")
		r.reportFirst(nil)
	}
	check()
	for {
		select {
		case err := <-exited:
			return ended(err)
		case <-tick.C:
			if r.cold.Load() && r.g.idle(s, r) {
				s.log.Info("scale-to-zero replica idle: stopping it", "deployment", r.g.key.name, "replica", r.id)
				r.g.dropCold(s, r)
				continue
			}
			check()
		}
	}
}

// readStdout sends the URL of the first listening line on urls and
// discards the rest of the output.
func readStdout(f *os.File, urls chan<- string) {
	defer f.Close()
	sc := bufio.NewScanner(f)
	sent := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !sent && strings.HasPrefix(line, ListeningPrefix) {
			urls <- strings.TrimSpace(strings.TrimPrefix(line, ListeningPrefix))
			sent = true
		}
	}
}

// tailLog forwards a worker's standard error to the supervisor's log and
// keeps its last line, the likely reason of an exit.
type tailLog struct {
	mu   sync.Mutex
	line string
}

func (t *tailLog) read(f *os.File, s *Supervisor, r *replica) {
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		t.mu.Lock()
		t.line = line
		t.mu.Unlock()
		s.log.Debug("worker", "deployment", r.g.key.name, "replica", r.id, "line", line)
	}
}

func (t *tailLog) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	const max = 300
	if len(t.line) > max {
		return t.line[:max] + "..."
	}
	return t.line
}

// probe checks GET url/healthz.
func (s *Supervisor) probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp, err := s.health.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: status %d", resp.StatusCode)
	}
	return nil
}
