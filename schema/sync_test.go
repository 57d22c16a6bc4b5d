package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
	"github.com/tether-sync/tether/upstream/salesforce"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// recorded are the describes recorded from a real org.
var recorded = []string{"Account", "Case", "Contact", "Custom__c", "Lead", "Opportunity", "OpportunityContactRole"}

func describe(t *testing.T, name string) *upstream.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "upstream", "salesforce", "testdata", "describe", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := salesforce.ParseDescribe(b)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// migrated returns a connection to a fresh database with the system tables.
func migrated(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if err := schema.Migrate(ctx, conn, "salesforce"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// pgColumn is a column as PostgreSQL reports it.
type pgColumn struct{ Name, Type string }

func tableColumns(t *testing.T, db schema.DB, table string) []pgColumn {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, "salesforce."+schema.QuoteIdent(table))
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgColumn])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// mappingRow is one _sync_columns row, every column included.
type mappingRow struct {
	Table, Column, Object, Field, Kind, SourceType, PGType string
	Createable, Updateable, Synced                         bool
	Reason                                                 string
	Removed                                                bool
	Xmin                                                   string
}

func mapping(t *testing.T, db schema.DB, table string) []mappingRow {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT table_name, column_name, object_name, field_name, kind, source_type,
		pg_type, createable, updateable, synced, reason, removed_at IS NOT NULL, xmin::text
		FROM salesforce._sync_columns WHERE table_name = $1 ORDER BY column_name`, table)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[mappingRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSyncRecordedDescribes creates the table of every recorded describe and
// checks every field against it.
func TestSyncRecordedDescribes(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	for _, name := range recorded {
		obj := describe(t, name)
		tbl, err := schema.SyncTable(ctx, conn, "salesforce", obj)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tbl.Name != strings.ToLower(name) || tbl.Object != name || tbl.Schema != "salesforce" {
			t.Errorf("%s: table %+v", name, tbl)
		}
		cols := tableColumns(t, conn, tbl.Name)
		byName := map[string]string{}
		for _, c := range cols {
			byName[c.Name] = c.Type
		}
		// System columns, in the contract's order.
		if cols[0].Name != "id" || cols[0].Type != "text" || cols[1].Name != "_sync_row_id" || cols[1].Type != "bigint" ||
			cols[len(cols)-1].Name != "_sync_updated_at" || cols[len(cols)-1].Type != "timestamp with time zone" {
			t.Errorf("%s: system columns wrong: %v", name, cols)
		}
		// Every field is a column of the right type, or not synced with a reason.
		seenCols := map[string]bool{}
		for _, f := range obj.Fields {
			c := tbl.ColumnForField(f.Name)
			if c == nil {
				t.Errorf("%s.%s: no mapping", name, f.Name)
				continue
			}
			if seenCols[c.Name] {
				t.Errorf("%s.%s: column %s used twice", name, f.Name, c.Name)
			}
			seenCols[c.Name] = true
			if !c.Synced {
				if c.Reason == "" {
					t.Errorf("%s.%s: not synced without a reason", name, f.Name)
				}
				if _, ok := byName[c.Name]; ok {
					t.Errorf("%s.%s: unsynced field has a column", name, f.Name)
				}
				continue
			}
			if c.Name != schema.ColumnName(f.Name) {
				t.Errorf("%s.%s: column %s, natural name %s", name, f.Name, c.Name, schema.ColumnName(f.Name))
			}
			want := map[string]string{"text": "text", "text[]": "text[]", "boolean": "boolean", "integer": "integer",
				"bigint": "bigint", "numeric": "numeric", "date": "date", "timestamptz": "timestamp with time zone",
				"time": "time without time zone", "jsonb": "jsonb"}[schema.PGTypeOf(f.Kind)]
			if got := byName[c.Name]; got != want {
				t.Errorf("%s.%s (%s): column %s is %q, want %q", name, f.Name, f.SourceType, c.Name, got, want)
			}
			if c.Createable != f.Createable || c.Updateable != f.Updateable || c.Kind != f.Kind || c.SourceType != f.SourceType {
				t.Errorf("%s.%s: column %+v from field %+v", name, f.Name, c, f)
			}
		}
		// No column without a field, besides the system ones.
		for _, c := range cols {
			if !seenCols[c.Name] && c.Name != "_sync_row_id" && c.Name != "_sync_updated_at" {
				t.Errorf("%s: column %s has no field", name, c.Name)
			}
		}
		if len(cols) != len(tbl.SyncedColumns())+2 {
			t.Errorf("%s: %d columns, %d synced", name, len(cols), len(tbl.SyncedColumns()))
		}
		var ident string
		if err := conn.QueryRow(ctx, "SELECT relreplident::text FROM pg_class WHERE oid = $1::regclass",
			tbl.QualifiedName()).Scan(&ident); err != nil || ident != "f" {
			t.Errorf("%s: replica identity %q, %v", name, ident, err)
		}
		if n := len(mapping(t, conn, tbl.Name)); n != len(obj.Fields) {
			t.Errorf("%s: %d _sync_columns rows, %d fields", name, n, len(obj.Fields))
		}
	}

	// Spot checks a user would make.
	acc, err := schema.LoadTable(ctx, conn, "salesforce", "account")
	if err != nil {
		t.Fatal(err)
	}
	for field, col := range map[string]string{"Id": "id", "BillingCity": "billing_city", "NumberOfEmployees": "number_of_employees",
		"SystemModstamp": "system_modstamp", "IsDeleted": "is_deleted", "BillingAddress": "billing_address", "ParentId": "parent_id"} {
		if c := acc.ColumnForField(field); c == nil || c.Name != col {
			t.Errorf("Account.%s → %+v, want %s", field, c, col)
		}
	}
	if c := acc.Column("billing_address"); c.PGType != "jsonb" || c.Writable(upstream.OpCreate) || c.Writable(upstream.OpUpdate) {
		t.Errorf("billing_address: %+v", c)
	}
	if c := acc.Column("billing_city"); !c.Writable(upstream.OpCreate) || !c.Writable(upstream.OpUpdate) {
		t.Errorf("billing_city not writable: %+v", c)
	}
	if c := acc.Column("system_modstamp"); c.Writable(upstream.OpCreate) || c.Writable(upstream.OpUpdate) {
		t.Errorf("system_modstamp writable: %+v", c)
	}
	if c := acc.Column("id"); c.Writable(upstream.OpCreate) || c.Writable(upstream.OpUpdate) || !c.Synced {
		t.Errorf("id: %+v", c)
	}
	if fs := acc.Fields(); fs[0] != "Id" || !slices.Contains(fs, "SystemModstamp") {
		t.Errorf("Fields() = %v", fs)
	}
	if acc.QualifiedName() != `"salesforce"."account"` {
		t.Errorf("QualifiedName = %s", acc.QualifiedName())
	}
	all, err := schema.LoadTables(ctx, conn, "salesforce")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range all {
		names = append(names, tb.Name)
		if len(tb.Columns) == 0 {
			t.Errorf("LoadTables: %s without columns", tb.Name)
		}
	}
	if want := []string{"account", "case", "contact", "custom__c", "lead", "opportunity", "opportunitycontactrole"}; !slices.Equal(names, want) {
		t.Errorf("LoadTables = %v", names)
	}
	if _, err := schema.LoadTable(ctx, conn, "salesforce", "nope"); err == nil || !strings.Contains(err.Error(), "not synced") {
		t.Errorf("LoadTable(nope) = %v", err)
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_tables").Scan(&tables); err != nil || tables != len(recorded) {
		t.Errorf("_sync_tables: %d rows, %v", tables, err)
	}
	// The reserved word table works in plain SQL.
	if _, err := conn.Exec(ctx, `INSERT INTO salesforce."case" (id, subject) VALUES ('500000000000001AAA', 'x')`); err != nil {
		t.Errorf("insert into case: %v", err)
	}
}

// snapshot is everything SyncTable may touch.
type snapshot struct {
	cols    []pgColumn
	mapping []mappingRow
	tables  string
}

func takeSnapshot(t *testing.T, conn *pgx.Conn, table string) snapshot {
	t.Helper()
	var s snapshot
	s.cols = tableColumns(t, conn, table)
	s.mapping = mapping(t, conn, table)
	if err := conn.QueryRow(context.Background(), "SELECT table_name || object_name || xmin::text FROM salesforce._sync_tables WHERE table_name = $1", table).Scan(&s.tables); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncTableIsIdempotent(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	for _, name := range recorded {
		obj := describe(t, name)
		if _, err := schema.SyncTable(ctx, conn, "salesforce", obj); err != nil {
			t.Fatal(err)
		}
		before := takeSnapshot(t, conn, schema.TableName(name))
		var relfilenode uint32
		if err := conn.QueryRow(ctx, "SELECT xmin::text::bigint FROM pg_class WHERE oid = $1::regclass", pgx.Identifier{"salesforce", schema.TableName(name)}.Sanitize()).Scan(&relfilenode); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := schema.SyncTable(ctx, conn, "salesforce", describe(t, name)); err != nil {
				t.Fatal(err)
			}
		}
		after := takeSnapshot(t, conn, schema.TableName(name))
		if !slices.Equal(before.cols, after.cols) || !slices.Equal(before.mapping, after.mapping) || before.tables != after.tables {
			t.Errorf("%s: re-running SyncTable changed something:\nbefore %+v\nafter  %+v", name, before, after)
		}
		var again uint32
		if err := conn.QueryRow(ctx, "SELECT xmin::text::bigint FROM pg_class WHERE oid = $1::regclass", pgx.Identifier{"salesforce", schema.TableName(name)}.Sanitize()).Scan(&again); err != nil {
			t.Fatal(err)
		}
		if again != relfilenode {
			t.Errorf("%s: re-running SyncTable altered the table (pg_class row rewritten)", name)
		}
	}
}

func TestSyncTableEvolves(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	obj := describe(t, "Contact")
	if _, err := schema.SyncTable(ctx, conn, "salesforce", obj); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO salesforce.contact (id, last_name, email) VALUES ('003000000000001AAA', 'Lovelace', 'ada@example.com')`); err != nil {
		t.Fatal(err)
	}
	before := tableColumns(t, conn, "contact")

	// One more field: exactly one more column, rows kept.
	obj.Fields = append(obj.Fields, upstream.Field{Name: "Loyalty_Tier__c", Label: "Tier", Kind: upstream.KindText, SourceType: "picklist", Createable: true, Updateable: true})
	tbl, err := schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	after := tableColumns(t, conn, "contact")
	if len(after) != len(before)+1 || after[len(after)-1] != (pgColumn{"loyalty_tier__c", "text"}) {
		t.Fatalf("adding a field: columns %v → %v", before[len(before)-3:], after[len(after)-3:])
	}
	if c := tbl.ColumnForField("Loyalty_Tier__c"); c == nil || !c.Synced || c.Name != "loyalty_tier__c" {
		t.Errorf("new field mapping: %+v", c)
	}
	var email string
	if err := conn.QueryRow(ctx, "SELECT email FROM salesforce.contact WHERE id = '003000000000001AAA'").Scan(&email); err != nil || email != "ada@example.com" {
		t.Errorf("row lost: %q %v", email, err)
	}

	// A field removed upstream: column and data kept, mapping says why.
	obj.Fields = slices.DeleteFunc(obj.Fields, func(f upstream.Field) bool { return f.Name == "Email" })
	tbl, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := tableColumns(t, conn, "contact"); !slices.Equal(got, after) {
		t.Errorf("removing a field changed columns")
	}
	c := tbl.ColumnForField("Email")
	if c == nil || c.Synced || !c.Removed() || !strings.Contains(c.Reason, "no longer") || c.PGType != "text" {
		t.Errorf("removed field: %+v", c)
	}
	if slices.Contains(tbl.Fields(), "Email") || c.Writable(upstream.OpUpdate) {
		t.Error("removed field still fetched or written")
	}
	if err := conn.QueryRow(ctx, "SELECT email FROM salesforce.contact WHERE id = '003000000000001AAA'").Scan(&email); err != nil || email != "ada@example.com" {
		t.Errorf("data of removed field lost: %q %v", email, err)
	}
	snap := takeSnapshot(t, conn, "contact")
	if _, err := schema.SyncTable(ctx, conn, "salesforce", obj); err != nil {
		t.Fatal(err)
	}
	if again := takeSnapshot(t, conn, "contact"); !slices.Equal(snap.mapping, again.mapping) {
		t.Error("re-running after a removal changed the mapping")
	}

	// It comes back: synced again, same column.
	obj = describe(t, "Contact")
	tbl, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.ColumnForField("Email"); c == nil || !c.Synced || c.Removed() || c.Name != "email" || c.Reason != "" {
		t.Errorf("returning field: %+v", c)
	}
	// Loyalty_Tier__c is now missing from this describe: removed.
	if c := tbl.ColumnForField("Loyalty_Tier__c"); c == nil || !c.Removed() {
		t.Errorf("Loyalty_Tier__c: %+v", c)
	}

	// A type change is recorded, not applied.
	for i := range obj.Fields {
		if obj.Fields[i].Name == "Title" {
			obj.Fields[i].Kind, obj.Fields[i].SourceType = upstream.KindDecimal, "double"
		}
	}
	tbl, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	c = tbl.ColumnForField("Title")
	if c.Synced || c.PGType != "text" || !strings.Contains(c.Reason, "type changed") || !strings.Contains(c.Reason, "numeric") {
		t.Errorf("type change: %+v", c)
	}
	for _, col := range tableColumns(t, conn, "contact") {
		if col.Name == "title" && col.Type != "text" {
			t.Errorf("title altered to %s", col.Type)
		}
	}
	// The documented recovery: drop the column, SyncTable re-creates it.
	if _, err := conn.Exec(ctx, "ALTER TABLE salesforce.contact DROP COLUMN title"); err != nil {
		t.Fatal(err)
	}
	tbl, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.ColumnForField("Title"); !c.Synced || c.PGType != "numeric" || c.Name != "title" || c.Reason != "" {
		t.Errorf("after recovery: %+v", c)
	}
}

