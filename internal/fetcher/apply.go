package fetcher

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tether-sync/tether/upstream"
)

// stageName is the temporary table a page is copied into before it is merged
// into the synced table. It lives only for the transaction (ON COMMIT DROP).
const stageName = "_tether_fetch_stage"

// applyResult counts what one apply did.
type applyResult struct {
	Updated  int64    // existing rows changed
	Inserted int64    // new rows
	Deleted  int64    // rows removed
	Warnings []string // values that could not be converted (written as NULL)
}

// upsertRecords writes records into t in bulk: COPY into a temporary stage
// table, then one statement that updates existing rows and inserts new ones.
//
// Guarantee 3: columns that open (new/pending) _sync_write_log entries of a
// row change keep their local value, and a row with an open local delete is
// not brought back. The protected set is computed in SQL from the log, in the
// same transaction, so it costs no round trip per row.
//
// touch=false skips rows whose values are all unchanged, so re-reading an
// overlap window rewrites nothing; touch=true (backfill, resync) stamps every
// row it sees with _sync_updated_at = now(), which the resync sweep relies on.
func upsertRecords(ctx context.Context, tx pgx.Tx, t *table, recs []upstream.Record, touch bool) (applyResult, error) {
	var res applyResult
	if len(recs) == 0 {
		return res, nil
	}
	rows, warns := convertRecords(t, recs)
	res.Warnings = warns
	if len(rows) == 0 {
		return res, nil
	}
	stage := pgx.Identifier{stageName}.Sanitize()
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+stage); err != nil {
		return res, fmt.Errorf("drop stage for %s: %w", t.Name, err)
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+
		t.quotedList("")+" FROM "+t.qualified()+" WITH NO DATA"); err != nil {
		return res, fmt.Errorf("create stage for %s: %w", t.Name, err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{stageName}, t.colNames(), pgx.CopyFromRows(rows))
	if err != nil {
		return res, fmt.Errorf("copy %d records into stage for %s: %w", len(rows), t.Name, err)
	}
	if n != int64(len(rows)) {
		return res, fmt.Errorf("copy into stage for %s: wrote %d rows, meant %d", t.Name, n, len(rows))
	}
	if err := tx.QueryRow(ctx, mergeSQL(t, touch), t.Name).Scan(&res.Updated, &res.Inserted); err != nil {
		return res, fmt.Errorf("merge %d records into %s: %w", len(rows), t.Name, err)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+stage); err != nil {
		return res, fmt.Errorf("drop stage for %s: %w", t.Name, err)
	}
	return res, nil
}

// convertRecords turns provider records into rows in Cols order, one per id
// (the last one wins should a page repeat an id). A value that cannot be
// converted is written as NULL and reported.
func convertRecords(t *table, recs []upstream.Record) ([][]any, []string) {
	var warns []string
	pos := make(map[string]int, len(recs))
	rows := make([][]any, 0, len(recs))
	for _, rec := range recs {
		id := rec.ID()
		if id == "" {
			warns = append(warns, "a record without an id was skipped")
			continue
		}
		row := make([]any, len(t.Cols))
		for i, c := range t.Cols {
			v, ok := rec[c.Field]
			if !ok || v == nil {
				continue
			}
			if c.Conv != nil {
				cv, err := c.Conv(v)
				if err != nil {
					if len(warns) < 20 {
						warns = append(warns, fmt.Sprintf("record %s field %s: %v", id, c.Field, err))
					}
					continue
				}
				v = cv
			}
			row[i] = v
		}
		row[t.idCol] = id
		if p, ok := pos[id]; ok {
			rows[p] = row
			continue
		}
		pos[id] = len(rows)
		rows = append(rows, row)
	}
	return rows, warns
}

