package writer

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/schema"
)

// writeIDs writes the ids of created records into their rows (inside the
// guarded transaction that also records the outcomes, so capture ignores it).
//
// The fetcher may already have brought a created record in as a row of its
// own, before its id reached the application's row. That row holds
// everything the provider filled in (audit fields, defaults, formulas) and
// the fetch cursor has moved past it, so its values are copied into the
// application's row (except the columns that open log entries of the row
// still change: those local changes win) and the duplicate is dropped.
// finalizing lists the log rows whose outcomes this transaction records.
func (w *Writer) writeIDs(ctx context.Context, tx pgx.Tx, t *schema.Table, rowIDs []int64, ids []string, finalizing []int64) error {
	q := t.QualifiedName()
	rows, err := tx.Query(ctx, `SELECT v.rid, d._sync_row_id FROM unnest($1::bigint[], $2::text[]) AS v(rid, id)
		JOIN `+q+` AS d ON d.id = v.id AND d._sync_row_id <> v.rid`, rowIDs, ids)
	if err != nil {
		return fmt.Errorf("find fetched duplicates in %s: %w", t.Name, err)
	}
	type dup struct{ rid, dupRID int64 }
	var dups []dup
	for rows.Next() {
		var d dup
		if err := rows.Scan(&d.rid, &d.dupRID); err != nil {
			rows.Close()
			return fmt.Errorf("find fetched duplicates in %s: %w", t.Name, err)
		}
		dups = append(dups, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find fetched duplicates in %s: %w", t.Name, err)
	}
	for _, d := range dups {
		if err := w.mergeDuplicate(ctx, tx, t, d.rid, d.dupRID, finalizing); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE `+q+` AS t SET id = v.id FROM unnest($1::bigint[], $2::text[]) AS v(rid, id)
		WHERE t._sync_row_id = v.rid AND t.id IS DISTINCT FROM v.id`, rowIDs, ids); err != nil {
		return fmt.Errorf("write created ids into %s: %w", t.Name, err)
	}
	return nil
}

// mergeDuplicate copies a fetched duplicate's values into the application's
// row rid, keeping the columns open log entries still change, and deletes it.
func (w *Writer) mergeDuplicate(ctx context.Context, tx pgx.Tx, t *schema.Table, rid, dupRID int64, finalizing []int64) error {
	protected := map[string]bool{}
	rows, err := tx.Query(ctx, `SELECT DISTINCT jsonb_object_keys("values") FROM `+w.logTable+`
		WHERE table_name = $1 AND row_id = $2 AND state IN ('new', 'pending') AND "values" IS NOT NULL
		  AND jsonb_typeof("values") = 'object' AND id <> ALL($3)`, t.Name, rid, finalizing)
	if err != nil {
		return fmt.Errorf("merge fetched duplicate in %s: %w", t.Name, err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		protected[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("merge fetched duplicate in %s: %w", t.Name, err)
	}
	var sets []string
	for _, c := range t.Columns {
		if !c.Synced || c.Removed() || c.PGType == "" || c.Name == "id" || protected[c.Name] {
			continue
		}
		qc := schema.QuoteIdent(c.Name)
		sets = append(sets, qc+" = d."+qc)
	}
	sets = append(sets, "_sync_updated_at = d._sync_updated_at")
	q := t.QualifiedName()
	if _, err := tx.Exec(ctx, `UPDATE `+q+` AS a SET `+strings.Join(sets, ", ")+` FROM `+q+` AS d
		WHERE a._sync_row_id = $1 AND d._sync_row_id = $2`, rid, dupRID); err != nil {
		return fmt.Errorf("merge fetched duplicate in %s: %w", t.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+q+` WHERE _sync_row_id = $1`, dupRID); err != nil {
		return fmt.Errorf("drop fetched duplicate in %s: %w", t.Name, err)
	}
	w.log.Debug().Str("table", t.Name).Int64("row", rid).Int64("duplicate", dupRID).Msg("merged a fetched duplicate of a created record")
	return nil
}
