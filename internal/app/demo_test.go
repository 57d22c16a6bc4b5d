package app

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/logging"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// syncBuffer is an io.Writer tests share with tether's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo does what the README tells a newcomer: run the demo, paste the
// three printed SQL statements, and see the update and the insert reach the
// simulator. A second run on the same directory resumes the same database.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	for run := 1; run <= 2; run++ {
		out := &syncBuffer{}
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		type started struct {
			dsn string
			srv *sim.Server
		}
		ready := make(chan started, 1)
		done := make(chan error, 1)
		go func() {
			done <- Demo(ctx, DemoOptions{
				Dir: dir, SimAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Seed: 50, Out: out,
				Env: func(cfg *config.Config) *Env {
					return &Env{Cfg: cfg, Log: logging.New(config.LogJSON, logs), Metrics: metrics.New(), Out: out}
				},
				Ready: func(dsn string, srv *sim.Server) { ready <- started{dsn, srv} },
			})
		}()
		var st started
		select {
		case st = <-ready:
		case err := <-done:
			cancel()
			t.Fatalf("demo stopped: %v\n%s\n%s", err, out, logs)
		case <-time.After(90 * time.Second):
			cancel()
			t.Fatalf("demo not ready\n%s\n%s", out, logs)
		}
		printed := out.String()
		stmts := regexp.MustCompile(`(?m)^  (SELECT|UPDATE|INSERT) .*;$`).FindAllString(printed, -1)
		if len(stmts) != 5 {
			cancel()
			t.Fatalf("demo printed %d statements, want 5 (3 steps):\n%s", len(stmts), printed)
		}
		if !strings.Contains(printed, st.dsn) {
			t.Errorf("demo output lacks the connection string %s", st.dsn)
		}
		pool, err := pgxpool.New(context.Background(), st.dsn)
		if err != nil {
			t.Fatal(err)
		}
		id := regexp.MustCompile(`id = '([0-9A-Za-z]{18})'`).FindStringSubmatch(printed)[1]
		eventually(t, 60*time.Second, "demo backfill has the printed contact", func() (bool, string) {
			var n int
			_ = pool.QueryRow(context.Background(), strings.TrimSpace(stmts[0])+"").Scan(new(any), new(any), new(any), new(any), new(any))
			_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM salesforce.contact WHERE id = $1", id).Scan(&n)
			return n == 1, fmt.Sprint(n)
		})
		title := fmt.Sprintf("VP Sales %d", run)
		update := strings.Replace(strings.TrimSpace(stmts[1]), "'VP Sales'", "'"+title+"'", 1)
		for _, s := range []string{update, strings.TrimSpace(stmts[3])} {
			if _, err := pool.Exec(context.Background(), s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		eventually(t, 30*time.Second, "the update reaches the simulator", func() (bool, string) {
			rec, _ := st.srv.Get("Contact", id)
			return rec["Title"] == title, fmt.Sprint(rec["Title"])
		})
		eventually(t, 30*time.Second, "the insert gets its Salesforce id", func() (bool, string) {
			var n int
			_ = pool.QueryRow(context.Background(), "SELECT count(*) FROM salesforce.contact WHERE email = 'ada@example.com' AND id IS NULL").Scan(&n)
			return n == 0, fmt.Sprintf("%d without id", n)
		})
		found := 0
		for _, r := range st.srv.Records("Contact") {
			if r["Email"] == "ada@example.com" {
				found++
			}
		}
		// the simulator's state is saved on shutdown and resumed: each run's insert is there once
		if found != run {
			t.Errorf("run %d: the inserted contact is in the simulator %d times, want %d", run, found, run)
		}
		if run == 2 && !strings.Contains(printed, "simulator at "+st.srv.URL()+" (resumed") {
			t.Errorf("second run does not say the simulator resumed:\n%s", printed)
		}
		if run == 2 && !strings.Contains(printed, "resumed") {
			t.Errorf("second run does not say it resumed:\n%s", printed)
		}
		pool.Close()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("demo run %d: %v", run, err)
		}
	}
}
