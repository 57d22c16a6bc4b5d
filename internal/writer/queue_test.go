package writer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/upstream"
)

// These tests drive the writer's queue and state machine against a real
// PostgreSQL with an in-memory provider (faults on demand); log rows are
// written as capture writes them.

func TestWriteBackValuesAndIDs(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	seen := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	r1, l1 := e.insert("contact", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Email": nil,
		"Amount__c": "1234.50", "Count__c": 7, "Birthdate": "1815-12-10", "Seen_At__c": seen, "DoNotCall": true,
		"Tags__c": []string{"math", "poetry"}})
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)

	l := e.logEntry(l1)
	id := e.rowID("contact", r1)
	if l.State != "succeeded" || l.Result != 201 || l.APIID == "" || l.APIID != id || l.Attempts != 1 {
		t.Fatalf("insert log row %+v, row id %q", l, id)
	}
	rec, _ := f.get("Contact", id)
	want := map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Email": nil, "Amount__c": json.Number("1234.50"),
		"Count__c": json.Number("7"), "Birthdate": "1815-12-10", "Seen_At__c": seen, "DoNotCall": true,
		"Tags__c": []string{"math", "poetry"}}
	for k, v := range want {
		if norm(rec[k]) != norm(v) {
			t.Errorf("field %s = %s, want %s", k, norm(rec[k]), norm(v))
		}
	}
	if _, ok := rec["Name"]; ok {
		t.Errorf("read-only Name was sent")
	}

	// an update and a delete of the created record
	l2 := e.update("contact", r1, map[string]any{"Email": "ada@example.com", "Tags__c": nil})
	e.waitDone(10 * time.Second)
	rec, _ = f.get("Contact", id)
	if rec["Email"] != "ada@example.com" || rec["Tags__c"] != nil {
		t.Errorf("after update: %v", rec)
	}
	if l := e.logEntry(l2); l.State != "succeeded" || l.Result != 200 || l.APIID != id {
		t.Errorf("update log row %+v", l)
	}
	l3 := e.delete("contact", r1)
	e.waitDone(10 * time.Second)
	if _, ok := f.get("Contact", id); ok {
		t.Errorf("record still there after delete")
	}
	if l := e.logEntry(l3); l.State != "succeeded" || l.Result != 204 {
		t.Errorf("delete log row %+v", l)
	}
}

func TestMergeInsideBatch(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	// B exists upstream already (fetched row with an id)
	f.records["Contact"] = map[string]map[string]any{"003B": {"LastName": "B"}}
	var rb int64
	if err := e.pool.QueryRow(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name) VALUES ('003B', 'B') RETURNING _sync_row_id`).Scan(&rb); err != nil {
		t.Fatal(err)
	}
	ra, la1 := e.insert("contact", map[string]any{"LastName": "A", "Email": "a@x.co"})
	la2 := e.update("contact", ra, map[string]any{"FirstName": "Al"})
	la3 := e.update("contact", ra, map[string]any{"Email": "al@x.co"})
	lb1 := e.update("contact", rb, map[string]any{"FirstName": "Bo"})
	lb2 := e.update("contact", rb, map[string]any{"Email": "bo@x.co", "FirstName": "Bob"})
	rc, lc1 := e.insert("contact", map[string]any{"LastName": "C"})
	lc2 := e.update("contact", rc, map[string]any{"FirstName": "Cy"})
	lc3 := e.delete("contact", rc)

	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)

	if f.requests != 2 {
		t.Errorf("requests %d (%v), want 2: one create, one update", f.requests, f.writes)
	}
	if f.count("Contact") != 2 {
		t.Errorf("%d records, want 2", f.count("Contact"))
	}
	ida := e.rowID("contact", ra)
	a, _ := f.get("Contact", ida)
	if a["LastName"] != "A" || a["FirstName"] != "Al" || a["Email"] != "al@x.co" {
		t.Errorf("A = %v", a)
	}
	b, _ := f.get("Contact", "003B")
	if b["FirstName"] != "Bob" || b["Email"] != "bo@x.co" {
		t.Errorf("B = %v", b)
	}
	check := func(id int64, state, msg string) {
		t.Helper()
		l := e.logEntry(id)
		if l.State != state || !strings.Contains(l.Message, msg) {
			t.Errorf("log %d: %s %q, want %s %q", id, l.State, l.Message, state, msg)
		}
	}
	check(la1, "succeeded", "")
	check(la2, "skipped", fmt.Sprintf("merged into log entry %d", la1))
	check(la3, "skipped", fmt.Sprintf("merged into log entry %d", la1))
	check(lb1, "succeeded", "")
	check(lb2, "skipped", fmt.Sprintf("merged into log entry %d", lb1))
	check(lc1, "skipped", "insert then delete before sending")
	check(lc2, "skipped", "insert then delete before sending")
	check(lc3, "skipped", "insert then delete before sending")
	if l := e.logEntry(la3); l.APIID != ida {
		t.Errorf("folded entry api_id %q, want %q", l.APIID, ida)
	}
}

func TestReadOnlyFields(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	f.records["Contact"] = map[string]map[string]any{"003R": {"LastName": "R"}}
	var row int64
	if err := e.pool.QueryRow(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name) VALUES ('003R', 'R') RETURNING _sync_row_id`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	only := e.update("contact", row, map[string]any{"Name": "Computed", "CreatedDate": time.Now()})
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	l := e.logEntry(only)
	if l.State != "failed" || l.Message != "read-only fields not sent: CreatedDate, Name" {
		t.Errorf("read-only-only update: %+v", l)
	}
	mixed := e.update("contact", row, map[string]any{"Name": "X", "LastName": "Rex"})
	e.waitDone(10 * time.Second)
	l = e.logEntry(mixed)
	if l.State != "succeeded" || l.Result != 200 || l.Message != "read-only fields not sent: Name" {
		t.Errorf("mixed update: %+v", l)
	}
	if r, _ := f.get("Contact", "003R"); r["LastName"] != "Rex" || r["Name"] != nil {
		t.Errorf("record %v", r)
	}
}

