package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/fetcher"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// mutation is one kind of change both sides make, per object.
type mutation struct {
	object string
	table  string
	// create returns new field values (by API name) for a create
	create func(r *rand.Rand, n int) map[string]any
	// update returns changed field values for an update
	update func(r *rand.Rand, n int) map[string]any
}

var workload = []mutation{
	{object: "Account", table: "account",
		create: func(r *rand.Rand, n int) map[string]any {
			return map[string]any{"Name": fmt.Sprintf("Acct %d", n), "NumberOfEmployees": r.IntN(5000), "Industry": pick(r, "Energy", "Banking", "Retail")}
		},
		update: func(r *rand.Rand, n int) map[string]any {
			switch r.IntN(3) {
			case 0:
				return map[string]any{"Description": fmt.Sprintf("desc %d", n)}
			case 1:
				return map[string]any{"NumberOfEmployees": r.IntN(5000), "BillingCity": pick(r, "Paris", "Lima", nil)}
			}
			return map[string]any{"Industry": pick(r, "Energy", "Banking", nil), "Description": nil}
		}},
	{object: "Contact", table: "contact",
		create: func(r *rand.Rand, n int) map[string]any {
			return map[string]any{"LastName": fmt.Sprintf("Last%d", n), "FirstName": pick(r, "Ada", "Alan", nil), "Birthdate": fmt.Sprintf("19%02d-0%d-1%d", r.IntN(99), 1+r.IntN(9), r.IntN(10))}
		},
		update: func(r *rand.Rand, n int) map[string]any {
			switch r.IntN(3) {
			case 0:
				return map[string]any{"Title": fmt.Sprintf("title %d", n)}
			case 1:
				return map[string]any{"Email": fmt.Sprintf("c%d@example.com", n), "Department": pick(r, "R&D", nil)}
			}
			return map[string]any{"Birthdate": fmt.Sprintf("20%02d-1%d-0%d", r.IntN(20), r.IntN(3), 1+r.IntN(9)), "Title": nil}
		}},
	{object: "Opportunity", table: "opportunity",
		create: func(r *rand.Rand, n int) map[string]any {
			return map[string]any{"Name": fmt.Sprintf("Opp %d", n), "StageName": "Prospecting", "CloseDate": "2025-06-30",
				"Amount": fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100)), "IsPrivate": r.IntN(2) == 0}
		},
		update: func(r *rand.Rand, n int) map[string]any {
			switch r.IntN(3) {
			case 0:
				return map[string]any{"Amount": fmt.Sprintf("%d.%d", r.IntN(100000), r.IntN(10)), "Probability": r.IntN(100)}
			case 1:
				return map[string]any{"Description": fmt.Sprintf("opp desc %d", n), "IsPrivate": r.IntN(2) == 0}
			}
			return map[string]any{"CloseDate": fmt.Sprintf("2026-0%d-1%d", 1+r.IntN(9), r.IntN(10)), "NextStep": pick(r, "call", nil)}
		}},
}

func pick(r *rand.Rand, vs ...any) any { return vs[r.IntN(len(vs))] }

// sqlValue converts a workload value for a column (json.Number-free plain Go).
func sqlValue(v any) any {
	if s, ok := v.(string); ok {
		if _, err := strconv.ParseFloat(s, 64); err == nil && strings.Contains(s, ".") {
			return s // numeric literal as text: PostgreSQL casts it
		}
	}
	return v
}

