package replication

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config names the PostgreSQL objects capture uses. Empty fields take the
// defaults: schema "salesforce", slot, publication and origin "tether".
type Config struct {
	Schema      string // where the synced tables and the _sync_ system tables live
	Slot        string // logical replication slot (pgoutput)
	Publication string // publication listing exactly the synced tables
	Origin      string // replication origin of tether's own writes (also the echo marker prefix)
	// RecreateSlot lets Setup replace a slot that tether used before and
	// that was dropped or invalidated. Changes made while it was gone are
	// not captured, so only an operator's explicit `tether setup
	// --recreate-slot` sets it; otherwise Setup refuses with a *SlotError.
	RecreateSlot bool
}

// Default names.
const (
	DefaultSchema      = "salesforce"
	DefaultSlot        = "tether"
	DefaultPublication = "tether"
)

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Slot == "" {
		c.Slot = DefaultSlot
	}
	if c.Publication == "" {
		c.Publication = DefaultPublication
	}
	if c.Origin == "" {
		c.Origin = DefaultOrigin
	}
	return c
}

func (c Config) qualified(table string) string {
	return pgx.Identifier{c.Schema, table}.Sanitize()
}

// Setup creates what capture needs, idempotently: the publication (an
// explicit list of the synced tables, kept in step with tables), the logical
// replication slot (pgoutput) and the replication origin. tables are table
// names in cfg.Schema; nil means the tables recorded in _sync_tables.
//
// The system tables (schema.Migrate) must exist. A slot that exists but is
// invalidated is reported, never dropped and recreated: recreating it would
// silently skip every change made while it was broken.
func Setup(ctx context.Context, pool *pgxpool.Pool, cfg Config, tables []string) error {
	cfg = cfg.withDefaults()
	if tables == nil {
		var err error
		if tables, err = SyncedTables(ctx, pool, cfg); err != nil {
			return err
		}
	}
	if err := SyncPublication(ctx, pool, cfg, tables); err != nil {
		return err
	}
	st, err := slotState(ctx, pool, cfg.Slot)
	if err != nil {
		return err
	}
	switch {
	case !st.exists:
		// A checkpoint means tether captured from this slot before: it was
		// dropped, and creating a new one silently would skip every change
		// made since.
		var used bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+cfg.qualified("_sync_capture_checkpoint")+" WHERE slot_name = $1)", cfg.Slot).Scan(&used); err != nil {
			return fmt.Errorf("read capture checkpoint: %w", err)
		}
		if used && !cfg.RecreateSlot {
			return errSlotMissing(cfg.Slot, nil)
		}
		if err := createSlot(ctx, pool, cfg); err != nil {
			return err
		}
	case st.plugin != "pgoutput":
		return fmt.Errorf("replication slot %q uses plugin %q, not pgoutput: drop it (SELECT pg_drop_replication_slot('%s')) or configure another slot name", cfg.Slot, st.plugin, cfg.Slot)
	case st.walStatus == "lost":
		if !cfg.RecreateSlot {
			return errSlotInvalidated(cfg.Slot)
		}
		if _, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1)", cfg.Slot); err != nil {
			return fmt.Errorf("drop invalidated replication slot %q: %w", cfg.Slot, err)
		}
		if err := createSlot(ctx, pool, cfg); err != nil {
			return err
		}
	}
	if err := EnsureOrigin(ctx, pool, cfg.Origin); err != nil {
		// A role without the (optional) origin grants cannot create it; its
		// writes are marked with logical messages instead (EchoMessage).
		// NewEchoGuard in origin mode still fails loudly in that case.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
			return nil
		}
		return err
	}
	return nil
}

// createSlot creates the pgoutput slot and forgets any earlier checkpoint:
// the new slot starts from now.
func createSlot(ctx context.Context, pool *pgxpool.Pool, cfg Config) error {
	if _, err := pool.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", cfg.Slot); err != nil {
		if !isDuplicate(err) {
			return fmt.Errorf("create replication slot %q: %w", cfg.Slot, err)
		}
		return nil
	}
	if _, err := pool.Exec(ctx, "DELETE FROM "+cfg.qualified("_sync_capture_checkpoint")+" WHERE slot_name = $1", cfg.Slot); err != nil {
		return fmt.Errorf("reset capture checkpoint: %w", err)
	}
	return nil
}

