// Package status gathers what `tether status` (and GET /status) shows, from
// the database alone so that any process can ask: per synced table its row
// count, backfill progress and poll lag; the write log's counts by state and
// latest failures; capture slot lag; health; Salesforce API usage.
//
// Usage:
//
//	rep, err := status.Collect(ctx, pool, "salesforce")
//	if err != nil { return err }
//	rep.Render(os.Stdout)           // human text, progress bars for running backfills
//	b, _ := rep.JSON()              // the same as JSON
//	rep.Export(m)                   // write-log and backfill gauges into *metrics.Metrics
//	go status.RecordUsage(ctx, pool, "salesforce", 30*time.Second, client.Usage) // feeds "API usage"
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
)

// ExactCountBelow: tables whose planner estimate is below this many rows are
// counted exactly; bigger ones show the estimate (pg_class.reltuples).
const ExactCountBelow = 100_000

// LatestFailures is how many failed write-log rows a report lists.
const LatestFailures = 5

// WriteStates are the write-log states, in lifecycle order.
var WriteStates = []string{"new", "pending", "succeeded", "failed", "skipped"}

// Report is one snapshot of tether's state.
type Report struct {
	GeneratedAt time.Time      `json:"generated_at"`
	Schema      string         `json:"schema"`
	Overall     health.Status  `json:"overall"`
	Health      []health.Entry `json:"health"`
	Tables      []Table        `json:"tables"`
	WriteLog    WriteLog       `json:"write_log"`
	Capture     []Capture      `json:"capture"`
	API         *APIUsage      `json:"api_usage,omitempty"`
	Leader      *LeaderInfo    `json:"leader,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"`
}

// Table is one synced table.
type Table struct {
	Table         string     `json:"table"`
	Object        string     `json:"object"`
	Rows          int64      `json:"rows"`           // -1 if the table is missing
	RowsEstimated bool       `json:"rows_estimated"` // Rows is pg_class.reltuples
	Backfill      string     `json:"backfill"`       // pending, running, done
	BackfillDone  int64      `json:"backfill_done"`
	BackfillTotal int64      `json:"backfill_total"` // -1 unknown
	LastPollAt    *time.Time `json:"last_poll_at,omitempty"`
	LastChangeAt  *time.Time `json:"last_change_at,omitempty"`
	// PollAgeSeconds is now - last_poll_at; ChangeLagSeconds now - last_change_at (-1 if never).
	PollAgeSeconds   float64 `json:"poll_age_seconds"`
	ChangeLagSeconds float64 `json:"change_lag_seconds"`
	Resyncs          int     `json:"resyncs"`
	OpenWrites       int64   `json:"open_writes"` // write-log rows new or pending
}

// Progress is the backfill's completed share in [0,1], or -1 when the total is unknown.
func (t Table) Progress() float64 {
	if t.Backfill == "done" {
		return 1
	}
	if t.BackfillTotal <= 0 {
		if t.BackfillTotal == 0 {
			return 1
		}
		return -1
	}
	p := float64(t.BackfillDone) / float64(t.BackfillTotal)
	if p > 1 {
		p = 1
	}
	return p
}

// WriteLog summarises _sync_write_log.
type WriteLog struct {
	Counts         map[string]int64 `json:"counts"` // every state, zeros included
	OldestOpenAt   *time.Time       `json:"oldest_open_at,omitempty"`
	LatestFailures []Failure        `json:"latest_failures"`
}

