package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/metrics"
)

// DB is what Store and Load need from a connection or pool
// (*pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// RefreshEvery is how often Store rewrites an unchanged report, so that
// _sync_health.updated_at shows the reporter is alive.
const RefreshEvery = 30 * time.Second

// persistTimeout bounds one write to _sync_health.
const persistTimeout = 5 * time.Second

// Store is a Reporter that keeps the latest status per component in memory
// (for /health) and in <schema>._sync_health (for `tether status` from another
// process). Since changes only when a component's status changes, also across
// restarts: the table's since is kept while the status stays the same. A
// failed database write is logged and retried on the next report; the memory
// copy is always current. Safe for concurrent use.
type Store struct {
	mem    *Memory
	db     DB
	table  string // quoted <schema>._sync_health
	log    zerolog.Logger
	writeM sync.Mutex // serialises database writes so they land in report order
	mu     sync.Mutex
	saved  map[string]saved
	m      *metrics.Metrics
}

// WithMetrics makes every report also set the tether_health_status gauge;
// it returns s for chaining: health.NewStore(pool, schema, log).WithMetrics(m).
func (s *Store) WithMetrics(m *metrics.Metrics) *Store {
	s.m = m
	return s
}

type saved struct {
	status  Status
	message string
	at      time.Time
}

// NewStore returns a Store writing to schemaName._sync_health (the table is
// created by schema.Migrate).
func NewStore(db DB, schemaName string, log zerolog.Logger) *Store {
	return &Store{
		mem:   NewMemory(),
		db:    db,
		table: pgx.Identifier{schemaName, "_sync_health"}.Sanitize(),
		log:   log.With().Str("component", "health").Logger(),
		saved: map[string]saved{},
	}
}

// Report implements Reporter. It updates memory at once and writes the table
// when the status or message changed, or RefreshEvery after the last write.
func (s *Store) Report(ctx context.Context, component string, status Status, message string) {
	s.mem.Report(ctx, component, status, message)
	s.m.Health(component, string(status))
	now := time.Now()
	s.mu.Lock()
	last, ok := s.saved[component]
	s.mu.Unlock()
	if ok && last.status == status && last.message == message && now.Sub(last.at) < RefreshEvery {
		return
	}

	s.writeM.Lock()
	defer s.writeM.Unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
	defer cancel()
	var since time.Time
	err := s.db.QueryRow(wctx, `INSERT INTO `+s.table+` AS h (component, status, message, since, updated_at)
		VALUES ($1, $2, $3, now(), now())
		ON CONFLICT (component) DO UPDATE SET
			status = EXCLUDED.status, message = EXCLUDED.message, updated_at = EXCLUDED.updated_at,
			since = CASE WHEN h.status = EXCLUDED.status THEN h.since ELSE EXCLUDED.since END
		RETURNING since`, component, string(status), message).Scan(&since)
	if err != nil {
		s.log.Warn().Err(err).Str("health_component", component).Str("status", string(status)).Msg("could not record health in the database")
		return
	}
	s.mu.Lock()
	s.saved[component] = saved{status: status, message: message, at: now}
	s.mu.Unlock()
	// Carry the table's since (it survives restarts) into memory, unless a
	// newer report changed the status meanwhile.
	s.mem.mu.Lock()
	if e, ok := s.mem.entries[component]; ok && e.Status == status && since.Before(e.Since) {
		e.Since = since
		s.mem.entries[component] = e
	}
	s.mem.mu.Unlock()
}

// Snapshot implements Source: this process's entries, sorted by component.
func (s *Store) Snapshot() []Entry { return s.mem.Snapshot() }

// Get returns one component's entry as last reported by this process.
func (s *Store) Get(component string) (Entry, bool) { return s.mem.Get(component) }

// Forget removes a component (e.g. a table no longer synced) from memory and
// from the table.
func (s *Store) Forget(ctx context.Context, component string) error {
	s.mem.mu.Lock()
	delete(s.mem.entries, component)
	s.mem.mu.Unlock()
	s.mu.Lock()
	delete(s.saved, component)
	s.mu.Unlock()
	if _, err := s.db.Exec(ctx, "DELETE FROM "+s.table+" WHERE component = $1", component); err != nil {
		return fmt.Errorf("forget health of %s: %w", component, err)
	}
	return nil
}

// Load reads every entry of schemaName._sync_health, sorted by component.
func Load(ctx context.Context, db DB, schemaName string) ([]Entry, error) {
	rows, err := db.Query(ctx, `SELECT component, status, message, since, updated_at FROM `+
		pgx.Identifier{schemaName, "_sync_health"}.Sanitize()+` ORDER BY component`)
	if err != nil {
		return nil, fmt.Errorf("load health: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var st string
		if err := rows.Scan(&e.Component, &st, &e.Message, &e.Since, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("load health: %w", err)
		}
		e.Status = Status(st)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load health: %w", err)
	}
	return out, nil
}
