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
	"github.com/tether-sync/tether/upstream"
)

// BenchmarkBackfill backfills five simulator objects (TETHER_BENCH_RECORDS
// records in all, default 100,000) with the rate limit off and reports:
//
//   - end-to-end: the fetcher's backfill from the simulator over HTTP into
//     PostgreSQL (the simulator, JSON and the client included), records/s;
//
//   - apply: the same pages, already read, applied the way the backfill
//     applies them (convert, COPY into a stage, merge, cursor update in one
//     guarded transaction per page), records/s;
//
//   - copy: a plain COPY of the same rows, already converted, into the same
//     (emptied) tables: the ceiling, records/s;
//
//   - ratio = apply / copy, and records per query request.
//
//     go test -run XXX -bench Backfill -benchtime 1x ./internal/fetcher/
func BenchmarkBackfill(b *testing.B) {
	total := 100000
	if v, err := strconv.Atoi(os.Getenv("TETHER_BENCH_RECORDS")); err == nil && v > 0 {
		total = v
	}
	per := total / len(defaultObjects)
	ctx := context.Background()
	var e2eSec, applySec, copySec, convSec float64
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
		e2eSec += time.Since(start).Seconds()
		b.StopTimer()
		stop()
		requests = queryRequests(e.srv)

		type load struct {
			tb    *table
			pages [][]upstream.Record
			rows  [][]any
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
			l := load{tb: tb}
			page, err := e.client.Read(ctx, upstream.ReadRequest{Object: o, Fields: tb.fields(), PageSize: DefaultPageSize})
			for err == nil {
				l.pages = append(l.pages, page.Records)
				rows, warns := convertRecords(tb, page.Records)
				if len(warns) > 0 {
					b.Fatal(warns)
				}
				l.rows = append(l.rows, rows...)
				if page.Next == "" {
					break
				}
				page, err = e.client.ReadNext(ctx, o, page.Next)
			}
			if err != nil {
				b.Fatal(err)
			}
			loads = append(loads, l)
		}

		convStart := time.Now()
		for _, l := range loads {
			for _, recs := range l.pages {
				convertRecords(l.tb, recs)
			}
		}
		convSec += time.Since(convStart).Seconds()

		// Apply only: the same pages, as the backfill applies them.
		for _, l := range loads {
			e.exec(b, "TRUNCATE "+l.tb.qualified())
		}
		start = time.Now()
		for _, l := range loads {
			for _, recs := range l.pages {
				err := e.guard.Tx(ctx, func(tx pgx.Tx) error {
					if _, err := upsertRecords(ctx, tx, l.tb, recs, true); err != nil {
						return err
					}
					return saveState(ctx, tx, l.tb, tableState{Backfill: stateRunning, Total: int64(records)})
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		applySec += time.Since(start).Seconds()

		// The ceiling: a plain COPY of the same rows into the emptied tables.
		for _, l := range loads {
			e.exec(b, "TRUNCATE "+l.tb.qualified())
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
	n := float64(b.N) * float64(records)
	e2e, apply, cp := n/e2eSec, n/applySec, n/copySec
	perReq := float64(records) / float64(max(requests, 1))
	b.ReportMetric(e2e, "e2e_rec/s")
	b.ReportMetric(apply, "apply_rec/s")
	b.ReportMetric(cp, "copy_rec/s")
	b.ReportMetric(apply/cp, "apply/copy")
	b.ReportMetric(perReq, "rec/request")
	b.ReportMetric(n/convSec, "convert_rec/s")
	fmt.Printf("backfill of %d records (rate limit off):\n"+
		"  end to end (simulator, HTTP, JSON, PostgreSQL): %8.0f records/s\n"+
		"  applied into PostgreSQL (pages already read):    %8.0f records/s\n"+
		"  plain COPY of the same rows (ceiling):           %8.0f records/s\n"+
		"  ratio apply/COPY: %.2f   query requests: %d (%.0f records/request)\n",
		records, e2e, apply, cp, apply/cp, requests, perReq)
}
