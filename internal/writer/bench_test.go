package writer

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/tether-sync/tether/internal/ratelimit"
)

// latencies reads application commit → upstream success latencies of the
// succeeded log rows, sorted.
func (s *simEnv) latencies() []time.Duration {
	rows, err := s.pool.Query(s.ctx, `SELECT EXTRACT(EPOCH FROM updated_at - committed_at)::float8
		FROM salesforce._sync_write_log WHERE state = 'succeeded' AND api_result IN (200, 201, 204) ORDER BY 1`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var f float64
		_ = rows.Scan(&f)
		out = append(out, time.Duration(f*float64(time.Second)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)-1) * p)
	return d[i]
}

// steadyLoad commits rate changes per second (inserts and updates of the
// rows inserted so far) for dur, each in its own transaction.
func (s *simEnv) steadyLoad(rate int, dur time.Duration) int {
	tick := time.Second / time.Duration(rate)
	next := time.Now()
	end := next.Add(dur)
	n := 0
	for time.Now().Before(end) {
		if n%4 == 3 {
			s.exec(`UPDATE salesforce.contact SET title = $1 WHERE _sync_row_id = (SELECT max(_sync_row_id) - 1 FROM salesforce.contact)`, "t"+strconv.Itoa(n))
		} else {
			s.exec(`INSERT INTO salesforce.contact (last_name, email) VALUES ($1, $2)`, "B"+strconv.Itoa(n), fmt.Sprintf("b%d@example.com", n))
		}
		n++
		next = next.Add(tick)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	return n
}

// BenchmarkWriteBack prints records per API request and end-to-end latency
// (application commit → record written upstream, p50/p99) at the default
// batching, with the default rate limit and with it off, and the write
// throughput with the rate limit off. Each scenario runs once (it is a fixed
// workload): go test -run '^$' -bench WriteBack ./internal/writer/
func BenchmarkWriteBack(b *testing.B) {
	type scenario struct {
		name  string
		limit ratelimit.Config
		rate  int
		dur   time.Duration
	}
	var lines []string
	for _, sc := range []scenario{
		{"default-limit", ratelimit.Config{AllowedRequests: 1, Period: 3 * time.Second, MaxConcurrent: 1}, 40, 20 * time.Second},
		{"no-limit", ratelimit.Config{}, 100, 15 * time.Second},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := newSimEnv(b, simOptions{capture: true, limit: sc.limit})
				w, stop := s.startWriter(Config{Provider: s.client, BatchSize: DefaultBatchSize, BatchWait: DefaultBatchWait, PollInterval: DefaultPollInterval})
				n := s.steadyLoad(sc.rate, sc.dur)
				s.waitLogged(n)
				s.waitDone(3 * time.Minute)
				stop()
				lat := s.latencies()
				st := w.Stats()
				rpr := float64(st.Records) / float64(max(st.Requests, 1))
				b.ReportMetric(rpr, "records/request")
				b.ReportMetric(float64(pct(lat, 0.5).Milliseconds()), "p50-ms")
				b.ReportMetric(float64(pct(lat, 0.99).Milliseconds()), "p99-ms")
				lines = append(lines, fmt.Sprintf("%-14s %5d changes at %3d/s, rate limit %+v: %4d requests, %6.1f records/request, latency p50 %s p99 %s",
					sc.name, n, sc.rate, sc.limit, st.Requests, rpr, pct(lat, 0.5).Round(time.Millisecond), pct(lat, 0.99).Round(time.Millisecond)))
			}
		})
	}
	b.Run("throughput-no-limit", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s := newSimEnv(b, simOptions{capture: true})
			const total = 20000
			s.exec(`INSERT INTO salesforce.contact (last_name, email, title) SELECT 'T' || i, 't' || i || '@example.com', 'x' FROM generate_series(1, $1::int) i`, total)
			s.waitLogged(total)
			start := time.Now()
			w, stop := s.startWriter(Config{Provider: s.client, BatchSize: DefaultBatchSize, BatchWait: DefaultBatchWait, PollInterval: DefaultPollInterval})
			s.waitDone(5 * time.Minute)
			el := time.Since(start)
			stop()
			st := w.Stats()
			b.ReportMetric(float64(total)/el.Seconds(), "records/s")
			lines = append(lines, fmt.Sprintf("%-14s %5d queued inserts written in %s: %.0f records/s, %d requests (%.1f records/request)",
				"throughput", total, el.Round(time.Millisecond), float64(total)/el.Seconds(), st.Requests, float64(st.Records)/float64(max(st.Requests, 1))))
		}
	})
	for _, l := range lines {
		fmt.Println(l)
	}
}
