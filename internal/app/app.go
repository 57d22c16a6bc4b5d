// Package app wires tether's parts into the commands of cmd/tether: setup
// (system tables, synced tables, publication, slot, origin), check (preflight),
// run (fetcher, capture and writer under one leader lock, plus the HTTP
// status server) and status.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/fetcher"
	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/logging"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
	"github.com/tether-sync/tether/upstream/salesforce"
)

// ErrPreflight marks a refusal to start: something the user must fix first.
var ErrPreflight = errors.New("preflight failed")

// Env is what every command shares: the configuration, a logger, metrics and
// (once connected) the database pool.
type Env struct {
	Cfg     *config.Config
	Log     zerolog.Logger
	Metrics *metrics.Metrics
	Out     io.Writer // human output (stdout)

	// AddSecret registers a secret with the log redactor (e.g. an access token); may be nil.
	AddSecret func(...string)

	Pool    *pgxpool.Pool
	Health  health.Reporter
	Limiter *ratelimit.Limiter

	// RecreateSlot lets setup replace a replication slot tether used before
	// that was dropped or invalidated (`tether setup --recreate-slot`).
	RecreateSlot bool

	migrated bool // the system tables are known to be current
}

func (e *Env) component(name string) zerolog.Logger { return logging.Component(e.Log, name) }

// Connect opens the pool (idempotent).
func (e *Env) Connect(ctx context.Context) error {
	if e.Pool != nil {
		return nil
	}
	if err := e.Cfg.RequireDatabase(); err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(e.Cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database_url: %s", redactErr(err, e.Cfg))
	}
	if pcfg.MaxConns < 8 {
		pcfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %s", redactErr(err, e.Cfg))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return fmt.Errorf("connect to PostgreSQL (%s): %s", config.RedactDSN(e.Cfg.DatabaseURL), redactErr(err, e.Cfg))
	}
	e.Pool = pool
	return nil
}

// Close releases the pool.
func (e *Env) Close() {
	if e.Pool != nil {
		e.Pool.Close()
		e.Pool = nil
	}
}

// redactErr renders err with every configured secret masked.
func redactErr(err error, cfg *config.Config) string {
	s := err.Error()
	for _, sec := range cfg.Secrets() {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, config.Mask)
		}
	}
	return s
}

// ReplicationConfig names the replication objects from the configuration.
func (e *Env) ReplicationConfig() replication.Config {
	return replication.Config{Schema: e.Cfg.Schema, Slot: e.Cfg.Slot, Publication: e.Cfg.Publication, Origin: e.Cfg.Origin,
		RecreateSlot: e.RecreateSlot}
}

// Provider builds the Salesforce client on the shared limiter.
func (e *Env) Provider(ctx context.Context) (*salesforce.Client, error) {
	if err := e.Cfg.RequireSalesforce(); err != nil {
		return nil, err
	}
	if e.Limiter == nil {
		e.Limiter = ratelimit.New(ratelimit.Config{
			AllowedRequests: e.Cfg.Rate.AllowedRequests,
			Period:          e.Cfg.Rate.Period(),
			MaxConcurrent:   e.Cfg.Rate.MaxConcurrent,
			DailyShare:      e.Cfg.DailyLimitShare,
		})
	}
	h := e.Health
	if h == nil {
		h = health.Nop{}
	}
	sf := e.Cfg.Salesforce
	return salesforce.New(ctx, salesforce.Config{
		LoginURL:        sf.LoginURL,
		ClientID:        sf.ClientID,
		ClientSecret:    sf.ClientSecret,
		RefreshToken:    sf.RefreshToken,
		APIVersion:      sf.APIVersion,
		Limiter:         e.Limiter,
		DailyLimitShare: e.Cfg.DailyLimitShare,
		Logger:          e.Log,
		Metrics:         e.Metrics,
		Health:          h,
	})
}

// ResolveObjects lists the objects to sync: the configured ones, plus every
// readable custom object when configured so. Configured objects the provider
// does not know are returned separately, so the caller can say so.
func (e *Env) ResolveObjects(ctx context.Context, p upstream.Provider) (objects, unknown []string, err error) {
	sums, err := p.Objects(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list Salesforce objects: %w", err)
	}
	known := map[string]string{}
	var names []string
	for _, s := range sums {
		if s.Queryable {
			known[strings.ToLower(s.Name)] = s.Name
			names = append(names, s.Name)
		}
	}
	for _, o := range e.Cfg.ResolveObjects(names) {
		if name, ok := known[strings.ToLower(o)]; ok {
			objects = append(objects, name)
		} else {
			unknown = append(unknown, o)
		}
	}
	return objects, unknown, nil
}

// Fetcher builds the fetcher for objects.
func (e *Env) Fetcher(p upstream.Provider, guard *replication.EchoGuard, objects []string) *fetcher.Fetcher {
	return fetcher.New(fetcher.Config{
		Schema:       e.Cfg.Schema,
		Objects:      objects,
		PollInterval: e.Cfg.PollInterval,
		Provider:     p,
		Pool:         e.Pool,
		Guard:        guard,
		Health:       e.health(),
		Metrics:      e.Metrics,
		Logger:       e.Log,
		// A table prepared after setup (its describe failed at first) joins
		// the publication, so the application's writes to it are captured.
		OnNewTable: func(ctx context.Context, t *schema.Table) error {
			names, err := replication.SyncedTables(ctx, e.Pool, e.ReplicationConfig())
			if err != nil {
				return err
			}
			return replication.SyncPublication(ctx, e.Pool, e.ReplicationConfig(), names)
		},
	})
}