func TestSyncTableCollisionsAndUnsynced(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	obj := &upstream.Object{Name: "Invoice__c", Custom: true, Queryable: true, Fields: []upstream.Field{
		{Name: "Name", Kind: upstream.KindText, SourceType: "string", Createable: true, Updateable: true},
		{Name: "Id", Kind: upstream.KindID, SourceType: "id"},
		{Name: "First_Name__c", Kind: upstream.KindText, SourceType: "string"},
		{Name: "FirstName__c", Kind: upstream.KindText, SourceType: "string"},
		{Name: "Sync_Row_Id", Kind: upstream.KindInt, SourceType: "int"},
		{Name: "_sync_row_id", Kind: upstream.KindInt, SourceType: "int"},
		{Name: "Attachment__c", Kind: upstream.KindBinary, SourceType: "base64", NotSynced: "base64 blobs are not synced by default"},
		{Name: "Blob__c", Kind: upstream.KindUnknown, SourceType: "anyType", NotSynced: "Salesforce type \"anyType\" has no PostgreSQL mapping"},
		{Name: "Tags__c", Kind: upstream.KindTextArray, SourceType: "multipicklist"},
		{Name: "Due__c", Kind: upstream.KindDate, SourceType: "date"},
		{Name: "At__c", Kind: upstream.KindTime, SourceType: "time"},
		{Name: "Big__c", Kind: upstream.KindBigInt, SourceType: "long"},
	}}
	tbl, err := schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Id": "id", "Name": "name", "First_Name__c": "first_name__c", "FirstName__c": "first_name__c_2",
		"Sync_Row_Id": "sync_row_id", "_sync_row_id": "_sync_row_id_2", "Attachment__c": "attachment__c", "Blob__c": "blob__c",
		"Tags__c": "tags__c", "Due__c": "due__c", "At__c": "at__c", "Big__c": "big__c"}
	for f, col := range want {
		if c := tbl.ColumnForField(f); c == nil || c.Name != col {
			t.Errorf("%s → %+v, want %s", f, c, col)
		}
	}
	for _, f := range []string{"Attachment__c", "Blob__c"} {
		c := tbl.ColumnForField(f)
		if c.Synced || c.Reason == "" || c.PGType != "" {
			t.Errorf("%s: %+v", f, c)
		}
	}
	got := tableColumns(t, conn, "invoice__c")
	wantCols := []pgColumn{{"id", "text"}, {"_sync_row_id", "bigint"}, {"name", "text"}, {"first_name__c", "text"},
		{"first_name__c_2", "text"}, {"sync_row_id", "integer"}, {"_sync_row_id_2", "integer"}, {"tags__c", "text[]"},
		{"due__c", "date"}, {"at__c", "time without time zone"}, {"big__c", "bigint"}, {"_sync_updated_at", "timestamp with time zone"}}
	if !slices.Equal(got, wantCols) {
		t.Errorf("columns:\n got %v\nwant %v", got, wantCols)
	}

	// Names are never guessed twice: a user's own column and a new field
	// whose natural name is taken.
	if _, err := conn.Exec(ctx, `ALTER TABLE salesforce.invoice__c ADD COLUMN notes text`); err != nil {
		t.Fatal(err)
	}
	obj.Fields = append([]upstream.Field{{Name: "Notes", Kind: upstream.KindText, SourceType: "textarea"},
		{Name: "First_Name_c", Kind: upstream.KindText, SourceType: "string"}}, obj.Fields...)
	// Reordering the old fields must not move names around either.
	slices.Reverse(obj.Fields[2:])
	tbl, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	want["Notes"] = "notes_2"
	want["First_Name_c"] = "first_name_c"
	for f, col := range want {
		if c := tbl.ColumnForField(f); c == nil || c.Name != col {
			t.Errorf("after evolution %s → %+v, want %s", f, c, col)
		}
	}
	// A table that is not tether's is refused.
	if _, err := conn.Exec(ctx, `CREATE TABLE salesforce.lead (id text)`); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.SyncTable(ctx, conn, "salesforce", describe(t, "Lead")); err == nil || !strings.Contains(err.Error(), "not created by tether") {
		t.Errorf("foreign table: %v", err)
	}
}