func TestOneInvalidRecordInBatchOf200(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	var bad int64
	var logs []int64
	for i := 0; i < 200; i++ {
		email := fmt.Sprintf("p%d@x.co", i)
		if i == 117 {
			email = "invalid"
		}
		_, l := e.insert("contact", map[string]any{"LastName": fmt.Sprintf("P%d", i), "Email": email})
		if i == 117 {
			bad = l
		}
		logs = append(logs, l)
	}
	e.startWriter(Config{Provider: f, BatchWait: time.Second})
	e.waitDone(10 * time.Second)
	if f.requests != 1 {
		t.Errorf("%d requests, want 1", f.requests)
	}
	if f.count("Contact") != 199 {
		t.Errorf("%d records, want 199", f.count("Contact"))
	}
	for _, id := range logs {
		l := e.logEntry(id)
		if id == bad {
			if l.State != "failed" || l.Result != 400 || l.Message != "INVALID_EMAIL_ADDRESS: Email: invalid email address: invalid (fields: Email)" {
				t.Errorf("invalid record: %+v", l)
			}
		} else if l.State != "succeeded" {
			t.Errorf("valid record %d: %+v", id, l)
		}
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	f.failNext = 3
	f.records["Contact"] = map[string]map[string]any{"003L": {"LastName": "L"}}
	var row int64
	if err := e.pool.QueryRow(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name) VALUES ('003L', 'L') RETURNING _sync_row_id`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	f.locks["003L"] = 2
	_, li := e.insert("contact", map[string]any{"LastName": "New"})
	lu := e.update("contact", row, map[string]any{"FirstName": "Locked"})
	e.startWriter(Config{Provider: f})
	e.waitDone(20 * time.Second)
	if l := e.logEntry(li); l.State != "succeeded" || l.Attempts != 4 {
		t.Errorf("insert after three 503s: %+v", l)
	}
	if l := e.logEntry(lu); l.State != "succeeded" || l.Attempts != 3 {
		// two lock failures, then success (the 503s hit the create request only)
		t.Errorf("update of a locked record: %+v", l)
	}
	if f.count("Contact") != 2 {
		t.Errorf("%d records, want 2", f.count("Contact"))
	}
	if r, _ := f.get("Contact", "003L"); r["FirstName"] != "Locked" {
		t.Errorf("locked record %v", r)
	}
}

func TestUnknownOutcomeDoesNotDuplicate(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	f.unknownNext = 1
	var rows []int64
	for i := 0; i < 5; i++ {
		// two identical inserts: each must get its own record
		r, _ := e.insert("contact", map[string]any{"LastName": fmt.Sprintf("U%d", min(i, 3))})
		rows = append(rows, r)
	}
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	if f.count("Contact") != 5 {
		t.Errorf("%d records, want 5 (no duplicates)", f.count("Contact"))
	}
	if f.finds != 6 {
		t.Errorf("%d FindCreated calls, want 6 (one listing, five lookups)", f.finds)
	}
	ids := map[string]bool{}
	for _, r := range rows {
		id := e.rowID("contact", r)
		if id == "" || ids[id] {
			t.Errorf("row %d id %q (duplicate or missing)", r, id)
		}
		ids[id] = true
	}
}

// A previous process died mid-batch: its rows are pending. The records it
// managed to create are adopted, the others created once.
func TestRestartWithPendingRows(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	r1, l1 := e.insert("contact", map[string]any{"LastName": "Sent"})
	_, l1b := e.insert("contact", map[string]any{"LastName": "NotSent"})
	l1u := e.update("contact", r1, map[string]any{"FirstName": "Merged"})
	// as the dead process left it: all three pending (the first two groups were in flight)
	if _, err := e.pool.Exec(e.ctx, `UPDATE salesforce._sync_write_log SET state = 'pending'`); err != nil {
		t.Fatal(err)
	}
	f.records["Contact"] = map[string]map[string]any{"003SENT": {"LastName": "Sent", "FirstName": "Merged"}}
	f.created["003SENT"] = time.Now()
	l2 := e.update("contact", r1, map[string]any{"Email": "after@x.co"}) // arrived after the crash
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	if f.count("Contact") != 2 {
		t.Errorf("%d records, want 2", f.count("Contact"))
	}
	if id := e.rowID("contact", r1); id != "003SENT" {
		t.Errorf("row 1 id %q, want the adopted 003SENT", id)
	}
	if l := e.logEntry(l1); l.State != "succeeded" || !strings.Contains(l.Message, "adopted") {
		t.Errorf("adopted insert: %+v", l)
	}
	if l := e.logEntry(l1u); l.State != "skipped" {
		t.Errorf("merged update: %+v", l)
	}
	if l := e.logEntry(l1b); l.State != "succeeded" || l.APIID == "" || l.APIID == "003SENT" {
		t.Errorf("insert not sent before the crash: %+v", l)
	}
	if l := e.logEntry(l2); l.State != "succeeded" || l.APIID != "003SENT" {
		t.Errorf("update after restart: %+v", l)
	}
	if r, _ := f.get("Contact", "003SENT"); r["Email"] != "after@x.co" {
		t.Errorf("record %v", r)
	}
}

func TestAuthAndQuotaPauseWithoutFailing(t *testing.T) {
	for _, kind := range []string{"auth", "quota"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, contactObject())
			f := newFake()
			f.mu.Lock()
			if kind == "auth" {
				f.authErr = true
			} else {
				f.quotaErr = true
			}
			f.mu.Unlock()
			h := health.NewMemory()
			_, l := e.insert("contact", map[string]any{"LastName": "Waits"})
			e.startWriter(Config{Provider: f, Health: h})
			deadline := time.Now().Add(5 * time.Second)
			for {
				if st, ok := h.Get(health.Writer); ok && st.Status == health.CustomerIntervention {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("writer health never became customer_intervention")
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			if le := e.logEntry(l); le.State != "new" && le.State != "pending" {
				t.Fatalf("row during pause: %+v", le)
			}
			f.mu.Lock()
			f.authErr, f.quotaErr = false, false
			f.mu.Unlock()
			e.waitDone(10 * time.Second)
			if le := e.logEntry(l); le.State != "succeeded" || le.Attempts != 1 {
				t.Errorf("after resume: %+v", le)
			}
			if st, _ := h.Get(health.Writer); st.Status != health.Healthy {
				t.Errorf("health after resume %+v", st)
			}
		})
	}
}

func TestDeletes(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	// a record already gone upstream
	var gone int64
	if err := e.pool.QueryRow(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name) VALUES ('003GONE', 'G') RETURNING _sync_row_id`).Scan(&gone); err != nil {
		t.Fatal(err)
	}
	lg := e.delete("contact", gone)
	// a row whose insert failed, then deleted
	rb, lb := e.insert("contact", map[string]any{"Email": "nolastname@x.co"})
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	if l := e.logEntry(lb); l.State != "failed" || !strings.HasPrefix(l.Message, "REQUIRED_FIELD_MISSING") {
		t.Errorf("invalid insert: %+v", l)
	}
	ld := e.delete("contact", rb)
	e.waitDone(10 * time.Second)
	if l := e.logEntry(lg); l.State != "succeeded" || !strings.Contains(l.Message, "ENTITY_IS_DELETED") {
		t.Errorf("delete of a gone record: %+v", l)
	}
	if l := e.logEntry(ld); l.State != "skipped" || !strings.Contains(l.Message, "never created") {
		t.Errorf("delete of a never-created row: %+v", l)
	}
}

