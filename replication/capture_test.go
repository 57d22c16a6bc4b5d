package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCaptureChanges: inserts, updates, deletes, multi-row and multi-table
// transactions and a rolled-back transaction give exactly the expected log
// rows, with the right record and values, in commit order.
func TestCaptureChanges(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	ctx := context.Background()

	// 1. a single insert by the application (no Salesforce id yet)
	d.exec(t, `INSERT INTO salesforce.contact (_sync_row_id, first_name, last_name, email, _sync_updated_at) VALUES (1, 'Ada', 'Lovelace', 'ada@example.com', now())`)
	// 2. a multi-row transaction
	d.exec(t, `INSERT INTO salesforce.contact (_sync_row_id, id, first_name, last_name) VALUES (2, '003000000000002AAA', 'Bob', 'B'), (3, '003000000000003AAA', 'Cy', 'C')`)
	// 3. a multi-table transaction: update + delete + insert into account
	must(t, pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE salesforce.contact SET email = 'bob@example.com', _sync_updated_at = now() WHERE _sync_row_id = 2`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM salesforce.contact WHERE _sync_row_id = 3`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO salesforce.account (_sync_row_id, name) VALUES (10, 'Acme')`)
		return err
	}))
	// 4. a rolled-back transaction
	tx, err := d.pool.Begin(ctx)
	must(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO salesforce.contact (_sync_row_id, first_name) VALUES (99, 'Ghost')`)
	must(t, err)
	must(t, tx.Rollback(ctx))
	// 5. an update that only touches bookkeeping: no log row
	d.exec(t, `UPDATE salesforce.contact SET _sync_updated_at = now() + interval '1 day' WHERE _sync_row_id = 1`)
	// 6. an update that changes nothing at all: no log row
	d.exec(t, `UPDATE salesforce.contact SET first_name = first_name WHERE _sync_row_id = 1`)
	// 7. an unsynced table: never captured
	d.exec(t, `INSERT INTO salesforce.unsynced (v) VALUES ('x')`)
	// 8. a final update, to know when we are done
	d.exec(t, `UPDATE salesforce.contact SET last_name = NULL, first_name = 'Ada K.' WHERE _sync_row_id = 1`)

	d.waitLog(t, 7, 20*time.Second)
	d.settle(t)
	got := d.readLog(t)
	type want struct {
		table, action string
		apiID         any
		rowID         int64
		record        string
		values        string
		seq           int
	}
	wants := []want{
		{"contact", "insert", nil, 1, `null`, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":"ada@example.com","employees":null,"first_name":"Ada","last_name":"Lovelace","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, 0},
		{"contact", "insert", "003000000000002AAA", 2, `null`, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":null,"employees":null,"first_name":"Bob","id":"003000000000002AAA","last_name":"B","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, 0},
		{"contact", "insert", "003000000000003AAA", 3, `null`, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":null,"employees":null,"first_name":"Cy","id":"003000000000003AAA","last_name":"C","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, 1},
		{"contact", "update", "003000000000002AAA", 2, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":null,"employees":null,"first_name":"Bob","id":"003000000000002AAA","last_name":"B","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, `{"email":"bob@example.com"}`, 0},
		{"contact", "delete", "003000000000003AAA", 3, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":null,"employees":null,"first_name":"Cy","id":"003000000000003AAA","last_name":"C","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, `null`, 1},
		{"account", "insert", nil, 10, `null`, `{"n":null,"name":"Acme"}`, 2},
		{"contact", "update", nil, 1, `{"active":null,"address":null,"amount":null,"big":null,"birthdate":null,"email":"ada@example.com","employees":null,"first_name":"Ada","id":null,"last_name":"Lovelace","last_seen":null,"n":null,"notes":null,"score":null,"tags":null}`, `{"first_name":"Ada K.","last_name":null}`, 0},
	}
	if len(got) != len(wants) {
		for _, r := range got {
			t.Log(fmtRow(r))
		}
		t.Fatalf("log holds %d rows, want %d", len(got), len(wants))
	}
	var prevLSN string
	for i, w := range wants {
		g := got[i]
		if g.Table != w.table || g.Action != w.action || deref(g.APIID) != w.apiID || deref(g.RowID) != w.rowID ||
			jsonOf(g.Record) != w.record || jsonOf(g.Values) != w.values || g.CommitSeq != w.seq || g.State != "new" {
			t.Errorf("row %d:\n got  %s api_id=%v\n want %s %s api_id=%v row=%d record=%s values=%s seq=%d", i, fmtRow(g), deref(g.APIID), w.table, w.action, w.apiID, w.rowID, w.record, w.values, w.seq)
		}
		if g.CommittedAt.IsZero() || time.Since(g.CommittedAt) > time.Minute {
			t.Errorf("row %d: committed_at %v", i, g.CommittedAt)
		}
		if i > 0 && g.CommitSeq == 0 && g.CommitLSN == prevLSN {
			t.Errorf("row %d: new transaction with the same commit_lsn", i)
		}
		prevLSN = g.CommitLSN
	}
	// rows of one transaction share commit_lsn
	if got[1].CommitLSN != got[2].CommitLSN || got[3].CommitLSN != got[5].CommitLSN || got[0].CommitLSN == got[1].CommitLSN {
		t.Errorf("commit_lsn grouping wrong: %v", []string{got[0].CommitLSN, got[1].CommitLSN, got[2].CommitLSN, got[3].CommitLSN, got[5].CommitLSN})
	}
	// the checkpoint is the last transaction's end, at or past its commit
	var ck string
	must(t, d.pool.QueryRow(ctx, "SELECT lsn::text FROM salesforce._sync_capture_checkpoint WHERE slot_name = 'tether'").Scan(&ck))
	var after bool
	must(t, d.pool.QueryRow(ctx, "SELECT $1::pg_lsn > $2::pg_lsn", ck, got[6].CommitLSN).Scan(&after))
	if !after {
		t.Errorf("checkpoint %s not past the last commit %s", ck, got[6].CommitLSN)
	}
}

