package schema_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/schema"
)

// TestMigrateTwiceAndConcurrently runs Migrate again on a migrated schema and
// from two connections at once; each migration is applied exactly once.
func TestMigrateTwiceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	conns := make([]*pgx.Conn, 2)
	for i := range conns {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if err := schema.Migrate(ctx, c, "sf sync"); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	if err := schema.Migrate(ctx, conns[0], "sf sync"); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var applied, distinct int
	if err := conns[0].QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM "sf sync"._sync_migrations`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != len(ms) || distinct != len(ms) {
		t.Errorf("_sync_migrations: %d rows (%d versions), want %d", applied, distinct, len(ms))
	}
	for _, tbl := range []string{"_sync_write_log", "_sync_columns", "_sync_tables", "_sync_capture_checkpoint", "_sync_health"} {
		var ok bool
		if err := conns[1].QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", `"sf sync".`+tbl).Scan(&ok); err != nil || !ok {
			t.Errorf("%s missing (%v)", tbl, err)
		}
	}
	// The advisory lock is released: another session can take it at once.
	var got bool
	if err := conns[1].QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext('tether.migrate.' || $1))", "sf sync").Scan(&got); err != nil || !got {
		t.Errorf("migrate lock still held: %v %v", got, err)
	}
}
