package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testSchema = "salesforce"

// env is one test's database: system tables, synced tables, an echo guard,
// and an "application" that changes rows and logs them as capture would.
type env struct {
	t      testing.TB
	ctx    context.Context
	dsn    string
	pool   *pgxpool.Pool
	guard  *replication.EchoGuard
	tables map[string]*schema.Table
	seq    atomic.Int64
}

func newEnv(t testing.TB, objects ...*upstream.Object) *env {
	t.Helper()
	return newEnvMode(t, "", objects...)
}

// newEnvMode is newEnv with the echo guard's mode (origin or message; "" picks).
func newEnvMode(t testing.TB, mode replication.EchoMode, objects ...*upstream.Object) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	dsn := pgtest.NewDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Migrate(ctx, conn, testSchema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{t: t, ctx: ctx, dsn: dsn, pool: pool, tables: map[string]*schema.Table{}}
	for _, o := range objects {
		tb, err := schema.SyncTable(ctx, pool, testSchema, o)
		if err != nil {
			t.Fatalf("sync table %s: %v", o.Name, err)
		}
		e.tables[tb.Name] = tb
	}
	e.guard, err = replication.NewEchoGuard(ctx, pool, "tether", mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.guard.Close)
	return e
}

// col is the column of a field in a table.
func (e *env) col(table, field string) string {
	c := e.tables[table].ColumnForField(field)
	if c == nil {
		e.t.Fatalf("no column for %s.%s", table, field)
	}
	return c.Name
}

func (e *env) q(table string) string { return e.tables[table].QualifiedName() }

// rowJSON is a row as capture renders it (to_jsonb: numbers, ISO dates, arrays).
func (e *env) rowJSON(tx pgx.Tx, table string, row int64) map[string]any {
	var b []byte
	if err := tx.QueryRow(e.ctx, `SELECT to_jsonb(t) FROM `+e.q(table)+` t WHERE _sync_row_id = $1`, row).Scan(&b); err != nil {
		e.t.Fatalf("row %d of %s: %v", row, table, err)
	}
	m, err := decodeJSON(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) logRow(tx pgx.Tx, table, action string, row int64, apiID any, record, values map[string]any) int64 {
	var rec, vals any
	if record != nil {
		rec = record
	}
	if values != nil {
		vals = values
	}
	n := e.seq.Add(1)
	var id int64
	err := tx.QueryRow(e.ctx, `INSERT INTO `+schema.QuoteIdent(testSchema)+`._sync_write_log
		(table_name, action, row_id, api_id, record, "values", commit_lsn, commit_seq, committed_at)
		VALUES ($1, $2, $3, $4, $5, $6, pg_current_wal_lsn(), $7, now()) RETURNING id`,
		table, action, row, apiID, rec, vals, n).Scan(&id)
	if err != nil {
		e.t.Fatalf("log %s: %v", action, err)
	}
	return id
}

// insert inserts a row as the application would (fields by API name) and logs it.
func (e *env) insert(table string, fields map[string]any) (row, logID int64) {
	cols, args, ph := []string{}, []any{}, []string{}
	for f, v := range fields {
		cols = append(cols, schema.QuoteIdent(e.col(table, f)))
		args = append(args, v)
		ph = append(ph, fmt.Sprintf("$%d", len(args)))
	}
	sql := `INSERT INTO ` + e.q(table) + ` DEFAULT VALUES RETURNING _sync_row_id`
	if len(cols) > 0 {
		sql = `INSERT INTO ` + e.q(table) + ` (` + join(cols) + `) VALUES (` + join(ph) + `) RETURNING _sync_row_id`
	}
	err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(e.ctx, sql, args...).Scan(&row); err != nil {
			return err
		}
		logID = e.logRow(tx, table, "insert", row, nil, nil, e.rowJSON(tx, table, row))
		return nil
	})
	if err != nil {
		e.t.Fatalf("insert into %s: %v", table, err)
	}
	return row, logID
}