// TestSyncTableInTx: SyncTable joins a caller's transaction (savepoint), and
// its work is undone with it.
func TestSyncTableInTx(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.SyncTable(ctx, tx, "salesforce", describe(t, "Custom__c")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_columns").Scan(&n); err != nil || n != 0 {
		t.Errorf("after rollback: %d mapping rows, %v", n, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'custom__c'").Scan(&n); err != nil || n != 0 {
		t.Errorf("after rollback: table exists (%d), %v", n, err)
	}
}

// TestSyncTableConcurrent: two processes setting up the same tables at once
// (e.g. `tether setup` while `tether run` starts) both succeed and agree.
func TestSyncTableConcurrent(t *testing.T) {
	ctx := context.Background()
	conn := migrated(t)
	pool, err := pgxpool.New(ctx, conn.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(recorded))
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, name := range recorded {
				obj := describe(t, name)
				if _, err := schema.SyncTable(ctx, pool, "salesforce", obj); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent SyncTable: %v", err)
	}
	var rows, fields int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_columns").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	for _, name := range recorded {
		fields += len(describe(t, name).Fields)
	}
	if rows != fields {
		t.Errorf("%d mapping rows for %d fields", rows, fields)
	}
}

// TestSyncTableDoesNotQueueBehindLocks: while an application transaction
// holds the table, SyncTable gives up after its lock timeout (instead of
// blocking every query queued behind its ALTER TABLE), and succeeds later.
func TestSyncTableDoesNotQueueBehindLocks(t *testing.T) {
	defer schema.SetDDLLockTimeout(300 * time.Millisecond)()
	ctx := context.Background()
	conn := migrated(t)
	obj := describe(t, "Custom__c")
	if _, err := schema.SyncTable(ctx, conn, "salesforce", obj); err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctx, conn.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	appTx, err := app.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appTx.Exec(ctx, "SELECT * FROM salesforce.custom__c"); err != nil {
		t.Fatal(err)
	}
	obj.Fields = append(obj.Fields, upstream.Field{Name: "Extra__c", Kind: upstream.KindBool, SourceType: "boolean"})
	start := time.Now()
	_, err = schema.SyncTable(ctx, conn, "salesforce", obj)
	if err == nil || !strings.Contains(err.Error(), "locked by another transaction") {
		t.Fatalf("SyncTable under lock: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %s", d)
	}
	// Re-running without DDL does not need the lock.
	if _, err := schema.SyncTable(ctx, conn, "salesforce", describe(t, "Custom__c")); err != nil {
		t.Errorf("SyncTable without changes under lock: %v", err)
	}
	if err := appTx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// In a caller's transaction the caller's lock_timeout is left as it was.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := schema.SyncTable(ctx, tx, "salesforce", obj)
	if err != nil {
		t.Fatal(err)
	}
	var lt string
	if err := tx.QueryRow(ctx, "SHOW lock_timeout").Scan(&lt); err != nil || lt != "0" {
		t.Errorf("lock_timeout after SyncTable = %q, %v", lt, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if c := tbl.ColumnForField("Extra__c"); c == nil || !c.Synced || c.PGType != "boolean" {
		t.Errorf("Extra__c: %+v", c)
	}
}
