// Package fetcher brings an upstream provider's records into PostgreSQL:
// first a backfill of every record of every synced object, page by page and
// resumable, then incremental polling by (modification stamp, id) cursor,
// with soft deletes from the read itself and hard deletes from the provider's
// deleted-records feed. Tables take turns (one request per turn), so every
// table makes progress under the shared rate limiter, which lives inside the
// provider.
//
// Every write runs through replication.EchoGuard (guarantee 2: capture drops
// tether's own writes), applies a whole page in bulk (COPY into a temporary
// stage, then one merge statement), and leaves alone the columns that unsent
// local changes in _sync_write_log touch (guarantee 3). The page and the
// table's cursor are committed in one transaction, so a restart goes on from
// the last committed page.
//
// What users see (and the README may quote):
//
//   - Backfill: every record in pages of PageSize (2000), applied page by
//     page; _sync_tables holds the cursor and progress (backfill_done of
//     backfill_total, the total from a count at the start). After a restart
//     the backfill goes on after the last committed page.
//   - Polling: once backfilled, each table is read from its (stamp, id)
//     cursor every PollInterval, including soft-deleted records (which delete
//     the row). Each poll re-reads the last Overlap (1 s) before the cursor,
//     so a record changed later in the cursor's second is not missed;
//     unchanged rows are not rewritten.
//   - Hard deletes: read every DeletedInterval from the provider's
//     deleted-records feed and applied. When tether was away longer than the
//     provider keeps deletes, the table is resynced: backfilled again, then
//     rows the resync did not see are removed (rows tether never applied,
//     i.e. local inserts, are kept).
//   - Local changes (guarantee 3): columns that new/pending _sync_write_log
//     entries of a row change keep their local values; a row deleted locally
//     is not brought back while its delete is unsent. A delete upstream wins
//     over unsent local updates (the writer then records them as failed).
//   - New fields: described again every DescribeInterval (10 min); a new
//     field becomes a new column and the table is read again from the start
//     so that existing rows get its values.
//   - Health per table: healthy; customer_intervention when the object
//     cannot be described or read (unknown, no permission);
//     tether_intervention for database faults or reads that keep failing.
//
// Nothing here assumes Salesforce: only upstream.Provider.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

// Defaults for zero Config fields.
const (
	DefaultPageSize         = 2000
	DefaultPollInterval     = 10 * time.Second
	DefaultDeletedInterval  = time.Minute
	DefaultDescribeInterval = 10 * time.Minute
	DefaultOverlap          = time.Second
	// deletedMargin is how far before the stored point a deleted-records read
	// starts, so that clock differences and coarse provider windows lose nothing.
	deletedMargin = time.Minute
	// permanentRetry is how long a table waits after a permanent error
	// (unknown object, missing permission) before it is tried again.
	permanentRetry = 5 * time.Minute
	// missedRetry is how often objects that could not be prepared are
	// described again.
	missedRetry = time.Minute
	maxBackoff  = time.Minute
)

// Config configures a Fetcher.
type Config struct {
	Schema       string   // PostgreSQL schema of the synced tables ("salesforce")
	Objects      []string // provider object names to sync
	PollInterval time.Duration
	PageSize     int // records per read request (hint to the provider); 0: 2000

	// DeletedInterval is how often each table asks for hard deletes; 0:
	// the larger of PollInterval and one minute.
	DeletedInterval time.Duration
	// DescribeInterval is how often objects are described again so new
	// fields become columns; 0: ten minutes, negative: never.
	DescribeInterval time.Duration
	// Overlap is how far before its cursor each poll starts reading again, so
	// that a record changed later within the cursor's stamp second (with a
	// smaller id) is not missed; unchanged re-read rows are not rewritten.
	// 0: one second; negative: no overlap.
	Overlap time.Duration

	// NoReadAhead turns off reading a table's next backfill page while the
	// current one is applied (it never adds requests, only overlaps them).
	NoReadAhead bool

	// Now is the provider's clock, used as the end of deleted-records reads
	// (providers report a delete only once its minute has passed on their
	// clock); nil: time.Now. Tests pass the simulator's clock.
	Now func() time.Time

	// OnNewTable, if set, is called for each table Run prepares for the first
	// time (an object that could not be described at Prepare, or Run without
	// Prepare), before it is synced, e.g. to add it to the publication. An
	// error leaves the table out until the next attempt.
	OnNewTable func(ctx context.Context, t *schema.Table) error

	Provider upstream.Provider
	Pool     *pgxpool.Pool
	Guard    *replication.EchoGuard
	Health   health.Reporter
	Metrics  *metrics.Metrics
	Logger   zerolog.Logger
}

