package leader

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var fast = Options{PollInterval: 100 * time.Millisecond, CheckInterval: 100 * time.Millisecond}

type result struct {
	lease *Lease
	err   error
	at    time.Time
}

func acquireAsync(ctx context.Context, dsn, key string, opts Options) chan result {
	ch := make(chan result, 1)
	go func() {
		l, err := AcquireWith(ctx, dsn, key, opts)
		ch <- result{l, err, time.Now()}
	}()
	return ch
}

func TestFailoverWhenLeaderConnectionTerminated(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)

	a, err := Acquire(ctx, dsn, "tether:salesforce") // default options: 1 s polling
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()

	bCh := acquireAsync(ctx, dsn, "tether:salesforce", Options{})
	// A different key is independent.
	other, err := AcquireWith(ctx, dsn, "tether:other", fast)
	if err != nil {
		t.Fatal(err)
	}
	other.Release()

	select {
	case r := <-bCh:
		t.Fatalf("second acquirer got the lease while the first holds it: %+v", r)
	case <-time.After(1500 * time.Millisecond):
	}

	// Kill the leader's session, as a crash or network partition would.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	killed := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int(a.PID())); err != nil {
		t.Fatal(err)
	}

	select {
	case <-a.Lost():
		if a.Err() == nil {
			t.Error("Err is nil after the connection died")
		}
		t.Logf("old leader noticed after %s", time.Since(killed).Round(time.Millisecond))
	case <-time.After(6 * time.Second):
		t.Fatal("old leader did not notice its connection died")
	}
	var b *Lease
	select {
	case r := <-bCh:
		if r.err != nil {
			t.Fatal(r.err)
		}
		b = r.lease
		t.Logf("new leader after %s", r.at.Sub(killed).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("second acquirer did not take over within 5 s")
	}

	// The lock is visibly held by the new leader's session.
	var holder int
	if err := conn.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = $1`, LockID("tether:salesforce")).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	if uint32(holder) != b.PID() {
		t.Errorf("lock held by pid %d, new leader is %d", holder, b.PID())
	}

	// Release hands over too.
	cCh := acquireAsync(ctx, dsn, "tether:salesforce", fast)
	time.Sleep(300 * time.Millisecond)
	released := time.Now()
	b.Release()
	b.Release() // idempotent
	select {
	case <-b.Lost():
		if b.Err() != nil {
			t.Errorf("Err after Release = %v", b.Err())
		}
	default:
		t.Error("Lost not closed after Release")
	}
	select {
	case r := <-cCh:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Logf("handover after release: %s", r.at.Sub(released).Round(time.Millisecond))
		r.lease.Release()
	case <-time.After(3 * time.Second):
		t.Fatal("third acquirer did not get the lease after Release")
	}
	a.Release() // after loss: harmless
}

func TestAcquireStopsWithContext(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	a, err := AcquireWith(ctx, dsn, "k", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	wctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	_, err = AcquireWith(wctx, dsn, "k", fast)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestAcquireBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Acquire(ctx, "postgres://nobody:pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", "k")
	if err == nil {
		t.Fatal("no error for an unreachable database")
	}
}

func TestLockIDStable(t *testing.T) {
	a, again := LockID("a"), LockID("a")
	if a != again || a == LockID("b") {
		t.Error("LockID not a stable hash")
	}
}

func TestLeaseLostWhenPostgresCrashes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	cluster := pgtest.Shared(t)
	a, err := AcquireWith(ctx, dsn, "crash", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	if err := cluster.Crash(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("lease not lost after PostgreSQL crashed")
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	// After recovery the lock is free again (it died with the session).
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	b, err := AcquireWith(wctx, dsn, "crash", fast)
	if err != nil {
		t.Fatalf("re-acquire after restart: %v", err)
	}
	b.Release()
}
