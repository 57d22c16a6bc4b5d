package writer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/fetcher"
	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/upstream/salesforce"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// simEnv is the whole write path against the Salesforce simulator over
// HTTP: application SQL → capture → _sync_write_log → writer → client → sim.
type simEnv struct {
	*env
	srv     *sim.Server
	client  *salesforce.Client
	limiter *ratelimit.Limiter
	objects []string
}

type simOptions struct {
	capture bool
	limit   ratelimit.Config
	echo    replication.EchoMode
}

// invoiceObject has the field types the standard objects lack (multipicklist,
// writable datetime, percent, time).
var invoiceObject = sim.CustomObject{Name: "Invoice__c", Label: "Invoice", Fields: []sim.CustomField{
	{Name: "Amount__c", Type: "currency", Precision: 18, Scale: 2},
	{Name: "Quantity__c", Type: "int"},
	{Name: "Ratio__c", Type: "percent", Precision: 5, Scale: 2},
	{Name: "Paid__c", Type: "boolean"},
	{Name: "Due__c", Type: "date"},
	{Name: "Sent_At__c", Type: "datetime"},
	{Name: "Tags__c", Type: "multipicklist", Picklist: []string{"red", "green", "blue"}},
	{Name: "Note__c", Type: "textarea"},
	{Name: "Summary__c", Type: "string", Formula: "Note__c & '!'"},
}}

