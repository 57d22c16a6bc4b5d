package fetcher

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/internal/testdb"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// widget is a hand-built object with one field of each common kind.
func widget() *upstream.Object {
	f := func(name string, k upstream.Kind, src string) upstream.Field {
		return upstream.Field{Name: name, Kind: k, SourceType: src, Createable: true, Updateable: true, Nillable: true}
	}
	return &upstream.Object{Name: "Widget__c", Queryable: true, Createable: true, Updateable: true, Deletable: true, Custom: true,
		Fields: []upstream.Field{
			{Name: "Id", Kind: upstream.KindID, SourceType: "id"},
			f("Name", upstream.KindText, "string"),
			f("Amount__c", upstream.KindDecimal, "currency"),
			f("Tags__c", upstream.KindTextArray, "multipicklist"),
			f("Active__c", upstream.KindBool, "boolean"),
			f("Close_Date__c", upstream.KindDate, "date"),
			f("Units__c", upstream.KindInt, "int"),
			{Name: "SystemModstamp", Kind: upstream.KindTimestamp, SourceType: "datetime"},
		}}
}

type dbEnv struct {
	pool  *pgxpool.Pool
	guard *replication.EchoGuard
	st    *schema.Table
	t     *table
}

func newDBEnv(t testing.TB, obj *upstream.Object) *dbEnv {
	t.Helper()
	ctx := context.Background()
	_, pool := testdb.Migrated(t, "salesforce")
	guard, err := replication.NewEchoGuard(ctx, pool, "tether", replication.EchoOrigin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(guard.Close)
	env := &dbEnv{pool: pool, guard: guard}
	if obj != nil {
		st, err := schema.SyncTable(ctx, pool, "salesforce", obj)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := fromSchema(st)
		if err != nil {
			t.Fatal(err)
		}
		env.st, env.t = st, tb
	}
	return env
}

func (e *dbEnv) upsert(t *testing.T, recs []upstream.Record, touch bool) applyResult {
	t.Helper()
	var res applyResult
	err := e.guard.Tx(context.Background(), func(tx pgx.Tx) error {
		var err error
		res, err = upsertRecords(context.Background(), tx, e.t, recs, touch)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *dbEnv) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// row reads one widget row as text values, keyed by column.
func (e *dbEnv) row(t *testing.T, id string) map[string]any {
	t.Helper()
	var m map[string]any
	err := e.pool.QueryRow(context.Background(),
		`SELECT to_jsonb(w) - '_sync_updated_at' FROM salesforce.widget__c w WHERE id = $1`, id).Scan(&m)
	if err == pgx.ErrNoRows {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rec(id, name, amount string, tags []string, active bool, units int, stamp string) upstream.Record {
	return upstream.Record{"Id": id, "Name": name, "Amount__c": json.Number(amount), "Tags__c": tags,
		"Active__c": active, "Close_Date__c": "2024-03-01", "Units__c": json.Number(itoa(units)), "SystemModstamp": stamp}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestUpsertInsertsThenUpdates(t *testing.T) {
	e := newDBEnv(t, widget())
	res := e.upsert(t, []upstream.Record{
		rec("a01000000000001AAA", "one", "10.50", []string{"x", "y"}, true, 3, "2024-01-02T03:04:05.000+0000"),
		rec("a01000000000002AAA", "two", "1E3", []string{}, false, 0, "2024-01-02T03:04:05.000+0000"),
		{"Id": "a01000000000003AAA", "Name": nil},
	}, true)
	if res.Inserted != 3 || res.Updated != 0 {
		t.Fatalf("first apply: %+v", res)
	}
	r := e.row(t, "a01000000000001AAA")
	if r["name"] != "one" || r["amount__c"] != 10.50 || r["active__c"] != true || r["units__c"] != float64(3) ||
		r["close_date__c"] != "2024-03-01" || r["system_modstamp"] != "2024-01-02T03:04:05+00:00" {
		t.Fatalf("row 1: %v", r)
	}
	if tags, _ := r["tags__c"].([]any); len(tags) != 2 || tags[0] != "x" {
		t.Fatalf("tags: %v", r["tags__c"])
	}
	if r := e.row(t, "a01000000000002AAA"); r["amount__c"] != float64(1000) {
		t.Fatalf("row 2: %v", r)
	}

	// Same values again without touch: nothing rewritten. With a change: one update.
	res = e.upsert(t, []upstream.Record{
		rec("a01000000000001AAA", "one", "10.50", []string{"x", "y"}, true, 3, "2024-01-02T03:04:05.000+0000"),
		rec("a01000000000002AAA", "two!", "1000", []string{}, false, 0, "2024-01-02T03:04:06.000+0000"),
	}, false)
	if res.Inserted != 0 || res.Updated != 1 {
		t.Fatalf("second apply: %+v", res)
	}
	if r := e.row(t, "a01000000000002AAA"); r["name"] != "two!" {
		t.Fatalf("row 2 after update: %v", r)
	}
	// A value that does not convert is written as NULL and reported.
	bad := rec("a01000000000004AAA", "four", "12", nil, true, 1, "2024-01-02T03:04:05.000+0000")
	bad["Units__c"] = "many"
	res = e.upsert(t, []upstream.Record{bad}, false)
	if len(res.Warnings) != 1 || res.Inserted != 1 {
		t.Fatalf("bad value: %+v", res)
	}
	if r := e.row(t, "a01000000000004AAA"); r["units__c"] != nil || r["name"] != "four" {
		t.Fatalf("row 4: %v", r)
	}
}

// logEntry inserts a _sync_write_log row by hand, as capture would.
func (e *dbEnv) logEntry(t *testing.T, seq int, action, state string, apiID any, rowID any, values any) {
	t.Helper()
	var v any
	if values != nil {
		b, _ := json.Marshal(values)
		v = string(b)
	}
	e.exec(t, `INSERT INTO salesforce._sync_write_log (table_name, action, api_id, row_id, state, "values", commit_lsn, commit_seq, committed_at)
		VALUES ('widget__c', $1, $2, $3, $4, $5::jsonb, '0/1', $6, now())`, action, apiID, rowID, state, v, seq)
}

func TestLocalChangesSurviveFetch(t *testing.T) {
	e := newDBEnv(t, widget())
	const a, b, c, d = "a01000000000001AAA", "a01000000000002AAA", "a01000000000003AAA", "a01000000000004AAA"
	stamp := "2024-01-02T03:04:05.000+0000"
	e.upsert(t, []upstream.Record{
		rec(a, "a", "1", nil, true, 1, stamp), rec(b, "b", "2", nil, true, 2, stamp),
		rec(c, "c", "3", nil, true, 3, stamp), rec(d, "d", "4", nil, true, 4, stamp),
	}, true)
	rowID := func(id string) int64 {
		var n int64
		if err := e.pool.QueryRow(context.Background(), "SELECT _sync_row_id FROM salesforce.widget__c WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The application changed a's name (new) and b's amount (pending), d's
	// amount long ago (succeeded: no longer protected), and deleted c (new).
	e.exec(t, "UPDATE salesforce.widget__c SET name = 'local a' WHERE id = $1", a)
	e.logEntry(t, 1, "update", "new", a, rowID(a), map[string]any{"name": "local a"})
	e.exec(t, "UPDATE salesforce.widget__c SET amount__c = 99 WHERE id = $1", b)
	e.logEntry(t, 2, "update", "pending", nil, rowID(b), map[string]any{"amount__c": 99})
	e.exec(t, "UPDATE salesforce.widget__c SET amount__c = 77 WHERE id = $1", d)
	e.logEntry(t, 3, "update", "succeeded", d, rowID(d), map[string]any{"amount__c": 77})
	cRow := rowID(c)
	e.exec(t, "DELETE FROM salesforce.widget__c WHERE id = $1", c)
	e.logEntry(t, 4, "delete", "new", c, cRow, nil)
	// A local insert not yet created upstream (no id).
	e.exec(t, "INSERT INTO salesforce.widget__c (name) VALUES ('fresh')")
	e.logEntry(t, 5, "insert", "new", nil, 999, map[string]any{"name": "fresh"})

	// Salesforce's newer versions of all four.
	stamp2 := "2024-01-02T03:05:00.000+0000"
	e.upsert(t, []upstream.Record{
		rec(a, "sf a", "10", nil, false, 1, stamp2), rec(b, "sf b", "20", nil, false, 2, stamp2),
		rec(c, "sf c", "30", nil, false, 3, stamp2), rec(d, "sf d", "40", nil, false, 4, stamp2),
	}, false)

	if r := e.row(t, a); r["name"] != "local a" || r["amount__c"] != float64(10) || r["active__c"] != false {
		t.Errorf("a: local name must survive, the rest is Salesforce's: %v", r)
	}
	if r := e.row(t, b); r["amount__c"] != float64(99) || r["name"] != "sf b" {
		t.Errorf("b: local amount must survive: %v", r)
	}
	if r := e.row(t, c); r != nil {
		t.Errorf("c: a pending local delete must not be undone: %v", r)
	}
	if r := e.row(t, d); r["amount__c"] != float64(40) || r["name"] != "sf d" {
		t.Errorf("d: a succeeded change is not protected: %v", r)
	}
	var fresh int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM salesforce.widget__c WHERE id IS NULL AND name = 'fresh'").Scan(&fresh); err != nil || fresh != 1 {
		t.Errorf("local insert: %d, %v", fresh, err)
	}

	// Once written back, Salesforce's values win again.
	e.exec(t, "UPDATE salesforce._sync_write_log SET state = 'succeeded'")
	e.upsert(t, []upstream.Record{rec(a, "sf a2", "10", nil, false, 1, stamp2), rec(b, "sf b", "21", nil, false, 2, stamp2)}, false)
	if r := e.row(t, a); r["name"] != "sf a2" {
		t.Errorf("a after write-back: %v", r)
	}
	if r := e.row(t, b); r["amount__c"] != float64(21) {
		t.Errorf("b after write-back: %v", r)
	}
}

// TestFetchWritesAreNotCaptured checks guarantee 2 at the WAL: a logical
// decoder that keeps only local (origin-less) changes sees none of the
// fetcher's writes, but does see the application's.
func TestFetchWritesAreNotCaptured(t *testing.T) {
	e := newDBEnv(t, widget())
	ctx := context.Background()
	e.exec(t, "SELECT pg_create_logical_replication_slot('fetch_echo', 'test_decoding')")
	stamp := "2024-01-02T03:04:05.000+0000"
	e.upsert(t, []upstream.Record{rec("a01000000000001AAA", "one", "1", nil, true, 1, stamp)}, true)
	err := e.guard.Tx(ctx, func(tx pgx.Tx) error {
		_, err := deleteIDs(ctx, tx, e.t, []string{"a01000000000001AAA"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.exec(t, "INSERT INTO salesforce.widget__c (name) VALUES ('app')")
	rows, err := e.pool.Query(ctx, `SELECT data FROM pg_logical_slot_get_changes('fetch_echo', NULL, NULL, 'only-local', '1', 'skip-empty-xacts', '1')
		WHERE data LIKE 'table salesforce.widget__c:%'`)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !strings.Contains(changes[0], "'app'") {
		t.Fatalf("local changes seen by the decoder: %q (want only the application's insert)", changes)
	}
}

func TestSweepKeepsUnsentInserts(t *testing.T) {
	e := newDBEnv(t, widget())
	ctx := context.Background()
	stamp := "2024-01-02T03:04:05.000+0000"
	e.upsert(t, []upstream.Record{rec("a01000000000001AAA", "old", "1", nil, true, 1, stamp), rec("a01000000000002AAA", "kept", "1", nil, true, 1, stamp)}, true)
	e.exec(t, "INSERT INTO salesforce.widget__c (name) VALUES ('unsent')")
	// A local insert the writer created upstream after the backfill's read.
	e.exec(t, "INSERT INTO salesforce.widget__c (id, name) VALUES ('a01000000000009AAA', 'just created')")
	var since time.Time
	if err := e.pool.QueryRow(ctx, "SELECT now()").Scan(&since); err != nil {
		t.Fatal(err)
	}
	e.upsert(t, []upstream.Record{rec("a01000000000002AAA", "kept", "1", nil, true, 1, stamp)}, true)
	var n int64
	err := e.guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = sweep(ctx, tx, e.t, since)
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	var names []string
	rows, _ := e.pool.Query(ctx, "SELECT name FROM salesforce.widget__c ORDER BY name")
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) != 3 || names[0] != "just created" || names[1] != "kept" || names[2] != "unsent" {
		t.Fatalf("after sweep: %v %v", names, err)
	}
}
