package replication

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCaptureEcho: while tether's own sessions (replication origin "tether",
// or the transactional marker for roles that may not use origins) write
// 10,000 rows and the application writes 10,000 others, concurrently and to
// the same tables, the log holds exactly the application's 10,000.
func TestCaptureEcho(t *testing.T) {
	for _, mode := range []EchoMode{EchoOrigin, EchoMessage} {
		t.Run(string(mode), func(t *testing.T) {
			d := newTestDB(t)
			d.startCapture(t, nil)
			ctx := context.Background()
			guard, err := NewEchoGuard(ctx, d.pool, d.cfg.Origin, mode)
			must(t, err)
			defer guard.Close()
			if guard.Mode() != mode {
				t.Fatalf("guard mode %s", guard.Mode())
			}
			const txs, perTx = 1000, 10 // 10,000 rows each side
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			write := func(prefix string, run func(func(pgx.Tx) error) error) {
				defer wg.Done()
				for i := 0; i < txs; i++ {
					err := run(func(tx pgx.Tx) error {
						for j := 0; j < perTx/2; j++ {
							n := i*perTx + j
							if _, err := tx.Exec(ctx, `INSERT INTO salesforce.contact (first_name, n) VALUES ($1, $2)`, fmt.Sprintf("%s-%d", prefix, n), n); err != nil {
								return err
							}
							if _, err := tx.Exec(ctx, `INSERT INTO salesforce.account (name, n) VALUES ($1, $2)`, fmt.Sprintf("%s-%d", prefix, n), n); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}
			wg.Add(2)
			go write("echo", func(fn func(pgx.Tx) error) error { return guard.Tx(ctx, fn) })
			go write("app", func(fn func(pgx.Tx) error) error { return pgx.BeginFunc(ctx, d.pool, fn) })
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			d.waitLog(t, txs*perTx, 60*time.Second)
			d.settle(t)
			got := d.readLog(t)
			if len(got) != txs*perTx {
				t.Fatalf("log holds %d rows, want %d", len(got), txs*perTx)
			}
			for _, r := range got {
				name, _ := r.Values["first_name"].(string)
				if r.Table == "account" {
					name, _ = r.Values["name"].(string)
				}
				if !strings.HasPrefix(name, "app-") {
					t.Fatalf("echo captured: %s", fmtRow(r))
				}
			}
		})
	}
}

// TestCaptureLateMarker: a marker that arrives after some of its
// transaction's rows were already handed to the log writer (a large
// transaction written in chunks) still drops the whole transaction, and
// the transactions around it are captured whole.
func TestCaptureLateMarker(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, func(cc *CaptureConfig, c *Capture) { c.cfg.ChunkRows = 5 })
	ctx := context.Background()
	d.exec(t, `INSERT INTO salesforce.account (n) SELECT g FROM generate_series(1, 12) g`)
	must(t, pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO salesforce.account (n) SELECT -g FROM generate_series(1, 23) g`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_logical_emit_message(true, 'tether', 'echo')`)
		return err
	}))
	d.exec(t, `INSERT INTO salesforce.account (n) SELECT g FROM generate_series(13, 20) g`)
	d.waitLog(t, 20, 20*time.Second)
	d.settle(t)
	got := d.readLog(t)
	if len(got) != 20 {
		t.Fatalf("log holds %d rows, want 20", len(got))
	}
	for i, r := range got {
		if n := jsonOf(r.Values["n"]); n != fmt.Sprint(i+1) {
			t.Errorf("row %d: n %s", i, n)
		}
	}
}

// TestEchoGuardAfterCancelledTx: a guarded transaction cut off by its context
// leaves the origin held by a dying backend for a moment; the next guarded
// transaction waits for it instead of failing with "already active".
func TestEchoGuardAfterCancelledTx(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	guard, err := NewEchoGuard(ctx, d.pool, "tether", EchoOrigin)
	must(t, err)
	defer guard.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = guard.Tx(short, func(tx pgx.Tx) error {
		_, err := tx.Exec(short, "SELECT pg_sleep(1)")
		return err
	})
	if err == nil {
		t.Fatal("the cut-off transaction succeeded")
	}
	err = guard.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+d.cfg.qualified("contact")+" (id, last_name) VALUES ('003000000000001AAA', 'After')")
		return err
	})
	if err != nil {
		t.Fatalf("guarded transaction after a cancelled one: %v", err)
	}
}