// appChange makes one application change with plain SQL (a random table and
// row); it returns false when the chosen row vanished in the meantime.
func (s *simEnv) appChange(ctx context.Context, r *rand.Rand, n int) (bool, error) {
	m := workload[r.IntN(len(workload))]
	t := s.tables[m.table]
	op := r.IntN(20)
	switch {
	case op < 6: // insert
		vals := m.create(r, n)
		cols, ph, args := []string{}, []string{}, []any{}
		for f, v := range vals {
			cols = append(cols, schema.QuoteIdent(t.ColumnForField(f).Name))
			args = append(args, sqlValue(v))
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		_, err := s.pool.Exec(ctx, `INSERT INTO `+t.QualifiedName()+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(ph, ", ")+`)`, args...)
		return err == nil, err
	default: // update (or delete) of a random row, with or without an id yet
		var row int64
		err := s.pool.QueryRow(ctx, `SELECT _sync_row_id FROM `+t.QualifiedName()+` TABLESAMPLE SYSTEM_ROWS(20) ORDER BY random() LIMIT 1`).Scan(&row)
		if err != nil {
			err = s.pool.QueryRow(ctx, `SELECT _sync_row_id FROM `+t.QualifiedName()+` ORDER BY random() LIMIT 1`).Scan(&row)
		}
		if err == pgx.ErrNoRows {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if op >= 18 {
			tag, err := s.pool.Exec(ctx, `DELETE FROM `+t.QualifiedName()+` WHERE _sync_row_id = $1`, row)
			return err == nil && tag.RowsAffected() == 1, err
		}
		vals := m.update(r, n)
		sets, diffs, args := []string{}, []string{}, []any{}
		for f, v := range vals {
			args = append(args, sqlValue(v))
			c := schema.QuoteIdent(t.ColumnForField(f).Name)
			sets = append(sets, fmt.Sprintf("%s = $%d", c, len(args)))
			diffs = append(diffs, fmt.Sprintf("%s IS DISTINCT FROM $%d", c, len(args)))
		}
		args = append(args, row)
		// a no-op update is not a change (capture logs nothing for it)
		tag, err := s.pool.Exec(ctx, `UPDATE `+t.QualifiedName()+` SET `+strings.Join(sets, ", ")+
			fmt.Sprintf(` WHERE _sync_row_id = $%d AND (%s)`, len(args), strings.Join(diffs, " OR ")), args...)
		return err == nil && tag.RowsAffected() == 1, err
	}
}

// otherChange makes one change as another Salesforce user.
func otherChange(srv *sim.Server, r *rand.Rand, n int, ids map[string][]string) error {
	m := workload[r.IntN(len(workload))]
	op := r.IntN(40)
	list := ids[m.object]
	if op < 12 || len(list) == 0 {
		vals := m.create(r, 1_000_000+n)
		for k, v := range vals {
			if s, ok := v.(string); ok && k == "Amount" {
				vals[k] = json.Number(s)
			}
		}
		id, err := srv.Create(m.object, vals)
		if err == nil {
			ids[m.object] = append(list, id)
		}
		return err
	}
	i := r.IntN(len(list))
	id := list[i]
	if op >= 38 {
		ids[m.object] = append(list[:i], list[i+1:]...)
		if err := srv.Delete(m.object, id); err != nil && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "ENTITY_IS_DELETED") {
			return err
		}
		return nil
	}
	vals := m.update(r, 1_000_000+n)
	for k, v := range vals {
		if s, ok := v.(string); ok && (k == "Amount") {
			vals[k] = json.Number(s)
		}
	}
	if err := srv.Update(m.object, id, vals); err != nil {
		// deleted by the application meanwhile
		ids[m.object] = append(list[:i], list[i+1:]...)
	}
	return nil
}

// normValue renders a value of a kind the same way for both sides.
func normValue(k upstream.Kind, v any) string {
	if v == nil {
		return "<nil>"
	}
	switch k {
	case upstream.KindTextArray:
		switch x := v.(type) {
		case []any:
			parts := []string{}
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			if len(parts) == 0 {
				return "<nil>"
			}
			return strings.Join(parts, ";")
		case string:
			if x == "" {
				return "<nil>"
			}
			return x
		}
	case upstream.KindBool:
		return fmt.Sprint(v)
	case upstream.KindInt, upstream.KindBigInt, upstream.KindDecimal:
		f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
		if err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	case upstream.KindDate:
		s := fmt.Sprint(v)
		if len(s) >= 10 {
			return s[:10]
		}
		return s
	case upstream.KindTimestamp:
		s := fmt.Sprint(v)
		for _, l := range []string{"2006-01-02T15:04:05.000Z0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07"} {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
			}
		}
		return s
	case upstream.KindJSON:
		return "json" // compound values are compared through their components
	}
	s := fmt.Sprint(v)
	if s == "" {
		return "<nil>"
	}
	return s
}

