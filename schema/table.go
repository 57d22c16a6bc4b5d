package schema

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tether-sync/tether/upstream"
)

// DB is what schema needs from a database handle; *pgx.Conn, *pgxpool.Pool
// and pgx.Tx all satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrUnknownTable is returned by LoadTable for a table tether does not sync.
var ErrUnknownTable = errors.New("schema: table is not synced")

// Table is one synced table and how its columns map to the provider's fields.
type Table struct {
	Schema  string   // PostgreSQL schema, e.g. "salesforce"
	Name    string   // table name, e.g. "contact"
	Object  string   // provider object, e.g. "Contact"
	Columns []Column // every mapped field, synced or not, in table order
}

// Column is one provider field and the column it maps to (as recorded in
// _sync_columns). Fields that are not synced have a reserved Name but no
// column in the table unless one was created earlier (see Reason).
type Column struct {
	Name       string        // column name in PostgreSQL
	Field      string        // provider field API name
	Kind       upstream.Kind // provider-neutral type
	SourceType string        // provider type name ("picklist")
	PGType     string        // the column's PostgreSQL type, "" if it has no column
	Createable bool          // may be sent on create
	Updateable bool          // may be sent on update
	Synced     bool          // fetched and written; false: see Reason
	Reason     string        // why not synced (or why kept after removal upstream)
	RemovedAt  time.Time     // when the field disappeared upstream; zero while it exists
}

// Removed reports whether the field has disappeared upstream (its column is kept).
func (c *Column) Removed() bool { return !c.RemovedAt.IsZero() }

// Writable reports whether the column's value may be sent to the provider in
// an operation: createable fields on create, updateable fields on update.
// The id column, unsynced and removed columns are never writable.
func (c *Column) Writable(op upstream.Op) bool {
	if !c.Synced || c.Removed() || c.Kind == upstream.KindID {
		return false
	}
	switch op {
	case upstream.OpCreate:
		return c.Createable
	case upstream.OpUpdate:
		return c.Updateable
	}
	return false
}

// QualifiedName is the quoted schema.table name for SQL.
func (t *Table) QualifiedName() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// Column returns the column with the given name, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// ColumnForField returns the column of a provider field, or nil.
func (t *Table) ColumnForField(field string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Field == field {
			return &t.Columns[i]
		}
	}
	return nil
}

// SyncedColumns returns the columns that are fetched and written: synced and
// still present upstream. It includes the id column.
func (t *Table) SyncedColumns() []Column {
	var out []Column
	for _, c := range t.Columns {
		if c.Synced && !c.Removed() {
			out = append(out, c)
		}
	}
	return out
}

// Fields returns the provider field names of SyncedColumns, for reads.
func (t *Table) Fields() []string {
	var out []string
	for _, c := range t.SyncedColumns() {
		out = append(out, c.Field)
	}
	return out
}

// LoadTable reads one synced table's mapping from _sync_tables and
// _sync_columns. It returns an error wrapping ErrUnknownTable when the table
// has no _sync_tables row.
func LoadTable(ctx context.Context, db DB, schemaName, table string) (*Table, error) {
	var object string
	err := db.QueryRow(ctx, "SELECT object_name FROM "+QuoteIdent(schemaName)+"._sync_tables WHERE table_name = $1", table).Scan(&object)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("load table %s.%s: %w", schemaName, table, ErrUnknownTable)
	}
	if err != nil {
		return nil, fmt.Errorf("load table %s.%s: %w", schemaName, table, err)
	}
	cols, err := loadColumns(ctx, db, schemaName, table)
	if err != nil {
		return nil, err
	}
	return &Table{Schema: schemaName, Name: table, Object: object, Columns: cols[table]}, nil
}

// LoadTables reads every synced table's mapping, ordered by table name.
func LoadTables(ctx context.Context, db DB, schemaName string) ([]*Table, error) {
	rows, err := db.Query(ctx, "SELECT table_name, object_name FROM "+QuoteIdent(schemaName)+"._sync_tables ORDER BY table_name")
	if err != nil {
		return nil, fmt.Errorf("load tables in %s: %w", schemaName, err)
	}
	var out []*Table
	for rows.Next() {
		t := &Table{Schema: schemaName}
		if err := rows.Scan(&t.Name, &t.Object); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load tables in %s: %w", schemaName, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load tables in %s: %w", schemaName, err)
	}
	cols, err := loadColumns(ctx, db, schemaName, "")
	if err != nil {
		return nil, err
	}
	for _, t := range out {
		t.Columns = cols[t.Name]
	}
	return out, nil
}

// loadColumns reads _sync_columns (of one table, or all when table is ""),
// ordered as the columns are in the table, unsynced ones last by name.
func loadColumns(ctx context.Context, db DB, schemaName, table string) (map[string][]Column, error) {
	q := `SELECT sc.table_name, sc.column_name, sc.field_name, sc.kind, sc.source_type, sc.pg_type,
		sc.createable, sc.updateable, sc.synced, sc.reason, sc.removed_at, a.attnum
		FROM ` + QuoteIdent(schemaName) + `._sync_columns sc
		LEFT JOIN pg_catalog.pg_attribute a
		  ON a.attrelid = to_regclass(quote_ident($1) || '.' || quote_ident(sc.table_name))
		 AND a.attname = sc.column_name AND NOT a.attisdropped
		WHERE $2 = '' OR sc.table_name = $2`
	rows, err := db.Query(ctx, q, schemaName, table)
	if err != nil {
		return nil, fmt.Errorf("load columns in %s: %w", schemaName, err)
	}
	defer rows.Close()
	type entry struct {
		c      Column
		attnum *int16
	}
	byTable := map[string][]entry{}
	for rows.Next() {
		var (
			tn      string
			e       entry
			kind    string
			removed *time.Time
		)
		if err := rows.Scan(&tn, &e.c.Name, &e.c.Field, &kind, &e.c.SourceType, &e.c.PGType,
			&e.c.Createable, &e.c.Updateable, &e.c.Synced, &e.c.Reason, &removed, &e.attnum); err != nil {
			return nil, fmt.Errorf("load columns in %s: %w", schemaName, err)
		}
		e.c.Kind = upstream.Kind(kind)
		if removed != nil {
			e.c.RemovedAt = *removed
		}
		byTable[tn] = append(byTable[tn], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load columns in %s: %w", schemaName, err)
	}
	out := make(map[string][]Column, len(byTable))
	for tn, es := range byTable {
		sort.SliceStable(es, func(i, j int) bool {
			a, b := es[i].attnum, es[j].attnum
			switch {
			case a != nil && b != nil:
				return *a < *b
			case a != nil || b != nil:
				return a != nil
			}
			return es[i].c.Name < es[j].c.Name
		})
		cols := make([]Column, len(es))
		for i, e := range es {
			cols[i] = e.c
		}
		out[tn] = cols
	}
	return out, nil
}