// Fetcher runs the backfill and the polling of all synced tables.
type Fetcher struct {
	cfg Config
	log zerolog.Logger

	missedRetry time.Duration  // how often objects not prepared yet are tried again
	wg          sync.WaitGroup // reads ahead in flight
	mu          sync.Mutex
	runs        []*tableRun // in Objects order
	missed      []string    // objects that could not be prepared yet
}

// tableRun is one table's in-memory scheduling state; everything that must
// survive a restart is in _sync_tables.
type tableRun struct {
	t            *table
	next         string    // token of the read in progress ("" if none)
	exact        bool      // the next fresh read starts at the cursor itself (no overlap)
	dueAt        time.Time // next turn not before
	deletedDueAt time.Time // next deleted-records read not before
	failures     int       // consecutive failed turns
	lastOK       time.Time
	lastHealth   health.Status
	lastHealthAt time.Time

	// A backfill page read ahead while the previous one is applied.
	ahead      chan readResult
	aheadToken string
}

type readResult struct {
	page *upstream.Page
	err  error
}

// readAhead starts reading the page of token in the background; wg lets
// Run wait for it before returning.
func (r *tableRun) readAhead(ctx context.Context, wg *sync.WaitGroup, p upstream.Provider, token string) {
	ch := make(chan readResult, 1)
	r.ahead, r.aheadToken = ch, token
	object := r.t.Object
	wg.Add(1)
	go func() {
		defer wg.Done()
		page, err := p.ReadNext(ctx, object, token)
		ch <- readResult{page, err}
	}()
}