// update changes a row as the application would and logs the changed columns.
func (e *env) update(table string, row int64, fields map[string]any) int64 {
	var logID int64
	err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		old := e.rowJSON(tx, table, row)
		sets, args := []string{}, []any{}
		for f, v := range fields {
			args = append(args, v)
			sets = append(sets, fmt.Sprintf("%s = $%d", schema.QuoteIdent(e.col(table, f)), len(args)))
		}
		args = append(args, row)
		if _, err := tx.Exec(e.ctx, `UPDATE `+e.q(table)+` SET `+join(sets)+fmt.Sprintf(` WHERE _sync_row_id = $%d`, len(args)), args...); err != nil {
			return err
		}
		nw := e.rowJSON(tx, table, row)
		vals := map[string]any{}
		for f := range fields {
			c := e.col(table, f)
			vals[c] = nw[c]
		}
		logID = e.logRow(tx, table, "update", row, old["id"], old, vals)
		return nil
	})
	if err != nil {
		e.t.Fatalf("update %s: %v", table, err)
	}
	return logID
}

// delete deletes a row as the application would and logs it.
func (e *env) delete(table string, row int64) int64 {
	var logID int64
	err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		old := e.rowJSON(tx, table, row)
		if _, err := tx.Exec(e.ctx, `DELETE FROM `+e.q(table)+` WHERE _sync_row_id = $1`, row); err != nil {
			return err
		}
		logID = e.logRow(tx, table, "delete", row, old["id"], old, nil)
		return nil
	})
	if err != nil {
		e.t.Fatalf("delete from %s: %v", table, err)
	}
	return logID
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// logEntry is a log row as a user reads it.
type logEntry struct {
	ID       int64
	Action   string
	State    string
	APIID    string
	Result   int
	Message  string
	Attempts int
}

func (e *env) logEntry(id int64) logEntry {
	var l logEntry
	var res *int32
	var msg, apiID *string
	err := e.pool.QueryRow(e.ctx, `SELECT id, action, state, api_id, api_result, api_message, attempts FROM `+
		schema.QuoteIdent(testSchema)+`._sync_write_log WHERE id = $1`, id).Scan(&l.ID, &l.Action, &l.State, &apiID, &res, &msg, &l.Attempts)
	if err != nil {
		e.t.Fatalf("log row %d: %v", id, err)
	}
	if res != nil {
		l.Result = int(*res)
	}
	if msg != nil {
		l.Message = *msg
	}
	if apiID != nil {
		l.APIID = *apiID
	}
	return l
}

// rowID reads a row's id column ("" when NULL or no row).
func (e *env) rowID(table string, row int64) string {
	var id *string
	err := e.pool.QueryRow(e.ctx, `SELECT id FROM `+e.q(table)+` WHERE _sync_row_id = $1`, row).Scan(&id)
	if err != nil && err != pgx.ErrNoRows {
		e.t.Fatal(err)
	}
	if id == nil {
		return ""
	}
	return *id
}