// TestCaptureTOAST: an update that leaves a large TOASTed text unchanged
// carries only the changed column in values, and the record keeps the whole
// text (filled from the old row, never NULL).
func TestCaptureTOAST(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	// incompressible, so it is stored out of line
	d.exec(t, `INSERT INTO salesforce.contact (_sync_row_id, first_name, notes)
		SELECT 1, 'Ada', string_agg(md5(i::text), '') FROM generate_series(1, 20000) i`)
	var notes string
	must(t, d.pool.QueryRow(context.Background(), "SELECT notes FROM salesforce.contact WHERE _sync_row_id = 1").Scan(&notes))
	if len(notes) != 640000 {
		t.Fatalf("notes %d chars", len(notes))
	}
	d.exec(t, `UPDATE salesforce.contact SET first_name = 'Ada K.' WHERE _sync_row_id = 1`)
	d.exec(t, `UPDATE salesforce.contact SET notes = 'short' WHERE _sync_row_id = 1`)
	d.exec(t, `DELETE FROM salesforce.contact WHERE _sync_row_id = 1`)
	d.waitLog(t, 4, 20*time.Second)
	got := d.readLog(t)
	if len(got) != 4 {
		t.Fatalf("%d rows", len(got))
	}
	if got[0].Values["notes"] != notes {
		t.Errorf("insert: notes not carried whole")
	}
	up := got[1]
	if jsonOf(up.Values) != `{"first_name":"Ada K."}` {
		t.Errorf("update values %s, want only first_name", jsonOf(up.Values))
	}
	if up.Record["notes"] != notes || up.Record["first_name"] != "Ada" {
		t.Errorf("update record lost the TOASTed text or the old name: notes %d chars", len(strings.TrimSpace(jsonOf(up.Record["notes"]))))
	}
	if jsonOf(got[2].Values) != `{"notes":"short"}` || got[2].Record["notes"] != notes {
		t.Errorf("second update: values %s", jsonOf(got[2].Values))
	}
	if got[3].Action != "delete" || got[3].Record["notes"] != "short" || got[3].Record["first_name"] != "Ada K." {
		t.Errorf("delete record %s", jsonOf(got[3].Record))
	}
}

