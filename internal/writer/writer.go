// Package writer sends the application's captured changes (_sync_write_log
// rows in state new) to the upstream provider in batches and records each
// row's outcome.
//
// One loop owns the queue. Each cycle it reads the open log rows in id order,
// folds consecutive changes of one record into one change (Plan), claims them
// (state pending), sends one request per object and operation through the
// provider (which shares the rate limiter), and records every outcome in one
// transaction together with the ids of created records. Per record only the
// head of its open entries is ever in flight, so changes of one record reach
// the provider in commit order.
//
// Rows still pending when a cycle starts were sent by an earlier attempt
// whose answer was lost (a crash, a dropped connection): before sending such
// a create again, the writer asks the provider for a record created since
// with the same field values and adopts it instead of creating a duplicate.
package writer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

// Defaults.
const (
	DefaultBatchSize    = 200
	DefaultBatchWait    = time.Second
	DefaultRetryBase    = time.Second
	DefaultRetryMax     = 5 * time.Minute
	DefaultPollInterval = 200 * time.Millisecond
	DefaultFindSlack    = 2 * time.Minute
	DefaultSettle       = 10 * time.Second
)

// Config configures a Writer.
type Config struct {
	Schema    string        // PostgreSQL schema of the synced tables and _sync_write_log
	BatchSize int           // changes per batch (default 200)
	BatchWait time.Duration // how long to wait for a full batch (default 1 s)
	Provider  upstream.Provider
	Pool      *pgxpool.Pool
	// Guard runs the transaction that writes created ids back into synced
	// tables, so that capture does not log tether's own write. Required.
	Guard   *replication.EchoGuard
	Health  health.Reporter // nil: health.Nop
	Metrics *metrics.Metrics
	Logger  zerolog.Logger
	// RetryBase and RetryMax bound the exponential backoff after transient
	// errors and while paused (defaults 1 s and 5 min).
	RetryBase, RetryMax time.Duration
	// PollInterval is how often the log is checked for new rows (default 200 ms).
	PollInterval time.Duration
	// Window is how many open log rows one cycle reads (default max(5*BatchSize, 1000)).
	Window int
	// FindSlack widens the look-back of FindCreated for clock differences (default 2 min).
	FindSlack time.Duration
	// MaxAttempts fails a row after this many transient failures; 0 retries forever.
	MaxAttempts int
	// Settle is how long a create whose outcome is unknown rests before the
	// writer looks for it upstream, so that a request still being processed
	// there (sent just before a crash or a dropped connection) has finished
	// (default 10 s).
	Settle time.Duration
	// ShutdownGrace is how long a request already sent may take to finish
	// once shutdown began (default 8 s, below Settle, so that a tether taking
	// over does not look for creates that are still being answered).
	ShutdownGrace time.Duration
}

// Stats counts what the writer has sent since it started.
type Stats struct {
	Requests int64 // Write requests sent
	Records  int64 // records carried by those requests
	Finds    int64 // FindCreated lookups
}

// Writer is the write-back loop. Create it with New and start it with Run.
type Writer struct {
	cfg      Config
	log      zerolog.Logger
	logTable string // quoted schema._sync_write_log

	tables       map[string]*schema.Table
	tablesLoaded time.Time

	notBefore  map[RecordKey]time.Time // per-record backoff after a transient per-record failure
	failures   int                     // consecutive whole-request transient failures
	pauses     int                     // consecutive auth/quota pauses
	resumeAt   time.Time               // no sends before this (backoff or pause)
	quietUntil time.Time               // nothing sendable: wait for new rows or this moment
	seenMax    int64                   // highest log id read by the last cycle
	lastHealth health.Status

	mu    sync.Mutex
	stats Stats
}

