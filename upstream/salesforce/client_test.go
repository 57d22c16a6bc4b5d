package salesforce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/upstream"
)

const (
	testClientSecret = "cs-SECRET-0a1b2c3d"
	testRefreshToken = "rt-SECRET-4e5f6a7b"
)

// fakeSF is a minimal HTTP Salesforce for the client's HTTP handling: an
// OAuth token endpoint and a hook for API requests, serving recorded bodies.
type fakeSF struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	revoked bool
	omitID  bool // the token answer carries no identity URL
	tokenN  int
	valid   map[string]bool
	calls   map[string]int // "METHOD path" → count
	api     func(w http.ResponseWriter, r *http.Request, n int)
}

func newFakeSF(t *testing.T, api func(w http.ResponseWriter, r *http.Request, n int)) *fakeSF {
	f := &fakeSF{t: t, valid: map[string]bool{}, calls: map[string]int{}, api: api}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSF) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/services/oauth2/token" {
		_ = r.ParseForm()
		f.mu.Lock()
		f.calls["token"]++
		revoked := f.revoked
		f.mu.Unlock()
		if revoked || r.PostForm.Get("refresh_token") != testRefreshToken || r.PostForm.Get("client_secret") != testClientSecret ||
			r.PostForm.Get("grant_type") != "refresh_token" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(fixture(f.t, "refresh_error_response.json"))
			return
		}
		f.mu.Lock()
		f.tokenN++
		tok := fmt.Sprintf("00DAT-SECRET-%d", f.tokenN)
		f.valid[tok] = true
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id := f.srv.URL + "/id/00D000000000001AAA/005000000000001AAA"
		f.mu.Lock()
		if f.omitID {
			id = ""
		}
		f.mu.Unlock()
		fmt.Fprintf(w, `{"id":"%s","issued_at":"1","instance_url":"%s","signature":"sig=","access_token":"%s","token_type":"Bearer"}`,
			id, f.srv.URL, tok)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok]
	key := r.Method + " " + r.URL.Path
	f.calls[key]++
	n := f.calls[key]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(fixture(f.t, "expired_session_response.json"))
		return
	}
	w.Header().Set("Sforce-Limit-Info", "api-usage=10/1000")
	f.api(w, r, n)
}

func (f *fakeSF) expire() {
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeSF) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func testConfig(url string, logs io.Writer) Config {
	return Config{
		LoginURL: url, ClientID: "client-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken,
		Logger:       zerolog.New(logs).Level(zerolog.DebugLevel),
		RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, RetryMaxElapsed: 2 * time.Second,
		QuotaBackoff: 200 * time.Millisecond,
	}
}

func countBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"totalSize":42,"done":true,"records":[]}`)
}

func assertNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, sec := range []string{testClientSecret, testRefreshToken, "SECRET"} {
		if strings.Contains(s, sec) {
			t.Fatalf("%s contains a secret (%q): %s", where, sec, s)
		}
	}
}

func TestExpiredSessionRefreshesOnce(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) { countBody(w) })
	logs := &logBuf{}
	hm := health.NewMemory()
	cfg := testConfig(f.srv.URL, logs)
	cfg.Health = hm
	cfg.Metrics = metrics.New()
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(context.Background(), "Account"); err != nil || n != 42 {
		t.Fatalf("count %d %v", n, err)
	}
	f.expire()
	defer func() {
		got := gathered(t, cfg.Metrics)
		for k, want := range map[string]float64{
			"tether_api_requests_total{code=200,endpoint=query,method=GET}":  2,
			"tether_api_requests_total{code=401,endpoint=query,method=GET}":  1,
			"tether_api_requests_total{code=200,endpoint=token,method=POST}": 2,
			"tether_api_daily_usage{kind=used}":                              10,
			"tether_api_daily_usage{kind=max}":                               1000,
		} {
			if got[k] != want {
				t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
			}
		}
	}()
	if n, err := c.Count(context.Background(), "Account"); err != nil || n != 42 {
		t.Fatalf("count after expiry %d %v", n, err)
	}
	if got := f.count("token"); got != 2 {
		t.Fatalf("token requests %d, want 2", got)
	}
	if got := f.count("GET /services/data/v62.0/query/"); got != 3 {
		t.Fatalf("query requests %d, want 3 (one 401 retried once)", got)
	}
	if used, max := c.Usage(); used != 10 || max != 1000 {
		t.Fatalf("usage %d/%d", used, max)
	}
	if used, max := c.Limiter().Usage(); used != 10 || max != 1000 {
		t.Fatalf("limiter usage %d/%d", used, max)
	}
	if e, ok := hm.Get(health.Credential); !ok || e.Status != health.Healthy {
		t.Fatalf("credential health %+v", e)
	}
	if me, err := c.UserID(context.Background()); err != nil || me != "005000000000001AAA" {
		t.Fatalf("user id %q %v", me, err)
	}
	assertNoSecrets(t, "logs", logs.String())
}

func TestRevokedRefreshToken(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) { countBody(w) })
	logs := &logBuf{}
	hm := health.NewMemory()
	cfg := testConfig(f.srv.URL, logs)
	cfg.Health = hm
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.revoked = true
	f.mu.Unlock()
	f.expire()
	_, err = c.Count(context.Background(), "Account")
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Class != upstream.Auth || ue.Code != "invalid_grant" {
		t.Fatalf("err %v, want an Auth invalid_grant error", err)
	}
	e, ok := hm.Get(health.Credential)
	if !ok || e.Status != health.CustomerIntervention || !strings.Contains(e.Message, "re-authorise") {
		t.Fatalf("credential health %+v", e)
	}
	assertNoSecrets(t, "error", err.Error())
	assertNoSecrets(t, "health", e.Message)

	// New refuses a revoked credential at once.
	_, err = New(context.Background(), cfg)
	if upstream.ClassOf(err) != upstream.Auth {
		t.Fatalf("New with revoked token: %v", err)
	}
	assertNoSecrets(t, "error", err.Error())

	// Restored: the next request succeeds and health clears.
	f.mu.Lock()
	f.revoked = false
	f.mu.Unlock()
	if _, err := c.Count(context.Background(), "Account"); err != nil {
		t.Fatal(err)
	}
	if e, _ := hm.Get(health.Credential); e.Status != health.Healthy {
		t.Fatalf("credential health after restore %+v", e)
	}
	assertNoSecrets(t, "logs", logs.String())
}

func TestSessionRejectedTwiceIsAuth(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(fixture(t, "expired_session_response.json"))
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Count(context.Background(), "Account")
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Class != upstream.Auth || ue.Code != "INVALID_SESSION_ID" {
		t.Fatalf("err %v", err)
	}
	if got := f.count("GET /services/data/v62.0/query/"); got != 2 {
		t.Fatalf("query requests %d, want 2", got)
	}
	assertNoSecrets(t, "error", err.Error())
}

func TestTransientRetried(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]`)
			return
		}
		countBody(w)
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(context.Background(), "Account"); err != nil || n != 42 {
		t.Fatalf("count %d %v", n, err)
	}
	if got := f.count("GET /services/data/v62.0/query/"); got != 4 {
		t.Fatalf("query requests %d, want 4", got)
	}

	// A permanent error is not retried.
	f2 := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(fixture(t, "query_error_response.json"))
	})
	c2, _ := New(context.Background(), testConfig(f2.srv.URL, io.Discard))
	_, err = c2.Count(context.Background(), "Account")
	if upstream.ClassOf(err) != upstream.Permanent || f2.count("GET /services/data/v62.0/query/") != 1 {
		t.Fatalf("err %v after %d requests", err, f2.count("GET /services/data/v62.0/query/"))
	}

	// Retries stop after RetryMaxElapsed with the transient error.
	f3 := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusInternalServerError) })
	cfg := testConfig(f3.srv.URL, io.Discard)
	cfg.RetryMaxElapsed = 100 * time.Millisecond
	c3, _ := New(context.Background(), cfg)
	_, err = c3.Count(context.Background(), "Account")
	if upstream.ClassOf(err) != upstream.Transient {
		t.Fatalf("err %v", err)
	}
}

func describeHandler(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasSuffix(r.URL.Path, "/describe") {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(mustRead("testdata/describe/Contact.json"))
		return true
	}
	return false
}

func TestCreateLostAnswerIsUnknownOutcome(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if describeHandler(w, r) {
			return
		}
		drop(w)
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write(context.Background(), "Contact", upstream.OpCreate, []upstream.Change{{Fields: map[string]any{"LastName": "X"}}})
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Code != upstream.CodeUnknownOutcome || ue.Class != upstream.Transient {
		t.Fatalf("err %v, want unknown outcome", err)
	}
	if got := f.count("POST /services/data/v62.0/composite/sobjects"); got != 1 {
		t.Fatalf("create sent %d times, want 1", got)
	}
}

