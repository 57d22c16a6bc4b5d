package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/pgtest"
)

const (
	childEnvDSN   = "TETHER_CAPTURE_CHILD_DSN"
	childEnvChunk = "TETHER_CAPTURE_CHILD_CHUNK"
)

// TestCaptureProcess is not a test: it is the capture process the crash test
// and the benchmark start (the test binary re-executed) and kill. It exits
// when its stdin closes (the parent is gone).
func TestCaptureProcess(t *testing.T) {
	dsn := os.Getenv(childEnvDSN)
	if dsn == "" {
		t.Skip("capture child process only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	chunk, _ := strconv.Atoi(os.Getenv(childEnvChunk))
	log := testLogger(t)
	if os.Getenv("TETHER_TEST_LOG") == "" {
		log = log.Level(0).Output(os.Stderr) // info and up, JSON lines
	}
	c := NewCapture(CaptureConfig{Config: Config{Schema: testSchema}, DSN: dsn, Logger: log, ChunkRows: chunk})
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// captureProcess is a running capture child process.
type captureProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

func startCaptureProcess(t testing.TB, dsn string, logPath string, env ...string) *captureProcess {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	must(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCaptureProcess$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(append(os.Environ(), childEnvDSN+"="+dsn), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	must(t, err)
	must(t, cmd.Start())
	p := &captureProcess{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *captureProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	_ = p.stdin.Close()
}

// TestCaptureCrash: while a client commits numbered changes (inserts and
// updates, in transactions of 1 to 10 changes, over two tables), the capture
// process is killed with SIGKILL five times at random moments and PostgreSQL
// is crashed once (pg_ctl stop -m immediate). Afterwards every change is in
// the log exactly once, in commit order.
//
// Under TETHER_CHAOS=1 it runs five rounds, each with its own random kills.
func TestCaptureCrash(t *testing.T) {
	rounds := 1
	if os.Getenv("TETHER_CHAOS") != "" {
		rounds = 5
	}
	for r := 0; r < rounds; r++ {
		t.Run(fmt.Sprintf("round%d", r+1), func(t *testing.T) { crashRound(t, time.Now().UnixNano()) })
	}
}

func crashRound(t *testing.T, seed int64) {
	const changes = 20000
	d := newTestDB(t)
	ctx := context.Background()
	d.exec(t, `CREATE TABLE public.client_progress (last bigint NOT NULL); INSERT INTO public.client_progress VALUES (0)`)
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	logPath := filepath.Join(t.TempDir(), "capture.log")
	// Small chunks, so that some transactions are also cut into chunks.
	env := []string{childEnvChunk + "=7"}
	proc := startCaptureProcess(t, d.dsn, logPath, env...)

	clientErr := make(chan error, 1)
	go func() { clientErr <- runNumberedClient(ctx, d.dsn, changes, 2500, rand.New(rand.NewSource(seed+1))) }()

	cluster := pgtest.Shared(t)
	kills := 0
	for i := 0; i < 6; i++ {
		time.Sleep(time.Duration(300+rng.Intn(1200)) * time.Millisecond)
		if i == 3 {
			t.Logf("crashing PostgreSQL (pg_ctl stop -m immediate)")
			must(t, cluster.Crash())
			time.Sleep(time.Duration(200+rng.Intn(500)) * time.Millisecond)
			must(t, cluster.Start())
			continue
		}
		proc.kill()
		kills++
		time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		proc = startCaptureProcess(t, d.dsn, logPath, env...)
	}
	// one more kill after the PostgreSQL crash, so five in all
	time.Sleep(time.Duration(300+rng.Intn(700)) * time.Millisecond)
	proc.kill()
	kills++
	proc = startCaptureProcess(t, d.dsn, logPath, env...)

	select {
	case err := <-clientErr:
		must(t, err)
	case <-time.After(90 * time.Second):
		t.Fatal("client did not finish")
	}
	t.Logf("%d SIGKILLs, 1 PostgreSQL crash", kills)

	d.waitLog(t, changes, 60*time.Second)
	d.settle(t)
	got := d.readLog(t)
	if len(got) != changes {
		t.Errorf("log holds %d rows, want %d", len(got), changes)
	}
	prevLSN, prevSeq := "", -1
	for i, r := range got {
		n, _ := r.Values["n"].(json.Number)
		if string(n) != strconv.Itoa(i+1) {
			t.Fatalf("log row %d carries change %q, want %d (%s)", i, n, i+1, fmtRow(r))
		}
		if r.CommitLSN == prevLSN {
			if r.CommitSeq != prevSeq+1 {
				t.Fatalf("row %d: commit_seq %d after %d", i, r.CommitSeq, prevSeq)
			}
		} else if r.CommitSeq != 0 {
			t.Fatalf("row %d: transaction starts at commit_seq %d", i, r.CommitSeq)
		}
		prevLSN, prevSeq = r.CommitLSN, r.CommitSeq
	}
	proc.kill()
	if b, err := os.ReadFile(logPath); err == nil && strings.Contains(string(b), "duplicate key") {
		t.Errorf("capture hit the unique fence (a replayed transaction was not skipped):\n%s", tail(string(b), 3000))
	}
	if b, err := os.ReadFile(logPath); err == nil {
		t.Logf("capture sessions: %d; sessions that skipped replayed transactions: %d",
			strings.Count(string(b), "streaming changes"), strings.Count(string(b), "skipped transactions already in the log"))
	}
	if t.Failed() {
		b, _ := os.ReadFile(logPath)
		t.Logf("capture log:\n%s", tail(string(b), 5000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// runNumberedClient commits changes 1..total in order, at about rate changes
// per second, in transactions of 1 to 10 changes: every fifth change updates
// the newest contact, the others insert into contact or account; each change
// carries its number in column n. It survives PostgreSQL crashes: after a
// failed commit it reads client_progress (written in the same transaction) to
// learn whether the transaction committed.
func runNumberedClient(ctx context.Context, dsn string, total, rate int, rng *rand.Rand) error {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	next := 1
	start := time.Now()
	for next <= total {
		if conn == nil || conn.IsClosed() {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			conn = c
			var last int
			if err := conn.QueryRow(ctx, "SELECT last FROM public.client_progress").Scan(&last); err != nil {
				conn.Close(ctx)
				conn = nil
				continue
			}
			next = last + 1
			if next > total {
				break
			}
		}
		size := 1 + rng.Intn(10)
		if next+size-1 > total {
			size = total - next + 1
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for n := next; n < next+size; n++ {
				var sql string
				switch {
				case n > 1 && n%5 == 0:
					sql = `UPDATE salesforce.contact SET n = $1 WHERE _sync_row_id = (SELECT max(_sync_row_id) FROM salesforce.contact)`
				case n%2 == 1:
					sql = `INSERT INTO salesforce.contact (n, first_name) VALUES ($1, 'c')`
				default:
					sql = `INSERT INTO salesforce.account (n, name) VALUES ($1, 'a')`
				}
				tag, err := tx.Exec(ctx, sql, n)
				if err != nil {
					return err
				}
				if tag.RowsAffected() != 1 {
					return fmt.Errorf("change %d touched %d rows", n, tag.RowsAffected())
				}
			}
			_, err := tx.Exec(ctx, "UPDATE public.client_progress SET last = $1", next+size-1)
			return err
		})
		if err != nil {
			if conn.IsClosed() || isConnErr(err) {
				conn.Close(context.Background())
				conn = nil
				continue // progress tells what committed
			}
			return fmt.Errorf("client at change %d: %w", next, err)
		}
		next += size
		// pace: change n is due at start + n/rate
		if due := start.Add(time.Duration(float64(next) / float64(rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
	}
	return nil
}

func isConnErr(err error) bool {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		s := pgErr.SQLState()
		return strings.HasPrefix(s, "08") || strings.HasPrefix(s, "57")
	}
	return true
}
