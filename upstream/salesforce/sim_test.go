package salesforce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/upstream"
	"github.com/tether-sync/tether/upstream/salesforce"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	srv    *sim.Server
	c      *salesforce.Client
	health *health.Memory
	logs   *syncBuf
	creds  sim.Credentials
}

// start runs a simulator and a client against it; lim may be nil.
func start(t *testing.T, seed int, lim *ratelimit.Limiter, tweak func(*salesforce.Config)) *env {
	t.Helper()
	srv := sim.New(sim.Options{Seed: seed, RandSeed: 1})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()
	e := &env{srv: srv, health: health.NewMemory(), logs: &syncBuf{}, creds: creds}
	cfg := salesforce.Config{
		LoginURL: creds.LoginURL, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, RefreshToken: creds.RefreshToken,
		Limiter: lim, Health: e.health, Logger: zerolog.New(e.logs).Level(zerolog.DebugLevel),
		RetryInitial: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, RetryMaxElapsed: 5 * time.Second,
		QuotaBackoff: 200 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := salesforce.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	t.Cleanup(func() {
		// Secrets never reach the logs, whatever the test did.
		out := e.logs.String()
		for _, s := range []string{creds.ClientSecret, creds.RefreshToken, creds.AccessToken} {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("logs contain a secret")
			}
		}
	})
	return e
}

func (e *env) noSecrets(t *testing.T, s string) {
	t.Helper()
	for _, sec := range []string{e.creds.ClientSecret, e.creds.RefreshToken, e.creds.AccessToken} {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("secret in %q", s)
		}
	}
}

func TestSimTokenRefreshAfterExpiry(t *testing.T) {
	e := start(t, 3, nil, nil)
	ctx := context.Background()
	if n, err := e.c.Count(ctx, "Contact"); err != nil || n != 3 {
		t.Fatalf("count %d %v", n, err)
	}
	tokens := e.srv.Requests()["token"]
	e.srv.ExpireTokens()
	if n, err := e.c.Count(ctx, "Contact"); err != nil || n != 3 {
		t.Fatalf("count after expiry %d %v", n, err)
	}
	if got := e.srv.Requests()["token"]; got != tokens+1 {
		t.Fatalf("token requests %d, want %d", got, tokens+1)
	}
	if ent, _ := e.health.Get(health.Credential); ent.Status != health.Healthy {
		t.Fatalf("credential health %+v", ent)
	}
}