func TestUpdateDroppedIsRetried(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if describeHandler(w, r) {
			return
		}
		if n == 1 {
			drop(w)
			return
		}
		_, _ = io.WriteString(w, `[{"id":"003000000000001AAA","success":true,"errors":[]}]`)
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Write(context.Background(), "Contact", upstream.OpUpdate, []upstream.Change{{ID: "003000000000001AAA", Fields: map[string]any{"LastName": "X"}}})
	if err != nil || len(res) != 1 || !res[0].OK || res[0].Status != 200 {
		t.Fatalf("res %+v err %v", res, err)
	}
	if got := f.count("PATCH /services/data/v62.0/composite/sobjects"); got != 2 {
		t.Fatalf("update sent %d times, want 2", got)
	}
}

// refuseFirstDial makes the first dial fail with "connection refused".
type refuseFirstDial struct{ n atomic.Int32 }

func (d *refuseFirstDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.n.Add(1) == 2 { // the first dial is the token request at New
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func TestCreateNotSentIsRetried(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if describeHandler(w, r) {
			return
		}
		if r.Method == http.MethodPost && n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // a 5xx answer: not applied, retried
			return
		}
		_, _ = io.WriteString(w, `[{"id":"003000000000009AAA","success":true,"errors":[]}]`)
	})
	d := &refuseFirstDial{}
	cfg := testConfig(f.srv.URL, io.Discard)
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.dial, DisableKeepAlives: true}}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The describe's dial is refused, then retried.
	res, err := c.Write(context.Background(), "Contact", upstream.OpCreate, []upstream.Change{{Fields: map[string]any{"LastName": "X"}}})
	if err != nil || !res[0].OK || res[0].ID != "003000000000009AAA" || res[0].Status != 201 {
		t.Fatalf("res %+v err %v", res, err)
	}
	if got := f.count("POST /services/data/v62.0/composite/sobjects"); got != 2 {
		t.Fatalf("create sent %d times, want 2 (503 then success)", got)
	}
	// A refused dial on the create itself is retried too.
	d.n.Store(1)
	res, err = c.Write(context.Background(), "Contact", upstream.OpCreate, []upstream.Change{{Fields: map[string]any{"LastName": "Y"}}})
	if err != nil || !res[0].OK {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestRequestLimitExceeded(t *testing.T) {
	var exceeded atomic.Bool
	exceeded.Store(true)
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if exceeded.Load() {
			w.Header().Set("Sforce-Limit-Info", "api-usage=1000/1000")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`)
			return
		}
		w.Header().Set("Sforce-Limit-Info", "api-usage=5/1000")
		countBody(w)
	})
	hm := health.NewMemory()
	cfg := testConfig(f.srv.URL, io.Discard)
	cfg.Health = hm
	cfg.Limiter = ratelimit.New(ratelimit.Config{DailyRecheck: 50 * time.Millisecond})
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Count(context.Background(), "Account")
	if upstream.ClassOf(err) != upstream.Quota {
		t.Fatalf("err %v, want Quota", err)
	}
	if f.count("GET /services/data/v62.0/query/") != 1 {
		t.Fatal("a quota error was retried")
	}
	if st := c.Limiter().Stats(); st.PausedUntil.IsZero() {
		t.Fatalf("limiter not paused: %+v", st)
	}
	if e, _ := hm.Get(health.API); e.Status != health.CustomerIntervention {
		t.Fatalf("api health %+v", e)
	}
	exceeded.Store(false)
	begin := time.Now()
	if _, err := c.Count(context.Background(), "Account"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Fatalf("request after quota went out after %v, want the 200ms pause", d)
	}
	if e, _ := hm.Get(health.API); e.Status != health.Healthy {
		t.Fatalf("api health after success %+v", e)
	}
	if used, _ := c.Usage(); used != 5 {
		t.Fatalf("usage %d", used)
	}
}

func TestReadRequestShape(t *testing.T) {
	var got []*http.Request
	var mu sync.Mutex
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if describeHandler(w, r) {
			return
		}
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "/query/01g") {
			_, _ = io.WriteString(w, `{"totalSize":2,"done":true,"records":[{"attributes":{"type":"Contact"},"Id":"003B","SystemModstamp":"2024-01-02T03:04:06.000+0000","IsDeleted":true}]}`)
			return
		}
		_, _ = io.WriteString(w, `{"totalSize":2,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gD-200","records":[{"attributes":{"type":"Contact"},"Id":"003A","SystemModstamp":"2024-01-02T03:04:05.000+0000","IsDeleted":false}]}`)
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Read(context.Background(), upstream.ReadRequest{Object: "Contact", Fields: []string{"LastName"}, IncludeDeleted: true, PageSize: 50,
		After: upstream.Cursor{Stamp: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), ID: "003Z"}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Next != "/services/data/v62.0/query/01gD-200" || page.Total != 2 || page.Last.ID != "003A" || page.Deleted[0] {
		t.Fatalf("page %+v", page)
	}
	next, err := c.ReadNext(context.Background(), "Contact", page.Next)
	if err != nil || next.Next != "" || !next.Deleted[0] || next.Last.ID != "003B" {
		t.Fatalf("next %+v %v", next, err)
	}
	if _, err := c.ReadNext(context.Background(), "Contact", "https://evil.example/x"); err == nil {
		t.Fatal("foreign next token accepted")
	}
	r0 := got[0]
	if r0.URL.Path != "/services/data/v62.0/queryAll/" || r0.Header.Get("Sforce-Query-Options") != "batchSize=200" {
		t.Fatalf("request %s %v", r0.URL.Path, r0.Header)
	}
	wantQ := "SELECT Id, SystemModstamp, IsDeleted, LastName FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '003Z') ORDER BY SystemModstamp ASC, Id ASC"
	if q := r0.URL.Query().Get("q"); q != wantQ {
		t.Fatalf("q = %s", q)
	}
}

func TestReadDeletedFixtureAndExpiredWindow(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("start") < "2013-01-01" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `[{"message":"startDate before org replication enabled date","errorCode":"INVALID_REPLICATION_DATE"}]`)
			return
		}
		_, _ = w.Write(fixture(t, "get_deleted_success_response.json"))
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2013, 5, 5, 0, 0, 0, 0, time.UTC)
	res, err := c.ReadDeleted(context.Background(), "Custom__c", start, start.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].ID != "a00D0000008pQRAIA2" ||
		!res.Records[0].DeletedAt.Equal(time.Date(2013, 5, 7, 22, 7, 19, 0, time.UTC)) ||
		!res.LatestCovered.Equal(time.Date(2013, 5, 8, 21, 20, 0, 0, time.UTC)) ||
		!res.EarliestAvailable.Equal(time.Date(2013, 5, 3, 15, 57, 0, 0, time.UTC)) {
		t.Fatalf("deleted %+v", res)
	}
	_, err = c.ReadDeleted(context.Background(), "Custom__c", time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC), start)
	if !errors.Is(err, upstream.ErrWindowExpired) {
		t.Fatalf("err %v, want ErrWindowExpired", err)
	}
}