// readNext returns the page of token, from the read-ahead if it has it.
func (r *tableRun) readNext(ctx context.Context, p upstream.Provider, token string) (*upstream.Page, error) {
	ch, ok := r.ahead, r.aheadToken == token
	r.ahead, r.aheadToken = nil, ""
	if ch == nil || !ok {
		return p.ReadNext(ctx, r.t.Object, token)
	}
	select {
	case res := <-ch:
		return res.page, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// New returns a Fetcher; call Prepare (or Run, which prepares) next.
func New(cfg Config) *Fetcher {
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.DeletedInterval <= 0 {
		cfg.DeletedInterval = DefaultDeletedInterval
		if cfg.PollInterval > cfg.DeletedInterval {
			cfg.DeletedInterval = cfg.PollInterval
		}
	}
	if cfg.DescribeInterval == 0 {
		cfg.DescribeInterval = DefaultDescribeInterval
	}
	if cfg.Overlap == 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.Health == nil {
		cfg.Health = health.Nop{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Fetcher{cfg: cfg, log: cfg.Logger.With().Str("component", "fetcher").Logger(), missedRetry: missedRetry}
}

// Run backfills and then polls every prepared table until ctx is done. It
// prepares the tables first if Prepare has not been called. It returns nil
// when ctx ends; errors of single tables are reported through Health and
// retried, never returned.
func (f *Fetcher) Run(ctx context.Context) error {
	defer f.wg.Wait()
	f.mu.Lock()
	prepared := f.runs != nil || f.missed != nil
	f.mu.Unlock()
	if !prepared {
		if _, err := f.prepare(ctx, false, true); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	nextDescribe := time.Now().Add(f.cfg.DescribeInterval)
	nextMissed := time.Now().Add(f.missedRetry)
	for {
		if ctx.Err() != nil {
			return nil
		}
		f.mu.Lock()
		missing := len(f.missed) > 0
		f.mu.Unlock()
		switch {
		case f.cfg.DescribeInterval > 0 && time.Now().After(nextDescribe):
			if _, err := f.prepare(ctx, false, true); err != nil && ctx.Err() == nil {
				f.log.Error().Err(err).Msg("describe again")
			}
			nextDescribe = time.Now().Add(f.cfg.DescribeInterval)
			nextMissed = time.Now().Add(f.missedRetry)
		case missing && time.Now().After(nextMissed):
			// Objects that could not be described yet (a network fault at
			// start, a permission granted since) are tried more often.
			if _, err := f.prepare(ctx, true, true); err != nil && ctx.Err() == nil {
				f.log.Error().Err(err).Msg("describe objects not prepared yet")
			}
			nextMissed = time.Now().Add(f.missedRetry)
		}
		f.mu.Lock()
		runs := append([]*tableRun(nil), f.runs...)
		missing = len(f.missed) > 0
		f.mu.Unlock()
		worked := false
		for _, r := range runs {
			if ctx.Err() != nil {
				return nil
			}
			if time.Now().Before(r.dueAt) {
				continue
			}
			worked = true
			f.turnAndReport(ctx, r)
		}
		if worked {
			continue
		}
		wait := f.cfg.PollInterval
		now := time.Now()
		for _, r := range runs {
			if d := r.dueAt.Sub(now); d < wait {
				wait = d
			}
		}
		if f.cfg.DescribeInterval > 0 {
			if d := nextDescribe.Sub(now); d < wait {
				wait = d
			}
		}
		if d := nextMissed.Sub(now); missing && d < wait {
			wait = d
		}
		if wait < 10*time.Millisecond {
			wait = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// turnAndReport runs one turn of r and turns its outcome into scheduling and
// health.
func (f *Fetcher) turnAndReport(ctx context.Context, r *tableRun) {
	msg, err := f.turn(ctx, r)
	if err == nil {
		r.failures = 0
		r.lastOK = time.Now()
		f.report(ctx, r, health.Healthy, msg)
		return
	}
	if ctx.Err() != nil {
		return
	}
	r.failures++
	r.next, r.ahead = "", nil
	r.exact = true
	log := f.log.With().Str("table", r.t.Name).Int("failures", r.failures).Logger()
	var uerr *upstream.Error
	switch {
	case errors.As(err, &uerr) && uerr.Class == upstream.Permanent:
		r.dueAt = time.Now().Add(permanentRetry)
		log.Error().Err(err).Msg("table cannot be read; retrying later")
		f.report(ctx, r, health.CustomerIntervention, "cannot read "+r.t.Object+": "+err.Error())
	case errors.As(err, &uerr):
		// Transient, Auth, Quota: the provider reports the credential's and the
		// API's health itself; wait and try again.
		r.dueAt = time.Now().Add(backoff(r.failures))
		log.Warn().Err(err).Msg("read failed; retrying")
		if uerr.Class == upstream.Transient && r.failures >= 5 {
			f.report(ctx, r, health.TetherIntervention, "reads keep failing: "+err.Error())
		}
	default:
		r.dueAt = time.Now().Add(backoff(r.failures))
		log.Error().Err(err).Msg("fetch failed; retrying")
		f.report(ctx, r, health.TetherIntervention, err.Error())
	}
}

func backoff(failures int) time.Duration {
	d := time.Second << min(failures-1, 10)
	return min(d, maxBackoff)
}

// report sends a table's health, at most every 10 s unless the status changes.
func (f *Fetcher) report(ctx context.Context, r *tableRun, st health.Status, msg string) {
	if st == r.lastHealth && time.Since(r.lastHealthAt) < 10*time.Second {
		return
	}
	r.lastHealth, r.lastHealthAt = st, time.Now()
	f.cfg.Health.Report(ctx, health.Table(r.t.Name), st, msg)
}

// turn does one request's worth of work for one table: a backfill page, a
// poll page, or a deleted-records read. It returns a health message.
func (f *Fetcher) turn(ctx context.Context, r *tableRun) (string, error) {
	st, err := f.state(ctx, r.t)
	if err != nil {
		return "", err
	}
	switch st.Backfill {
	case stateDone:
		return f.pollTurn(ctx, r, st)
	default:
		return f.backfillTurn(ctx, r, st)
	}
}

func (f *Fetcher) state(ctx context.Context, t *table) (tableState, error) {
	var st tableState
	err := f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if st, err = loadState(ctx, tx, t); err != nil {
			return err
		}
		// `tether resync` leaves a request; taking it here, in the same
		// transaction as the state, means no turn in flight can undo it.
		tag, err := tx.Exec(ctx, "DELETE FROM "+t.sys("_sync_state")+" WHERE key = $1", ResyncKey(t.Name))
		if err != nil {
			return fmt.Errorf("read resync request of %s: %w", t.Name, err)
		}
		if tag.RowsAffected() > 0 {
			st = tableState{Backfill: statePending, Total: -1, ResyncCount: st.ResyncCount + 1, LastChange: st.LastChange}
			f.log.Info().Str("table", t.Name).Msg("resync requested: reading every record again")
			return saveState(ctx, tx, t, st)
		}
		return nil
	})
	return st, err
}

// ResyncKey is the _sync_state key of a request to read table again from the
// start (`tether resync`); the fetcher takes it at its next turn of the table.
func ResyncKey(table string) string { return "resync:" + table }

// backfillTurn reads and applies one backfill page.
func (f *Fetcher) backfillTurn(ctx context.Context, r *tableRun, st tableState) (string, error) {
	t := r.t
	if st.Backfill == statePending {
		total, err := f.cfg.Provider.Count(ctx, t.Object)
		if err != nil {
			return "", fmt.Errorf("count %s: %w", t.Object, err)
		}
		st.Backfill, st.Total = stateRunning, total
		if st.Cursor.IsZero() {
			st.Done = 0
		}
		err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
			if st.Cursor.IsZero() {
				// The backfill's start: deletes after it come from the
				// deleted-records feed, rows it does not see are swept at its end.
				if err := tx.QueryRow(ctx, "SELECT now()").Scan(&st.DeletedUntil); err != nil {
					return err
				}
			}
			return saveState(ctx, tx, t, st)
		})
		if err != nil {
			return "", err
		}
		r.next = ""
		f.log.Info().Str("table", t.Name).Int64("total", total).Bool("resume", !st.Cursor.IsZero()).Msg("backfill started")
		f.cfg.Metrics.Backfill(t.Name, st.Done, st.Total)
	}
	var page *upstream.Page
	var err error
	readStart := time.Now()
	if r.next != "" {
		page, err = r.readNext(ctx, f.cfg.Provider, r.next)
		if err != nil && upstream.ClassOf(err) == upstream.Permanent {
			// The provider's cursor may have expired: start again from the
			// last committed page.
			f.log.Warn().Err(err).Str("table", t.Name).Msg("continuing the read failed; reading again from the cursor")
			r.next = ""
		}
	}
	if r.next == "" {
		page, err = f.cfg.Provider.Read(ctx, upstream.ReadRequest{
			Object: t.Object, Fields: t.fields(), After: st.Cursor, PageSize: f.cfg.PageSize,
		})
	}
	if err != nil {
		return "", fmt.Errorf("backfill %s: %w", t.Object, err)
	}
	last := page.Next == ""
	var res applyResult
	var swept int64
	applyStart := time.Now()
	err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = upsertRecords(ctx, tx, t, page.Records, true); err != nil {
			return err
		}
		next := st
		next.Done += int64(len(page.Records))
		if !page.Last.IsZero() && st.Cursor.After(page.Last.Stamp, page.Last.ID) {
			next.Cursor = page.Last
			next.LastChange = page.Last.Stamp
		}
		if last {
			next.Backfill = stateDone
			if !next.DeletedUntil.IsZero() {
				if swept, err = sweep(ctx, tx, t, next.DeletedUntil); err != nil {
					return err
				}
			}
		}
		if err := saveState(ctx, tx, t, next); err != nil {
			return err
		}
		st = next
		return nil
	})
	if err != nil {
		return "", err
	}
	r.next = page.Next
	if r.next != "" && !f.cfg.NoReadAhead {
		r.readAhead(ctx, &f.wg, f.cfg.Provider, r.next)
	}
	f.log.Debug().Str("table", t.Name).Int("records", len(page.Records)).Dur("read", applyStart.Sub(readStart)).
		Dur("apply", time.Since(applyStart)).Msg("backfill page applied")
	f.warn(t, res.Warnings)
	f.cfg.Metrics.Fetched(t.Name, len(page.Records), 0)
	f.cfg.Metrics.Backfill(t.Name, st.Done, st.Total)
	if last {
		r.dueAt = time.Now()
		r.deletedDueAt = time.Time{}
		f.log.Info().Str("table", t.Name).Int64("records", st.Done).Int64("swept", swept).Msg("backfill done")
		return "in sync", nil
	}
	return fmt.Sprintf("backfilling: %d of %d records", st.Done, st.Total), nil
}

// pollTurn does one request of incremental polling: the deleted-records read
// when it is due, else one page of changed records.
func (f *Fetcher) pollTurn(ctx context.Context, r *tableRun, st tableState) (string, error) {
	t := r.t
	if r.next == "" && !t.noDeletes && !time.Now().Before(r.deletedDueAt) {
		return f.deletedTurn(ctx, r, st)
	}
	if r.next == "" {
		if msg, done, err := f.readAgainTurn(ctx, r); done || err != nil {
			return msg, err
		}
	}
	var page *upstream.Page
	var err error
	if r.next != "" {
		page, err = f.cfg.Provider.ReadNext(ctx, t.Object, r.next)
		if err != nil && upstream.ClassOf(err) == upstream.Permanent {
			f.log.Warn().Err(err).Str("table", t.Name).Msg("continuing the read failed; reading again from the cursor")
			r.next, r.exact = "", true
		}
	}
	if r.next == "" {
		after := st.Cursor
		if !r.exact && f.cfg.Overlap > 0 && !after.IsZero() {
			after = upstream.Cursor{Stamp: after.Stamp.Add(-f.cfg.Overlap)}
		}
		page, err = f.cfg.Provider.Read(ctx, upstream.ReadRequest{
			Object: t.Object, Fields: t.fields(), After: after, IncludeDeleted: true, PageSize: f.cfg.PageSize,
		})
	}
	if err != nil {
		return "", fmt.Errorf("poll %s: %w", t.Object, err)
	}
	live, gone := splitDeleted(page)
	var res applyResult
	err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = upsertRecords(ctx, tx, t, live, false); err != nil {
			return err
		}
		if res.Deleted, err = deleteIDs(ctx, tx, t, gone); err != nil {
			return err
		}
		next := st
		if !page.Last.IsZero() && next.Cursor.After(page.Last.Stamp, page.Last.ID) {
			next.Cursor = page.Last
			next.LastChange = page.Last.Stamp
		}
		if err := saveState(ctx, tx, t, next); err != nil {
			return err
		}
		st = next
		return nil
	})
	if err != nil {
		return "", err
	}
	f.warn(t, res.Warnings)
	changed := int(res.Updated + res.Inserted + res.Deleted)
	lag := 0.0
	if !r.lastOK.IsZero() {
		lag = time.Since(r.lastOK).Seconds()
	}
	f.cfg.Metrics.Fetched(t.Name, changed, lag)
	if changed > 0 {
		f.log.Debug().Str("table", t.Name).Int64("updated", res.Updated).Int64("inserted", res.Inserted).
			Int64("deleted", res.Deleted).Msg("applied changes")
	}
	r.next = page.Next
	if page.Next == "" {
		r.exact = false
		r.dueAt = time.Now().Add(f.cfg.PollInterval)
	}
	return "in sync", nil
}