// SyncedTables lists the tables recorded in <schema>._sync_tables that exist.
func SyncedTables(ctx context.Context, db queryer, cfg Config) ([]string, error) {
	cfg = cfg.withDefaults()
	rows, err := db.Query(ctx, `SELECT t.table_name FROM `+cfg.qualified("_sync_tables")+` t
		WHERE to_regclass(format('%I.%I', $1::text, t.table_name)) IS NOT NULL ORDER BY 1`, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("list synced tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list synced tables: %w", err)
	}
	return names, nil
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// SyncPublication makes the publication list exactly tables (names in
// cfg.Schema), creating it if needed. Tables starting with _sync_ are refused.
// Call it whenever a table starts or stops being synced; changes to a table
// are captured from the moment this commits.
func SyncPublication(ctx context.Context, db *pgxpool.Pool, cfg Config, tables []string) error {
	cfg = cfg.withDefaults()
	want := map[string]bool{}
	for _, t := range tables {
		if strings.HasPrefix(t, syncPrefix) {
			return fmt.Errorf("publication %q: refusing system table %q", cfg.Publication, t)
		}
		want[t] = true
	}
	conn, err := db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("sync publication: %w", err)
	}
	defer conn.Release()
	// Serialise concurrent callers (several tables added at once).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('tether.publication.' || $1))", cfg.Publication); err != nil {
		return fmt.Errorf("sync publication: lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext('tether.publication.' || $1))", cfg.Publication) //nolint:errcheck

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("sync publication: %w", err)
	}
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	sort.Strings(names)
	list := make([]string, len(names))
	for i, t := range names {
		list[i] = cfg.qualified(t)
	}
	pub := pgx.Identifier{cfg.Publication}.Sanitize()
	if !exists {
		sql := "CREATE PUBLICATION " + pub
		if len(list) > 0 {
			sql += " FOR TABLE " + strings.Join(list, ", ")
		}
		if _, err := conn.Exec(ctx, sql); err != nil && !isDuplicate(err) {
			return fmt.Errorf("create publication %q: %w", cfg.Publication, err)
		} else if err == nil {
			return nil
		}
	}
	rows, err := conn.Query(ctx, "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", cfg.Publication)
	if err != nil {
		return fmt.Errorf("sync publication: %w", err)
	}
	type st struct{ Schema, Table string }
	have, err := pgx.CollectRows(rows, pgx.RowToStructByPos[st])
	if err != nil {
		return fmt.Errorf("sync publication: %w", err)
	}
	same := len(have) == len(want)
	for _, h := range have {
		if h.Schema != cfg.Schema || !want[h.Table] {
			same = false
		}
	}
	if same {
		return nil
	}
	if len(list) > 0 {
		if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLE "+strings.Join(list, ", ")); err != nil {
			return fmt.Errorf("alter publication %q: %w", cfg.Publication, err)
		}
		return nil
	}
	drop := make([]string, len(have))
	for i, h := range have {
		drop[i] = pgx.Identifier{h.Schema, h.Table}.Sanitize()
	}
	if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pub+" DROP TABLE "+strings.Join(drop, ", ")); err != nil {
		return fmt.Errorf("alter publication %q: %w", cfg.Publication, err)
	}
	return nil
}

// slotInfo is a row of pg_replication_slots.
type slotInfo struct {
	exists    bool
	plugin    string
	database  string
	active    bool
	activePID int
	walStatus string
}