func (e *Env) health() health.Reporter {
	if e.Health == nil {
		return health.Nop{}
	}
	return e.Health
}

// Migrate creates the schema and the system tables (once per Env).
func (e *Env) Migrate(ctx context.Context) error {
	if e.migrated {
		return nil
	}
	conn, err := e.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if err := schema.Migrate(ctx, conn.Conn(), e.Cfg.Schema); err != nil {
		return err
	}
	e.migrated = true
	return nil
}

// SetupResult says what Setup prepared.
type SetupResult struct {
	Tables   []*schema.Table
	Unknown  []string // configured objects Salesforce does not have
	EchoMode replication.EchoMode
}

// Setup is idempotent: system tables, one table per object, the publication,
// the slot and the origin.
func (e *Env) Setup(ctx context.Context, p upstream.Provider) (*SetupResult, *replication.EchoGuard, *fetcher.Fetcher, error) {
	if err := e.Connect(ctx); err != nil {
		return nil, nil, nil, err
	}
	if err := e.ServerPreflight(ctx); err != nil {
		return nil, nil, nil, err
	}
	if err := e.Migrate(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("create system tables: %w", err)
	}
	objects, unknown, err := e.ResolveObjects(ctx, p)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, u := range unknown {
		e.health().Report(ctx, health.Table(strings.ToLower(u)), health.CustomerIntervention,
			fmt.Sprintf("object %q is not readable by this Salesforce credential (unknown object or no permission); it is not synced", u))
		log := e.component("setup")
		log.Error().Str("object", u).Msg("configured object is unknown to Salesforce or not readable; skipped")
	}
	if len(objects) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: none of the configured objects (%s) can be read with this credential", ErrPreflight, strings.Join(e.Cfg.Objects, ", "))
	}
	guard, err := replication.NewEchoGuard(ctx, e.Pool, e.Cfg.Origin, replication.EchoMode(e.Cfg.EchoMode))
	if err != nil {
		return nil, nil, nil, err
	}
	f := e.Fetcher(p, guard, objects)
	tables, err := f.Prepare(ctx)
	if err != nil {
		guard.Close()
		return nil, nil, nil, fmt.Errorf("create synced tables: %w", err)
	}
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	if err := replication.Setup(ctx, e.Pool, e.ReplicationConfig(), names); err != nil {
		// A role without the optional origin grants cannot create the origin;
		// its writes are marked with logical messages instead (EchoMessage).
		guard.Close()
		var slotErr *replication.SlotError
		if errors.As(err, &slotErr) {
			e.health().Report(ctx, health.Capture, health.TetherIntervention, slotErr.Error())
			return nil, nil, nil, fmt.Errorf("%w: %v", ErrPreflight, err)
		}
		return nil, nil, nil, err
	}
	return &SetupResult{Tables: tables, Unknown: unknown, EchoMode: guard.Mode()}, guard, f, nil
}

// ServerPreflight checks what setup cannot create: wal_level = logical and a
// role that may replicate. It returns an error wrapping ErrPreflight that
// says what to change.
func (e *Env) ServerPreflight(ctx context.Context) error {
	var level string
	var replicate bool
	err := e.Pool.QueryRow(ctx, `SELECT current_setting('wal_level'),
		(SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&level, &replicate)
	if err != nil {
		return fmt.Errorf("read server settings: %w", err)
	}
	var problems []string
	if level != "logical" {
		problems = append(problems, fmt.Sprintf("wal_level is %q; tether needs logical: run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL", level))
	}
	if !replicate {
		problems = append(problems, "this role may not replicate: ALTER ROLE <role> REPLICATION (see `tether setup` for every grant)")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrPreflight, strings.Join(problems, "; "))
	}
	return nil
}

// Grants returns the SQL a database administrator runs so that a
// non-superuser role can run tether, for the configured database and schema.
func Grants(database, role, schemaName, appRole string) string {
	if role == "" {
		role = "tether"
	}
	if appRole == "" {
		appRole = "app_user"
	}
	id := func(s string) string { return pgx.Identifier{s}.Sanitize() }
	return fmt.Sprintf(`-- A least-privileged role for tether (run as a superuser or the database owner):
CREATE ROLE %[2]s LOGIN REPLICATION PASSWORD 'choose-one';
GRANT CONNECT, CREATE ON DATABASE %[1]s TO %[2]s;   -- schema %[3]s, publication
-- Optional: lets tether mark its own writes with a replication origin. Without
-- these, tether marks them with a transactional logical message instead.
GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO %[2]s;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO %[2]s;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_reset() TO %[2]s;
-- Your application's role, after tether setup created the tables:
GRANT USAGE ON SCHEMA %[3]s TO %[4]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[3]s TO %[4]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[2]s IN SCHEMA %[3]s GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %[4]s;
-- and wal_level = logical in postgresql.conf (restart needed), with a free slot and WAL sender.
`, id(database), id(role), id(schemaName), id(appRole))
}
