package replication

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/pgtest"
)

// TestCaptureIdleSlot: while the synced tables are quiet and another table
// churns, the slot's confirmed position keeps up with the server's WAL.
func TestCaptureIdleSlot(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	ctx := context.Background()
	var before string
	must(t, d.pool.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&before))
	for i := 0; i < 20; i++ {
		d.exec(t, `INSERT INTO salesforce.unsynced (v) SELECT md5(g::text) FROM generate_series(1, 2000) g`)
	}
	d.settle(t) // fails unless confirmed_flush_lsn reaches the WAL position after the churn
	var moved int64
	must(t, d.pool.QueryRow(ctx, "SELECT confirmed_flush_lsn - $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'tether'", before).Scan(&moved))
	if moved < 1<<20 {
		t.Errorf("confirmed position moved %d bytes only", moved)
	}
	if n := d.logCount(t); n != 0 {
		t.Errorf("log holds %d rows", n)
	}
}

// TestCaptureReconnect: when the server ends the replication session, capture
// reconnects and loses or repeats nothing.
func TestCaptureReconnect(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	ctx := context.Background()
	for i := 1; i <= 300; i++ {
		d.exec(t, `INSERT INTO salesforce.account (n) VALUES ($1)`, i)
		if i%100 == 0 {
			d.exec(t, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tether' AND active_pid IS NOT NULL`)
		}
	}
	d.waitLog(t, 300, 30*time.Second)
	d.settle(t)
	var n, distinct int
	must(t, d.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT ("values"->>'n')) FROM salesforce._sync_write_log`).Scan(&n, &distinct))
	if n != 300 || distinct != 300 {
		t.Errorf("log holds %d rows, %d distinct changes; want 300", n, distinct)
	}
}

// TestCaptureSlotDropped: a dropped slot is reported (health
// tether_intervention) and never silently recreated.
func TestCaptureSlotDropped(t *testing.T) {
	d := newTestDB(t)
	h, _ := d.startCapture(t, nil)
	ctx := context.Background()
	d.exec(t, `INSERT INTO salesforce.account (n) VALUES (1)`)
	d.waitLog(t, 1, 20*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _ = d.pool.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tether' AND active_pid IS NOT NULL`)
		_, err := d.pool.Exec(ctx, `SELECT pg_drop_replication_slot('tether')`)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not drop the slot: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitHealth(t, h, health.TetherIntervention, "does not exist")
	time.Sleep(500 * time.Millisecond)
	var exists bool
	must(t, d.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'tether')").Scan(&exists))
	if exists {
		t.Errorf("the slot was recreated")
	}
	err := Preflight(ctx, d.pool, d.cfg)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("preflight: %v", err)
	}
}

