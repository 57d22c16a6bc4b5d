package replication

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-sync/tether/internal/pgtest"
)

// Benchmarks print figures; they never assert timings. Run:
//
//	go test -run '^$' -bench BenchmarkCapture -benchtime 1x ./replication/
//
// Throughput: a backlog of changes (20,000 transactions of 10 inserts) is
// drained by capture (commit to log row) and, for the ceiling, by
// pg_recvlogical on a twin slot (decode and discard), from the same WAL.
// Latency: commit-to-log-row p50/p99 at a steady 1,000 changes/s.
// LargeTx: peak resident memory (VmHWM) of a capture process that captures
// one transaction of 1,000,000 rows.

const benchWorkload = `DO $$
BEGIN
  FOR t IN 1..%d LOOP
    INSERT INTO salesforce.contact (first_name, last_name, email, amount, last_seen, active, n)
      SELECT 'First ' || g, 'Last ' || g, 'user' || g || '@example.com', g * 1.5, now(), g %% 2 = 0, t * 10 + g
      FROM generate_series(1, %d) g;
    COMMIT;
  END LOOP;
END $$`

func BenchmarkCaptureThroughput(b *testing.B) {
	const txs, perTx = 20000, 10
	const changes = txs * perTx
	for i := 0; i < b.N; i++ {
		d := newTestDB(b)
		ctx := context.Background()
		d.exec(b, "SELECT pg_create_logical_replication_slot('ceiling', 'pgoutput')")
		genStart := time.Now()
		d.exec(b, fmt.Sprintf(benchWorkload, txs, perTx))
		genDur := time.Since(genStart)
		var endLSN string
		must(b, d.pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN))

		// ceiling: pg_recvlogical decodes the same changes and throws them away
		bin := filepath.Join(pgtest.Shared(b).BinDir, "pg_recvlogical")
		rlStart := time.Now()
		out, err := exec.Command(bin, "-d", d.dsn, "--slot", "ceiling", "--start", "--endpos", endLSN,
			"-o", "proto_version=1", "-o", "publication_names=tether", "-f", "/dev/null", "--no-loop").CombinedOutput()
		if err != nil {
			b.Fatalf("pg_recvlogical: %v\n%s", err, out)
		}
		rlDur := time.Since(rlStart)

		capStart := time.Now()
		_, stop := d.startCapture(b, nil)
		d.waitLog(b, changes, 5*time.Minute)
		capDur := time.Since(capStart)
		stop()

		capRate := float64(changes) / capDur.Seconds()
		rlRate := float64(changes) / rlDur.Seconds()
		b.ReportMetric(capRate, "changes/s")
		b.ReportMetric(rlRate, "pg_recvlogical_changes/s")
		b.ReportMetric(capRate/rlRate, "ratio")
		fmt.Printf("\ncapture throughput (backlog of %d changes in %d transactions, generated in %s):\n", changes, txs, genDur.Round(time.Millisecond))
		fmt.Printf("  tether capture  %10.0f changes/s  (%s, decode + JSON + COPY into _sync_write_log + checkpoint)\n", capRate, capDur.Round(time.Millisecond))
		fmt.Printf("  pg_recvlogical  %10.0f changes/s  (%s, decode only, output discarded)\n", rlRate, rlDur.Round(time.Millisecond))
		fmt.Printf("  ratio           %10.2f\n", capRate/rlRate)
	}
}