func newSimEnv(t testing.TB, o simOptions) *simEnv {
	t.Helper()
	e := newEnvMode(t, o.echo)
	srv := sim.New(sim.Options{RandSeed: 1})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.AddCustomObject(invoiceObject); err != nil {
		t.Fatal(err)
	}
	creds := srv.Credentials()
	if o.limit.DailyRecheck == 0 {
		o.limit.DailyRecheck = 200 * time.Millisecond
	}
	lim := ratelimit.New(o.limit)
	quiet := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	c, err := salesforce.New(e.ctx, salesforce.Config{LoginURL: creds.LoginURL, ClientID: creds.ClientID,
		ClientSecret: creds.ClientSecret, RefreshToken: creds.RefreshToken, Limiter: lim, Logger: quiet,
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, RetryMaxElapsed: 3 * time.Second,
		RequestTimeout: 10 * time.Second, QuotaBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &simEnv{env: e, srv: srv, client: c, limiter: lim, objects: []string{"Account", "Contact", "Opportunity", "Invoice__c"}}
	f := fetcher.New(fetcher.Config{Schema: testSchema, Objects: s.objects, Provider: c, Pool: e.pool, Guard: e.guard, Logger: quiet})
	tables, err := f.Prepare(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		e.tables[tb.Name] = tb
	}
	if o.capture {
		slot := "tether_" + strings.Map(func(r rune) rune {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
				return r
			}
			return '_'
		}, strings.ToLower(t.Name()))
		if len(slot) > 60 {
			slot = slot[:60]
		}
		cfg := replication.Config{Schema: testSchema, Slot: slot, Publication: "tether", Origin: "tether"}
		if err := replication.Setup(e.ctx, e.pool, cfg, nil); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(e.ctx)
		done := make(chan struct{})
		capt := replication.NewCapture(replication.CaptureConfig{Config: cfg, DSN: e.dsn, Logger: quiet, Heartbeat: -1})
		go func() { defer close(done); _ = capt.Run(cctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
			_, _ = e.pool.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
		})
	}
	return s
}

// exec runs application SQL (a plain connection: captured like any application).
func (s *simEnv) exec(sql string, args ...any) {
	s.t.Helper()
	if _, err := s.pool.Exec(s.ctx, sql, args...); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
}

func (s *simEnv) scalar(sql string, args ...any) any {
	s.t.Helper()
	var v any
	if err := s.pool.QueryRow(s.ctx, sql, args...).Scan(&v); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// waitLogged waits until capture has logged at least n rows.
func (s *simEnv) waitLogged(n int) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var got int
		_ = s.pool.QueryRow(s.ctx, `SELECT count(*) FROM salesforce._sync_write_log`).Scan(&got)
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("capture logged fewer than %d rows", n)
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// The application's plain SQL reaches the simulator with the right values,
// inserted rows get their ids, and the log shows each outcome.
func TestEndToEndApplicationSQL(t *testing.T) {
	s := newSimEnv(t, simOptions{capture: true})
	s.startWriter(Config{Provider: s.client, BatchWait: 100 * time.Millisecond})

	s.exec(`INSERT INTO salesforce.account (name, number_of_employees, annual_revenue, industry, billing_city, description)
		VALUES ('Acme', 250, 1234567, 'Energy', NULL, 'first line')`)
	s.exec(`INSERT INTO salesforce.opportunity (name, stage_name, close_date, amount, probability, is_private)
		VALUES ('Big deal', 'Prospecting', '2025-01-31', 1000.5, 10, true)`)
	s.exec(`INSERT INTO salesforce.invoice__c (name, amount__c, quantity__c, ratio__c, paid__c, due__c, sent_at__c, tags__c, note__c)
		VALUES ('INV-1', 99.95, 3, 12.5, false, '2025-02-28', '2025-02-01 10:11:12.345+01', ARRAY['red','blue'], 'hello')`)
	s.waitLogged(3)
	s.waitDone(20 * time.Second)

	acc := str(s.scalar(`SELECT id FROM salesforce.account WHERE name = 'Acme'`))
	r, ok := s.srv.Get("Account", acc)
	if !ok {
		t.Fatalf("account %s not in the simulator", acc)
	}
	for f, want := range map[string]string{"Name": "Acme", "NumberOfEmployees": "250", "AnnualRevenue": "1234567",
		"Industry": "Energy", "BillingCity": "<nil>", "Description": "first line"} {
		if got := str(r[f]); got != want {
			t.Errorf("Account.%s = %s, want %s", f, got, want)
		}
	}
	opp := str(s.scalar(`SELECT id FROM salesforce.opportunity WHERE name = 'Big deal'`))
	r, _ = s.srv.Get("Opportunity", opp)
	if str(r["CloseDate"]) != "2025-01-31" || str(r["IsPrivate"]) != "true" || str(r["StageName"]) != "Prospecting" ||
		(str(r["Amount"]) != "1000.5") || str(r["Probability"]) != "10" {
		t.Errorf("Opportunity = %v", r)
	}
	inv := str(s.scalar(`SELECT id FROM salesforce.invoice__c WHERE name = 'INV-1'`))
	r, _ = s.srv.Get("Invoice__c", inv)
	if str(r["Tags__c"]) != "red;blue" || str(r["Paid__c"]) != "false" || str(r["Due__c"]) != "2025-02-28" ||
		!strings.HasPrefix(str(r["Sent_At__c"]), "2025-02-01T09:11:12.345") || str(r["Quantity__c"]) != "3" ||
		str(r["Amount__c"]) != "99.95" || str(r["Ratio__c"]) != "12.5" || str(r["Note__c"]) != "hello" {
		t.Errorf("Invoice__c = %v", r)
	}

	// a contact referencing the account, then updates (incl. NULLs) and deletes
	s.exec(`INSERT INTO salesforce.contact (last_name, first_name, email, birthdate, account_id, email_bounced_date)
		VALUES ('Lovelace', 'Ada', 'ada@example.com', '1815-12-10', $1, '2024-06-01T00:00:00Z')`, acc)
	s.waitLogged(4)
	s.waitDone(20 * time.Second)
	con := str(s.scalar(`SELECT id FROM salesforce.contact WHERE last_name = 'Lovelace'`))
	s.exec(`UPDATE salesforce.contact SET email = NULL, title = 'Countess' WHERE id = $1`, con)
	s.exec(`UPDATE salesforce.invoice__c SET tags__c = ARRAY['green'], paid__c = true, sent_at__c = NULL, summary__c = 'x' WHERE id = $1`, inv)
	s.exec(`UPDATE salesforce.account SET number_of_employees = NULL, description = 'second' WHERE id = $1`, acc)
	s.exec(`DELETE FROM salesforce.opportunity WHERE id = $1`, opp)
	s.waitLogged(8)
	s.waitDone(20 * time.Second)

	r, _ = s.srv.Get("Contact", con)
	if r["Email"] != nil || str(r["Title"]) != "Countess" || str(r["AccountId"]) != acc || str(r["Birthdate"]) != "1815-12-10" ||
		!strings.HasPrefix(str(r["EmailBouncedDate"]), "2024-06-01T00:00:00") {
		t.Errorf("Contact = %v", r)
	}
	r, _ = s.srv.Get("Invoice__c", inv)
	if str(r["Tags__c"]) != "green" || str(r["Paid__c"]) != "true" || r["Sent_At__c"] != nil {
		t.Errorf("Invoice__c after update = %v", r)
	}
	r, _ = s.srv.Get("Account", acc)
	if r["NumberOfEmployees"] != nil || str(r["Description"]) != "second" {
		t.Errorf("Account after update = %v", r)
	}
	if r, ok := s.srv.Get("Opportunity", opp); ok && str(r["IsDeleted"]) != "true" {
		t.Errorf("Opportunity not deleted: %v", r)
	}
	// the log: every row has its outcome; the summary__c formula was reported, not sent
	rows, err := s.pool.Query(s.ctx, `SELECT table_name, action, state, api_result, coalesce(api_message, ''), coalesce(api_id, '')
		FROM salesforce._sync_write_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var tn, action, state, msg, apiID string
		var res *int32
		if err := rows.Scan(&tn, &action, &state, &res, &msg, &apiID); err != nil {
			t.Fatal(err)
		}
		n++
		want := map[string]int32{"insert": 201, "update": 200, "delete": 204}[action]
		if state != "succeeded" || res == nil || *res != want || apiID == "" {
			t.Errorf("log %s %s: %s %v %q %q", tn, action, state, res, msg, apiID)
		}
		if tn == "invoice__c" && action == "update" && msg != "read-only fields not sent: Summary__c" {
			t.Errorf("invoice update message %q", msg)
		}
	}
	if n != 8 {
		t.Errorf("%d log rows, want 8 (ids written back must not be captured)", n)
	}
}

// liveByName counts the simulator's live records of object per Name-like field value.
func liveBy(srv *sim.Server, object, field string) map[string]int {
	out := map[string]int{}
	for _, r := range srv.Records(object) {
		out[str(r[field])]++
	}
	return out
}

// With faults injected (a 503 burst, dropped connections, an expiring
// token, UNABLE_TO_LOCK_ROW, a create that times out after the simulator
// accepted it, one invalid record in a batch of 200) every valid change
// arrives exactly once and only the invalid one fails, with Salesforce's message.
func TestFaultsExactlyOnce(t *testing.T) {
	s := newSimEnv(t, simOptions{capture: true})
	// the first create request is applied, then its connection drops
	s.srv.DropAfterCommitNext(1)
	s.exec(`INSERT INTO salesforce.contact (last_name, email)
		SELECT CASE WHEN i = 137 THEN NULL ELSE 'F' || i END, 'f' || i || '@example.com' FROM generate_series(1, 200) i`)
	s.waitLogged(200)
	w, _ := s.startWriter(Config{Provider: s.client, BatchWait: 200 * time.Millisecond})
	s.waitDone(60 * time.Second)

	counts := liveBy(s.srv, "Contact", "LastName")
	for i := 1; i <= 200; i++ {
		want := 1
		if i == 137 {
			want = 0
		}
		if got := counts[fmt.Sprintf("F%d", i)]; got != want {
			t.Errorf("F%d: %d records, want %d", i, got, want)
		}
	}
	var failed []string
	rows, _ := s.pool.Query(s.ctx, `SELECT api_result || ' ' || api_message FROM salesforce._sync_write_log WHERE state = 'failed'`)
	for rows.Next() {
		var m string
		_ = rows.Scan(&m)
		failed = append(failed, m)
	}
	rows.Close()
	if len(failed) != 1 || !strings.Contains(failed[0], "REQUIRED_FIELD_MISSING") || !strings.HasPrefix(failed[0], "400 ") {
		t.Errorf("failed rows: %q", failed)
	}
	if n := s.scalar(`SELECT count(*) FROM salesforce.contact WHERE id IS NULL`); str(n) != "1" {
		t.Errorf("%s rows without id, want 1 (the invalid one)", str(n))
	}
	if st := w.Stats(); st.Finds == 0 {
		t.Errorf("no FindCreated after the dropped create: %+v", st)
	}

	// updates through a 503 burst, an expired token, a dropped connection and locked records
	ids := []string{}
	r2, _ := s.pool.Query(s.ctx, `SELECT id FROM salesforce.contact WHERE id IS NOT NULL ORDER BY last_name LIMIT 50`)
	for r2.Next() {
		var id string
		_ = r2.Scan(&id)
		ids = append(ids, id)
	}
	r2.Close()
	s.srv.FailNext(503, 3)
	s.srv.ExpireTokens()
	s.srv.LockRecord(ids[0], 2)
	s.srv.LockRecord(ids[1], 1)
	s.exec(`UPDATE salesforce.contact SET title = 'T-' || last_name WHERE id = ANY($1)`, ids)
	s.waitLogged(250)
	s.waitDone(60 * time.Second)
	s.srv.DropNext(1)
	s.exec(`INSERT INTO salesforce.contact (last_name) VALUES ('AfterDrop')`)
	s.exec(`DELETE FROM salesforce.contact WHERE id = $1`, ids[2])
	s.waitLogged(252)
	s.waitDone(60 * time.Second)

	for i, id := range ids {
		r, ok := s.srv.Get("Contact", id)
		if i == 2 {
			if ok && str(r["IsDeleted"]) != "true" {
				t.Errorf("deleted contact still live")
			}
			continue
		}
		if !ok || str(r["Title"]) != "T-"+str(r["LastName"]) {
			t.Errorf("contact %s: %v", id, r)
		}
	}
	if liveBy(s.srv, "Contact", "LastName")["AfterDrop"] != 1 {
		t.Errorf("AfterDrop not created exactly once")
	}
	var attempts int
	_ = s.pool.QueryRow(s.ctx, `SELECT max(attempts) FROM salesforce._sync_write_log WHERE action = 'update'`).Scan(&attempts)
	if attempts < 2 {
		t.Errorf("locked records were not retried (max attempts %d)", attempts)
	}
	if n := s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state <> 'succeeded'`); str(n) != "1" {
		t.Errorf("%s log rows not succeeded, want 1", str(n))
	}
}

// tether stops (or dies) while a batch of creates is in flight: the rows stay
// pending, and the next writer finds the records the simulator created
// instead of creating them again.
func TestRestartMidBatchNoDuplicates(t *testing.T) {
	s := newSimEnv(t, simOptions{capture: true})
	s.exec(`INSERT INTO salesforce.contact (last_name) SELECT 'R' || i FROM generate_series(1, 120) i`)
	s.waitLogged(120)
	s.srv.DelayNext(700*time.Millisecond, 1)
	_, stop := s.startWriter(Config{Provider: s.client, BatchWait: 10 * time.Millisecond, Settle: time.Second})
	deadline := time.Now().Add(10 * time.Second)
	for str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'`)) == "0" {
		if time.Now().After(deadline) {
			t.Fatal("writer never claimed the batch")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the request is at the simulator now
	stop()
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'`)); n != "120" {
		// the request had not left yet when the writer stopped (a very slow machine)
		t.Logf("%s rows pending after the interrupted batch, expected 120", n)
	}
	w2, _ := s.startWriter(Config{Provider: s.client, BatchWait: 10 * time.Millisecond, Settle: time.Second})
	s.waitDone(60 * time.Second)
	counts := liveBy(s.srv, "Contact", "LastName")
	for i := 1; i <= 120; i++ {
		if got := counts[fmt.Sprintf("R%d", i)]; got != 1 {
			t.Errorf("R%d: %d records, want 1", i, got)
		}
	}
	if n := str(s.scalar(`SELECT count(*) FROM salesforce.contact WHERE id IS NULL`)); n != "0" {
		t.Errorf("%s rows without id", n)
	}
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded' AND api_message LIKE '%adopted%'`)); n != "120" {
		t.Logf("%s rows adopted (the simulator applied the interrupted request: want 120)", n)
	}
	t.Logf("second writer: %+v", w2.Stats())
}

// A revoked credential and an exhausted daily limit pause the writer
// (health customer_intervention) without failing any row; it resumes by
// itself once the cause is gone.
func TestPauseAndResumeWithSimulator(t *testing.T) {
	s := newSimEnv(t, simOptions{capture: true})
	h := health.NewMemory()
	s.startWriter(Config{Provider: s.client, Health: h, RetryBase: 50 * time.Millisecond, RetryMax: 300 * time.Millisecond})
	waitHealth := func(want health.Status) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if e, ok := h.Get(health.Writer); ok && e.Status == want {
				return
			}
			if time.Now().After(deadline) {
				e, _ := h.Get(health.Writer)
				t.Fatalf("writer health %+v, want %s", e, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// revoked credential
	s.srv.RevokeRefreshToken()
	s.srv.ExpireTokens()
	s.exec(`INSERT INTO salesforce.contact (last_name) VALUES ('DuringRevoke')`)
	s.waitLogged(1)
	waitHealth(health.CustomerIntervention)
	time.Sleep(500 * time.Millisecond)
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state IN ('failed', 'succeeded')`)); n != "0" {
		t.Fatalf("%s rows finished while the credential was revoked", n)
	}
	s.srv.RestoreRefreshToken()
	s.waitDone(30 * time.Second)
	waitHealth(health.Healthy)

	// exhausted daily limit
	used, _ := s.srv.Usage()
	s.srv.SetDailyLimit(used + 1)
	s.srv.SetDailyUsed(used + 1)
	s.exec(`INSERT INTO salesforce.contact (last_name) VALUES ('DuringQuota')`)
	s.waitLogged(2)
	waitHealth(health.CustomerIntervention)
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'failed'`)); n != "0" {
		t.Fatalf("%s rows failed during the quota pause", n)
	}
	s.srv.SetDailyLimit(1000000)
	s.srv.SetDailyUsed(0)
	s.waitDone(90 * time.Second)
	waitHealth(health.Healthy)
	counts := liveBy(s.srv, "Contact", "LastName")
	if counts["DuringRevoke"] != 1 || counts["DuringQuota"] != 1 {
		t.Errorf("records: revoke %d, quota %d", counts["DuringRevoke"], counts["DuringQuota"])
	}
}

// With the message-marker echo guard (a role without replication origins),
// the ids written back are not captured either.
func TestEchoMessageMode(t *testing.T) {
	s := newSimEnv(t, simOptions{capture: true, echo: replication.EchoMessage})
	if s.guard.Mode() != replication.EchoMessage {
		t.Fatalf("guard mode %s", s.guard.Mode())
	}
	s.startWriter(Config{Provider: s.client})
	s.exec(`INSERT INTO salesforce.contact (last_name) SELECT 'M' || i FROM generate_series(1, 3) i`)
	s.exec(`UPDATE salesforce.contact SET title = 'x' WHERE last_name = 'M1'`)
	s.waitLogged(4)
	s.waitDone(20 * time.Second)
	time.Sleep(300 * time.Millisecond) // give capture time to (wrongly) log the id write-back
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log`)); n != "4" {
		t.Errorf("%s log rows, want 4", n)
	}
	if n := str(s.scalar(`SELECT count(*) FROM salesforce.contact WHERE id IS NULL`)); n != "0" {
		t.Errorf("%s rows without id", n)
	}
}