// TestCaptureTypes: values keep the types Salesforce expects.
func TestCaptureTypes(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	d.exec(t, `INSERT INTO salesforce.contact (_sync_row_id, amount, birthdate, last_seen, tags, active, employees, big, score, address, first_name)
		VALUES (1, 1234.50, '1990-02-03', '2024-05-06 07:08:09.123+02', ARRAY['a','b c',NULL,'d"e'], true, 42, 9007199254740993, 0.25,
		'{"city": "Paris", "zip": 75001}', E'tab\there "quoted" \\ back\nline')`)
	d.exec(t, `UPDATE salesforce.contact SET amount = 'NaN', tags = '{}', active = false, score = 'Infinity' WHERE _sync_row_id = 1`)
	d.waitLog(t, 2, 20*time.Second)
	got := d.readLog(t)
	want := `{"active":true,"address":{"city":"Paris","zip":75001},"amount":1234.50,"big":9007199254740993,"birthdate":"1990-02-03","email":null,"employees":42,"first_name":"tab\there \"quoted\" \\ back\nline","last_name":null,"last_seen":"2024-05-06T05:08:09.123Z","n":null,"notes":null,"score":0.25,"tags":["a","b c",null,"d\"e"]}`
	if g := jsonOf(got[0].Values); g != want {
		t.Errorf("insert values\n got  %s\n want %s", g, want)
	}
	// raw JSON text, to see numbers are numbers (not strings)
	var raw string
	must(t, d.pool.QueryRow(context.Background(), `SELECT "values"::text FROM salesforce._sync_write_log ORDER BY id LIMIT 1`).Scan(&raw))
	for _, frag := range []string{`"amount": 1234.50`, `"big": 9007199254740993`, `"employees": 42`, `"active": true`, `"tags": ["a", "b c", null, "d\"e"]`} {
		if !strings.Contains(raw, frag) {
			t.Errorf("values %s lacks %s", raw, frag)
		}
	}
	if g := jsonOf(got[1].Values); g != `{"active":false,"amount":"NaN","score":"Infinity","tags":[]}` {
		t.Errorf("update values %s", g)
	}
}

// TestCaptureAddColumn: a column added mid-stream shows up in the next rows.
func TestCaptureAddColumn(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	d.exec(t, `INSERT INTO salesforce.account (_sync_row_id, name) VALUES (1, 'A')`)
	d.waitLog(t, 1, 20*time.Second)
	d.exec(t, `ALTER TABLE salesforce.account ADD COLUMN region__c text`)
	d.exec(t, `INSERT INTO salesforce.account (_sync_row_id, name, region__c) VALUES (2, 'B', 'EMEA')`)
	d.exec(t, `UPDATE salesforce.account SET region__c = 'APAC' WHERE _sync_row_id = 1`)
	d.waitLog(t, 3, 20*time.Second)
	got := d.readLog(t)
	if g := jsonOf(got[1].Values); g != `{"n":null,"name":"B","region__c":"EMEA"}` {
		t.Errorf("insert after ADD COLUMN: %s", g)
	}
	if g := jsonOf(got[2].Values); g != `{"region__c":"APAC"}` {
		t.Errorf("update after ADD COLUMN: %s", g)
	}
}