func BenchmarkCaptureLatency(b *testing.B) {
	const rate = 1000
	dur := 10 * time.Second
	for i := 0; i < b.N; i++ {
		d := newTestDB(b)
		ctx := context.Background()
		var mu sync.Mutex
		var lat []time.Duration
		_, stop := d.startCapture(b, func(_ *CaptureConfig, c *Capture) {
			c.onCommit = func(_ int, commits []time.Time) {
				now := time.Now()
				mu.Lock()
				for _, ct := range commits {
					lat = append(lat, now.Sub(ct))
				}
				mu.Unlock()
			}
		})
		// warm up: the first change waits for the stream to start
		d.exec(b, "INSERT INTO salesforce.contact (n) VALUES (0)")
		d.waitLog(b, 1, 30*time.Second)
		mu.Lock()
		lat = nil
		mu.Unlock()

		n := int(dur.Seconds() * rate)
		start := time.Now()
		for k := 1; k <= n; k++ {
			if due := start.Add(time.Duration(k) * time.Second / rate); time.Until(due) > 0 {
				time.Sleep(time.Until(due))
			}
			if _, err := d.pool.Exec(ctx, "INSERT INTO salesforce.contact (first_name, email, n) VALUES ('Ada', 'ada@example.com', $1)", k); err != nil {
				b.Fatal(err)
			}
		}
		achieved := float64(n) / time.Since(start).Seconds()
		d.waitLog(b, n+1, time.Minute)
		stop()
		mu.Lock()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		mu.Unlock()
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		fmt.Printf("\ncommit-to-log latency at %.0f changes/s (one change per transaction, %d transactions):\n", achieved, len(lat))
		fmt.Printf("  p50 %s   p99 %s   max %s\n", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	}
}

func BenchmarkCaptureLargeTx(b *testing.B) {
	rows := 1000000
	if s := os.Getenv("TETHER_BENCH_LARGE_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	for i := 0; i < b.N; i++ {
		d := newTestDB(b)
		logPath := filepath.Join(b.TempDir(), "capture.log")
		p := startCaptureProcess(b, d.dsn, logPath)
		// let it start streaming before the big transaction
		d.exec(b, "INSERT INTO salesforce.contact (n) VALUES (0)")
		d.waitLog(b, 1, 30*time.Second)
		base := vmHWM(b, p.cmd.Process.Pid)
		d.exec(b, "SELECT pg_create_logical_replication_slot('ceiling', 'pgoutput')")
		start := time.Now()
		d.exec(b, `INSERT INTO salesforce.contact (first_name, last_name, email, amount, last_seen, active, n)
			SELECT 'First ' || g, 'Last ' || g, 'user' || g || '@example.com', g * 1.5, now(), g % 2 = 0, g FROM generate_series(1, $1::int) g`, rows)
		committed := time.Now()
		commitDur := committed.Sub(start)
		d.waitLog(b, rows+1, 10*time.Minute)
		capDur := time.Since(committed)
		peak := vmHWM(b, p.cmd.Process.Pid)
		p.kill()
		var endLSN string
		must(b, d.pool.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&endLSN))
		rlStart := time.Now()
		bin := filepath.Join(pgtest.Shared(b).BinDir, "pg_recvlogical")
		if out, err := exec.Command(bin, "-d", d.dsn, "--slot", "ceiling", "--start", "--endpos", endLSN,
			"-o", "proto_version=1", "-o", "publication_names=tether", "-f", "/dev/null", "--no-loop").CombinedOutput(); err != nil {
			b.Fatalf("pg_recvlogical: %v\n%s", err, out)
		}
		rlDur := time.Since(rlStart)
		capRate, rlRate := float64(rows)/capDur.Seconds(), float64(rows)/rlDur.Seconds()
		b.ReportMetric(float64(peak)/1024, "peak_rss_MiB")
		b.ReportMetric(capRate, "changes/s")
		b.ReportMetric(rlRate, "pg_recvlogical_changes/s")
		b.ReportMetric(capRate/rlRate, "ratio")
		fmt.Printf("\none transaction of %d rows (its commit took %s), from commit to the last log row:\n", rows, commitDur.Round(time.Millisecond))
		fmt.Printf("  tether capture  %10.0f changes/s  (%s)\n", capRate, capDur.Round(time.Millisecond))
		fmt.Printf("  pg_recvlogical  %10.0f changes/s  (%s, decode only, output discarded)\n", rlRate, rlDur.Round(time.Millisecond))
		fmt.Printf("  ratio           %10.2f\n", capRate/rlRate)
		fmt.Printf("  capture process peak RSS (VmHWM): %.1f MiB (%.1f MiB after start-up)\n", float64(peak)/1024, float64(base)/1024)
	}
}

// vmHWM reads a process's peak resident set size in KiB.
func vmHWM(b testing.TB, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	b.Fatal("no VmHWM")
	return 0
}
