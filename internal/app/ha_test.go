package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/logging"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// TestHelperTetherProcess is not a test: the HA test runs the test binary
// again with TETHER_TEST_HELPER=run as a real `tether run` process, configured
// through the TETHER_* environment, so that it can be killed with SIGKILL.
func TestHelperTetherProcess(t *testing.T) {
	if os.Getenv("TETHER_TEST_HELPER") != "run" {
		t.Skip("helper process for TestHighAvailabilityTakeover")
	}
	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	env := &Env{Cfg: cfg, Log: logging.New(config.LogJSON, os.Stderr), Metrics: metrics.New(), Out: os.Stdout}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = env.Run(ctx, RunOptions{WriterRetryBase: 50 * time.Millisecond, WriterRetryMax: 500 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// tetherProc is one `tether run` child process.
type tetherProc struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	active chan struct{}
	exited chan struct{}
}

func startTetherProc(t *testing.T, name string, env []string) *tetherProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTetherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, "TETHER_TEST_HELPER=run")...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &tetherProc{name: name, cmd: cmd, active: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			if strings.Contains(line, "this tether is active") {
				once.Do(func() { close(p.active) })
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func (p *tetherProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// TestHighAvailabilityTakeover: two tethers run against one database; one is
// active, the other waits. The active one is killed with SIGKILL in the middle
// of a stream of application writes; the other takes over, and every change
// reaches Salesforce exactly once (no lost change, no duplicate create).
func TestHighAvailabilityTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two tether processes")
	}
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	srv := sim.New(sim.Options{Seed: 10, RandSeed: 3})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	creds := srv.Credentials()
	env := []string{
		"TETHER_DATABASE_URL=" + dsn,
		"TETHER_OBJECTS=Contact",
		"TETHER_SALESFORCE_LOGIN_URL=" + creds.LoginURL,
		"TETHER_SALESFORCE_CLIENT_ID=" + creds.ClientID,
		"TETHER_SALESFORCE_CLIENT_SECRET=" + creds.ClientSecret,
		"TETHER_SALESFORCE_REFRESH_TOKEN=" + creds.RefreshToken,
		"TETHER_RATE_ALLOWED_REQUESTS=0",
		"TETHER_RATE_MAX_CONCURRENT=0",
		"TETHER_POLL_INTERVAL=500ms",
		"TETHER_BATCH_WAIT=50ms",
		"TETHER_BATCH_SIZE=5",
		"TETHER_HTTP_ADDR=127.0.0.1:0",
		"TETHER_LOG_FORMAT=json",
	}
	a := startTetherProc(t, "A", env)
	select {
	case <-a.active:
	case <-a.exited:
		t.Fatalf("A exited:\n%s", a.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("A not active after 60s:\n%s", a.logs())
	}
	b := startTetherProc(t, "B", env)

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	before := len(srv.Records("Contact"))
	eventually(t, 60*time.Second, "backfill", func() (bool, string) {
		var n int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM salesforce.contact").Scan(&n)
		return n == before, fmt.Sprintf("%d of %d", n, before)
	})
	select {
	case <-b.active:
		t.Fatalf("B became active while A holds the lock:\n%s", b.logs())
	default:
	}

	const inserts = 40
	killAt := inserts / 2
	var killedAt time.Time
	for i := 0; i < inserts; i++ {
		if i == killAt {
			// Wait until A is mid-stream (some written, some not), then kill it.
			eventually(t, 30*time.Second, "A writes some", func() (bool, string) {
				var n int
				_ = pool.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'").Scan(&n)
				return n >= 5, fmt.Sprint(n)
			})
			if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killedAt = time.Now()
		}
		mustExec(t, pool, "INSERT INTO salesforce.contact (last_name, email) VALUES ($1, $2)",
			fmt.Sprintf("HA-%03d", i), fmt.Sprintf("ha%03d@example.com", i))
	}
	select {
	case <-b.active:
		t.Logf("B took over %.1fs after A was killed", time.Since(killedAt).Seconds())
	case <-time.After(30 * time.Second):
		t.Fatalf("B did not take over within 30s:\nB:\n%s", b.logs())
	}
	eventually(t, 60*time.Second, "every insert written", func() (bool, string) {
		var open, ok int
		_ = pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE state IN ('new','pending')), count(*) FILTER (WHERE state = 'succeeded') FROM salesforce._sync_write_log").Scan(&open, &ok)
		return open == 0 && ok == inserts, fmt.Sprintf("open %d, succeeded %d", open, ok)
	})
	var logRows, withID int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_write_log").Scan(&logRows)
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM salesforce.contact WHERE last_name LIKE 'HA-%' AND id IS NOT NULL").Scan(&withID)
	if logRows != inserts || withID != inserts {
		t.Fatalf("log rows %d, rows with ids %d; want %d each", logRows, withID, inserts)
	}
	// Exactly once in Salesforce: each HA-nnn exists once.
	seen := map[string]int{}
	for _, r := range srv.Records("Contact") {
		if ln, _ := r["LastName"].(string); strings.HasPrefix(ln, "HA-") {
			seen[ln]++
		}
	}
	for i := 0; i < inserts; i++ {
		if n := seen[fmt.Sprintf("HA-%03d", i)]; n != 1 {
			t.Errorf("HA-%03d exists %d times in Salesforce", i, n)
		}
	}
	if got := len(srv.Records("Contact")); got != before+inserts {
		t.Errorf("Salesforce has %d contacts, want %d", got, before+inserts)
	}
}
