// Package metrics holds tether's Prometheus collectors. A *Metrics is created
// once per process and handed to each loop; every method is safe on a nil
// receiver, so loops and tests may run without metrics.
//
// Usage:
//
//	m := metrics.New()                    // own registry, plus Go and process collectors
//	m.Wrote("succeeded", 200)
//	m.Leader(true); m.Health("capture", "healthy"); m.WriteLog("failed", 3)
//	http.Handle("/metrics", m.Handler())   // what httpserver serves
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are tether's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	ChangesCaptured  prometheus.Counter
	Writes           *prometheus.CounterVec // outcome: succeeded, failed, skipped, retried
	APIRequests      *prometheus.CounterVec // endpoint, method, status class
	LimiterWait      prometheus.Histogram   // seconds a request waited for the limiter
	APIUsage         *prometheus.GaugeVec   // kind: used, max
	ReplicationLag   prometheus.Gauge       // bytes between server WAL end and confirmed position
	FetchLag         *prometheus.GaugeVec   // table: seconds since the newest applied upstream change
	BackfillProgress *prometheus.GaugeVec   // table, kind: done, total
	RecordsFetched   *prometheus.CounterVec // table
	IsLeader         prometheus.Gauge       // 1 while this process holds the leader lease
	HealthStatus     *prometheus.GaugeVec   // component: 0 healthy, 1 customer_intervention, 2 tether_intervention
	WriteLogEntries  *prometheus.GaugeVec   // state: rows of _sync_write_log per state (as last counted)
}

// New registers tether's collectors on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry:         r,
		ChangesCaptured:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tether_changes_captured_total", Help: "Changes captured into _sync_write_log."}),
		Writes:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tether_writes_total", Help: "Write-back outcomes by state."}, []string{"outcome"}),
		APIRequests:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tether_api_requests_total", Help: "Upstream API requests by endpoint."}, []string{"endpoint", "method", "code"}),
		LimiterWait:      prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tether_limiter_wait_seconds", Help: "Time requests waited for the rate limiter.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		APIUsage:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_api_daily_usage", Help: "Daily API requests used and allowed (Sforce-Limit-Info)."}, []string{"kind"}),
		ReplicationLag:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "tether_replication_lag_bytes", Help: "Bytes of WAL between the server's end and the slot's confirmed position."}),
		FetchLag:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_fetch_lag_seconds", Help: "Seconds since the last successful poll of a table."}, []string{"table"}),
		BackfillProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_backfill_records", Help: "Backfill progress per table."}, []string{"table", "kind"}),
		RecordsFetched:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tether_records_fetched_total", Help: "Records applied from upstream per table."}, []string{"table"}),
	}
	m.IsLeader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tether_leader", Help: "1 while this process holds the leader lease (runs the sync loops)."})
	m.HealthStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_health_status", Help: "Health per component: 0 healthy, 1 customer_intervention, 2 tether_intervention."}, []string{"component"})
	m.WriteLogEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tether_write_log_entries", Help: "Rows of _sync_write_log per state, as last counted."}, []string{"state"})
	r.MustRegister(m.ChangesCaptured, m.Writes, m.APIRequests, m.LimiterWait, m.APIUsage, m.ReplicationLag, m.FetchLag, m.BackfillProgress, m.RecordsFetched,
		m.IsLeader, m.HealthStatus, m.WriteLogEntries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format; on a nil
// receiver it serves an empty registry.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Leader records whether this process holds the leader lease.
func (m *Metrics) Leader(held bool) {
	if m != nil {
		v := 0.0
		if held {
			v = 1
		}
		m.IsLeader.Set(v)
	}
}

// Health records a component's status ("healthy", "customer_intervention",
// "tether_intervention"; anything else counts as 2).
func (m *Metrics) Health(component, status string) {
	if m != nil {
		v := 2.0
		switch status {
		case "healthy":
			v = 0
		case "customer_intervention":
			v = 1
		}
		m.HealthStatus.WithLabelValues(component).Set(v)
	}
}

// WriteLog records the number of write-log rows in a state.
func (m *Metrics) WriteLog(state string, n int64) {
	if m != nil {
		m.WriteLogEntries.WithLabelValues(state).Set(float64(n))
	}
}

// Captured counts n captured changes.
func (m *Metrics) Captured(n int) {
	if m != nil {
		m.ChangesCaptured.Add(float64(n))
	}
}

// Wrote counts n write outcomes ("succeeded", "failed", "skipped", "retried").
func (m *Metrics) Wrote(outcome string, n int) {
	if m != nil {
		m.Writes.WithLabelValues(outcome).Add(float64(n))
	}
}

// Request counts one API request.
func (m *Metrics) Request(endpoint, method, code string) {
	if m != nil {
		m.APIRequests.WithLabelValues(endpoint, method, code).Inc()
	}
}

// Waited records a limiter wait in seconds.
func (m *Metrics) Waited(seconds float64) {
	if m != nil {
		m.LimiterWait.Observe(seconds)
	}
}

// Usage records daily API usage.
func (m *Metrics) Usage(used, max int) {
	if m != nil {
		m.APIUsage.WithLabelValues("used").Set(float64(used))
		m.APIUsage.WithLabelValues("max").Set(float64(max))
	}
}

// Lag records replication lag in bytes.
func (m *Metrics) Lag(bytes int64) {
	if m != nil {
		m.ReplicationLag.Set(float64(bytes))
	}
}

// Fetched records applied records and the table's fetch lag.
func (m *Metrics) Fetched(table string, n int, lagSeconds float64) {
	if m != nil {
		m.RecordsFetched.WithLabelValues(table).Add(float64(n))
		m.FetchLag.WithLabelValues(table).Set(lagSeconds)
	}
}

// Backfill records backfill progress.
func (m *Metrics) Backfill(table string, done, total int64) {
	if m != nil {
		m.BackfillProgress.WithLabelValues(table, "done").Set(float64(done))
		m.BackfillProgress.WithLabelValues(table, "total").Set(float64(total))
	}
}
