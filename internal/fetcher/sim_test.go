package fetcher

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
	"github.com/tether-sync/tether/upstream/salesforce"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// defaultObjects are the objects the simulator seeds, plus a custom one.
var defaultObjects = []string{"Account", "Contact", "Lead", "Opportunity", "Invoice__c"}

// simEnv is a simulator, a client talking to it over HTTP, and a database.
type simEnv struct {
	*dbEnv
	srv    *sim.Server
	client *salesforce.Client
	health *health.Memory
}

// newSimEnv starts a simulator with perObject records in each of
// defaultObjects and a client limited by lim (nil: unlimited).
func newSimEnv(t testing.TB, perObject int, lim *ratelimit.Limiter) *simEnv {
	t.Helper()
	ctx := context.Background()
	srv := sim.New(sim.Options{Seed: perObject, RandSeed: 1})
	if err := srv.AddCustomObject(sim.CustomObject{Name: "Invoice__c", Fields: []sim.CustomField{
		{Name: "Amount__c", Type: "currency"}, {Name: "Due_Date__c", Type: "date"}, {Name: "Paid__c", Type: "boolean"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SeedObject("Invoice__c", perObject); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if lim == nil {
		lim = ratelimit.New(ratelimit.Config{})
	}
	creds := srv.Credentials()
	client, err := salesforce.New(ctx, salesforce.Config{LoginURL: creds.LoginURL, ClientID: creds.ClientID,
		ClientSecret: creds.ClientSecret, RefreshToken: creds.RefreshToken, Limiter: lim, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{dbEnv: newDBEnv(t, nil), srv: srv, client: client, health: health.NewMemory()}
}

func (e *simEnv) fetcher(p upstream.Provider, objects ...string) *Fetcher {
	if p == nil {
		p = e.client
	}
	if len(objects) == 0 {
		objects = defaultObjects
	}
	return New(Config{Schema: "salesforce", Objects: objects, PollInterval: 50 * time.Millisecond,
		DeletedInterval: 50 * time.Millisecond, Now: e.srv.Now, Provider: p, Pool: e.pool, Guard: e.guard, Health: e.health,
		Logger: testLogger()})
}

// testLogger shows warnings when the tests run with -v.
func testLogger() zerolog.Logger {
	if testing.Verbose() {
		lvl := zerolog.WarnLevel
		if os.Getenv("TETHER_DEBUG") != "" {
			lvl = zerolog.DebugLevel
		}
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(lvl).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

// running runs f in the background until the returned stop is called.
func running(t testing.TB, f *Fetcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := f.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backfilled reports whether every table's backfill is done.
func (e *simEnv) backfilled(n int) func() bool {
	return func() bool {
		var done int
		_ = e.pool.QueryRow(context.Background(), "SELECT count(*) FROM salesforce._sync_tables WHERE backfill_state = 'done'").Scan(&done)
		return done == n
	}
}

// mismatches compares every row of an object's table with the simulator's
// live records: every synced column must equal the record's value converted
// to the column type (compared by PostgreSQL), and no row may be missing or
// extra. It returns a description of the differences ("" when equal).
func (e *simEnv) mismatches(t testing.TB, object string) string {
	t.Helper()
	ctx := context.Background()
	st, err := schema.LoadTable(ctx, e.pool, "salesforce", schema.TableName(object))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := fromSchema(st)
	if err != nil {
		t.Fatal(err)
	}
	recs := e.srv.Records(object)
	rows := make([][]any, 0, len(recs))
	for _, r := range recs {
		row := make([]any, len(tb.Cols))
		for i, c := range tb.Cols {
			v, err := c.Conv(r[c.Field])
			if err != nil {
				t.Fatalf("%s %v field %s: %v", object, r["Id"], c.Field, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	var out string
	err = pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE expected ON COMMIT DROP AS SELECT "+tb.quotedList("")+" FROM "+tb.qualified()+" WITH NO DATA"); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"expected"}, tb.colNames(), pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		var n int
		var ids []string
		err := tx.QueryRow(ctx, `SELECT count(*), (array_agg(coalesce(e.id, t.id)))[1:5] FROM expected e
			FULL JOIN (SELECT `+tb.quotedList("")+` FROM `+tb.qualified()+` WHERE id IS NOT NULL) t ON t.id = e.id
			WHERE ROW(`+tb.quotedList("e.")+`) IS DISTINCT FROM ROW(`+tb.quotedList("t.")+`)`).Scan(&n, &ids)
		if err != nil {
			return err
		}
		if n > 0 {
			out = fmt.Sprintf("%s: %d of %d records differ (e.g. %v)", object, n, len(rows), ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// queryRequests counts the read requests the simulator served.
func queryRequests(srv *sim.Server) int {
	r := srv.Requests()
	return r["query"] + r["queryAll"] + r["queryMore"]
}

// countingProvider passes calls through and counts the records each read
// returned; after hook runs once after a page is returned.
type countingProvider struct {
	upstream.Provider
	mu      sync.Mutex
	ids     map[string]int // record id → times returned by a read
	pages   atomic.Int64
	onPage  func(n int64) // called after the n-th page (1-based) is returned
	records atomic.Int64
	polls   map[string]bool // object → the read in progress is a poll (queryAll)
}

func newCounting(p upstream.Provider) *countingProvider {
	return &countingProvider{Provider: p, ids: map[string]int{}, polls: map[string]bool{}}
}

// seen records a backfill page (polls are not counted).
func (c *countingProvider) seen(object string, p *upstream.Page) {
	c.mu.Lock()
	if c.polls[object] {
		c.mu.Unlock()
		return
	}
	for _, r := range p.Records {
		c.ids[r.ID()]++
	}
	c.mu.Unlock()
	c.records.Add(int64(len(p.Records)))
	n := c.pages.Add(1)
	if c.onPage != nil {
		c.onPage(n)
	}
}

func (c *countingProvider) Read(ctx context.Context, req upstream.ReadRequest) (*upstream.Page, error) {
	c.mu.Lock()
	c.polls[req.Object] = req.IncludeDeleted
	c.mu.Unlock()
	p, err := c.Provider.Read(ctx, req)
	if err == nil {
		c.seen(req.Object, p)
	}
	return p, err
}

func (c *countingProvider) ReadNext(ctx context.Context, object, token string) (*upstream.Page, error) {
	p, err := c.Provider.ReadNext(ctx, object, token)
	if err == nil {
		c.seen(object, p)
	}
	return p, err
}

// TestBackfillThenPoll is the main path: backfill every record of five
// objects in 2000-record pages, then follow creates, updates, soft and hard
// deletes, 50 records sharing one SystemModstamp second, and a record updated
// while the backfill runs.
func TestBackfillThenPoll(t *testing.T) {
	per := 4000
	if v := os.Getenv("TETHER_CHAOS"); v != "" {
		per = 20000
	}
	e := newSimEnv(t, per, nil)
	ctx := context.Background()
	total := 0
	for _, o := range defaultObjects {
		total += len(e.srv.Records(o))
	}
	e.srv.ResetRequests()

	// Update an Account while the backfill runs, after its page was read.
	cp := newCounting(e.client)
	var updated string
	accounts := e.srv.Records("Account")
	first := accounts[0]["Id"].(string) // oldest SystemModstamp: on the first page
	cp.onPage = func(n int64) {
		if n == 3 {
			updated = first
			if err := e.srv.Update("Account", first, map[string]any{"Name": "Renamed during backfill"}); err != nil {
				t.Error(err)
			}
		}
	}
	f := e.fetcher(cp)
	start := time.Now()
	stop := running(t, f)
	waitFor(t, 60*time.Second, "backfill", e.backfilled(len(defaultObjects)))
	elapsed := time.Since(start)
	reqs := queryRequests(e.srv)
	t.Logf("backfill: %d records over %d objects in %v (%.0f records/s), %d query requests", total, len(defaultObjects),
		elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), reqs)
	// Pages of 2000 plus one COUNT() per object, plus a page for the first
	// polls after the backfill: 100,000 records take at most 60 requests.
	if maxReq := total/2000 + 2*len(defaultObjects); reqs > maxReq {
		t.Errorf("backfill took %d query requests, want at most %d", reqs, maxReq)
	}
	// Progress was recorded.
	var done, tot int64
	if err := e.pool.QueryRow(ctx, "SELECT sum(backfill_done), sum(backfill_total) FROM salesforce._sync_tables").Scan(&done, &tot); err != nil {
		t.Fatal(err)
	}
	if tot != int64(total) || done < int64(total) {
		t.Errorf("progress: done %d total %d, want %d", done, tot, total)
	}

	// Changes in the simulator.
	now := e.srv.Now()
	e.srv.SetNow(now.Add(2 * time.Second)) // freeze: everything below shares one second
	var shared []string
	for i := 0; i < 50; i++ {
		id, err := e.srv.Create("Contact", map[string]any{"LastName": fmt.Sprintf("Shared %02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		shared = append(shared, id)
	}
	contacts := e.srv.Records("Contact")
	upd := contacts[10]["Id"].(string)
	if err := e.srv.Update("Contact", upd, map[string]any{"Email": "changed@example.com", "Title": "Boss"}); err != nil {
		t.Fatal(err)
	}
	soft := contacts[11]["Id"].(string)
	if err := e.srv.Delete("Contact", soft); err != nil {
		t.Fatal(err)
	}
	hard := e.srv.Records("Lead")[5]["Id"].(string)
	if err := e.srv.HardDelete("Lead", hard); err != nil {
		t.Fatal(err)
	}
	// Deletes are reported once their minute has passed.
	e.srv.Advance(time.Minute)
	inv, err := e.srv.Create("Invoice__c", map[string]any{"Name": "INV-new", "Amount__c": 12.5})
	if err != nil {
		t.Fatal(err)
	}
	rowExists := func(table, id string) bool {
		var n int
		_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce."+table+" WHERE id = $1", id).Scan(&n)
		return n == 1
	}
	waitFor(t, 20*time.Second, "changes", func() bool {
		ok := rowExists("invoice__c", inv) && !rowExists("contact", soft) && !rowExists("lead", hard) && rowExists("contact", shared[49])
		if !ok && testing.Verbose() {
			t.Logf("invoice %v, soft-deleted gone %v, hard-deleted gone %v, shared %v", rowExists("invoice__c", inv),
				!rowExists("contact", soft), !rowExists("lead", hard), rowExists("contact", shared[49]))
		}
		return ok
	})
	// A second batch in the very same second, after tether has read the first:
	// an update to a record with a smaller id than the cursor's must still arrive.
	if err := e.srv.Update("Contact", shared[0], map[string]any{"LastName": "Shared late"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "same-second update", func() bool {
		var n string
		_ = e.pool.QueryRow(ctx, "SELECT last_name FROM salesforce.contact WHERE id = $1", shared[0]).Scan(&n)
		return n == "Shared late"
	})
	stop()
	for _, o := range defaultObjects {
		if d := e.mismatches(t, o); d != "" {
			t.Error(d)
		}
	}
	var name string
	if err := e.pool.QueryRow(ctx, "SELECT name FROM salesforce.account WHERE id = $1", updated).Scan(&name); err != nil || name != "Renamed during backfill" {
		t.Errorf("record updated during the backfill: %q, %v", name, err)
	}
	for _, o := range defaultObjects {
		if en, ok := e.health.Get(health.Table(schema.TableName(o))); !ok || en.Status != health.Healthy {
			t.Errorf("health of %s: %+v", o, en)
		}
	}
}

// TestBackfillResumes interrupts a backfill and checks that the restarted
// fetcher goes on from the last committed page: no record of a committed
// page is read again.
func TestBackfillResumes(t *testing.T) {
	e := newSimEnv(t, 3000, nil)
	objects := []string{"Account", "Contact"}
	total := len(e.srv.Records("Account")) + len(e.srv.Records("Contact"))

	// First run: stop right after the third page was read (before it is applied).
	cp1 := newCounting(e.client)
	ctx, cancel := context.WithCancel(context.Background())
	cp1.onPage = func(n int64) {
		if n == 3 {
			cancel()
		}
	}
	if err := e.fetcher(cp1, objects...).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var committed int64
	if err := e.pool.QueryRow(context.Background(), "SELECT sum(backfill_done) FROM salesforce._sync_tables").Scan(&committed); err != nil {
		t.Fatal(err)
	}
	var rows int64
	_ = e.pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM salesforce.account) + (SELECT count(*) FROM salesforce.contact)").Scan(&rows)
	if committed == 0 || committed != rows || committed >= int64(total) {
		t.Fatalf("after the interruption: %d records committed, %d rows (of %d)", committed, rows, total)
	}

	// Second run: every record not yet committed is read once, committed ones never.
	cp2 := newCounting(e.client)
	stop := running(t, e.fetcher(cp2, objects...))
	waitFor(t, 30*time.Second, "backfill", e.backfilled(2))
	stop()
	var again int
	for id := range cp1.ids {
		if cp2.ids[id] > 0 {
			again++
		}
	}
	// The third page of run 1 was read but not committed: it is read again.
	if lost := int64(len(cp1.ids)) - committed; again > int(lost) {
		t.Errorf("%d records of committed pages were read again (only the %d of the uncommitted page may be)", again, lost)
	}
	for _, o := range objects {
		if d := e.mismatches(t, o); d != "" {
			t.Error(d)
		}
	}
	t.Logf("interrupted after %d records committed; resumed run read %d records in %d pages", committed, cp2.records.Load(), cp2.pages.Load())
}

// TestResyncAfterDeletedWindow: tether was away longer than the provider
// keeps deletes, so it resyncs the table and removes what is gone upstream.
func TestResyncAfterDeletedWindow(t *testing.T) {
	e := newSimEnv(t, 500, nil)
	ctx := context.Background()
	f := e.fetcher(nil, "Lead")
	stop := running(t, f)
	waitFor(t, 20*time.Second, "backfill", e.backfilled(1))
	stop()
	// While tether is away: a hard delete, and its last delete check is old.
	leads := e.srv.Records("Lead")
	gone := leads[3]["Id"].(string)
	if err := e.srv.HardDelete("Lead", gone); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "UPDATE salesforce._sync_tables SET deleted_until = now() - interval '20 days'")
	// A local insert not yet sent must survive the resync.
	e.exec(t, "INSERT INTO salesforce.lead (last_name, company) VALUES ('Local', 'Unsent')")

	stop = running(t, e.fetcher(nil, "Lead"))
	waitFor(t, 20*time.Second, "resync", func() bool {
		var n, state = 0, ""
		_ = e.pool.QueryRow(ctx, "SELECT resync_count, backfill_state FROM salesforce._sync_tables").Scan(&n, &state)
		return n == 1 && state == "done"
	})
	stop()
	if d := e.mismatches(t, "Lead"); d != "" {
		t.Error(d)
	}
	var local int
	_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce.lead WHERE id IS NULL AND last_name = 'Local'").Scan(&local)
	if local != 1 {
		t.Errorf("local unsent insert: %d rows", local)
	}
}

// TestPollingRespectsLimiter runs a backfill and polling under a tight
// limiter and checks the simulator's request log (whose clock has whole
// seconds): no second ever holds more requests than the limiter allows per
// second.
func TestPollingRespectsLimiter(t *testing.T) {
	const allowed = 3
	lim := ratelimit.New(ratelimit.Config{AllowedRequests: allowed, Period: time.Second, MaxConcurrent: 1})
	e := newSimEnv(t, 300, lim)
	e.srv.ResetRequests()
	stop := running(t, e.fetcher(nil))
	waitFor(t, 30*time.Second, "backfill", e.backfilled(len(defaultObjects)))
	time.Sleep(2 * time.Second) // a few polling rounds
	stop()
	// Every window of one period, as the server saw the requests arrive
	// (less 50 ms for network jitter), holds at most the allowed number.
	var at []time.Time
	for _, r := range e.srv.RequestLog() {
		if r.Key != "token" {
			at = append(at, r.Received)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	n, worst := len(at), 0
	window := time.Second - 50*time.Millisecond
	for i := range at {
		k := i
		for k < len(at) && at[k].Sub(at[i]) < window {
			k++
		}
		worst = max(worst, k-i)
	}
	t.Logf("%d requests; at most %d within any %s (allowed %d per second)", n, worst, window, allowed)
	if worst > allowed {
		t.Errorf("%d requests within %s, the limiter allows %d per second", worst, window, allowed)
	}
	if n < 15 {
		t.Errorf("only %d requests: the test did not exercise the limiter", n)
	}
}

// localTitleThenRemote gives contact id an unsent local title change (its log
// entry in state first, then the row, in the order capture makes them), then
// has another Salesforce user change the title and the department. It waits
// until the fetcher applied the department and returns the local title then.
func (e *simEnv) localTitleThenRemote(t *testing.T, id, state, remoteTitle, remoteDept string) string {
	t.Helper()
	ctx := context.Background()
	var rowID int64
	if err := e.pool.QueryRow(ctx, "SELECT _sync_row_id FROM salesforce.contact WHERE id = $1", id).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `INSERT INTO salesforce._sync_write_log (table_name, action, api_id, row_id, state, "values", commit_lsn, commit_seq, committed_at)
		VALUES ('contact', 'update', $1, $2, $3, '{"title": "Local title"}', '0/10', 1, now())`, id, rowID, state)
	e.exec(t, "UPDATE salesforce.contact SET title = 'Local title' WHERE id = $1", id)
	if err := e.srv.Update("Contact", id, map[string]any{"Title": remoteTitle, "Department": remoteDept}); err != nil {
		t.Fatal(err)
	}
	var title, dept string
	waitFor(t, 20*time.Second, "the remote change", func() bool {
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(title, ''), coalesce(department, '') FROM salesforce.contact WHERE id = $1", id).Scan(&title, &dept)
		return dept == remoteDept
	})
	return title
}

// TestLocalChangeSurvivesPoll is guarantee 3 end to end: while the
// application's change of a row waits in _sync_write_log, a newer version of
// the record from Salesforce leaves that column alone and updates the rest.
func TestLocalChangeSurvivesPoll(t *testing.T) {
	e := newSimEnv(t, 100, nil)
	ctx := context.Background()
	stop := running(t, e.fetcher(nil, "Contact"))
	waitFor(t, 20*time.Second, "backfill", e.backfilled(1))
	id := e.srv.Records("Contact")[7]["Id"].(string)
	title := e.localTitleThenRemote(t, id, "new", "Remote title", "Remote dept")
	if title != "Local title" {
		t.Errorf("title %q: the unsent local change was overwritten", title)
	}
	// Once the writer has sent it, Salesforce's version wins again.
	e.exec(t, "UPDATE salesforce._sync_write_log SET state = 'succeeded'")
	if err := e.srv.Update("Contact", id, map[string]any{"Title": "Remote again"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the next remote change", func() bool {
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(title, '') FROM salesforce.contact WHERE id = $1", id).Scan(&title)
		return title == "Remote again"
	})
	stop()
}

// TestUnknownObjectIsReported: an object the credential cannot describe is
// the user's to fix; the other objects sync anyway.
func TestUnknownObjectIsReported(t *testing.T) {
	e := newSimEnv(t, 50, nil)
	stop := running(t, e.fetcher(nil, "Account", "User", "Nope__c"))
	waitFor(t, 20*time.Second, "backfill", e.backfilled(2))
	// The User table (a reserved word in SQL) follows changes too.
	users := e.srv.Records("User")
	if err := e.srv.Update("User", users[0]["Id"].(string), map[string]any{"Title": "Chief"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "user change", func() bool {
		var title string
		_ = e.pool.QueryRow(context.Background(), `SELECT coalesce(title, '') FROM salesforce."user" WHERE id = $1`, users[0]["Id"]).Scan(&title)
		return title == "Chief"
	})
	stop()
	en, ok := e.health.Get(health.Table("nope__c"))
	if !ok || en.Status != health.CustomerIntervention {
		t.Errorf("health of the unknown object: %+v", en)
	}
	for _, o := range []string{"Account", "User"} {
		if d := e.mismatches(t, o); d != "" {
			t.Error(d)
		}
	}
}

// TestBackfillSurvivesFaults: server errors and dropped connections in the
// middle of a backfill are retried; every record still arrives once.
func TestBackfillSurvivesFaults(t *testing.T) {
	e := newSimEnv(t, 2500, nil)
	cp := newCounting(e.client)
	cp.onPage = func(n int64) {
		switch n {
		case 2:
			e.srv.FailNext(503, 2)
		case 4:
			e.srv.DropNext(1)
		case 6:
			e.srv.FailNext(500, 1)
		}
	}
	stop := running(t, e.fetcher(cp, "Account", "Contact"))
	waitFor(t, 60*time.Second, "backfill", e.backfilled(2))
	stop()
	for _, o := range []string{"Account", "Contact"} {
		if d := e.mismatches(t, o); d != "" {
			t.Error(d)
		}
	}
}

// TestBackfillSurvivesDatabaseCrash crashes PostgreSQL (immediate stop)
// while a backfill runs: the fetcher retries until it is back, resumes from
// the last committed page, and every record arrives; pages committed before
// the crash are not read again.
func TestBackfillSurvivesDatabaseCrash(t *testing.T) {
	e := newSimEnv(t, 3000, nil)
	cluster := pgtest.Shared(t)
	objects := []string{"Account", "Contact"}
	total := int64(len(e.srv.Records("Account")) + len(e.srv.Records("Contact")))
	cp := newCounting(e.client)
	restarted := make(chan error, 1)
	cp.onPage = func(n int64) {
		if n != 3 {
			return
		}
		if err := cluster.Crash(); err != nil {
			t.Error(err)
		}
		go func() {
			time.Sleep(500 * time.Millisecond)
			restarted <- cluster.Start()
		}()
	}
	stop := running(t, e.fetcher(cp, objects...))
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "backfill", e.backfilled(2))
	stop()
	for _, o := range objects {
		if d := e.mismatches(t, o); d != "" {
			t.Error(d)
		}
	}
	// Two pages (the one read when the database went away, and its read-ahead
	// neighbour) may be read twice; nothing else.
	read := cp.records.Load()
	t.Logf("%d records, %d read by the backfill across the crash", total, read)
	if read > total+2*DefaultPageSize {
		t.Errorf("%d records read for %d: committed pages were read again", read, total)
	}
}

// hidingProvider hides one field of one object from Describe until shown.
type hidingProvider struct {
	upstream.Provider
	object, field string
	shown         atomic.Bool
}

func (h *hidingProvider) Describe(ctx context.Context, object string) (*upstream.Object, error) {
	obj, err := h.Provider.Describe(ctx, object)
	if err != nil || object != h.object || h.shown.Load() {
		return obj, err
	}
	cp := *obj
	cp.Fields = nil
	for _, f := range obj.Fields {
		if f.Name != h.field {
			cp.Fields = append(cp.Fields, f)
		}
	}
	return &cp, nil
}

// TestNewFieldBecomesColumn: a field that appears upstream becomes a column
// at the next describe, and the table is read again so that existing rows get
// the values their records already had; later changes keep arriving.
func TestNewFieldBecomesColumn(t *testing.T) {
	e := newSimEnv(t, 200, nil)
	ctx := context.Background()
	hp := &hidingProvider{Provider: e.client, object: "Account", field: "Website"}
	// A value Salesforce already holds while tether cannot see the field yet.
	before := e.srv.Records("Account")[3]["Id"].(string)
	if err := e.srv.Update("Account", before, map[string]any{"Website": "https://before.example"}); err != nil {
		t.Fatal(err)
	}
	f := e.fetcher(hp, "Account")
	f.cfg.DescribeInterval = 100 * time.Millisecond
	stop := running(t, f)
	waitFor(t, 20*time.Second, "backfill", e.backfilled(1))
	hasColumn := func() bool {
		var n int
		_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = 'salesforce' AND table_name = 'account' AND column_name = 'website'`).Scan(&n)
		return n == 1
	}
	if hasColumn() {
		t.Fatal("website column exists before the field was shown")
	}
	hp.shown.Store(true)
	waitFor(t, 20*time.Second, "the new column", hasColumn)
	// Existing rows get the field's value with no further change in Salesforce.
	waitFor(t, 20*time.Second, "the value the record already had", func() bool {
		var w string
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(website, '') FROM salesforce.account WHERE id = $1", before).Scan(&w)
		return w == "https://before.example"
	})
	// Later changes keep arriving.
	id := e.srv.Records("Account")[4]["Id"].(string)
	if err := e.srv.Update("Account", id, map[string]any{"Website": "https://new.example"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the new field's value", func() bool {
		var w string
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(website, '') FROM salesforce.account WHERE id = $1", id).Scan(&w)
		return w == "https://new.example"
	})
	stop()
	if d := e.mismatches(t, "Account"); d != "" {
		t.Error(d)
	}
	var resyncs int
	_ = e.pool.QueryRow(ctx, "SELECT resync_count FROM salesforce._sync_tables WHERE table_name = 'account'").Scan(&resyncs)
	if resyncs != 1 {
		t.Errorf("a new field started %d reads of the whole table, want 1", resyncs)
	}
}

// flakyDescribe fails the first n describes of one object with a transient error.
type flakyDescribe struct {
	upstream.Provider
	object string
	n      atomic.Int32
}

func (p *flakyDescribe) Describe(ctx context.Context, object string) (*upstream.Object, error) {
	if object == p.object && p.n.Add(-1) >= 0 {
		return nil, &upstream.Error{Class: upstream.Transient, Status: 503, Message: "unavailable"}
	}
	return p.Provider.Describe(ctx, object)
}

// TestObjectPreparedLater: an object whose describe failed at start is
// prepared by Run later, handed to OnNewTable (e.g. for the publication),
// and backfilled.
func TestObjectPreparedLater(t *testing.T) {
	e := newSimEnv(t, 100, nil)
	fp := &flakyDescribe{Provider: e.client, object: "Contact"}
	fp.n.Store(2)
	f := e.fetcher(fp, "Account", "Contact")
	f.missedRetry = 100 * time.Millisecond
	var added []string
	var mu sync.Mutex
	f.cfg.OnNewTable = func(_ context.Context, st *schema.Table) error {
		mu.Lock()
		defer mu.Unlock()
		added = append(added, st.Name)
		return nil
	}
	tables, err := f.Prepare(context.Background())
	if err != nil || len(tables) != 1 || tables[0].Name != "account" {
		t.Fatalf("prepare: %v, %v", tables, err)
	}
	stop := running(t, f)
	waitFor(t, 20*time.Second, "both backfills", e.backfilled(2))
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(added) != 1 || added[0] != "contact" {
		t.Errorf("tables handed to OnNewTable: %v", added)
	}
	if d := e.mismatches(t, "Contact"); d != "" {
		t.Error(d)
	}
}

// TestProtectedChangeIsReadAgain: another user changes a field while tether's
// own change of that record is still unsent, so the fetch keeps the local
// value. Once the local change is done, the record is read again and
// Salesforce's current value wins, with no further change in Salesforce to
// trigger it (the race behind the writer's convergence test).
func TestProtectedChangeIsReadAgain(t *testing.T) {
	e := newSimEnv(t, 100, nil)
	ctx := context.Background()
	stop := running(t, e.fetcher(nil, "Contact"))
	defer stop()
	waitFor(t, 20*time.Second, "backfill", e.backfilled(1))
	id := e.srv.Records("Contact")[3]["Id"].(string)
	// Our write reached Salesforce first; then another user changed the title.
	title := e.localTitleThenRemote(t, id, "pending", "Their title", "Their dept")
	if title != "Local title" {
		t.Fatalf("title %q: the unsent local change was overwritten", title)
	}
	// Later changes move the fetch cursor well past this record's stamp, out
	// of reach of the polls' overlap window.
	e.srv.Advance(10 * time.Second)
	other := e.srv.Records("Contact")[5]["Id"].(string)
	if err := e.srv.Update("Contact", other, map[string]any{"Department": "Later"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the later change", func() bool {
		var dept string
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(department, '') FROM salesforce.contact WHERE id = $1", other).Scan(&dept)
		return dept == "Later"
	})
	// The writer records its outcome; nothing changes in Salesforce any more.
	e.exec(t, "UPDATE salesforce._sync_write_log SET state = 'succeeded'")
	waitFor(t, 20*time.Second, "Salesforce's current title", func() bool {
		_ = e.pool.QueryRow(ctx, "SELECT coalesce(title, '') FROM salesforce.contact WHERE id = $1", id).Scan(&title)
		return title == "Their title"
	})
	var left int
	_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_refetch").Scan(&left)
	if left != 0 {
		t.Errorf("%d records still wait to be read again", left)
	}
}

// TestResyncRequested: a resync request (`tether resync`) makes the running
// fetcher read the table again: rows that drifted from Salesforce (deleted,
// changed without a log entry, or left over from a deleted record) are
// repaired, and polling goes on afterwards.
func TestResyncRequested(t *testing.T) {
	e := newSimEnv(t, 300, nil)
	ctx := context.Background()
	stop := running(t, e.fetcher(nil, "Contact"))
	defer stop()
	waitFor(t, 20*time.Second, "backfill", e.backfilled(1))
	recs := e.srv.Records("Contact")
	gone, changed := recs[1]["Id"].(string), recs[2]["Id"].(string)
	e.exec(t, "DELETE FROM salesforce.contact WHERE id = $1", gone)
	e.exec(t, "UPDATE salesforce.contact SET last_name = 'Drifted' WHERE id = $1", changed)
	// A row fetched once whose record was later deleted, the delete missed.
	e.exec(t, "INSERT INTO salesforce.contact (id, last_name, _sync_updated_at) VALUES ('003000000000999AAA', 'Stale', now() - interval '1 hour')")
	e.exec(t, "INSERT INTO salesforce._sync_state (key, value) VALUES ($1, '{}')", ResyncKey("contact"))
	waitFor(t, 30*time.Second, "the resync", func() bool {
		var n, resyncs int
		_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce.contact WHERE id = $1", gone).Scan(&n)
		_ = e.pool.QueryRow(ctx, "SELECT resync_count FROM salesforce._sync_tables WHERE table_name = 'contact' AND backfill_state = 'done'").Scan(&resyncs)
		return n == 1 && resyncs == 1
	})
	var stale int
	_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce.contact WHERE id = '003000000000999AAA'").Scan(&stale)
	if stale != 0 {
		t.Error("the row of a record Salesforce does not have survived the resync")
	}
	if d := e.mismatches(t, "Contact"); d != "" {
		t.Error(d)
	}
	var left int
	_ = e.pool.QueryRow(ctx, "SELECT count(*) FROM salesforce._sync_state WHERE key = $1", ResyncKey("contact")).Scan(&left)
	if left != 0 {
		t.Error("the resync request was not taken")
	}
}