// protectedSQL selects, for the staged ids, the columns that open local
// changes protect (cols) and whether a local delete is open (del). A log
// entry finds its row by row_id (the row as it is now) or, for a row already
// deleted locally, by api_id or the id in the row image.
func protectedSQL(t *table) string {
	return `SELECT x.id,
	       coalesce(array_agg(DISTINCT k.key) FILTER (WHERE k.key IS NOT NULL), '{}'::text[]) AS cols,
	       bool_or(x.del) AS del
	  FROM (SELECT coalesce(tg.id, l.api_id, l.record->>'id') AS id,
	               l.action = 'delete' AS del,
	               CASE WHEN jsonb_typeof(l."values") = 'object' THEN l."values" END AS vals
	          FROM ` + t.sys("_sync_write_log") + ` l
	          LEFT JOIN ` + t.qualified() + ` tg ON tg._sync_row_id = l.row_id
	         WHERE l.table_name = $1 AND l.state IN ('new', 'pending')) x
	  LEFT JOIN LATERAL jsonb_object_keys(x.vals) AS k(key) ON true
	 WHERE x.id IS NOT NULL AND x.id IN (SELECT id FROM ` + pgx.Identifier{stageName}.Sanitize() + `)
	 GROUP BY x.id`
}

// mergeSQL is the one statement that merges the stage into the table and
// returns (updated, inserted).
func mergeSQL(t *table, touch bool) string {
	stage := pgx.Identifier{stageName}.Sanitize()
	var set, cmpT, cmpS, excl []string
	for _, c := range t.Cols {
		if c.Name == "id" {
			continue
		}
		q := pgx.Identifier{c.Name}.Sanitize()
		lit := "'" + strings.ReplaceAll(c.Name, "'", "''") + "'"
		set = append(set, fmt.Sprintf("%s = CASE WHEN p.cols @> ARRAY[%s]::text[] THEN t.%s ELSE s.%s END", q, lit, q, q))
		cmpT = append(cmpT, "t."+q)
		cmpS = append(cmpS, "s."+q)
		excl = append(excl, q+" = excluded."+q)
	}
	set = append(set, "_sync_updated_at = now()")
	excl = append(excl, "_sync_updated_at = now()")
	changed := ""
	if !touch && len(cmpT) > 0 {
		changed = " AND ROW(" + strings.Join(cmpT, ", ") + ") IS DISTINCT FROM ROW(" + strings.Join(cmpS, ", ") + ")"
	}
	return `WITH prot AS (` + protectedSQL(t) + `),
upd AS (
	UPDATE ` + t.qualified() + ` AS t SET ` + strings.Join(set, ", ") + `
	  FROM ` + stage + ` s LEFT JOIN prot p ON p.id = s.id
	 WHERE t.id = s.id AND p.del IS NOT TRUE` + changed + `
	RETURNING 1),
ins AS (
	INSERT INTO ` + t.qualified() + ` AS t (` + t.quotedList("") + `, _sync_updated_at)
	SELECT ` + t.quotedList("s.") + `, now() FROM ` + stage + ` s
	 WHERE NOT EXISTS (SELECT 1 FROM ` + t.qualified() + ` t2 WHERE t2.id = s.id)
	   AND NOT EXISTS (SELECT 1 FROM prot p WHERE p.id = s.id AND p.del)
	ON CONFLICT (id) DO UPDATE SET ` + strings.Join(excl, ", ") + `
	RETURNING 1)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM ins)`
}

// deleteIDs removes the rows of the given record ids. A delete upstream wins
// over open local changes: the writer's pending update of such a row will
// fail upstream and be recorded as failed.
func deleteIDs(ctx context.Context, tx pgx.Tx, t *table, ids []string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, "DELETE FROM "+t.qualified()+" WHERE id = ANY($1)", ids)
	if err != nil {
		return 0, fmt.Errorf("delete %d rows from %s: %w", len(ids), t.Name, err)
	}
	return tag.RowsAffected(), nil
}

// sweep removes rows with an id that the (re)backfill which started at
// `since` did not see: Salesforce no longer has them. Rows without an id
// (local inserts not created upstream yet) are kept.
func sweep(ctx context.Context, tx pgx.Tx, t *table, since time.Time) (int64, error) {
	tag, err := tx.Exec(ctx, "DELETE FROM "+t.qualified()+
		" WHERE id IS NOT NULL AND (_sync_updated_at IS NULL OR _sync_updated_at < $1)", since)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", t.Name, err)
	}
	return tag.RowsAffected(), nil
}