// diff compares every row of the synced tables with the simulator's live
// records, field by field; it returns the differences (at most a few).
func (s *simEnv) diff(ctx context.Context) ([]string, error) {
	var out []string
	add := func(f string, a ...any) {
		if len(out) < 12 {
			out = append(out, fmt.Sprintf(f, a...))
		}
	}
	for _, m := range workload {
		t := s.tables[m.table]
		recs := map[string]map[string]any{}
		for _, r := range s.srv.Records(m.object) {
			recs[str(r["Id"])] = r
		}
		rows, err := s.pool.Query(ctx, `SELECT to_jsonb(t) FROM `+t.QualifiedName()+` t`)
		if err != nil {
			return nil, err
		}
		seen := 0
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return nil, err
			}
			row, _ := decodeJSON(b)
			id, _ := row["id"].(string)
			rec, ok := recs[id]
			if !ok {
				add("%s row %v (id %q) has no live record", m.table, row["_sync_row_id"], id)
				continue
			}
			seen++
			for _, c := range t.SyncedColumns() {
				a, b := normValue(c.Kind, row[c.Name]), normValue(c.Kind, rec[c.Field])
				if a != b {
					add("%s %s.%s: table %s, simulator %s", m.table, id, c.Field, a, b)
				}
			}
		}
		rows.Close()
		if seen != len(recs) {
			add("%s: %d rows match records, the simulator has %d live records", m.table, seen, len(recs))
		}
	}
	return out, nil
}

