package fetcher

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/schema"
)

// BenchmarkBackfill backfills five simulator objects (TETHER_BENCH_RECORDS
// records in all, default 100,000) with the rate limit off, then COPYs the
// very same rows into the same (emptied) tables: the ceiling. It reports
// records/s of both, their ratio, and records per query request.
//
//	go test -run XXX -bench Backfill -benchtime 1x ./internal/fetcher/
func BenchmarkBackfill(b *testing.B) {
	total := 100000
	if v, err := strconv.Atoi(os.Getenv("TETHER_BENCH_RECORDS")); err == nil && v > 0 {
		total = v
	}
	per := total / len(defaultObjects)
	ctx := context.Background()
	var backfillSec, copySec float64
	var records, requests int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newSimEnv(b, per, nil)
		records = 0
		for _, o := range defaultObjects {
			records += len(e.srv.Records(o))
		}
		e.srv.ResetRequests()
		b.StartTimer()
		start := time.Now()
		stop := running(b, e.fetcher(nil))
		waitFor(b, 10*time.Minute, "backfill", e.backfilled(len(defaultObjects)))
		backfillSec += time.Since(start).Seconds()
		b.StopTimer()
		stop()
		requests = queryRequests(e.srv)

		// The ceiling: the same rows, already converted, COPYed into the
		// same tables after emptying them.
		type load struct {
			tb   *table
			rows [][]any
		}
		var loads []load
		for _, o := range defaultObjects {
			st, err := schema.LoadTable(ctx, e.pool, "salesforce", schema.TableName(o))
			if err != nil {
				b.Fatal(err)
			}
			tb, err := fromSchema(st)
			if err != nil {
				b.Fatal(err)
			}
			recs := e.srv.Records(o)
			rows := make([][]any, 0, len(recs))
			for _, r := range recs {
				row := make([]any, len(tb.Cols))
				for j, c := range tb.Cols {
					if row[j], err = c.Conv(r[c.Field]); err != nil {
						b.Fatal(err)
					}
				}
				rows = append(rows, row)
			}
			e.exec(b, "TRUNCATE "+tb.qualified())
			loads = append(loads, load{tb, rows})
		}
		start = time.Now()
		for _, l := range loads {
			err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
				_, err := tx.CopyFrom(ctx, pgx.Identifier{l.tb.Schema, l.tb.Name}, l.tb.colNames(), pgx.CopyFromRows(l.rows))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		copySec += time.Since(start).Seconds()
	}
	n := float64(b.N)
	bf := float64(records) * n / backfillSec
	cp := float64(records) * n / copySec
	b.ReportMetric(bf, "backfill_rec/s")
	b.ReportMetric(cp, "copy_rec/s")
	b.ReportMetric(bf/cp, "ratio")
	b.ReportMetric(float64(records)/float64(max(requests, 1)), "rec/request")
	fmt.Printf("backfill %d records: %.0f records/s into PostgreSQL; plain COPY of the same rows: %.0f records/s; ratio %.2f; %d query requests (%.0f records/request)\n",
		records, bf, cp, bf/cp, requests, float64(records)/float64(max(requests, 1)))
}
