package fetcher

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tether-sync/tether/upstream"
)

// Backfill states, as stored in _sync_tables.backfill_state.
const (
	statePending = "pending" // not started (or reset for a resync)
	stateRunning = "running" // pages being applied; the cursor says where to resume
	stateDone    = "done"    // incremental polling
)

// tableState is a table's row in _sync_tables: where fetching stands.
type tableState struct {
	Backfill     string
	Done, Total  int64
	Cursor       upstream.Cursor
	DeletedUntil time.Time // zero if not set
	LastChange   time.Time // zero if not set
	ResyncCount  int
}

// loadState reads the table's fetch state, creating its row if missing.
func loadState(ctx context.Context, tx pgx.Tx, t *table) (tableState, error) {
	var st tableState
	if _, err := tx.Exec(ctx, "INSERT INTO "+t.sys("_sync_tables")+" (table_name, object_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
		t.Name, t.Object); err != nil {
		return st, fmt.Errorf("create fetch state of %s: %w", t.Name, err)
	}
	var stamp, delUntil, lastChange *time.Time
	var cid *string
	err := tx.QueryRow(ctx, `SELECT backfill_state, backfill_done, backfill_total, cursor_stamp, cursor_id,
		deleted_until, last_change_at, resync_count FROM `+t.sys("_sync_tables")+` WHERE table_name = $1`, t.Name).
		Scan(&st.Backfill, &st.Done, &st.Total, &stamp, &cid, &delUntil, &lastChange, &st.ResyncCount)
	if err != nil {
		return st, fmt.Errorf("load fetch state of %s: %w", t.Name, err)
	}
	if stamp != nil {
		st.Cursor.Stamp = stamp.UTC()
	}
	if cid != nil {
		st.Cursor.ID = *cid
	}
	if delUntil != nil {
		st.DeletedUntil = delUntil.UTC()
	}
	if lastChange != nil {
		st.LastChange = lastChange.UTC()
	}
	return st, nil
}

// saveState writes the table's fetch state (in the caller's transaction, the
// one that applied the page the state describes).
func saveState(ctx context.Context, tx pgx.Tx, t *table, st tableState) error {
	_, err := tx.Exec(ctx, `UPDATE `+t.sys("_sync_tables")+` SET backfill_state = $2, backfill_done = $3,
		backfill_total = $4, cursor_stamp = $5, cursor_id = $6, deleted_until = $7, last_change_at = $8,
		resync_count = $9, last_poll_at = now(), updated_at = now() WHERE table_name = $1`,
		t.Name, st.Backfill, st.Done, st.Total, nullTime(st.Cursor.Stamp), nullString(st.Cursor.ID),
		nullTime(st.DeletedUntil), nullTime(st.LastChange), st.ResyncCount)
	if err != nil {
		return fmt.Errorf("save fetch state of %s: %w", t.Name, err)
	}
	return nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
