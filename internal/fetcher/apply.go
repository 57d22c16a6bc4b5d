package fetcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
func upsertRecords(ctx context.Context, tx pgx.Tx, t *table, recs []upstream.Record, touch bool) (res applyResult, err error) {
	page := newPageRows(t, recs)
	defer func() { res.Warnings = append(page.skipped, page.warns...) }()
	if len(page.recs) == 0 {
		return res, nil
	}
	ok, err := copyNew(ctx, tx, page)
	if err != nil || ok {
		if ok {
			res.Inserted = int64(len(page.recs))
		}
		return res, err
	}
	stage := pgx.Identifier{stageName}.Sanitize()
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+stage); err != nil {
		return res, fmt.Errorf("drop stage for %s: %w", t.Name, err)
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+
		t.quotedList("")+" FROM "+t.qualified()+" WITH NO DATA"); err != nil {
		return res, fmt.Errorf("create stage for %s: %w", t.Name, err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{stageName}, t.colNames(), page.source())
	if err != nil {
		return res, fmt.Errorf("copy %d records into stage for %s: %w", len(page.recs), t.Name, err)
	}
	if n != int64(len(page.recs)) {
		return res, fmt.Errorf("copy into stage for %s: wrote %d rows, meant %d", t.Name, n, len(page.recs))
	}
	if err := tx.QueryRow(ctx, mergeSQL(t, touch), t.Name).Scan(&res.Updated, &res.Inserted); err != nil {
		return res, fmt.Errorf("merge %d records into %s: %w", len(page.recs), t.Name, err)
	}
	if _, err := tx.Exec(ctx, "DROP TABLE "+stage); err != nil {
		return res, fmt.Errorf("drop stage for %s: %w", t.Name, err)
	}
	return res, nil
}

// pageRows is one page's records, one per id (the last one wins should a
// page repeat an id), converted to column values lazily while COPY streams
// them, so that conversion overlaps with PostgreSQL's work.
type pageRows struct {
	t       *table
	recs    []upstream.Record
	ids     []string
	skipped []string // records without an id
	warns   []string // values that could not be converted (written as NULL)
}

func newPageRows(t *table, recs []upstream.Record) *pageRows {
	p := &pageRows{t: t, recs: make([]upstream.Record, 0, len(recs)), ids: make([]string, 0, len(recs))}
	pos := make(map[string]int, len(recs))
	for _, rec := range recs {
		id := rec.ID()
		if id == "" {
			p.skipped = append(p.skipped, "a record without an id was skipped")
			continue
		}
		if i, ok := pos[id]; ok {
			p.recs[i] = rec
			continue
		}
		pos[id] = len(p.recs)
		p.recs = append(p.recs, rec)
		p.ids = append(p.ids, id)
	}
	return p
}

// source streams the rows in Cols order, followed by extra values.
func (p *pageRows) source(extra ...any) pgx.CopyFromSource {
	p.warns = p.warns[:0]
	i := 0
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(p.recs) {
			return nil, nil
		}
		row := p.row(p.recs[i], p.ids[i], len(extra))
		copy(row[len(p.t.Cols):], extra)
		i++
		return row, nil
	})
}

// row converts one record; a value that cannot be converted becomes NULL
// and a warning (at most 20 per page).
func (p *pageRows) row(rec upstream.Record, id string, extra int) []any {
	row := make([]any, len(p.t.Cols)+extra)
	for i, c := range p.t.Cols {
		v, ok := rec[c.Field]
		if !ok || v == nil {
			continue
		}
		if c.Conv != nil {
			cv, err := c.Conv(v)
			if err != nil {
				if len(p.warns) < 20 {
					p.warns = append(p.warns, fmt.Sprintf("record %s field %s: %v", id, c.Field, err))
				}
				continue
			}
			v = cv
		}
		row[i] = v
	}
	row[p.t.idCol] = id
	return row
}

// convertRecords converts a page eagerly (for tests and benchmarks).
func convertRecords(t *table, recs []upstream.Record) ([][]any, []string) {
	p := newPageRows(t, recs)
	rows := make([][]any, len(p.recs))
	for i, rec := range p.recs {
		rows[i] = p.row(rec, p.ids[i], 0)
	}
	return rows, append(p.skipped, p.warns...)
}