// splitDeleted separates a page's live records from the ids of its
// soft-deleted ones.
func splitDeleted(page *upstream.Page) (live []upstream.Record, gone []string) {
	live = make([]upstream.Record, 0, len(page.Records))
	for i, rec := range page.Records {
		if i < len(page.Deleted) && page.Deleted[i] {
			gone = append(gone, rec.ID())
			continue
		}
		live = append(live, rec)
	}
	return live, gone
}

// readAgainTurn reads again, by id, records whose upstream values a fetch
// did not apply because unsent local changes protected those columns, once
// those changes are done: upstream may have changed them after our write, and
// its cursor has already moved past them. done reports whether it used this
// turn (it made a request).
func (f *Fetcher) readAgainTurn(ctx context.Context, r *tableRun) (msg string, done bool, err error) {
	t := r.t
	var ids []string
	err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		ids, err = readyToReadAgain(ctx, tx, t, upstream.MaxReadIDs)
		return err
	})
	if err != nil || len(ids) == 0 {
		return "", false, err
	}
	page, err := f.cfg.Provider.Read(ctx, upstream.ReadRequest{
		Object: t.Object, Fields: t.fields(), IDs: ids, IncludeDeleted: true, PageSize: f.cfg.PageSize,
	})
	if err != nil {
		return "", true, fmt.Errorf("read %d records of %s again: %w", len(ids), t.Object, err)
	}
	live, gone := splitDeleted(page)
	var res applyResult
	err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		// Forget first: if a new local change protects a column again, the
		// merge notes the record anew.
		if err := forgetReadAgain(ctx, tx, t, ids); err != nil {
			return err
		}
		var err error
		if res, err = upsertRecords(ctx, tx, t, live, false); err != nil {
			return err
		}
		res.Deleted, err = deleteIDs(ctx, tx, t, gone)
		return err
	})
	if err != nil {
		return "", true, err
	}
	f.warn(t, res.Warnings)
	f.log.Debug().Str("table", t.Name).Int("records", len(ids)).Int64("updated", res.Updated).
		Msg("read again records whose local changes are done")
	return "in sync", true, nil
}

