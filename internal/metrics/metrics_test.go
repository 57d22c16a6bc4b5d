package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, b)
	}
	return string(b)
}

func TestCollectorsExposed(t *testing.T) {
	m := New()
	m.Captured(3)
	m.Wrote("succeeded", 2)
	m.Request("query", "GET", "200")
	m.Waited(0.5)
	m.Usage(10, 15000)
	m.Lag(1024)
	m.Fetched("contact", 5, 1.5)
	m.Backfill("contact", 50, 100)
	m.Leader(true)
	m.Health("capture", "tether_intervention")
	m.Health("credential", "customer_intervention")
	m.WriteLog("failed", 4)
	out := scrape(t, m)
	for _, want := range []string{
		"tether_changes_captured_total 3",
		`tether_writes_total{outcome="succeeded"} 2`,
		`tether_api_requests_total{code="200",endpoint="query",method="GET"} 1`,
		"tether_limiter_wait_seconds_count 1",
		`tether_api_daily_usage{kind="max"} 15000`,
		"tether_replication_lag_bytes 1024",
		`tether_fetch_lag_seconds{table="contact"} 1.5`,
		`tether_backfill_records{kind="done",table="contact"} 50`,
		`tether_records_fetched_total{table="contact"} 5`,
		"tether_leader 1",
		`tether_health_status{component="capture"} 2`,
		`tether_health_status{component="credential"} 1`,
		`tether_write_log_entries{state="failed"} 4`,
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.Captured(1)
	m.Wrote("x", 1)
	m.Request("a", "b", "c")
	m.Waited(1)
	m.Usage(1, 2)
	m.Lag(1)
	m.Fetched("t", 1, 1)
	m.Backfill("t", 1, 2)
	m.Leader(true)
	m.Health("c", "healthy")
	m.WriteLog("new", 1)
	if out := scrape(t, m); strings.Contains(out, "tether_") {
		t.Errorf("nil metrics served %q", out)
	}
}
