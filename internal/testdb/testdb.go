// Package testdb gives tests a fresh database on the package's throwaway
// PostgreSQL cluster (internal/pgtest) with tether's system tables created.
// The package's TestMain must call pgtest.Main.
package testdb

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/schema"
)

// Migrated creates a database, runs schema.Migrate for schemaName, and
// returns its connection string and a pool closed when the test ends.
func Migrated(t testing.TB, schemaName string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := schema.Migrate(ctx, conn, schemaName); err != nil {
		t.Fatalf("migrate %s: %v", schemaName, err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return dsn, pool
}