// Convergence: the application and other Salesforce users change
// overlapping records at the same time; afterwards the tables and the
// simulator hold the same data, and the log has exactly the application's
// changes (nothing tether wrote itself).
func TestConvergence(t *testing.T) {
	n := 1000
	if os.Getenv("TETHER_CHAOS") == "1" {
		n = 10000
	}
	s := newSimEnv(t, simOptions{capture: true})
	for _, o := range []string{"Account", "Contact", "Opportunity"} {
		if err := s.srv.SeedObject(o, 300); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(s.ctx, `CREATE EXTENSION IF NOT EXISTS tsm_system_rows`); err != nil {
		t.Logf("tsm_system_rows: %v (falling back to ORDER BY random())", err)
	}
	quiet := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	f := fetcher.New(fetcher.Config{Schema: testSchema, Objects: s.objects, PollInterval: 100 * time.Millisecond,
		DeletedInterval: time.Second, Now: s.srv.Now, Provider: s.client, Pool: s.pool, Guard: s.guard, Logger: quiet})
	if _, err := f.Prepare(s.ctx); err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithCancel(s.ctx)
	fdone := make(chan struct{})
	go func() { defer close(fdone); _ = f.Run(fctx) }()
	var stopOnce sync.Once
	stopFetcher := func() { stopOnce.Do(func() { fcancel(); <-fdone }) }
	t.Cleanup(stopFetcher)
	// wait for the backfill
	deadline := time.Now().Add(60 * time.Second)
	for str(s.scalar(`SELECT count(*) FROM salesforce._sync_tables WHERE backfill_state <> 'done'`)) != "0" {
		if time.Now().After(deadline) {
			t.Fatal("backfill did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	w, _ := s.startWriter(Config{Provider: s.client, BatchWait: 200 * time.Millisecond})

	start := time.Now()
	var wg sync.WaitGroup
	var appChanges int
	var appErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; appChanges < n; i++ {
			ok, err := s.appChange(s.ctx, r, i)
			if err != nil {
				appErr = err
				return
			}
			if ok {
				appChanges++
			}
		}
	}()
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		ids := map[string][]string{}
		for _, o := range []string{"Account", "Contact", "Opportunity"} {
			for _, rec := range s.srv.Records(o) {
				ids[o] = append(ids[o], str(rec["Id"]))
			}
		}
		for i := 0; i < n; i++ {
			if i%200 == 0 { // pick up the application's new records too
				for _, o := range []string{"Account", "Contact", "Opportunity"} {
					ids[o] = ids[o][:0]
					for _, rec := range s.srv.Records(o) {
						ids[o] = append(ids[o], str(rec["Id"]))
					}
				}
			}
			if err := otherChange(s.srv, r, i, ids); err != nil {
				t.Errorf("other user: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	if appErr != nil {
		t.Fatal(appErr)
	}
	t.Logf("%d application and %d other-user changes made in %s", appChanges, n, time.Since(start).Round(time.Millisecond))
	s.waitLogged(appChanges)
	s.waitDone(5 * time.Minute)
	var d []string
	var err error
	deadline = time.Now().Add(90 * time.Second)
	for {
		s.waitDone(time.Minute)
		d, err = s.diff(s.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, x := range d {
		t.Error(x)
	}
	if len(d) > 0 {
		s.dumpHistory(d)
	}
	var logged int
	_ = s.pool.QueryRow(s.ctx, `SELECT count(*) FROM salesforce._sync_write_log`).Scan(&logged)
	if logged != appChanges {
		t.Errorf("%d log rows for %d application changes: tether's own writes must not be logged", logged, appChanges)
	}
	states := map[string]int{}
	rows, _ := s.pool.Query(s.ctx, `SELECT state, count(*) FROM salesforce._sync_write_log GROUP BY state`)
	for rows.Next() {
		var st string
		var c int
		_ = rows.Scan(&st, &c)
		states[st] = c
	}
	rows.Close()
	keys := []string{}
	for k, v := range states {
		keys = append(keys, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(keys)
	st := w.Stats()
	t.Logf("converged in %s; log states %v; writer %d requests, %d records (%.1f per request)", time.Since(start).Round(time.Millisecond),
		keys, st.Requests, st.Records, float64(st.Records)/float64(max(st.Requests, 1)))
	// the comparison itself can fail: a row changed behind everyone's back shows up
	stopFetcher()
	// (the fetcher was stopped mid-transaction: its origin session may take a moment to end)
	for try := 0; ; try++ {
		err := s.guard.Tx(s.ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(s.ctx, `UPDATE salesforce.contact SET title = 'tampered' WHERE _sync_row_id = (SELECT min(_sync_row_id) FROM salesforce.contact)`)
			return err
		})
		if err == nil {
			break
		}
		if try == 50 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d, _ := s.diff(s.ctx); len(d) != 1 || !strings.Contains(d[0], "Title: table tampered") {
		t.Errorf("the comparison missed a tampered row: %v", d)
	}
	// failures may only be updates of records another user deleted
	frows, _ := s.pool.Query(s.ctx, `SELECT action, coalesce(api_message, '') FROM salesforce._sync_write_log WHERE state = 'failed'`)
	for frows.Next() {
		var a, m string
		_ = frows.Scan(&a, &m)
		if a != "update" || !(strings.Contains(m, "ENTITY_IS_DELETED") || strings.Contains(m, "NOT_FOUND") || strings.Contains(m, "no upstream record")) {
			t.Errorf("unexpected failure: %s %s", a, m)
		}
	}
	frows.Close()
}

// dumpHistory logs the write-log rows of the records named in diffs, to
// tell a write-back problem from a fetch problem.
func (s *simEnv) dumpHistory(diffs []string) {
	for _, d := range diffs {
		parts := strings.Fields(d)
		if len(parts) < 2 {
			continue
		}
		table, id := parts[0], strings.SplitN(parts[1], ".", 2)[0]
		rows, err := s.pool.Query(s.ctx, `SELECT l.id, l.action, l.state, coalesce(l.api_message, ''), coalesce(l."values"::text, ''),
			l.committed_at, l.updated_at FROM salesforce._sync_write_log l
			WHERE l.table_name = $1 AND (l.api_id = $2 OR l.row_id = (SELECT _sync_row_id FROM `+s.tables[table].QualifiedName()+` WHERE id = $2)) ORDER BY l.id`, table, id)
		if err != nil {
			s.t.Logf("history of %s: %v", id, err)
			continue
		}
		for rows.Next() {
			var lid int64
			var action, state, msg, vals string
			var committed, updated time.Time
			_ = rows.Scan(&lid, &action, &state, &msg, &vals, &committed, &updated)
			s.t.Logf("  %s %s log %d %s %s %q values %s committed %s done %s", table, id, lid, action, state, msg, vals,
				committed.Format("15:04:05.000"), updated.Format("15:04:05.000"))
		}
		rows.Close()
		if r, ok := s.srv.Get(s.tables[table].Object, id); ok {
			s.t.Logf("  simulator: SystemModstamp %v LastModifiedById %v", r["SystemModstamp"], r["LastModifiedById"])
		}
	}
}