// deletedTurn reads hard (and soft) deletes since the stored point and
// removes those rows. When the provider no longer has deletes that far back,
// the table is reset for a resync, which removes what it does not see again.
func (f *Fetcher) deletedTurn(ctx context.Context, r *tableRun, st tableState) (string, error) {
	t := r.t
	end := f.cfg.Now().UTC()
	if st.LastChange.After(end) {
		end = st.LastChange // the provider's clock is at least this late
	}
	start := st.DeletedUntil
	if start.IsZero() {
		start = end
	}
	start = start.Add(-deletedMargin)
	res, err := f.cfg.Provider.ReadDeleted(ctx, t.Object, start, end)
	if errors.Is(err, upstream.ErrWindowExpired) && time.Since(st.DeletedUntil) < 24*time.Hour {
		// Deletes from minutes ago cannot have expired: the provider's clock
		// and ours disagree. A resync would not help (it would expire again).
		// Polling goes on; deletes are tried again later.
		r.deletedDueAt = time.Now().Add(permanentRetry)
		f.log.Error().Err(err).Str("table", t.Name).Time("start", start).
			Msg("the provider refuses to list deletes since a recent moment; are its clock and ours far apart?")
		return "in sync, but hard deletes cannot be read: " + err.Error(), nil
	}
	if err != nil && !errors.Is(err, upstream.ErrWindowExpired) && upstream.ClassOf(err) == upstream.Permanent {
		// Some objects have no deleted-records feed; polling goes on.
		r.deletedDueAt = time.Now().Add(permanentRetry)
		f.log.Warn().Err(err).Str("table", t.Name).Msg("hard deletes cannot be read; trying again later")
		return "in sync, but hard deletes cannot be read: " + err.Error(), nil
	}
	if errors.Is(err, upstream.ErrWindowExpired) {
		f.log.Warn().Str("table", t.Name).Time("deleted_until", st.DeletedUntil).
			Msg("deletes since the last poll are no longer available; resyncing the table")
		err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
			next := tableState{Backfill: statePending, Total: -1, ResyncCount: st.ResyncCount + 1, LastChange: st.LastChange}
			return saveState(ctx, tx, t, next)
		})
		if err != nil {
			return "", err
		}
		r.next, r.exact = "", false
		r.dueAt = time.Now()
		return "resyncing: deletes older than the provider keeps were missed", nil
	}
	if err != nil {
		return "", fmt.Errorf("read deletes of %s: %w", t.Object, err)
	}
	ids := make([]string, 0, len(res.Records))
	for _, d := range res.Records {
		ids = append(ids, d.ID)
	}
	covered := res.LatestCovered
	if covered.IsZero() {
		covered = end
	}
	var n int64
	err = f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = deleteIDs(ctx, tx, t, ids); err != nil {
			return err
		}
		next := st
		if covered.After(next.DeletedUntil) {
			next.DeletedUntil = covered
		}
		return saveState(ctx, tx, t, next)
	})
	if err != nil {
		return "", err
	}
	if n > 0 {
		f.log.Debug().Str("table", t.Name).Int64("deleted", n).Msg("applied deletes")
		f.cfg.Metrics.Fetched(t.Name, int(n), 0)
	}
	r.deletedDueAt = time.Now().Add(f.cfg.DeletedInterval)
	return "in sync", nil
}

// warn logs values that could not be converted (never the values themselves).
func (f *Fetcher) warn(t *table, warns []string) {
	if len(warns) == 0 {
		return
	}
	f.log.Warn().Str("table", t.Name).Strs("problems", warns).Msg("some values could not be converted and were written as NULL")
}

// setTables installs prepared tables, keeping the scheduling state of
// tables already known.
func (f *Fetcher) setTables(ts []*table, missed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := map[string]*tableRun{}
	for _, r := range f.runs {
		old[r.t.Name] = r
	}
	runs := make([]*tableRun, 0, len(ts))
	for _, t := range ts {
		if r, ok := old[t.Name]; ok {
			r.t = t
			runs = append(runs, r)
			continue
		}
		runs = append(runs, &tableRun{t: t})
	}
	f.runs = runs
	f.missed = append([]string{}, missed...)
	sort.Strings(f.missed)
}
