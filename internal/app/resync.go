package app

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/fetcher"
)

// ErrUnknownObject marks a resync request for an object tether does not sync.
var ErrUnknownObject = fmt.Errorf("not a synced object")

// RequestResync asks the running (or next) tether to read the given objects'
// tables again from the start; all selects every synced table. A full read
// also removes rows whose records Salesforce no longer has. It returns the
// tables requested.
func (e *Env) RequestResync(ctx context.Context, objects []string, all bool) ([]string, error) {
	if err := e.Connect(ctx); err != nil {
		return nil, err
	}
	q := pgx.Identifier{e.Cfg.Schema, "_sync_tables"}.Sanitize()
	rows, err := e.Pool.Query(ctx, "SELECT table_name, object_name FROM "+q+" ORDER BY table_name")
	if err != nil {
		return nil, fmt.Errorf("read synced tables (has `tether setup` run?): %w", err)
	}
	byName := map[string]string{}
	var known []string
	for rows.Next() {
		var table, object string
		if err := rows.Scan(&table, &object); err != nil {
			return nil, err
		}
		byName[strings.ToLower(table)] = table
		byName[strings.ToLower(object)] = table
		known = append(known, object)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	if all {
		for _, t := range byName {
			want[t] = true
		}
	}
	for _, o := range objects {
		t, ok := byName[strings.ToLower(o)]
		if !ok {
			return nil, fmt.Errorf("%w: %q (synced: %s)", ErrUnknownObject, o, strings.Join(known, ", "))
		}
		want[t] = true
	}
	tables := make([]string, 0, len(want))
	for t := range want {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	state := pgx.Identifier{e.Cfg.Schema, "_sync_state"}.Sanitize()
	for _, t := range tables {
		if _, err := e.Pool.Exec(ctx, "INSERT INTO "+state+` (key, value) VALUES ($1, jsonb_build_object('requested_at', now()))
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`, fetcher.ResyncKey(t)); err != nil {
			return nil, fmt.Errorf("request resync of %s: %w", t, err)
		}
	}
	return tables, nil
}