// Failure is one failed write-log row.
type Failure struct {
	ID         int64     `json:"id"`
	Table      string    `json:"table"`
	Action     string    `json:"action"`
	APIID      string    `json:"api_id,omitempty"`
	RowID      *int64    `json:"row_id,omitempty"`
	APIResult  *int      `json:"api_result,omitempty"`
	APIMessage string    `json:"api_message"`
	Attempts   int       `json:"attempts"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Capture is one capture checkpoint and its replication slot.
type Capture struct {
	Slot          string    `json:"slot"`
	CheckpointLSN string    `json:"checkpoint_lsn"`
	CheckpointAt  time.Time `json:"checkpoint_at"`
	SlotExists    bool      `json:"slot_exists"`
	Active        bool      `json:"active"`
	WALStatus     string    `json:"wal_status,omitempty"`
	LagBytes      *int64    `json:"lag_bytes,omitempty"` // server WAL end - slot's confirmed position
}

func sys(schemaName, table string) string { return pgx.Identifier{schemaName, table}.Sanitize() }

// Collect reads a report from the database. It fails when the schema has no
// tether system tables (run `tether setup`); smaller gaps (no slot yet, no
// usage recorded) are left empty.
func Collect(ctx context.Context, db DB, schemaName string) (*Report, error) {
	r := &Report{Schema: schemaName, Tables: []Table{}, Capture: []Capture{}, Health: []health.Entry{},
		WriteLog: WriteLog{Counts: map[string]int64{}, LatestFailures: []Failure{}}}
	var ok bool
	if err := db.QueryRow(ctx, "SELECT now(), to_regclass($1) IS NOT NULL", sys(schemaName, "_sync_tables")).Scan(&r.GeneratedAt, &ok); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("status: schema %q has no tether system tables; run `tether setup`", schemaName)
	}
	steps := []struct {
		name string
		fn   func(context.Context, DB, *Report) error
	}{
		{"tables", collectTables}, {"write log", collectWriteLog}, {"capture", collectCapture},
		{"health", collectHealth}, {"state", collectState},
	}
	for _, s := range steps {
		if err := s.fn(ctx, db, r); err != nil {
			return nil, fmt.Errorf("status: %s: %w", s.name, err)
		}
	}
	r.Overall = health.Overall(r.Health)
	return r, nil
}

func collectTables(ctx context.Context, db DB, r *Report) error {
	rows, err := db.Query(ctx, `SELECT t.table_name, t.object_name, t.backfill_state, t.backfill_done, t.backfill_total,
			t.last_poll_at, t.last_change_at, t.resync_count,
			coalesce(extract(epoch FROM now() - t.last_poll_at), -1)::float8,
			coalesce(extract(epoch FROM now() - t.last_change_at), -1)::float8,
			c.reltuples::bigint, c.oid IS NOT NULL
		FROM `+sys(r.Schema, "_sync_tables")+` t
		LEFT JOIN pg_namespace n ON n.nspname = $1
		LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name AND c.relkind IN ('r', 'p')
		ORDER BY t.table_name`, r.Schema)
	if err != nil {
		return err
	}
	type est struct {
		tuples *int64
		exists bool
	}
	var ests []est
	for rows.Next() {
		var t Table
		var e est
		if err := rows.Scan(&t.Table, &t.Object, &t.Backfill, &t.BackfillDone, &t.BackfillTotal, &t.LastPollAt, &t.LastChangeAt,
			&t.Resyncs, &t.PollAgeSeconds, &t.ChangeLagSeconds, &e.tuples, &e.exists); err != nil {
			rows.Close()
			return err
		}
		r.Tables = append(r.Tables, t)
		ests = append(ests, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range r.Tables {
		t := &r.Tables[i]
		switch {
		case !ests[i].exists:
			t.Rows = -1
			r.Warnings = append(r.Warnings, fmt.Sprintf("table %s.%s is missing", r.Schema, t.Table))
		case ests[i].tuples != nil && *ests[i].tuples >= ExactCountBelow:
			t.Rows, t.RowsEstimated = *ests[i].tuples, true
		default: // small, or never analysed (reltuples -1)
			if err := db.QueryRow(ctx, "SELECT count(*) FROM "+sys(r.Schema, t.Table)).Scan(&t.Rows); err != nil {
				return fmt.Errorf("count %s: %w", t.Table, err)
			}
		}
	}
	// Open write-log entries per table.
	orows, err := db.Query(ctx, `SELECT table_name, count(*) FROM `+sys(r.Schema, "_sync_write_log")+
		` WHERE state IN ('new', 'pending') GROUP BY table_name`)
	if err != nil {
		return err
	}
	open := map[string]int64{}
	for orows.Next() {
		var name string
		var n int64
		if err := orows.Scan(&name, &n); err != nil {
			orows.Close()
			return err
		}
		open[name] = n
	}
	orows.Close()
	if err := orows.Err(); err != nil {
		return err
	}
	for i := range r.Tables {
		r.Tables[i].OpenWrites = open[r.Tables[i].Table]
	}
	return nil
}

func collectWriteLog(ctx context.Context, db DB, r *Report) error {
	for _, s := range WriteStates {
		r.WriteLog.Counts[s] = 0
	}
	rows, err := db.Query(ctx, "SELECT state, count(*) FROM "+sys(r.Schema, "_sync_write_log")+" GROUP BY state")
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return err
		}
		r.WriteLog.Counts[s] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, "SELECT min(inserted_at) FROM "+sys(r.Schema, "_sync_write_log")+
		" WHERE state IN ('new', 'pending')").Scan(&r.WriteLog.OldestOpenAt); err != nil {
		return err
	}
	frows, err := db.Query(ctx, `SELECT id, table_name, action, coalesce(api_id, ''), row_id, api_result,
			coalesce(api_message, ''), attempts, updated_at
		FROM `+sys(r.Schema, "_sync_write_log")+` WHERE state = 'failed' ORDER BY updated_at DESC, id DESC LIMIT $1`, LatestFailures)
	if err != nil {
		return err
	}
	defer frows.Close()
	for frows.Next() {
		var f Failure
		if err := frows.Scan(&f.ID, &f.Table, &f.Action, &f.APIID, &f.RowID, &f.APIResult, &f.APIMessage, &f.Attempts, &f.UpdatedAt); err != nil {
			return err
		}
		r.WriteLog.LatestFailures = append(r.WriteLog.LatestFailures, f)
	}
	return frows.Err()
}

func collectCapture(ctx context.Context, db DB, r *Report) error {
	// pg_current_wal_lsn() fails on a standby; lag is then unknown.
	var inRecovery bool
	if err := db.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		return err
	}
	lag := "pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint"
	if inRecovery {
		lag = "NULL::bigint"
	}
	rows, err := db.Query(ctx, `SELECT k.slot_name, k.lsn::text, k.updated_at, s.slot_name IS NOT NULL,
			coalesce(s.active, false), coalesce(s.wal_status, ''), `+lag+`
		FROM `+sys(r.Schema, "_sync_capture_checkpoint")+` k
		LEFT JOIN pg_replication_slots s ON s.slot_name = k.slot_name AND s.database = current_database()
		ORDER BY k.slot_name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c Capture
		if err := rows.Scan(&c.Slot, &c.CheckpointLSN, &c.CheckpointAt, &c.SlotExists, &c.Active, &c.WALStatus, &c.LagBytes); err != nil {
			return err
		}
		if !c.SlotExists {
			r.Warnings = append(r.Warnings, fmt.Sprintf("replication slot %s is missing", c.Slot))
		}
		r.Capture = append(r.Capture, c)
	}
	return rows.Err()
}