// TestCaptureTruncate: a TRUNCATE of a synced table is recorded as a failed
// entry with a clear message.
func TestCaptureTruncate(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	d.exec(t, `INSERT INTO salesforce.account (_sync_row_id, name) VALUES (1, 'A')`)
	d.exec(t, `TRUNCATE salesforce.account`)
	d.waitLog(t, 2, 20*time.Second)
	got := d.readLog(t)
	tr := got[1]
	if tr.Table != "account" || tr.State != "failed" || tr.Message == nil || !strings.Contains(*tr.Message, "TRUNCATE") {
		t.Errorf("truncate entry: %s message=%v", fmtRow(tr), deref(tr.Message))
	}
}

// TestCaptureSkipsReplayed: when the server sends again transactions whose
// rows are already in the log (its slot is behind the checkpoint, as after a
// crash between the local commit and the confirmation), capture skips them
// by commit LSN and captures only what is new.
func TestCaptureSkipsReplayed(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	// A second slot on the same WAL, still at the start: it plays the slot
	// whose confirmation was lost.
	d.exec(t, "SELECT pg_create_logical_replication_slot('behind', 'pgoutput')")
	_, stop := d.startCapture(t, nil)
	for i := 1; i <= 3; i++ {
		d.exec(t, `INSERT INTO salesforce.account (n) VALUES ($1), ($1)`, i)
	}
	d.waitLog(t, 6, 20*time.Second)
	stop()
	d.exec(t, `INSERT INTO salesforce._sync_capture_checkpoint (slot_name, lsn) SELECT 'behind', lsn FROM salesforce._sync_capture_checkpoint WHERE slot_name = 'tether'`)
	d.exec(t, `INSERT INTO salesforce.account (n) VALUES (4)`)

	cfg := d.cfg
	cfg.Slot = "behind"
	dd := *d
	dd.cfg = cfg
	dd.startCapture(t, func(_ *CaptureConfig, c *Capture) { c.startAtSlot = true })
	d.waitLog(t, 7, 20*time.Second)
	var confirmed bool
	deadline := time.Now().Add(10 * time.Second)
	for !confirmed && time.Now().Before(deadline) {
		must(t, d.pool.QueryRow(ctx, `SELECT s.confirmed_flush_lsn >= c.lsn FROM pg_replication_slots s, salesforce._sync_capture_checkpoint c
			WHERE s.slot_name = 'behind' AND c.slot_name = 'behind'`).Scan(&confirmed))
		time.Sleep(20 * time.Millisecond)
	}
	got := d.readLog(t)
	if len(got) != 7 {
		for _, r := range got {
			t.Log(fmtRow(r))
		}
		t.Fatalf("log holds %d rows, want 7 (replayed transactions captured twice?)", len(got))
	}
	if jsonOf(got[6].Values) != `{"id":null,"n":4,"name":null}` && jsonOf(got[6].Values) != `{"n":4,"name":null}` {
		t.Errorf("last row %s", fmtRow(got[6]))
	}
}

// TestCaptureTableAdded: a table added to the publication while capture runs
// is captured from then on.
func TestCaptureTableAdded(t *testing.T) {
	d := newTestDB(t)
	d.startCapture(t, nil)
	ctx := context.Background()
	d.exec(t, `INSERT INTO salesforce.account (n) VALUES (1)`)
	d.waitLog(t, 1, 20*time.Second)
	d.exec(t, `CREATE TABLE salesforce.lead (id text UNIQUE, _sync_row_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, company text, _sync_updated_at timestamptz);
		ALTER TABLE salesforce.lead REPLICA IDENTITY FULL;
		INSERT INTO salesforce._sync_tables (table_name, object_name) VALUES ('lead', 'Lead')`)
	must(t, SyncPublication(ctx, d.pool, d.cfg, []string{"account", "contact", "lead"}))
	d.exec(t, `INSERT INTO salesforce.lead (company) VALUES ('Initech')`)
	d.waitLog(t, 2, 20*time.Second)
	got := d.readLog(t)
	if got[1].Table != "lead" || jsonOf(got[1].Values) != `{"company":"Initech"}` {
		t.Errorf("lead row: %s", fmtRow(got[1]))
	}
}