// openCount is the number of log rows in new or pending.
func (e *env) openCount() int {
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM `+schema.QuoteIdent(testSchema)+
		`._sync_write_log WHERE state IN ('new', 'pending')`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waitDone waits until no log row is open.
func (e *env) waitDone(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if e.openCount() == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, _ := e.pool.Query(e.ctx, `SELECT id, state, coalesce(api_message, '') FROM `+schema.QuoteIdent(testSchema)+
		`._sync_write_log WHERE state IN ('new', 'pending') ORDER BY id LIMIT 5`)
	for rows.Next() {
		var id int64
		var st, msg string
		_ = rows.Scan(&id, &st, &msg)
		e.t.Logf("open: %d %s %s", id, st, msg)
	}
	rows.Close()
	e.t.Fatalf("log still has %d open rows after %s", e.openCount(), timeout)
}

// startWriter runs a writer until the test ends.
func (e *env) startWriter(cfg Config) (*Writer, context.CancelFunc) {
	cfg.Schema, cfg.Pool, cfg.Guard = testSchema, e.pool, e.guard
	if cfg.BatchWait == 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.Settle == 0 {
		cfg.Settle = 100 * time.Millisecond
	}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel)
	w := New(cfg)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			e.t.Errorf("writer: %v", err)
		}
	}()
	stop := func() { cancel(); <-done }
	e.t.Cleanup(stop)
	return w, stop
}

// contactObject is a Contact-like object with every kind the writer maps.
func contactObject() *upstream.Object {
	rw := func(name string, k upstream.Kind) upstream.Field {
		return upstream.Field{Name: name, Kind: k, Createable: true, Updateable: true, Nillable: true}
	}
	ro := func(name string, k upstream.Kind) upstream.Field {
		return upstream.Field{Name: name, Kind: k, Nillable: true}
	}
	return &upstream.Object{Name: "Contact", Queryable: true, Createable: true, Updateable: true, Deletable: true,
		Fields: []upstream.Field{
			{Name: "Id", Kind: upstream.KindID},
			rw("FirstName", upstream.KindText),
			rw("LastName", upstream.KindText),
			rw("Email", upstream.KindText),
			rw("Amount__c", upstream.KindDecimal),
			rw("Count__c", upstream.KindInt),
			rw("Birthdate", upstream.KindDate),
			rw("Seen_At__c", upstream.KindTimestamp),
			rw("DoNotCall", upstream.KindBool),
			rw("Tags__c", upstream.KindTextArray),
			ro("Name", upstream.KindText),
			ro("CreatedDate", upstream.KindTimestamp),
			ro("SystemModstamp", upstream.KindTimestamp),
		}}
}

// fakeProvider is an in-memory provider for the writer's state-machine
// tests (no HTTP): it validates records, injects faults on demand, and
// implements FindCreated by comparing values. The end-to-end tests use the
// Salesforce simulator and client instead.
type fakeProvider struct {
	mu       sync.Mutex
	records  map[string]map[string]map[string]any // object → id → fields
	created  map[string]time.Time
	next     int
	requests int
	writes   []string // "op object n"
	finds    int

	failNext    int            // whole requests answer a transient 503
	unknownNext int            // whole requests are applied, then the answer is lost
	locks       map[string]int // record id → per-record UNABLE_TO_LOCK_ROW answers left
	authErr     bool
	quotaErr    bool
	hook        func(op upstream.Op, n int)                 // called before applying (under no lock)
	after       func(op upstream.Op, res []upstream.Result) // called after applying (under no lock)
}

func newFake() *fakeProvider {
	return &fakeProvider{records: map[string]map[string]map[string]any{}, created: map[string]time.Time{}, locks: map[string]int{}}
}

func (f *fakeProvider) Name() string { return "fake" }
func (f *fakeProvider) Objects(context.Context) ([]upstream.ObjectSummary, error) {
	return nil, nil
}
func (f *fakeProvider) Describe(context.Context, string) (*upstream.Object, error) { return nil, nil }
func (f *fakeProvider) Count(context.Context, string) (int64, error)               { return 0, nil }
func (f *fakeProvider) Read(context.Context, upstream.ReadRequest) (*upstream.Page, error) {
	return nil, nil
}
func (f *fakeProvider) ReadNext(context.Context, string, string) (*upstream.Page, error) {
	return nil, nil
}
func (f *fakeProvider) ReadDeleted(context.Context, string, time.Time, time.Time) (*upstream.DeletedResult, error) {
	return nil, nil
}
func (f *fakeProvider) MaxBatch() int { return 200 }

func (f *fakeProvider) Write(ctx context.Context, object string, op upstream.Op, changes []upstream.Change) ([]upstream.Result, error) {
	if f.hook != nil {
		f.hook(op, len(changes))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.writes = append(f.writes, fmt.Sprintf("%s %s %d", op, object, len(changes)))
	switch {
	case f.authErr:
		return nil, &upstream.Error{Class: upstream.Auth, Status: 400, Code: "invalid_grant", Message: "expired access/refresh token"}
	case f.quotaErr:
		return nil, &upstream.Error{Class: upstream.Quota, Status: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."}
	case f.failNext > 0:
		f.failNext--
		return nil, &upstream.Error{Class: upstream.Transient, Status: 503, Code: "SERVER_UNAVAILABLE", Message: "try later"}
	}
	recs := f.records[object]
	if recs == nil {
		recs = map[string]map[string]any{}
		f.records[object] = recs
	}
	out := make([]upstream.Result, len(changes))
	for i, ch := range changes {
		if ch.ID != "" && f.locks[ch.ID] > 0 {
			f.locks[ch.ID]--
			out[i] = upstream.Result{ID: ch.ID, Status: 503, Transient: true,
				Errors: []upstream.FieldError{{Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record"}}}
			continue
		}
		switch op {
		case upstream.OpCreate:
			if v, _ := ch.Fields["LastName"].(string); v == "" {
				out[i] = upstream.Result{Status: 400, Errors: []upstream.FieldError{{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}}}}
				continue
			}
			if v, _ := ch.Fields["Email"].(string); v == "invalid" {
				out[i] = upstream.Result{Status: 400, Errors: []upstream.FieldError{{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: invalid", Fields: []string{"Email"}}}}
				continue
			}
			f.next++
			id := fmt.Sprintf("003FAKE%011d", f.next)
			recs[id] = copyMap(ch.Fields)
			f.created[id] = time.Now()
			out[i] = upstream.Result{ID: id, OK: true, Status: 201}
		case upstream.OpUpdate:
			r, ok := recs[ch.ID]
			if !ok {
				out[i] = upstream.Result{ID: ch.ID, Status: 404, Gone: true, Errors: []upstream.FieldError{{Code: "ENTITY_IS_DELETED", Message: "entity is deleted"}}}
				continue
			}
			if v, _ := ch.Fields["Email"].(string); v == "invalid" {
				out[i] = upstream.Result{ID: ch.ID, Status: 400, Errors: []upstream.FieldError{{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: invalid", Fields: []string{"Email"}}}}
				continue
			}
			overlay(r, ch.Fields)
			out[i] = upstream.Result{ID: ch.ID, OK: true, Status: 200}
		case upstream.OpDelete:
			if _, ok := recs[ch.ID]; !ok {
				out[i] = upstream.Result{ID: ch.ID, Status: 404, Gone: true, Errors: []upstream.FieldError{{Code: "ENTITY_IS_DELETED", Message: "entity is deleted"}}}
				continue
			}
			delete(recs, ch.ID)
			out[i] = upstream.Result{ID: ch.ID, OK: true, Status: 204}
		}
	}
	if f.unknownNext > 0 {
		f.unknownNext--
		return nil, &upstream.Error{Class: upstream.Transient, Code: upstream.CodeUnknownOutcome, Message: "connection dropped after sending"}
	}
	if f.after != nil {
		f.mu.Unlock()
		f.after(op, out)
		f.mu.Lock()
	}
	return out, nil
}

func (f *fakeProvider) FindCreated(ctx context.Context, object string, since time.Time, fields map[string]any) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	var out []string
	for id, r := range f.records[object] {
		if f.created[id].Before(since) {
			continue
		}
		match := true
		for k, v := range fields {
			if norm(r[k]) != norm(v) {
				match = false
				break
			}
		}
		if match {
			out = append(out, id)
		}
	}
	return out, nil
}

func norm(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case nil:
		return "<nil>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (f *fakeProvider) get(object, id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[object][id]
	return r, ok
}

func (f *fakeProvider) count(object string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.records[object])
}

// ensure the health package is linked for tests that check it
var _ = health.NewMemory