func collectHealth(ctx context.Context, db DB, r *Report) error {
	es, err := health.Load(ctx, db, r.Schema)
	if err != nil {
		return err
	}
	if es != nil {
		r.Health = es
	}
	return nil
}

func collectState(ctx context.Context, db DB, r *Report) error {
	var u APIUsage
	at, ok, err := GetState(ctx, db, r.Schema, KeyAPIUsage, &u)
	if err != nil {
		return err
	}
	if ok {
		u.UpdatedAt = at
		r.API = &u
	}
	var l LeaderInfo
	at, ok, err = GetState(ctx, db, r.Schema, KeyLeader, &l)
	if err != nil {
		return err
	}
	if ok {
		l.UpdatedAt = at
		r.Leader = &l
	}
	return nil
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Export copies the report's write-log counts and backfill progress into m
// (nil-safe), e.g. from a periodic status refresh.
func (r *Report) Export(m *metrics.Metrics) {
	for s, n := range r.WriteLog.Counts {
		m.WriteLog(s, n)
	}
	for _, t := range r.Tables {
		m.Backfill(t.Table, t.BackfillDone, t.BackfillTotal)
	}
	if r.API != nil {
		m.Usage(r.API.Used, r.API.Max)
	}
	for _, e := range r.Health {
		m.Health(e.Component, string(e.Status))
	}
}