// New returns a writer; Run starts it.
func New(cfg Config) *Writer {
	if cfg.Schema == "" {
		cfg.Schema = "salesforce"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = DefaultBatchWait
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.RetryMax < cfg.RetryBase {
		cfg.RetryMax = cfg.RetryBase
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Window <= 0 {
		cfg.Window = max(5*cfg.BatchSize, 1000)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 8 * time.Second
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.FindSlack <= 0 {
		cfg.FindSlack = DefaultFindSlack
	}
	if cfg.Health == nil {
		cfg.Health = health.Nop{}
	}
	return &Writer{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("component", "writer").Logger(),
		logTable:  schema.QuoteIdent(cfg.Schema) + "._sync_write_log",
		notBefore: map[RecordKey]time.Time{},
	}
}

// Stats returns what the writer has sent so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Run writes changes until ctx ends; it returns nil then. Database errors are
// logged, reported (health tether_intervention) and retried with backoff.
func (w *Writer) Run(ctx context.Context) error {
	if w.cfg.Provider == nil || w.cfg.Pool == nil || w.cfg.Guard == nil {
		return errors.New("writer: Provider, Pool and Guard are required")
	}
	w.log.Info().Int("batch_size", w.cfg.BatchSize).Dur("batch_wait", w.cfg.BatchWait).Msg("writer started")
	dbFailures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		ready, wait, err := w.ready(ctx)
		if err == nil && ready {
			// Wait for the write's turn at the rate limiter first, then gather
			// the batch: changes that arrive during the wait go in it too.
			cctx, giveBack := ctx, func() {}
			if r, ok := w.cfg.Provider.(upstream.WriteReserver); ok {
				cctx, giveBack, err = r.ReserveWrite(ctx)
			}
			if err == nil {
				err = w.cycle(cctx)
			}
			giveBack()
			wait = 0
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			dbFailures++
			w.log.Error().Err(err).Int("failures", dbFailures).Msg("write cycle failed")
			if dbFailures >= 3 {
				w.report(ctx, health.TetherIntervention, "write-back cycle failing: "+err.Error())
			}
			wait = w.backoff(dbFailures)
		} else if ready {
			if dbFailures > 0 && w.lastHealth == health.TetherIntervention {
				w.report(ctx, health.Healthy, "")
			}
			dbFailures = 0
		}
		if wait > 0 {
			if !sleep(ctx, wait) {
				return nil
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is the capped exponential delay before attempt n (n >= 1), with jitter.
func (w *Writer) backoff(n int) time.Duration {
	d := w.cfg.RetryBase
	for i := 1; i < n && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	if d > w.cfg.RetryMax {
		d = w.cfg.RetryMax
	}
	// ±20% jitter so that records failing together do not retry together forever
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	if j > w.cfg.RetryMax {
		j = w.cfg.RetryMax
	}
	return j
}

// ready reports whether a cycle should run now, or how long to wait before asking again.
func (w *Writer) ready(ctx context.Context) (bool, time.Duration, error) {
	now := time.Now()
	if now.Before(w.resumeAt) {
		return false, min(w.resumeAt.Sub(now), w.cfg.PollInterval*5), nil
	}
	if now.Before(w.quietUntil) {
		var fresh bool
		if err := w.cfg.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+w.logTable+
			` WHERE state IN ('new', 'pending') AND id > $1)`, w.seenMax).Scan(&fresh); err != nil {
			return false, 0, fmt.Errorf("poll write log: %w", err)
		}
		if !fresh {
			return false, min(w.quietUntil.Sub(now), w.cfg.PollInterval), nil
		}
		w.quietUntil = time.Time{}
	}
	var (
		n       int
		age     float64
		pending bool
	)
	err := w.cfg.Pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(updated_at)), 0)::float8,
		COALESCE(bool_or(state = 'pending'), false)
		FROM (SELECT state, updated_at FROM `+w.logTable+` WHERE state IN ('new', 'pending') ORDER BY id LIMIT $1) s`,
		w.cfg.BatchSize).Scan(&n, &age, &pending)
	if err != nil {
		return false, 0, fmt.Errorf("poll write log: %w", err)
	}
	if n == 0 {
		return false, w.cfg.PollInterval, nil
	}
	waited := time.Duration(age * float64(time.Second))
	if n >= w.cfg.BatchSize || pending || waited >= w.cfg.BatchWait {
		return true, 0, nil
	}
	return false, min(w.cfg.BatchWait-waited, w.cfg.PollInterval), nil
}

// prepared is one group on its way: the change to send and, once known, its outcome.
type prepared struct {
	g      *Group
	table  *schema.Table
	op     upstream.Op
	change upstream.Change
	note   string // fields not sent (read-only)

	decided bool   // the outcome below is final for this cycle
	sent    bool   // a request carried it
	state   State  // survivor's new state
	result  *int32 // api_result
	message string
	apiID   string
	folded  string // message for folded entries when state is succeeded/skipped

	recorded bool // the outcome is in the log
}

func (p *prepared) finish(s State, result int, message string) {
	p.decided, p.state, p.message = true, s, message
	if result != 0 {
		r := int32(result)
		p.result = &r
	} else {
		p.result = nil
	}
}

// cycle reads open rows, plans, sends and records one batch.
func (w *Writer) cycle(ctx context.Context) error {
	entries, err := w.loadOpen(ctx)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	now := time.Now()
	for k, t := range w.notBefore {
		if !now.Before(t) {
			delete(w.notBefore, k)
		}
	}
	var earliest time.Time
	groups := Plan(entries, func(k RecordKey) bool {
		t, ok := w.notBefore[k]
		if ok && (earliest.IsZero() || t.Before(earliest)) {
			earliest = t
		}
		return ok
	}, w.cfg.BatchSize)
	// A create whose outcome is unknown rests until an earlier request for it
	// can no longer be in progress upstream.
	kept := groups[:0]
	for _, g := range groups {
		if g.Uncertain && g.Kind == KindCreate && g.Head().Age < w.cfg.Settle {
			t := now.Add(w.cfg.Settle - g.Head().Age)
			w.notBefore[g.Key] = t
			if earliest.IsZero() || t.Before(earliest) {
				earliest = t
			}
			continue
		}
		kept = append(kept, g)
	}
	groups = kept
	if len(groups) == 0 {
		// everything waits for a backoff: sleep until the first one ends or new rows arrive
		w.quietUntil = earliest
		if w.quietUntil.IsZero() || w.quietUntil.Sub(now) > 5*time.Second {
			w.quietUntil = now.Add(5 * time.Second)
		}
		return nil
	}
	if err := w.loadTables(ctx, groups); err != nil {
		return err
	}
	preps := make([]*prepared, 0, len(groups))
	for _, g := range groups {
		preps = append(preps, w.prepare(g))
	}
	if err := w.resolveIDs(ctx, preps); err != nil {
		return err
	}
	preps = dedupeIDs(preps)
	if len(preps) == 0 {
		return nil
	}
	if err := w.claim(ctx, preps); err != nil {
		return err
	}
	// From here every claimed row must get its outcome recorded, even on shutdown.
	// Outcomes are recorded even when ctx ends meanwhile (shutdown).
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	stop := w.findCreated(ctx, preps)
	if stop == nil {
		stop = w.sendAll(ctx, fctx, preps)
	}
	if err := w.finalize(fctx, preps); err != nil {
		return err
	}
	if stop != nil && !errors.Is(stop, errStop) && ctx.Err() == nil {
		return stop
	}
	return nil
}

// errStop ends a cycle early (backoff or pause); unsent rows go back to new.
var errStop = errors.New("writer: stop sending this cycle")

// loadOpen reads the open log rows in id order.
func (w *Writer) loadOpen(ctx context.Context) ([]*Entry, error) {
	rows, err := w.cfg.Pool.Query(ctx, `SELECT id, table_name, action, COALESCE(api_id, ''), COALESCE(row_id, 0),
		state, record, "values", attempts, updated_at, EXTRACT(EPOCH FROM now() - updated_at)::float8
		FROM `+w.logTable+` WHERE state IN ('new', 'pending') ORDER BY id LIMIT $1`, w.cfg.Window)
	if err != nil {
		return nil, fmt.Errorf("read write log: %w", err)
	}
	defer rows.Close()
	var out []*Entry
	for rows.Next() {
		e := &Entry{}
		var state, action string
		var rec, vals []byte
		var age float64
		if err := rows.Scan(&e.ID, &e.Table, &action, &e.APIID, &e.RowID, &state, &rec, &vals, &e.Attempts, &e.UpdatedAt, &age); err != nil {
			return nil, fmt.Errorf("read write log: %w", err)
		}
		e.State, e.Action = State(state), Action(action)
		e.Age = time.Duration(age * float64(time.Second))
		var derr error
		if e.Record, derr = decodeJSON(rec); derr == nil {
			e.Values, derr = decodeJSON(vals)
		}
		if derr != nil {
			w.log.Error().Err(derr).Int64("log_id", e.ID).Msg("undecodable log row")
			e.Invalid = "cannot decode record/values: " + derr.Error()
		}
		out = append(out, e)
		if e.ID > w.seenMax {
			w.seenMax = e.ID
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read write log: %w", err)
	}
	return out, nil
}

// loadTables (re)reads the column mappings when a group's table is unknown or
// the mapping is older than a minute.
func (w *Writer) loadTables(ctx context.Context, groups []*Group) error {
	need := w.tables == nil || time.Since(w.tablesLoaded) > time.Minute
	for _, g := range groups {
		if _, ok := w.tables[g.Key.Table]; !ok {
			need = true
		}
	}
	if !need {
		return nil
	}
	ts, err := schema.LoadTables(ctx, w.cfg.Pool, w.cfg.Schema)
	if err != nil {
		return fmt.Errorf("load column mappings: %w", err)
	}
	w.tables = make(map[string]*schema.Table, len(ts))
	for _, t := range ts {
		w.tables[t.Name] = t
	}
	w.tablesLoaded = time.Now()
	return nil
}

// prepare maps a group's values to provider fields and decides the groups
// that need no request.
func (w *Writer) prepare(g *Group) *prepared {
	p := &prepared{g: g}
	switch g.Kind {
	case KindNone:
		p.finish(StateSkipped, 0, "insert then delete before sending: nothing to send")
		p.folded = p.message
		return p
	case KindCreate:
		p.op = upstream.OpCreate
	case KindUpdate:
		p.op = upstream.OpUpdate
	case KindDelete:
		p.op = upstream.OpDelete
	}
	t := w.tables[g.Key.Table]
	if t == nil {
		p.finish(StateFailed, 0, fmt.Sprintf("table %q has no column mapping in _sync_columns (not a synced table)", g.Key.Table))
		return p
	}
	p.table = t
	for _, e := range g.Entries {
		if e.Invalid != "" {
			p.finish(StateFailed, 0, fmt.Sprintf("log entry %d: %s", e.ID, e.Invalid))
			return p
		}
		if e.Action != ActionDelete && e.Values == nil {
			p.finish(StateFailed, 0, fmt.Sprintf("log entry %d has no values to send", e.ID))
			return p
		}
	}
	if p.op == upstream.OpDelete {
		return p
	}
	m, err := mapValues(t, p.op, g.Values)
	if err != nil {
		p.finish(StateFailed, 0, "cannot convert value: "+err.Error())
		return p
	}
	p.change.Fields = m.Fields
	p.note = m.readOnlyMessage()
	if p.op == upstream.OpUpdate && len(m.Fields) == 0 {
		if len(m.ReadOnly) > 0 {
			p.finish(StateFailed, 0, p.note)
		} else {
			p.finish(StateSkipped, 0, "no synced field changed: nothing to send")
		}
	}
	return p
}

// resolveIDs finds the upstream id of updates and deletes whose log rows do
// not carry it (the row was inserted by the application): the table's id
// column, else the api_id of the row's succeeded insert.
func (w *Writer) resolveIDs(ctx context.Context, preps []*prepared) error {
	missing := map[string][]*prepared{}
	for _, p := range preps {
		if p.decided || p.op == upstream.OpCreate {
			continue
		}
		if id := p.g.UpstreamID(); id != "" {
			p.change.ID = id
			continue
		}
		if p.g.Key.Row == 0 {
			continue
		}
		missing[p.g.Key.Table] = append(missing[p.g.Key.Table], p)
	}
	for table, ps := range missing {
		rowIDs := make([]int64, len(ps))
		for i, p := range ps {
			rowIDs[i] = p.g.Key.Row
		}
		// The row's id, else the id its succeeded insert recorded (the row
		// may be gone since).
		rows, err := w.cfg.Pool.Query(ctx, `SELECT r.row_id, coalesce(t.id, l.api_id, '')
			FROM unnest($2::bigint[]) AS r(row_id)
			LEFT JOIN `+ps[0].table.QualifiedName()+` t ON t._sync_row_id = r.row_id
			LEFT JOIN LATERAL (SELECT api_id FROM `+w.logTable+`
				WHERE table_name = $1 AND row_id = r.row_id AND action = 'insert' AND state = 'succeeded' AND api_id IS NOT NULL
				ORDER BY id DESC LIMIT 1) l ON true`, table, rowIDs)
		if err != nil {
			return fmt.Errorf("resolve ids in %s: %w", table, err)
		}
		found := map[int64]string{}
		var r int64
		var id string
		if _, err := pgx.ForEachRow(rows, []any{&r, &id}, func() error {
			found[r] = id
			return nil
		}); err != nil {
			return fmt.Errorf("resolve ids in %s: %w", table, err)
		}
		for _, p := range ps {
			p.change.ID = found[p.g.Key.Row]
		}
	}
	for _, p := range preps {
		if p.decided || p.op == upstream.OpCreate || p.change.ID != "" {
			continue
		}
		if p.op == upstream.OpDelete {
			p.finish(StateSkipped, 0, "the row was never created upstream: nothing to delete")
			p.folded = p.message
		} else {
			p.finish(StateFailed, 0, "the row has no upstream record (its insert did not succeed); requeue the insert together with this update")
		}
	}
	return nil
}

// dedupeIDs keeps one change per upstream record in a cycle (two local rows
// may carry the same id); the later ones wait for the next cycle.
func dedupeIDs(preps []*prepared) []*prepared {
	seen := map[string]bool{}
	out := preps[:0]
	for _, p := range preps {
		if !p.decided && p.change.ID != "" {
			k := p.table.Object + "/" + p.change.ID
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, p)
	}
	return out
}

// claim marks every entry of the planned groups pending.
func (w *Writer) claim(ctx context.Context, preps []*prepared) error {
	var ids []int64
	for _, p := range preps {
		for _, e := range p.g.Entries {
			if err := checkTransition(e.State, StatePending); err != nil {
				return err
			}
			ids = append(ids, e.ID)
		}
	}
	tag, err := w.cfg.Pool.Exec(ctx, `UPDATE `+w.logTable+` SET state = 'pending',
		updated_at = CASE WHEN state = 'new' THEN now() ELSE updated_at END
		WHERE id = ANY($1) AND state IN ('new', 'pending')`, ids)
	if err != nil {
		return fmt.Errorf("claim log rows: %w", err)
	}
	if tag.RowsAffected() != int64(len(ids)) {
		// someone changed rows under us (a user's SQL): give them back and plan again
		_, _ = w.cfg.Pool.Exec(ctx, `UPDATE `+w.logTable+` SET state = 'new' WHERE id = ANY($1) AND state = 'pending'
			AND id NOT IN (SELECT unnest($2::bigint[]))`, ids, uncertainIDs(preps))
		return fmt.Errorf("claim log rows: %d of %d rows were still open", tag.RowsAffected(), len(ids))
	}
	now := time.Now()
	for _, p := range preps {
		for _, e := range p.g.Entries {
			if e.State == StateNew {
				e.UpdatedAt = now
			}
		}
	}
	return nil
}

func uncertainIDs(preps []*prepared) []int64 {
	var out []int64
	for _, p := range preps {
		if p.g.Uncertain {
			for _, e := range p.g.Entries {
				out = append(out, e.ID)
			}
		}
	}
	return out
}

// sendAll sends the undecided groups, one request per object and operation
// (at most MaxBatch records each), and records each request's outcomes as
// soon as it is answered: while a row is pending the fetcher keeps its
// columns, so it must not stay pending longer than its write.
func (w *Writer) sendAll(ctx, fctx context.Context, preps []*prepared) error {
	type bucket struct {
		object string
		op     upstream.Op
		ps     []*prepared
	}
	var buckets []*bucket
	index := map[string]*bucket{}
	for _, p := range preps {
		if p.decided {
			continue
		}
		k := p.table.Object + "\x00" + string(p.op)
		b := index[k]
		if b == nil {
			b = &bucket{object: p.table.Object, op: p.op}
			index[k] = b
			buckets = append(buckets, b)
		}
		b.ps = append(b.ps, p)
	}
	maxBatch := 200
	if n := w.cfg.Provider.MaxBatch(); n > 0 && n < maxBatch {
		maxBatch = n
	}
	for _, b := range buckets {
		for i := 0; i < len(b.ps); i += maxBatch {
			chunk := b.ps[i:min(i+maxBatch, len(b.ps))]
			err := w.write(ctx, b.object, b.op, chunk)
			if ferr := w.finalize(fctx, chunk); ferr != nil {
				return ferr
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// write sends one request and records each record's outcome. A whole-request
// permanent error of several records is split in halves to find the culprit.
func (w *Writer) write(ctx context.Context, object string, op upstream.Op, ps []*prepared) error {
	changes := make([]upstream.Change, len(ps))
	for i, p := range ps {
		changes[i] = p.change
	}
	if ctx.Err() != nil {
		// Shutting down: start no new request; finalize returns these rows to new.
		return errStop
	}
	w.mu.Lock()
	w.stats.Requests++
	w.stats.Records += int64(len(ps))
	w.mu.Unlock()
	start := time.Now()
	// A request once started is allowed to finish on shutdown (for at most
	// ShutdownGrace), so that its outcome is recorded rather than unknown.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopWatch := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.cfg.ShutdownGrace, cancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	defer stopWatch()
	results, err := w.cfg.Provider.Write(wctx, object, op, changes)
	if err == nil && len(results) != len(ps) {
		err = &upstream.Error{Class: upstream.Transient, Message: fmt.Sprintf("provider answered %d results for %d changes", len(results), len(ps))}
	}
	for _, p := range ps {
		p.sent = true
	}
	if err != nil {
		w.log.Warn().Err(err).Str("object", object).Str("op", string(op)).Int("records", len(ps)).Msg("write request failed")
		if wctx.Err() != nil {
			// cut off by shutdown while sending: the request may have been applied
			for _, p := range ps {
				w.unknownOutcome(p, "interrupted by shutdown while sending")
			}
			return errStop
		}
		var ue *upstream.Error
		errors.As(err, &ue)
		switch upstream.ClassOf(err) {
		case upstream.Auth, upstream.Quota:
			for _, p := range ps {
				p.sent = false
				p.finish(StateNew, 0, "paused: "+err.Error())
			}
			w.pause(ctx, err)
			return errStop
		case upstream.Transient:
			w.failures++
			w.resumeAt = time.Now().Add(w.backoff(w.failures))
			status := 0
			if ue != nil {
				status = ue.Status
			}
			for _, p := range ps {
				if ue != nil && ue.Code == upstream.CodeUnknownOutcome {
					w.unknownOutcome(p, err.Error())
				} else {
					w.retry(p, status, "will retry: "+err.Error())
				}
			}
			return errStop
		default:
			if len(ps) > 1 {
				half := len(ps) / 2
				if err := w.write(ctx, object, op, ps[:half]); err != nil {
					return err
				}
				return w.write(ctx, object, op, ps[half:])
			}
			status := 400
			if ue != nil && ue.Status != 0 {
				status = ue.Status
			}
			msg := err.Error()
			if ue != nil && ue.Code != "" {
				msg = ue.Code + ": " + ue.Message
			}
			ps[0].finish(StateFailed, status, msg)
			return nil
		}
	}
	w.failures, w.pauses = 0, 0
	w.report(ctx, health.Healthy, "")
	w.log.Debug().Str("object", object).Str("op", string(op)).Int("records", len(ps)).Dur("took", time.Since(start)).Msg("wrote batch")
	for i, r := range results {
		w.apply(ps[i], op, r)
	}
	return nil
}

// apply records one record's result.
func (w *Writer) apply(p *prepared, op upstream.Op, r upstream.Result) {
	withNote := func(s string) string {
		if p.note == "" {
			return s
		}
		if s == "" {
			return p.note
		}
		return s + "; " + p.note
	}
	switch {
	case r.OK:
		status := r.Status
		if status == 0 {
			status = map[upstream.Op]int{upstream.OpCreate: 201, upstream.OpUpdate: 200, upstream.OpDelete: 204}[op]
		}
		p.finish(StateSucceeded, status, withNote(""))
		p.apiID = p.change.ID
		if op == upstream.OpCreate {
			p.apiID = r.ID
		}
	case r.Gone && op == upstream.OpDelete:
		p.finish(StateSucceeded, 204, "already deleted upstream: "+r.Message())
		p.apiID = p.change.ID
	case r.Transient:
		if w.cfg.MaxAttempts > 0 && p.g.Head().Attempts+1 >= w.cfg.MaxAttempts {
			p.finish(StateFailed, r.Status, fmt.Sprintf("gave up after %d attempts: %s", p.g.Head().Attempts+1, r.Message()))
			return
		}
		w.retry(p, r.Status, "will retry: "+r.Message())
	default:
		status := r.Status
		if status == 0 {
			status = 400
		}
		p.finish(StateFailed, status, withNote(r.Message()))
		p.apiID = p.change.ID
	}
}

// retry returns a group to new and holds its record back for a while.
func (w *Writer) retry(p *prepared, status int, message string) {
	p.finish(StateNew, status, message)
	w.notBefore[p.g.Key] = time.Now().Add(w.backoff(p.g.Head().Attempts + 1))
}

// unknownOutcome handles a request whose answer was lost: creates stay
// pending so that the next attempt looks for them first; updates and deletes
// are safe to send again.
func (w *Writer) unknownOutcome(p *prepared, message string) {
	if p.op == upstream.OpCreate {
		p.finish(StatePending, 0, "outcome unknown, will check before creating again: "+message)
		return
	}
	p.finish(StateNew, 0, "outcome unknown, will send again: "+message)
}

// pause stops sending after an auth or quota error until it may be gone.
func (w *Writer) pause(ctx context.Context, err error) {
	w.pauses++
	d := w.backoff(w.pauses)
	if d > time.Minute && w.cfg.RetryMax >= time.Minute {
		d = time.Minute
	}
	w.resumeAt = time.Now().Add(d)
	what := "the credential was refused"
	if upstream.ClassOf(err) == upstream.Quota {
		what = "the API limit is exhausted"
	}
	w.log.Warn().Err(err).Dur("retry_in", d).Msg("writes paused: " + what)
	w.report(ctx, health.CustomerIntervention, "writes paused, "+what+": "+err.Error())
}

func (w *Writer) report(ctx context.Context, s health.Status, msg string) {
	if s == health.Healthy && w.lastHealth == health.Healthy {
		return
	}
	w.lastHealth = s
	w.cfg.Health.Report(ctx, health.Writer, s, msg)
}

// rowUpdate is one log row's new state.
type rowUpdate struct {
	id      int64
	state   State
	result  *int32
	message *string
	apiID   string
	sent    int32
}

// finalize records the outcome of every claimed row, and the ids of created
// records in their rows, in one transaction that capture ignores.
func (w *Writer) finalize(ctx context.Context, preps []*prepared) error {
	var ups []rowUpdate
	type idWrite struct {
		rowIDs []int64
		ids    []string
	}
	idWrites := map[*schema.Table]*idWrite{}
	counts := map[State]int{}
	var todo []*prepared
	for _, p := range preps {
		if !p.recorded {
			todo = append(todo, p)
		}
	}
	preps = todo
	for _, p := range preps {
		if !p.decided {
			// claimed but not sent this cycle (an earlier request stopped the cycle)
			if p.g.Uncertain {
				p.decided, p.state = true, StatePending
			} else {
				p.finish(StateNew, 0, "")
				p.message = ""
			}
		}
		sent := int32(0)
		if p.sent {
			sent = 1
		}
		msg := func(s string) *string {
			if s == "" {
				return nil
			}
			return &s
		}
		for _, e := range p.g.Entries {
			u := rowUpdate{id: e.ID, state: p.state, result: p.result, apiID: p.apiID, sent: sent, message: msg(p.message)}
			if e != p.g.Survivor {
				switch p.state {
				case StateSucceeded:
					u.state, u.result = StateSkipped, nil
					if p.folded != "" {
						u.message = msg(p.folded)
					} else if p.g.Survivor.Action == ActionDelete && e.Action == ActionUpdate {
						u.message = msg(fmt.Sprintf("superseded by the delete in log entry %d", p.g.Survivor.ID))
					} else {
						u.message = msg(fmt.Sprintf("merged into log entry %d", p.g.Survivor.ID))
					}
				case StateSkipped:
					if p.folded == "" {
						u.message = msg(fmt.Sprintf("merged into log entry %d: %s", p.g.Survivor.ID, p.message))
					}
				case StateFailed:
					u.message = msg(fmt.Sprintf("merged into log entry %d: %s", p.g.Survivor.ID, p.message))
				}
			}
			if err := checkTransition(StatePending, u.state); err != nil {
				return err
			}
			counts[u.state]++
			ups = append(ups, u)
		}
		if p.state == StateSucceeded && p.op == upstream.OpCreate && p.apiID != "" && p.g.Key.Row != 0 {
			iw := idWrites[p.table]
			if iw == nil {
				iw = &idWrite{}
				idWrites[p.table] = iw
			}
			iw.rowIDs = append(iw.rowIDs, p.g.Key.Row)
			iw.ids = append(iw.ids, p.apiID)
		}
	}
	if len(ups) == 0 {
		return nil
	}
	ids := make([]int64, len(ups))
	states := make([]string, len(ups))
	results := make([]*int32, len(ups))
	messages := make([]*string, len(ups))
	keep := make([]bool, len(ups))
	apiIDs := make([]string, len(ups))
	sent := make([]int32, len(ups))
	for i, u := range ups {
		ids[i], states[i], results[i], messages[i], apiIDs[i], sent[i] = u.id, string(u.state), u.result, u.message, u.apiID, u.sent
		keep[i] = (u.state == StatePending || u.state == StateNew) && u.message == nil
	}
	apply := func(tx pgx.Tx) error {
		for t, iw := range idWrites {
			if err := w.writeIDs(ctx, tx, t, iw.rowIDs, iw.ids, ids); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE `+w.logTable+` AS l SET state = v.state,
			api_result = CASE WHEN v.keep THEN l.api_result ELSE v.result END,
			api_message = CASE WHEN v.keep THEN l.api_message ELSE v.message END,
			api_id = COALESCE(NULLIF(v.api_id, ''), l.api_id),
			attempts = l.attempts + v.sent,
			updated_at = CASE WHEN v.state = 'pending' THEN l.updated_at ELSE now() END
			FROM unnest($1::bigint[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::int4[], $7::bool[])
			  AS v(id, state, result, message, api_id, sent, keep)
			WHERE l.id = v.id AND l.state = 'pending'`, ids, states, results, messages, apiIDs, sent, keep)
		if err != nil {
			return fmt.Errorf("record outcomes: %w", err)
		}
		if tag.RowsAffected() != int64(len(ids)) {
			w.log.Warn().Int64("updated", tag.RowsAffected()).Int("expected", len(ids)).Msg("some log rows changed state while being written")
		}
		return nil
	}
	var err error
	if len(idWrites) > 0 {
		err = w.cfg.Guard.Tx(ctx, apply)
	} else {
		err = pgx.BeginFunc(ctx, w.cfg.Pool, apply)
	}
	if err != nil {
		return err
	}
	for _, p := range preps {
		p.recorded = true
	}
	for s, n := range counts {
		switch s {
		case StateNew:
			w.cfg.Metrics.Wrote("retried", n)
		case StatePending:
			w.cfg.Metrics.Wrote("unknown", n)
		default:
			w.cfg.Metrics.Wrote(string(s), n)
		}
	}
	w.logOutcomes(preps)
	return nil
}

func (w *Writer) logOutcomes(preps []*prepared) {
	// Provider messages may quote field values: log ids only; the messages
	// are in the log table.
	var ids []int64
	n := 0
	for _, p := range preps {
		if p.state == StateFailed {
			n++
			if len(ids) < 10 {
				ids = append(ids, p.g.Survivor.ID)
			}
		}
	}
	if n > 0 {
		w.log.Warn().Int("failed", n).Ints64("log_ids", ids).
			Msg("changes refused; see api_result and api_message in _sync_write_log")
	}
}