// An update queued while the row's insert is in flight waits for the id.
func TestUpdateWaitsForInsertID(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	row, li := e.insert("contact", map[string]any{"LastName": "First"})
	var lu int64
	done := make(chan struct{})
	f.hook = func(op upstream.Op, n int) {
		if op == upstream.OpCreate && lu == 0 {
			lu = e.update("contact", row, map[string]any{"LastName": "Second"})
			close(done)
		}
	}
	e.startWriter(Config{Provider: f})
	<-done
	e.waitDone(10 * time.Second)
	id := e.rowID("contact", row)
	if l := e.logEntry(lu); l.State != "succeeded" || l.APIID != id {
		t.Errorf("update: %+v (row id %s)", l, id)
	}
	if l := e.logEntry(li); l.State != "succeeded" {
		t.Errorf("insert: %+v", l)
	}
	if r, _ := f.get("Contact", id); r["LastName"] != "Second" || f.count("Contact") != 1 {
		t.Errorf("record %v (%d records)", r, f.count("Contact"))
	}
}

// Requeue is plain SQL: a failed insert and the update that fixes it are set
// back to new together and go out as one create.
func TestRequeue(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	row, li := e.insert("contact", map[string]any{"FirstName": "Nolast"})
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	lu := e.update("contact", row, map[string]any{"LastName": "Fixed"})
	e.waitDone(10 * time.Second)
	if l := e.logEntry(lu); l.State != "failed" || !strings.Contains(l.Message, "no upstream record") {
		t.Errorf("update of an uncreated row: %+v", l)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE salesforce._sync_write_log SET state = 'new' WHERE state = 'failed'`); err != nil {
		t.Fatal(err)
	}
	e.waitDone(10 * time.Second)
	id := e.rowID("contact", row)
	if l := e.logEntry(li); l.State != "succeeded" || l.APIID != id || id == "" {
		t.Errorf("requeued insert: %+v", l)
	}
	if r, _ := f.get("Contact", id); r["LastName"] != "Fixed" || r["FirstName"] != "Nolast" {
		t.Errorf("record %v", r)
	}
}

// The fetcher brought a created record in as its own row before the id
// reached the application's row: the two become one row, with the
// provider's values except where the application changed the row since.
func TestFetchedDuplicateIsMerged(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	row, li := e.insert("contact", map[string]any{"LastName": "Dup", "FirstName": "Old"})
	var lu int64
	f.after = func(op upstream.Op, res []upstream.Result) {
		if op != upstream.OpCreate || lu != 0 {
			return
		}
		// the application changes the row while the create is in flight ...
		lu = e.update("contact", row, map[string]any{"FirstName": "Local"})
		// ... and the fetcher inserts the new record as a row of its own
		if err := e.guard.Tx(e.ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name, first_name, name, _sync_updated_at)
				VALUES ($1, 'Dup', 'Old', 'Old Dup', now())`, res[0].ID)
			return err
		}); err != nil {
			t.Error(err)
		}
	}
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	var n int
	var rid int64
	var name, first string
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) OVER (), _sync_row_id, name, first_name FROM `+e.q("contact")+` WHERE last_name = 'Dup'`).
		Scan(&n, &rid, &name, &first); err != nil {
		t.Fatal(err)
	}
	if n != 1 || rid != row || name != "Old Dup" || first != "Local" {
		t.Errorf("rows %d, row %d (want %d), name %q, first_name %q", n, rid, row, name, first)
	}
	id := e.rowID("contact", row)
	if l := e.logEntry(li); l.State != "succeeded" || l.APIID != id {
		t.Errorf("insert %+v", l)
	}
	if r, _ := f.get("Contact", id); r["FirstName"] != "Local" {
		t.Errorf("record %v", r)
	}
}

// Pending creates that never reached the provider cost one lookup, not one
// per record; applied ones are all adopted, a bounded number per cycle.
func TestPendingCreatesLookups(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	for i := 0; i < 30; i++ {
		e.insert("contact", map[string]any{"LastName": fmt.Sprintf("Done%d", i)})
	}
	_, stop := e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	stop()

	// a process died after claiming 40 creates, before sending them
	for i := 0; i < 40; i++ {
		e.insert("contact", map[string]any{"LastName": fmt.Sprintf("Unsent%d", i)})
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE salesforce._sync_write_log SET state = 'pending', updated_at = now() WHERE state = 'new'`); err != nil {
		t.Fatal(err)
	}
	w, stop := e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	stop()
	if st := w.Stats(); st.Finds != 1 {
		t.Errorf("%d lookups for 40 unsent creates, want 1", st.Finds)
	}
	if f.count("Contact") != 70 {
		t.Errorf("%d records, want 70", f.count("Contact"))
	}

	// a process died after the provider applied 40 creates
	var rows []int64
	for i := 0; i < 40; i++ {
		r, _ := e.insert("contact", map[string]any{"LastName": fmt.Sprintf("Applied%d", i)})
		rows = append(rows, r)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE salesforce._sync_write_log SET state = 'pending', updated_at = now() WHERE state = 'new'`); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("003APPLIED%08d", i)
		f.records["Contact"][id] = map[string]any{"LastName": fmt.Sprintf("Applied%d", i)}
		f.created[id] = time.Now()
	}
	f.mu.Unlock()
	w, _ = e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	if f.count("Contact") != 110 {
		t.Errorf("%d records, want 110 (no duplicates)", f.count("Contact"))
	}
	for i, r := range rows {
		if id := e.rowID("contact", r); id != fmt.Sprintf("003APPLIED%08d", i) {
			t.Errorf("row %d: id %q", r, id)
		}
	}
	if st := w.Stats(); st.Finds != 42 || st.Requests != 0 {
		t.Errorf("lookups %d (want 2 listings + 40), create requests %d (want 0)", st.Finds, st.Requests)
	}
}

// A delete committed while the row's create is in flight waits for the new
// id (found through the insert's log row, the table row being gone).
func TestDeleteWaitsForInsertID(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	row, li := e.insert("contact", map[string]any{"LastName": "Short-lived"})
	var ld int64
	f.hook = func(op upstream.Op, n int) {
		if op == upstream.OpCreate && ld == 0 {
			ld = e.delete("contact", row)
		}
	}
	e.startWriter(Config{Provider: f})
	e.waitDone(10 * time.Second)
	ins := e.logEntry(li)
	if ins.State != "succeeded" || ins.APIID == "" {
		t.Fatalf("insert %+v", ins)
	}
	if l := e.logEntry(ld); l.State != "succeeded" || l.APIID != ins.APIID || l.Result != 204 {
		t.Errorf("delete %+v", l)
	}
	if _, ok := f.get("Contact", ins.APIID); ok {
		t.Errorf("record still exists")
	}
}

// Outcomes are counted in the metrics; MaxAttempts ends endless transient failures.
func TestMetricsAndMaxAttempts(t *testing.T) {
	e := newEnv(t, contactObject())
	f := newFake()
	f.records["Contact"] = map[string]map[string]any{"003M": {"LastName": "M"}}
	var row int64
	if err := e.pool.QueryRow(e.ctx, `INSERT INTO `+e.q("contact")+` (id, last_name) VALUES ('003M', 'M') RETURNING _sync_row_id`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	f.locks["003M"] = 1000
	m := metrics.New()
	e.insert("contact", map[string]any{"LastName": "One"})
	e.insert("contact", map[string]any{"FirstName": "NoLastName"})
	lu := e.update("contact", row, map[string]any{"FirstName": "x"})
	e.startWriter(Config{Provider: f, Metrics: m, MaxAttempts: 3})
	e.waitDone(10 * time.Second)
	if l := e.logEntry(lu); l.State != "failed" || l.Attempts != 3 || !strings.Contains(l.Message, "gave up after 3 attempts: UNABLE_TO_LOCK_ROW") {
		t.Errorf("locked forever: %+v", l)
	}
	for outcome, want := range map[string]float64{"succeeded": 1, "failed": 2, "retried": 2} {
		if got := counterValue(t, m, "tether_writes_total", "outcome", outcome); got != want {
			t.Errorf("writes{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
}

func counterValue(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