// TestCaptureSlotInvalidated: a slot invalidated by max_slot_wal_keep_size
// (wal_status lost) is refused by preflight and by setup, and reported by
// capture, never recreated.
func TestCaptureSlotInvalidated(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	cluster := pgtest.Shared(t)
	must(t, cluster.Exec(ctx, "postgres", "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'"))
	must(t, cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()"))
	t.Cleanup(func() {
		_ = cluster.Exec(ctx, "postgres", "ALTER SYSTEM RESET max_slot_wal_keep_size")
		_ = cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
	})
	var status string
	for i := 0; i < 20; i++ {
		d.exec(t, `INSERT INTO salesforce.unsynced (v) SELECT md5(g::text) FROM generate_series(1, 1000) g`)
		d.exec(t, `SELECT pg_switch_wal()`)
		d.exec(t, `CHECKPOINT`)
		must(t, d.pool.QueryRow(ctx, "SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&status))
		if status == "lost" {
			break
		}
	}
	if status != "lost" {
		t.Skipf("could not invalidate the slot (wal_status %q)", status)
	}
	err := Preflight(ctx, d.pool, d.cfg)
	if err == nil || !strings.Contains(err.Error(), "invalidated") {
		t.Errorf("preflight: %v", err)
	}
	if err := Setup(ctx, d.pool, d.cfg, nil); err == nil || !strings.Contains(err.Error(), "invalidated") {
		t.Errorf("setup: %v", err)
	}
	h, _ := d.startCapture(t, nil)
	waitHealth(t, h, health.TetherIntervention, "invalidated")
	must(t, d.pool.QueryRow(ctx, "SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&status))
	if status != "lost" {
		t.Errorf("slot changed: wal_status %q", status)
	}
}

func waitHealth(t *testing.T, h *health.Memory, status health.Status, contains string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, ok := h.Get(health.Capture)
		if ok && e.Status == status && strings.Contains(e.Message, contains) {
			t.Logf("health: %s: %s", e.Status, e.Message)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v, want %s containing %q", e, status, contains)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPreflight: preflight passes on a good setup and refuses, saying what
// to do, when a synced table lacks REPLICA IDENTITY FULL, the role lacks
// REPLICATION or write access, or the slot is in use elsewhere.
func TestPreflight(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	must(t, Preflight(ctx, d.pool, d.cfg))

	// replica identity
	d.exec(t, `ALTER TABLE salesforce.account REPLICA IDENTITY DEFAULT`)
	err := Preflight(ctx, d.pool, d.cfg)
	if err == nil || !strings.Contains(err.Error(), `ALTER TABLE "salesforce"."account" REPLICA IDENTITY FULL`) {
		t.Errorf("replica identity: %v", err)
	}
	d.exec(t, `ALTER TABLE salesforce.account REPLICA IDENTITY FULL`)

	// a synced table missing from the publication
	d.exec(t, `ALTER PUBLICATION tether DROP TABLE salesforce.contact`)
	err = Preflight(ctx, d.pool, d.cfg)
	if err == nil || !strings.Contains(err.Error(), `"salesforce"."contact" is not in publication`) {
		t.Errorf("publication: %v", err)
	}
	must(t, Setup(ctx, d.pool, d.cfg, nil))
	must(t, Preflight(ctx, d.pool, d.cfg))

	// a role without REPLICATION and without write access to the log
	cluster := pgtest.Shared(t)
	role := "tether_weak_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	_ = cluster.Exec(ctx, "postgres", `DROP ROLE IF EXISTS `+pgx.Identifier{role}.Sanitize())
	must(t, cluster.Exec(ctx, "postgres", `CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN`))
	t.Cleanup(func() {
		_ = cluster.Exec(context.Background(), "postgres", `DROP OWNED BY `+pgx.Identifier{role}.Sanitize())
		_ = cluster.Exec(context.Background(), "postgres", `DROP ROLE IF EXISTS `+pgx.Identifier{role}.Sanitize())
	})
	d.exec(t, `GRANT USAGE ON SCHEMA salesforce TO `+pgx.Identifier{role}.Sanitize())
	d.exec(t, `GRANT SELECT ON ALL TABLES IN SCHEMA salesforce TO `+pgx.Identifier{role}.Sanitize())
	dbName := d.pool.Config().ConnConfig.Database
	weak, err := pgxpool.New(ctx, cluster.DSNAs(role, dbName))
	must(t, err)
	defer weak.Close()
	err = Preflight(ctx, weak, d.cfg)
	if err == nil || !strings.Contains(err.Error(), "WITH REPLICATION") || !strings.Contains(err.Error(), `GRANT INSERT ON "salesforce"."_sync_write_log"`) {
		t.Errorf("weak role: %v", err)
	}
	var pe *PreflightError
	if !errors.As(err, &pe) || len(pe.Problems) < 2 {
		t.Errorf("want every problem listed: %v", err)
	}

	// the slot in use by another session
	_, stop := d.startCapture(t, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = Preflight(ctx, d.pool, d.cfg)
		if err != nil && strings.Contains(err.Error(), "in use by another session") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot in use: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}

// TestPreflightBeforeSetup: on an empty database preflight says to run setup.
func TestPreflightBeforeSetup(t *testing.T) {
	dsn := pgtest.NewDB(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	must(t, err)
	defer pool.Close()
	err = Preflight(context.Background(), pool, Config{})
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight: %v", err)
	}
	for _, want := range []string{`"salesforce"."_sync_write_log" does not exist`, `slot "tether" does not exist`, `publication "tether" does not exist`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight lacks %q: %v", want, err)
		}
	}
}

func TestCheckWALLevel(t *testing.T) {
	if err := checkWALLevel("logical"); err != nil {
		t.Error(err)
	}
	err := checkWALLevel("replica")
	if err == nil || !strings.Contains(err.Error(), "wal_level = logical") || !strings.Contains(err.Error(), "restart") {
		t.Errorf("replica: %v", err)
	}
}

// TestSyncPublication: the publication lists exactly the synced tables, in
// step as tables are added and removed, never a _sync_ table.
func TestSyncPublication(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	list := func() string {
		var s string
		must(t, d.pool.QueryRow(ctx, "SELECT coalesce(string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename), '') FROM pg_publication_tables WHERE pubname = 'tether'").Scan(&s))
		return s
	}
	if got := list(); got != "salesforce.account,salesforce.contact" {
		t.Errorf("after setup: %s", got)
	}
	d.exec(t, `CREATE TABLE salesforce.lead (id text UNIQUE, _sync_row_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text, _sync_updated_at timestamptz);
		ALTER TABLE salesforce.lead REPLICA IDENTITY FULL`)
	must(t, SyncPublication(ctx, d.pool, d.cfg, []string{"account", "contact", "lead"}))
	if got := list(); got != "salesforce.account,salesforce.contact,salesforce.lead" {
		t.Errorf("after adding lead: %s", got)
	}
	must(t, SyncPublication(ctx, d.pool, d.cfg, []string{"lead"}))
	if got := list(); got != "salesforce.lead" {
		t.Errorf("after removing: %s", got)
	}
	must(t, SyncPublication(ctx, d.pool, d.cfg, nil))
	if got := list(); got != "" {
		t.Errorf("after emptying: %s", got)
	}
	if err := SyncPublication(ctx, d.pool, d.cfg, []string{"_sync_write_log"}); err == nil {
		t.Error("a system table was accepted")
	}
	// Setup again is idempotent and puts the synced tables back.
	must(t, Setup(ctx, d.pool, d.cfg, nil))
	must(t, Setup(ctx, d.pool, d.cfg, nil))
	if got := list(); got != "salesforce.account,salesforce.contact" {
		t.Errorf("after setup again: %s", got)
	}
}

// TestCaptureLargeTransaction: one transaction of many rows is captured in
// chunks with bounded memory (1,000,000 rows under TETHER_CHAOS=1, 100,000
// otherwise), under a short wal_sender_timeout (2s) that capture must keep
// answering while it writes: the replication session is never dropped.
func TestCaptureLargeTransaction(t *testing.T) {
	rows := 100000
	if os.Getenv("TETHER_CHAOS") != "" {
		rows = 1000000
	}
	d := newTestDB(t)
	ctx := context.Background()
	cluster := pgtest.Shared(t)
	must(t, cluster.Exec(ctx, "postgres", "ALTER SYSTEM SET wal_sender_timeout = '2s'"))
	must(t, cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()"))
	t.Cleanup(func() {
		_ = cluster.Exec(ctx, "postgres", "ALTER SYSTEM RESET wal_sender_timeout")
		_ = cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
	})
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	defer close(stopSampling)
	d.startCapture(t, nil)
	d.exec(t, `INSERT INTO salesforce.account (n, name) VALUES (0, 'before')`)
	d.waitLog(t, 1, 20*time.Second)
	var pid int
	must(t, d.pool.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&pid))
	start := time.Now()
	d.exec(t, `INSERT INTO salesforce.account (n, name) SELECT g, 'row ' || g FROM generate_series(1, $1::int) g`, rows)
	d.exec(t, `INSERT INTO salesforce.account (n, name) VALUES (-1, 'after')`)
	d.waitLog(t, rows+2, 5*time.Minute)
	t.Logf("%d-row transaction captured in %s; peak Go heap in use %.1f MiB", rows, time.Since(start).Round(time.Millisecond), float64(peak.Load())/(1<<20))
	var pidAfter int
	must(t, d.pool.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&pidAfter))
	if pidAfter != pid {
		t.Errorf("the replication session was replaced (walsender %d, now %d): keepalives were not answered in time", pid, pidAfter)
	}
	var n, distinctLSN, maxSeq int
	must(t, d.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT commit_lsn), max(commit_seq) FROM salesforce._sync_write_log WHERE ("values"->>'n')::int > 0`).Scan(&n, &distinctLSN, &maxSeq))
	if n != rows || distinctLSN != 1 || maxSeq != rows-1 {
		t.Errorf("rows %d, commit_lsns %d, max seq %d", n, distinctLSN, maxSeq)
	}
	if peak.Load() > 200<<20 {
		t.Errorf("peak heap %d MiB: memory is not bounded", peak.Load()>>20)
	}
}

// TestCaptureKeepalive: with wal_sender_timeout at 1s, a log writer blocked
// for 4s (another session locks _sync_write_log) does not cost the
// replication session: capture keeps answering the server, then catches up.
func TestCaptureKeepalive(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	cluster := pgtest.Shared(t)
	must(t, cluster.Exec(ctx, "postgres", "ALTER SYSTEM SET wal_sender_timeout = '1s'"))
	must(t, cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()"))
	t.Cleanup(func() {
		_ = cluster.Exec(ctx, "postgres", "ALTER SYSTEM RESET wal_sender_timeout")
		_ = cluster.Exec(ctx, "postgres", "SELECT pg_reload_conf()")
	})
	d.startCapture(t, nil)
	d.exec(t, `INSERT INTO salesforce.account (n) VALUES (0)`)
	d.waitLog(t, 1, 20*time.Second)
	var pid int
	must(t, d.pool.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&pid))

	lock, err := d.pool.Begin(ctx)
	must(t, err)
	_, err = lock.Exec(ctx, "LOCK TABLE salesforce._sync_write_log IN EXCLUSIVE MODE")
	must(t, err)
	for i := 1; i <= 200; i++ {
		d.exec(t, `INSERT INTO salesforce.account (n) VALUES ($1)`, i)
	}
	d.exec(t, `INSERT INTO salesforce.account (n) SELECT g FROM generate_series(201, 20000) g`)
	time.Sleep(4 * time.Second)
	must(t, lock.Rollback(ctx))
	d.waitLog(t, 20001, 30*time.Second)
	var pidAfter int
	must(t, d.pool.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'tether'").Scan(&pidAfter))
	if pidAfter != pid {
		t.Errorf("the replication session was replaced (walsender %d, now %d): the server timed capture out", pid, pidAfter)
	}
	if n := d.logCount(t); n != 20001 {
		t.Errorf("log holds %d rows", n)
	}
}