func TestObjectsAndDescribeCache(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if describeHandler(w, r) {
			return
		}
		_, _ = w.Write(mustRead("testdata/describe/_global.json"))
	})
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := c.Objects(context.Background())
	if err != nil || len(objs) == 0 {
		t.Fatalf("objects %v %v", objs, err)
	}
	for _, o := range objs {
		if !o.Queryable {
			t.Fatalf("non-queryable object listed: %+v", o)
		}
	}
	for i := 0; i < 3; i++ {
		obj, err := c.Describe(context.Background(), "Contact")
		if err != nil || obj.Name != "Contact" || obj.Field("LastName") == nil {
			t.Fatalf("describe %v %v", obj, err)
		}
	}
	if got := f.count("GET /services/data/v62.0/sobjects/Contact/describe"); got != 1 {
		t.Fatalf("describe fetched %d times, want 1 (cached)", got)
	}
}

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

// gathered flattens the registry into "name{label=value,...}" → value.
func gathered(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case mt.GetCounter() != nil:
				out[key] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				out[key] = mt.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestConcurrentExpiryRefreshesOnce(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) { countBody(w) })
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Count(context.Background(), "Account"); err != nil {
		t.Fatal(err)
	}
	f.expire()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Count(context.Background(), "Account"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Racing requests may each see a 401, but the token is refreshed once
	// per expired token, never once per request.
	if got := f.count("token"); got != 2 {
		t.Fatalf("token requests %d, want 2", got)
	}
}

func TestUserIDFromUserinfo(t *testing.T) {
	f := newFakeSF(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/services/oauth2/userinfo" {
			_, _ = io.WriteString(w, `{"user_id":"005000000000777AAA","organization_id":"00D000000000001AAA"}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})
	f.omitID = true
	c, err := New(context.Background(), testConfig(f.srv.URL, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if me, err := c.UserID(context.Background()); err != nil || me != "005000000000777AAA" {
			t.Fatalf("user id %q %v", me, err)
		}
	}
	if got := f.count("GET /services/oauth2/userinfo"); got != 1 {
		t.Fatalf("userinfo asked %d times, want 1", got)
	}
}