// copyNew is the fast path of a page whose records are all new: no row has
// their ids and no open log entry names them (so guarantee 3 has nothing to
// protect). Then the rows are COPYed straight into the table. It reports
// false, having changed nothing, when the page needs the merge; a row
// inserted concurrently with one of the ids also sends the page to the merge.
func copyNew(ctx context.Context, tx pgx.Tx, page *pageRows) (bool, error) {
	t := page.t
	var known bool
	var now time.Time
	// A join on the id index; `id = ANY($1)` tends to be planned as a scan
	// of the whole table.
	err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM unnest($1::text[]) AS u(id) JOIN `+t.qualified()+` t ON t.id = u.id) > 0
		OR (SELECT count(*) FROM `+t.sys("_sync_write_log")+` WHERE table_name = $2 AND state IN ('new', 'pending')
		    AND (api_id = ANY($1) OR record->>'id' = ANY($1))) > 0, now()`, page.ids, t.Name).Scan(&known, &now)
	if err != nil {
		return false, fmt.Errorf("check for known ids in %s: %w", t.Name, err)
	}
	if known {
		return false, nil
	}
	sp, err := tx.Begin(ctx) // a savepoint: a concurrent insert of one id must not abort the page
	if err != nil {
		return false, err
	}
	cols := append(t.colNames(), "_sync_updated_at")
	n, err := sp.CopyFrom(ctx, pgx.Identifier{t.Schema, t.Name}, cols, page.source(now))
	if err != nil {
		_ = sp.Rollback(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
			return false, nil
		}
		return false, fmt.Errorf("copy %d new records into %s: %w", len(page.recs), t.Name, err)
	}
	if n != int64(len(page.recs)) {
		_ = sp.Rollback(ctx)
		return false, fmt.Errorf("copy into %s: wrote %d rows, meant %d", t.Name, n, len(page.recs))
	}
	return true, sp.Commit(ctx)
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
	held := []string{"p.del"}
	for _, c := range t.Cols {
		if c.Name == "id" {
			continue
		}
		q := pgx.Identifier{c.Name}.Sanitize()
		lit := "'" + strings.ReplaceAll(c.Name, "'", "''") + "'"
		set = append(set, fmt.Sprintf("%s = CASE WHEN p.cols @> ARRAY[%s]::text[] THEN t.%s ELSE s.%s END", q, lit, q, q))
		held = append(held, fmt.Sprintf("(p.cols @> ARRAY[%s]::text[] AND t.%s IS DISTINCT FROM s.%s)", lit, q, q))
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
held AS (
	-- Upstream differs where an unsent local change kept the local value:
	-- read the record again once its log entries are done (readAgainTurn).
	INSERT INTO ` + t.sys("_sync_refetch") + ` (table_name, record_id)
	SELECT $1, s.id FROM ` + stage + ` s JOIN prot p ON p.id = s.id
	  LEFT JOIN ` + t.qualified() + ` t ON t.id = s.id
	 WHERE ` + strings.Join(held, " OR ") + `
	ON CONFLICT DO NOTHING
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

// readyToReadAgain lists up to limit records of t noted in _sync_refetch
// whose local changes are all done, oldest first.
func readyToReadAgain(ctx context.Context, tx pgx.Tx, t *table, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT r.record_id FROM `+t.sys("_sync_refetch")+` r
	 WHERE r.table_name = $1
	   AND NOT EXISTS (SELECT 1 FROM `+t.sys("_sync_write_log")+` l
	                     LEFT JOIN `+t.qualified()+` tg ON tg._sync_row_id = l.row_id
	                    WHERE l.table_name = $1 AND l.state IN ('new', 'pending')
	                      AND coalesce(tg.id, l.api_id, l.record->>'id') = r.record_id)
	 ORDER BY r.noted_at, r.record_id
	 LIMIT $2`, t.Name, limit)
	if err != nil {
		return nil, fmt.Errorf("records of %s to read again: %w", t.Name, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("records of %s to read again: %w", t.Name, err)
	}
	return ids, nil
}

// forgetReadAgain removes records from _sync_refetch.
func forgetReadAgain(ctx context.Context, tx pgx.Tx, t *table, ids []string) error {
	_, err := tx.Exec(ctx, `DELETE FROM `+t.sys("_sync_refetch")+` WHERE table_name = $1 AND record_id = ANY($2)`, t.Name, ids)
	if err != nil {
		return fmt.Errorf("forget records of %s read again: %w", t.Name, err)
	}
	return nil
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

// sweep removes rows that the (re)backfill which started at `since` did not
// see: the provider no longer has them. Rows tether never applied
// (_sync_updated_at NULL: local inserts, with or without the id the writer
// filled in after creating them) are kept; their records arrive with the
// next poll.
func sweep(ctx context.Context, tx pgx.Tx, t *table, since time.Time) (int64, error) {
	tag, err := tx.Exec(ctx, "DELETE FROM "+t.qualified()+
		" WHERE id IS NOT NULL AND _sync_updated_at < $1", since)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", t.Name, err)
	}
	return tag.RowsAffected(), nil
}