func slotState(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, slot string) (slotInfo, error) {
	var s slotInfo
	var pid *int32
	var plugin, database, walStatus *string
	err := db.QueryRow(ctx, `SELECT plugin, database, active, active_pid, wal_status
		FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&plugin, &database, &s.active, &pid, &walStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read replication slot %q: %w", slot, err)
	}
	s.exists = true
	if plugin != nil {
		s.plugin = *plugin
	}
	if database != nil {
		s.database = *database
	}
	if pid != nil {
		s.activePID = int(*pid)
	}
	if walStatus != nil {
		s.walStatus = *walStatus
	}
	return s, nil
}

// Preflight checks that capture can run and refuses with what to do when it
// cannot: wal_level must be logical; the role needs REPLICATION (or superuser)
// and write access to the _sync_ tables it writes; the slot must exist, use
// pgoutput, not be active in another session and not be invalidated; the
// publication must exist; every synced table needs REPLICA IDENTITY FULL. All
// problems found are reported together.
func Preflight(ctx context.Context, pool *pgxpool.Pool, cfg Config) error {
	cfg = cfg.withDefaults()
	var problems []error

	var walLevel string
	if err := pool.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if err := checkWALLevel(walLevel); err != nil {
		problems = append(problems, err)
	}

	var role string
	var super, repl bool
	if err := pool.QueryRow(ctx, `SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user`).Scan(&role, &super, &repl); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if !super && !repl {
		problems = append(problems, fmt.Errorf("role %q may not stream changes: run ALTER ROLE %s WITH REPLICATION as a superuser", role, pgx.Identifier{role}.Sanitize()))
	}
	missingTables := false
	for _, p := range []struct{ table, privs string }{
		{"_sync_write_log", "INSERT"},
		{"_sync_capture_checkpoint", "SELECT,INSERT,UPDATE"},
		{"_sync_tables", "SELECT"},
	} {
		var ok *bool
		err := pool.QueryRow(ctx, `SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE has_table_privilege($1, $2) END`, cfg.qualified(p.table), p.privs).Scan(&ok)
		if err != nil {
			return fmt.Errorf("preflight: %w", err)
		}
		switch {
		case ok == nil:
			missingTables = true
			problems = append(problems, fmt.Errorf("table %s does not exist: run `tether setup`", cfg.qualified(p.table)))
		case !*ok:
			problems = append(problems, fmt.Errorf("role %q lacks %s on %s: GRANT %s ON %s TO %s", role, p.privs, cfg.qualified(p.table), p.privs, cfg.qualified(p.table), pgx.Identifier{role}.Sanitize()))
		}
	}

	st, err := slotState(ctx, pool, cfg.Slot)
	if err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	// A tether that just died leaves its walsender for a moment: give it a
	// few seconds to go before calling the slot busy.
	for wait := time.Now().Add(slotReleaseWait); st.active && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if st, err = slotState(ctx, pool, cfg.Slot); err != nil {
			return fmt.Errorf("preflight: %w", err)
		}
	}
	var db string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	switch {
	case !st.exists:
		problems = append(problems, fmt.Errorf("replication slot %q does not exist: run `tether setup` (if tether used it before, changes made since it was dropped were not captured: check them, then `tether setup --recreate-slot`)", cfg.Slot))
	case st.plugin != "pgoutput":
		problems = append(problems, fmt.Errorf("replication slot %q uses plugin %q, not pgoutput: drop it or configure another slot name", cfg.Slot, st.plugin))
	case st.database != db:
		problems = append(problems, fmt.Errorf("replication slot %q belongs to database %q, not %q: configure another slot name", cfg.Slot, st.database, db))
	case st.walStatus == "lost":
		problems = append(problems, errSlotInvalidated(cfg.Slot))
	case st.active:
		problems = append(problems, fmt.Errorf("replication slot %q is in use by another session (pid %d): stop the other tether (or consumer) first, or configure another slot name", cfg.Slot, st.activePID))
	}

	var pubExists bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", cfg.Publication).Scan(&pubExists); err != nil {
		return fmt.Errorf("preflight: %w", err)
	}
	if !pubExists {
		problems = append(problems, fmt.Errorf("publication %q does not exist: run `tether setup`", cfg.Publication))
	}

	if pubExists && !missingTables {
		rows, err := pool.Query(ctx, `SELECT t.table_name FROM `+cfg.qualified("_sync_tables")+` t
			WHERE to_regclass(format('%I.%I', $1::text, t.table_name)) IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM pg_publication_tables p
			                  WHERE p.pubname = $2 AND p.schemaname = $1 AND p.tablename = t.table_name)
			ORDER BY 1`, cfg.Schema, cfg.Publication)
		if err != nil {
			return fmt.Errorf("preflight: publication tables: %w", err)
		}
		missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("preflight: publication tables: %w", err)
		}
		for _, m := range missing {
			problems = append(problems, fmt.Errorf("synced table %s is not in publication %q, so its changes would not be captured: run `tether setup`", cfg.qualified(m), cfg.Publication))
		}
	}
	if !missingTables {
		rows, err := pool.Query(ctx, `SELECT t.table_name, c.relreplident::text
			FROM `+cfg.qualified("_sync_tables")+` t
			JOIN pg_class c ON c.oid = to_regclass(format('%I.%I', $1::text, t.table_name))
			ORDER BY 1`, cfg.Schema)
		if err != nil {
			return fmt.Errorf("preflight: replica identity: %w", err)
		}
		type ri struct{ Table, Ident string }
		ris, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ri])
		if err != nil {
			return fmt.Errorf("preflight: replica identity: %w", err)
		}
		for _, r := range ris {
			if r.Ident != "f" {
				problems = append(problems, fmt.Errorf("table %s lacks REPLICA IDENTITY FULL, so updates and deletes would lose the old row: run ALTER TABLE %s REPLICA IDENTITY FULL", cfg.qualified(r.Table), cfg.qualified(r.Table)))
			}
		}
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

func checkWALLevel(level string) error {
	if level != "logical" {
		return fmt.Errorf("wal_level is %q, capture needs logical: run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL", level)
	}
	return nil
}

// slotReleaseWait is how long Preflight waits for an active slot to be released.
const slotReleaseWait = 3 * time.Second

// PreflightError lists every reason capture cannot start, each with its fix.
type PreflightError struct {
	Problems []error
}

func (e *PreflightError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "capture preflight failed: " + strings.Join(msgs, "; ")
}

// Unwrap returns the individual problems.
func (e *PreflightError) Unwrap() []error { return e.Problems }
