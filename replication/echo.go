package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultOrigin is the replication origin (and marker prefix) of tether's own writes.
const DefaultOrigin = "tether"

// EchoMode is how tether marks its own transactions.
type EchoMode string

const (
	// EchoOrigin: the session sets up replication origin (pg_replication_origin_session_setup);
	// pgoutput reports it with an Origin message and capture drops the transaction.
	EchoOrigin EchoMode = "origin"
	// EchoMessage: each transaction starts with a transactional
	// pg_logical_emit_message(true, <origin>, 'echo'); capture drops transactions carrying it.
	// For roles that may not use replication origins.
	EchoMessage EchoMode = "message"
)

// MarkerContent is the content of the transactional echo marker message.
const MarkerContent = "echo"

// EchoGuard runs tether's own writes in transactions that capture ignores.
//
// In origin mode, PostgreSQL (before 16) lets only one session at a time use a
// replication origin, so every guarded transaction goes through one dedicated
// connection, one at a time. In message mode transactions run concurrently on
// the pool.
type EchoGuard struct {
	pool   *pgxpool.Pool
	origin string
	mode   EchoMode

	mu   sync.Mutex // serialises use of conn (origin mode)
	conn *pgx.Conn
}

// NewEchoGuard prepares a guard. mode "" picks EchoOrigin when the role may
// use replication origins (superuser, or pg_replication_origin_session_setup
// granted) and EchoMessage otherwise. The origin is created if missing.
func NewEchoGuard(ctx context.Context, pool *pgxpool.Pool, origin string, mode EchoMode) (*EchoGuard, error) {
	if origin == "" {
		origin = DefaultOrigin
	}
	g := &EchoGuard{pool: pool, origin: origin, mode: mode}
	if g.mode == "" {
		g.mode = EchoMessage
		if err := EnsureOrigin(ctx, pool, origin); err == nil {
			var ok bool
			err := pool.QueryRow(ctx, `SELECT has_function_privilege('pg_replication_origin_session_setup(text)', 'EXECUTE')`).Scan(&ok)
			if err == nil && ok {
				g.mode = EchoOrigin
			}
		}
	} else if g.mode == EchoOrigin {
		if err := EnsureOrigin(ctx, pool, origin); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Mode reports how the guard marks transactions.
func (g *EchoGuard) Mode() EchoMode { return g.mode }

// Origin is the origin name (also the marker message prefix).
func (g *EchoGuard) Origin() string { return g.origin }

// EnsureOrigin creates replication origin name if it does not exist.
func EnsureOrigin(ctx context.Context, pool *pgxpool.Pool, name string) error {
	_, err := pool.Exec(ctx, `SELECT pg_replication_origin_create($1)
		WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`, name)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // created concurrently
			return nil
		}
		return fmt.Errorf("create replication origin %q: %w", name, err)
	}
	return nil
}

// Tx runs fn in a transaction marked as tether's own and commits it.
func (g *EchoGuard) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if g.mode == EchoMessage {
		return pgx.BeginFunc(ctx, g.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", g.origin, MarkerContent); err != nil {
				return fmt.Errorf("echo marker: %w", err)
			}
			return fn(tx)
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	conn, err := g.originConn(ctx)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, conn, fn)
	if err != nil && conn.IsClosed() {
		g.conn = nil
	}
	return err
}

func (g *EchoGuard) originConn(ctx context.Context) (*pgx.Conn, error) {
	if g.conn != nil && !g.conn.IsClosed() {
		return g.conn, nil
	}
	conn, err := pgx.ConnectConfig(ctx, g.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("echo guard connect: %w", err)
	}
	// After a transaction was cut off (its context ended), the previous
	// session's backend may hold the origin until it notices that its client
	// is gone: wait for it (object_in_use) rather than fail.
	deadline := time.Now().Add(originBusyWait)
	for {
		_, err = conn.Exec(ctx, "SELECT pg_replication_origin_session_setup($1)", g.origin)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("set up replication origin %q for this session: %w", g.origin, err)
	}
	g.conn = conn
	return conn, nil
}

// originBusyWait bounds the wait for a previous session to release the origin.
const originBusyWait = 15 * time.Second

// Close releases the dedicated connection.
func (g *EchoGuard) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conn != nil {
		_ = g.conn.Close(context.Background())
		g.conn = nil
	}
}