func TestSimRevokedRefreshToken(t *testing.T) {
	e := start(t, 1, nil, nil)
	ctx := context.Background()
	e.srv.RevokeRefreshToken()
	e.srv.ExpireTokens()
	_, err := e.c.Count(ctx, "Contact")
	if upstream.ClassOf(err) != upstream.Auth {
		t.Fatalf("err %v, want Auth", err)
	}
	e.noSecrets(t, err.Error())
	ent, _ := e.health.Get(health.Credential)
	if ent.Status != health.CustomerIntervention || !strings.Contains(ent.Message, "re-authorise") {
		t.Fatalf("credential health %+v", ent)
	}
	e.srv.RestoreRefreshToken()
	if _, err := e.c.Count(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	if ent, _ := e.health.Get(health.Credential); ent.Status != health.Healthy {
		t.Fatalf("credential health after restore %+v", ent)
	}
}

func TestSimServiceUnavailableBurstRetried(t *testing.T) {
	e := start(t, 2, nil, nil)
	ctx := context.Background()
	e.srv.ResetRequests()
	e.srv.FailNext(503, 3)
	if n, err := e.c.Count(ctx, "Account"); err != nil || n != 2 {
		t.Fatalf("count %d %v", n, err)
	}
	if got := e.srv.Requests()["query"]; got != 4 {
		t.Fatalf("query requests %d, want 4 (3 x 503 then success)", got)
	}
}

func TestSimDroppedPatchRetried(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	id, err := e.srv.Create("Contact", map[string]any{"LastName": "Before"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Describe(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	e.srv.DropNext(1)
	res, err := e.c.Write(ctx, "Contact", upstream.OpUpdate, []upstream.Change{{ID: id, Fields: map[string]any{"LastName": "After"}}})
	if err != nil || len(res) != 1 || !res[0].OK || res[0].Status != 200 {
		t.Fatalf("res %+v err %v", res, err)
	}
	if got := e.srv.Requests()["composite:PATCH"]; got != 2 {
		t.Fatalf("PATCH requests %d, want 2", got)
	}
	rec, _ := e.srv.Get("Contact", id)
	if rec["LastName"] != "After" {
		t.Fatalf("record %v", rec)
	}
}

func TestSimCreateAnswerLostThenFound(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	if _, err := e.c.Describe(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	since := e.srv.Now().Add(-time.Second)
	fields := map[string]any{"LastName": "Lost O'Answer", "FirstName": "Ann", "Email": "ann@example.com"}
	// Another user creates a record with the same values: not ours.
	if _, err := e.srv.Create("Contact", fields); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	e.srv.DropAfterCommitNext(1)
	_, err := e.c.Write(ctx, "Contact", upstream.OpCreate, []upstream.Change{{Fields: fields}})
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != upstream.CodeUnknownOutcome || ue.Class != upstream.Transient {
		t.Fatalf("err %v, want unknown outcome", err)
	}
	if got := e.srv.Requests()["composite:POST"]; got != 1 {
		t.Fatalf("create sent %d times, want 1", got)
	}
	ids, err := e.c.FindCreated(ctx, "Contact", since, fields)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Fatalf("found %v, want exactly the one record tether created", ids)
	}
	rec, ok := e.srv.Get("Contact", ids[0])
	if !ok || rec["LastName"] != "Lost O'Answer" {
		t.Fatalf("record %v", rec)
	}
	// Nothing matches other values.
	ids, err = e.c.FindCreated(ctx, "Contact", since, map[string]any{"LastName": "Nobody"})
	if err != nil || len(ids) != 0 {
		t.Fatalf("ids %v err %v", ids, err)
	}
}

func TestSimRequestLimitExceeded(t *testing.T) {
	lim := ratelimit.New(ratelimit.Config{DailyRecheck: 100 * time.Millisecond})
	e := start(t, 1, lim, nil)
	ctx := context.Background()
	e.srv.SetDailyLimit(1000)
	e.srv.SetDailyUsed(1000)
	_, err := e.c.Count(ctx, "Contact")
	if upstream.ClassOf(err) != upstream.Quota {
		t.Fatalf("err %v, want Quota", err)
	}
	if st := lim.Stats(); st.PausedUntil.IsZero() {
		t.Fatalf("limiter not paused: %+v", st)
	}
	if ent, _ := e.health.Get(health.API); ent.Status != health.CustomerIntervention {
		t.Fatalf("api health %+v", ent)
	}
	e.srv.SetDailyUsed(10)
	begin := time.Now()
	if _, err := e.c.Count(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Fatalf("next request after %v, want after the pause", d)
	}
	if ent, _ := e.health.Get(health.API); ent.Status != health.Healthy {
		t.Fatalf("api health %+v", ent)
	}
	if used, max := e.c.Usage(); max != 1000 || used < 10 || used > 20 {
		t.Fatalf("usage %d/%d", used, max)
	}
}

func TestSimPagedRead(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	e.srv.SeedObject("Account", 5000)
	if _, err := e.c.Describe(ctx, "Account"); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequests()
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "Account", Fields: []string{"Name", "BillingCity"}, PageSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var prev upstream.Cursor
	pages := 0
	for {
		pages++
		if page.Total != 5000 {
			t.Fatalf("total %d", page.Total)
		}
		for _, r := range page.Records {
			st, err := salesforce.ParseDateTime(r["SystemModstamp"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if !prev.IsZero() && !prev.After(st, r.ID()) {
				t.Fatalf("records out of order at %s", r.ID())
			}
			prev = upstream.Cursor{Stamp: st, ID: r.ID()}
			if _, ok := r["attributes"]; ok {
				t.Fatal("attributes kept")
			}
			seen[r.ID()] = true
		}
		if page.Last != prev {
			t.Fatalf("page.Last %+v, want %+v", page.Last, prev)
		}
		if page.Next == "" {
			break
		}
		if page, err = e.c.ReadNext(ctx, "Account", page.Next); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 5000 || pages != 3 {
		t.Fatalf("%d records in %d pages", len(seen), pages)
	}
	reqs := e.srv.Requests()
	if n := reqs["query"] + reqs["queryMore"]; n != 3 {
		t.Fatalf("%d query requests, want 3 (%v)", n, reqs)
	}
	// Nothing after the last cursor.
	page, err = e.c.Read(ctx, upstream.ReadRequest{Object: "Account", After: prev})
	if err != nil || len(page.Records) != 0 {
		t.Fatalf("read after the end: %d records, %v", len(page.Records), err)
	}
}

func TestSimIncrementalReadAndDeletes(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	a, _ := e.srv.Create("Contact", map[string]any{"LastName": "A"})
	b, _ := e.srv.Create("Contact", map[string]any{"LastName": "B"})
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "Contact", Fields: []string{"LastName"}})
	if err != nil || len(page.Records) != 2 {
		t.Fatalf("read %+v %v", page, err)
	}
	cur := page.Last
	e.srv.Advance(2 * time.Second)
	if err := e.srv.Update("Contact", a, map[string]any{"LastName": "A2"}); err != nil {
		t.Fatal(err)
	}
	page, err = e.c.Read(ctx, upstream.ReadRequest{Object: "Contact", Fields: []string{"LastName"}, After: cur})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID() != a || page.Records[0]["LastName"] != "A2" {
		t.Fatalf("incremental read %+v %v", page, err)
	}
	cur = page.Last
	e.srv.Advance(2 * time.Second)
	if err := e.srv.Delete("Contact", b); err != nil {
		t.Fatal(err)
	}
	page, err = e.c.Read(ctx, upstream.ReadRequest{Object: "Contact", After: cur, IncludeDeleted: true})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID() != b || !page.Deleted[0] {
		t.Fatalf("queryAll read %+v %v", page, err)
	}
	if err := e.srv.HardDelete("Contact", a); err != nil {
		t.Fatal(err)
	}
	// getDeleted covers whole minutes up to the current one: move on.
	e.srv.Advance(2 * time.Minute)
	now := e.srv.Now()
	res, err := e.c.ReadDeleted(ctx, "Contact", now.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range res.Records {
		got[d.ID] = true
	}
	if !got[a] || !got[b] {
		t.Fatalf("deleted %+v, want %s and %s", res.Records, a, b)
	}
	_, err = e.c.ReadDeleted(ctx, "Contact", now.Add(-60*24*time.Hour), now)
	if !errors.Is(err, upstream.ErrWindowExpired) {
		t.Fatalf("err %v, want ErrWindowExpired", err)
	}
}

func TestSimWriteOutcomes(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	res, err := e.c.Write(ctx, "Contact", upstream.OpCreate, []upstream.Change{
		{Fields: map[string]any{"LastName": "Ok", "Email": "ok@example.com", "Birthdate": time.Date(1990, 5, 6, 0, 0, 0, 0, time.UTC)}},
		{Fields: map[string]any{"FirstName": "NoLastName"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK || res[0].Status != 201 || len(res[0].ID) != 18 {
		t.Fatalf("create ok: %+v", res[0])
	}
	if res[1].OK || res[1].Status != 400 || len(res[1].Errors) == 0 || res[1].Errors[0].Code != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("create invalid: %+v", res[1])
	}
	id := res[0].ID
	rec, _ := e.srv.Get("Contact", id)
	if rec["Birthdate"] != "1990-05-06" || rec["Email"] != "ok@example.com" {
		t.Fatalf("stored %v", rec)
	}

	other, _ := e.srv.Create("Contact", map[string]any{"LastName": "Locked"})
	e.srv.LockRecord(other, 1)
	res, err = e.c.Write(ctx, "Contact", upstream.OpUpdate, []upstream.Change{
		{ID: id, Fields: map[string]any{"Email": nil, "LastName": "Ok2"}},
		{ID: other, Fields: map[string]any{"LastName": "Locked2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK || res[0].Status != 200 {
		t.Fatalf("update: %+v", res[0])
	}
	if res[1].OK || !res[1].Transient || res[1].Errors[0].Code != "UNABLE_TO_LOCK_ROW" {
		t.Fatalf("locked update: %+v", res[1])
	}
	rec, _ = e.srv.Get("Contact", id)
	if rec["Email"] != nil || rec["LastName"] != "Ok2" {
		t.Fatalf("stored %v", rec)
	}

	if err := e.srv.Delete("Contact", other); err != nil {
		t.Fatal(err)
	}
	res, err = e.c.Write(ctx, "Contact", upstream.OpDelete, []upstream.Change{{ID: id}, {ID: other}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK || res[0].Status != 204 {
		t.Fatalf("delete: %+v", res[0])
	}
	if res[1].OK || !res[1].Gone {
		t.Fatalf("delete of a deleted record: %+v", res[1])
	}
	if recs := e.srv.Records("Contact"); len(recs) != 0 {
		t.Fatalf("live records left: %v", recs)
	}
	if _, err := e.c.Write(ctx, "Contact", upstream.OpCreate, make([]upstream.Change, 201)); err == nil {
		t.Fatal("a batch of 201 was accepted")
	}
}

func TestSimObjectsDescribeCount(t *testing.T) {
	e := start(t, 4, nil, nil)
	ctx := context.Background()
	objs, err := e.c.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, o := range objs {
		names[o.Name] = true
	}
	for _, want := range []string{"Account", "Contact", "Lead", "Opportunity", "User"} {
		if !names[want] {
			t.Fatalf("objects %v lack %s", names, want)
		}
	}
	obj, err := e.c.Describe(ctx, "Account")
	if err != nil || obj.Field("BillingAddress") == nil || obj.Field("BillingAddress").Kind != upstream.KindJSON {
		t.Fatalf("describe %v", err)
	}
	if n, err := e.c.Count(ctx, "Account"); err != nil || n != 4 {
		t.Fatalf("count %d %v", n, err)
	}
	// Compound values come back as maps, numbers as json.Number.
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "Account", Fields: []string{"BillingAddress", "NumberOfEmployees", "AnnualRevenue"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Records {
		if v := r["BillingAddress"]; v != nil {
			if _, ok := v.(map[string]any); !ok {
				t.Fatalf("BillingAddress %T", v)
			}
		}
		if v := r["NumberOfEmployees"]; v != nil {
			if _, ok := v.(json.Number); !ok {
				t.Fatalf("NumberOfEmployees %T", v)
			}
		}
	}
}

func TestSimLimiterHonoured(t *testing.T) {
	// The simulator logs each request's wall-clock arrival: no window of one
	// period (less 20 ms for network jitter) may hold more than allowed.
	const allowed, period, total = 3, 300 * time.Millisecond, 12
	lim := ratelimit.New(ratelimit.Config{AllowedRequests: allowed, Period: period, MaxConcurrent: 2})
	e := start(t, 3, lim, nil)
	ctx := context.Background()
	if _, err := e.c.Describe(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	id, _ := e.srv.Create("Contact", map[string]any{"LastName": "W"})
	time.Sleep(period) // let the describe leave the window
	e.srv.ResetRequests()
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for i := 0; i < total; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			if i%3 == 0 {
				_, err = e.c.Write(ctx, "Contact", upstream.OpUpdate, []upstream.Change{{ID: id, Fields: map[string]any{"FirstName": "F"}}})
			} else {
				_, err = e.c.Count(ctx, "Contact")
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var at []time.Time
	for _, r := range e.srv.RequestLog() {
		if r.Key == "token" || strings.HasPrefix(r.Path, "/_sim") {
			continue
		}
		at = append(at, r.Received)
	}
	if len(at) != total {
		t.Fatalf("%d API requests logged, want %d", len(at), total)
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	window := period - 20*time.Millisecond
	for i := range at {
		k := i
		for k < len(at) && at[k].Sub(at[i]) < window {
			k++
		}
		if k-i > allowed {
			t.Fatalf("%d requests within %s of %s, allowed %d per %s", k-i, window, at[i].Format("15:04:05.000"), allowed, period)
		}
	}
	if spread, want := at[len(at)-1].Sub(at[0]), time.Duration(total/allowed-1)*period; spread < want-20*time.Millisecond {
		t.Fatalf("%d requests spread over %s, want at least %s", total, spread, want)
	}
}

func TestSimDailyCeiling(t *testing.T) {
	lim := ratelimit.New(ratelimit.Config{DailyRecheck: time.Hour})
	e := start(t, 1, lim, func(c *salesforce.Config) { c.DailyLimitShare = 0.9 })
	ctx := context.Background()
	id, _ := e.srv.Create("Contact", map[string]any{"LastName": "Ceiling"})
	if _, err := e.c.Describe(ctx, "Contact"); err != nil {
		t.Fatal(err)
	}
	e.srv.SetDailyLimit(100)
	e.srv.SetDailyUsed(90)
	if _, err := e.c.Count(ctx, "Contact"); err != nil { // reports >= 90/100
		t.Fatal(err)
	}
	if used, max := e.c.Usage(); max != 100 || used < 90 {
		t.Fatalf("usage %d/%d", used, max)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := e.c.Count(short, "Contact")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read over the 90%% share: %v, want to wait", err)
	}
	// Writes may use the remainder; their answer reports the new usage.
	e.srv.SetDailyUsed(5)
	res, err := e.c.Write(ctx, "Contact", upstream.OpUpdate, []upstream.Change{{ID: id, Fields: map[string]any{"FirstName": "W"}}})
	if err != nil || !res[0].OK {
		t.Fatalf("write under the ceiling: %+v %v", res, err)
	}
	if _, err := e.c.Count(ctx, "Contact"); err != nil {
		t.Fatalf("read after usage dropped: %v", err)
	}
}

func TestSimCustomObjectValueRoundTrip(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	if err := e.srv.AddCustomObject(sim.CustomObject{Name: "Invoice__c", Fields: []sim.CustomField{
		{Name: "Tags__c", Type: "multipicklist", Picklist: []string{"red", "green", "blue"}},
		{Name: "Amount__c", Type: "currency", Precision: 18, Scale: 2},
		{Name: "Due__c", Type: "date"},
		{Name: "Sent__c", Type: "datetime"},
		{Name: "Paid__c", Type: "boolean"},
		{Name: "Note__c", Type: "string", Length: 80},
	}}); err != nil {
		t.Fatal(err)
	}
	sent := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	fields := map[string]any{
		"Name": "INV-1", "Tags__c": []string{"red", "blue"}, "Amount__c": json.Number("12.50"),
		"Due__c": time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), "Sent__c": sent, "Paid__c": true, "Note__c": `it's "quoted"`,
	}
	res, err := e.c.Write(ctx, "Invoice__c", upstream.OpCreate, []upstream.Change{{Fields: fields}})
	if err != nil || !res[0].OK {
		t.Fatalf("create %+v %v", res, err)
	}
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "Invoice__c", Fields: []string{"Name", "Tags__c", "Amount__c", "Due__c", "Sent__c", "Paid__c", "Note__c"}})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("read %+v %v", page, err)
	}
	r := page.Records[0]
	if tags, ok := r["Tags__c"].([]string); !ok || len(tags) != 2 || tags[0] != "red" || tags[1] != "blue" {
		t.Fatalf("Tags__c %#v", r["Tags__c"])
	}
	if n, ok := r["Amount__c"].(json.Number); !ok || n.String() != "12.5" && n.String() != "12.50" {
		t.Fatalf("Amount__c %#v", r["Amount__c"])
	}
	if r["Due__c"] != "2024-03-01" || r["Paid__c"] != true || r["Note__c"] != `it's "quoted"` {
		t.Fatalf("record %#v", r)
	}
	if st, err := salesforce.ParseDateTime(r["Sent__c"].(string)); err != nil || !st.Equal(sent) {
		t.Fatalf("Sent__c %v %v", r["Sent__c"], err)
	}
	// FindCreated compares the scalar fields, quoted, and skips the multi-select.
	ids, err := e.c.FindCreated(ctx, "Invoice__c", e.srv.Now().Add(-time.Minute), fields)
	if err != nil || len(ids) != 1 || ids[0] != res[0].ID {
		t.Fatalf("find created %v %v", ids, err)
	}
}

// TestSimReadUserWithoutIsDeleted: User has no IsDeleted field (users are
// deactivated, never deleted); an incremental read that asks for deleted
// records must still work instead of failing with INVALID_FIELD.
func TestSimReadUserWithoutIsDeleted(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	obj, err := e.c.Describe(ctx, "User")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Field("IsDeleted") != nil {
		t.Fatal("the simulator's User has IsDeleted; Salesforce's does not")
	}
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "User", Fields: []string{"Username", "Email"}, IncludeDeleted: true})
	if err != nil {
		t.Fatalf("read User with deletes: %v", err)
	}
	if len(page.Records) == 0 {
		t.Fatal("no users read")
	}
	for i, d := range page.Deleted {
		if d {
			t.Fatalf("user %d reported deleted", i)
		}
	}
}

// TestSimWideObjectQueriesThroughComposite: an object with so many fields that
// its query would exceed Salesforce's 16,384-byte URI limit (414) is read
// through a /composite request instead, with the same records, paging and
// error reporting.
func TestSimWideObjectQueriesThroughComposite(t *testing.T) {
	e := start(t, 0, nil, nil)
	ctx := context.Background()
	var fields []sim.CustomField
	var names []string
	for i := 0; i < 450; i++ {
		n := fmt.Sprintf("Quarterly_Revenue_Forecast_Region_%03d__c", i)
		fields = append(fields, sim.CustomField{Name: n, Type: "string", Length: 40})
		names = append(names, n)
	}
	if err := e.srv.AddCustomObject(sim.CustomObject{Name: "Wide__c", Fields: fields}); err != nil {
		t.Fatal(err)
	}
	if q, _ := salesforce.BuildReadQuery(upstream.ReadRequest{Object: "Wide__c", Fields: names}); len(url.QueryEscape(q)) < 16384 {
		t.Fatalf("the test object is not wide enough: %d bytes", len(url.QueryEscape(q)))
	}
	for i := 0; i < 250; i++ {
		if _, err := e.srv.Create("Wide__c", map[string]any{"Name": fmt.Sprintf("W-%d", i), names[7]: fmt.Sprintf("v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.ResetRequests()
	page, err := e.c.Read(ctx, upstream.ReadRequest{Object: "Wide__c", Fields: names, PageSize: 200})
	if err != nil {
		t.Fatalf("read a wide object: %v", err)
	}
	if len(page.Records) != 200 || page.Next == "" || page.Records[0][names[7]] != "v0" {
		t.Fatalf("first page: %d records, next %q, %v", len(page.Records), page.Next, page.Records[0][names[7]])
	}
	next, err := e.c.ReadNext(ctx, "Wide__c", page.Next)
	if err != nil || len(next.Records) != 50 {
		t.Fatalf("second page: %v, %v", err, next)
	}
	if n := e.srv.Requests()["composite"]; n != 1 {
		t.Errorf("%d composite requests, want 1 (requests: %v)", n, e.srv.Requests())
	}
	// An error inside the subrequest is reported as Salesforce's error.
	_, err = e.c.Read(ctx, upstream.ReadRequest{Object: "Wide__c", Fields: append(names, "Nope__c")})
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != "INVALID_FIELD" || ue.Class != upstream.Permanent {
		t.Fatalf("bad field through composite: %v", err)
	}
}
