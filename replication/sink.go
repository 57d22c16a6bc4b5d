package replication

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/metrics"
)

// batch is what the stream hands the sink: log rows in COPY text form and,
// when commit is set, the instruction to commit the local transaction with
// checkpoint end. A batch with commit set always closes at a transaction
// boundary; rows of a transaction too large to hold arrive in several batches
// without commit, all written into the same open local transaction.
type batch struct {
	data   []byte
	rows   int
	commit bool
	end    pglogrepl.LSN // checkpoint to store with the commit: the last transaction's end LSN
	abort  bool          // roll back the open local transaction (its rows turned out to be tether's own)
	// commitTimes are the commit timestamps of the whole transactions this batch completes.
	commitTimes []time.Time
}

// sink is the only place log rows and the checkpoint are written; this is
// the exactly-once half of capture. Rows and the checkpoint commit in one
// local transaction, and only after that commit does flushed (the position
// the stream may confirm to the server) advance.
type sink struct {
	conn     *pgx.Conn
	cfg      Config
	log      zerolog.Logger
	metrics  *metrics.Metrics
	flushed  *atomic.Uint64 // end LSN of the last committed batch; only the sink advances it
	inflight *atomic.Int64  // batches handed over and not yet applied
	free     chan []byte    // buffers handed back to the stream for reuse

	heartbeat time.Duration
	onCommit  func(rows int, commitTimes []time.Time)

	tx      pgx.Tx
	txRows  int
	copySQL string
	ckSQL   string
	last    time.Time

	busy    time.Duration
	batches int
}

func newSink(conn *pgx.Conn, cfg Config, log zerolog.Logger, m *metrics.Metrics, flushed *atomic.Uint64, inflight *atomic.Int64) *sink {
	return &sink{
		conn: conn, cfg: cfg, log: log, metrics: m, flushed: flushed, inflight: inflight,
		free: make(chan []byte, 4),
		copySQL: "COPY " + cfg.qualified("_sync_write_log") +
			` (table_name, action, api_id, row_id, state, record, "values", api_message, commit_lsn, commit_seq, committed_at) FROM STDIN`,
		ckSQL: "INSERT INTO " + cfg.qualified("_sync_capture_checkpoint") + ` AS c (slot_name, lsn) VALUES ($1, $2::pg_lsn)
			ON CONFLICT (slot_name) DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = now() WHERE c.lsn < EXCLUDED.lsn`,
		last: time.Now(),
	}
}

// run applies batches until in is closed, ctx is done or a write fails. An
// open local transaction is rolled back on the way out: its rows were never
// confirmed, so the server sends them again.
func (k *sink) run(ctx context.Context, in <-chan *batch) error {
	defer func() {
		k.log.Debug().Dur("busy", k.busy).Int("batches", k.batches).Msg("log writer stopped")
		if k.tx != nil {
			_ = k.tx.Rollback(context.Background())
		}
	}()
	var tick <-chan time.Time
	if k.heartbeat > 0 {
		t := time.NewTicker(k.heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				return nil
			}
			t0 := time.Now()
			err := k.apply(ctx, b)
			k.busy += time.Since(t0)
			k.batches++
			data := b.data
			k.inflight.Add(-1)
			if err != nil {
				return err
			}
			select {
			case k.free <- data[:0]:
			default:
			}
		case <-tick:
			if k.tx == nil && time.Since(k.last) >= k.heartbeat {
				// A heartbeat: a tiny WAL record in this database, so that a slot
				// whose tables are quiet still has a position to confirm.
				if _, err := k.conn.Exec(ctx, "SELECT pg_logical_emit_message(false, $1, '')", k.cfg.Origin+"_heartbeat"); err != nil {
					return fmt.Errorf("heartbeat: %w", err)
				}
				k.last = time.Now()
			}
		}
	}
}

func (k *sink) apply(ctx context.Context, b *batch) error {
	k.last = time.Now()
	if b.abort {
		if k.tx != nil {
			err := k.tx.Rollback(ctx)
			k.tx, k.txRows = nil, 0
			if err != nil {
				return fmt.Errorf("roll back dropped transaction: %w", err)
			}
		}
		return nil
	}
	if k.tx == nil {
		tx, err := k.conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin log transaction: %w", err)
		}
		k.tx = tx
	}
	if b.rows > 0 {
		tag, err := k.conn.PgConn().CopyFrom(ctx, bytes.NewReader(b.data), k.copySQL)
		if err != nil {
			return fmt.Errorf("write %d log rows: %w", b.rows, err)
		}
		if tag.RowsAffected() != int64(b.rows) {
			return fmt.Errorf("write log rows: wrote %d, meant %d", tag.RowsAffected(), b.rows)
		}
		k.txRows += b.rows
	}
	if !b.commit {
		return nil
	}
	tag, err := k.tx.Exec(ctx, k.ckSQL, k.cfg.Slot, b.end.String())
	if err != nil {
		return fmt.Errorf("store checkpoint %s: %w", b.end, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("store checkpoint %s: the stored checkpoint is already at or past it (a transaction was delivered twice)", b.end)
	}
	if err := k.tx.Commit(ctx); err != nil {
		k.tx = nil
		return fmt.Errorf("commit log rows up to %s: %w", b.end, err)
	}
	rows := k.txRows
	k.tx, k.txRows = nil, 0
	k.flushed.Store(uint64(b.end))
	k.metrics.Captured(rows)
	if k.onCommit != nil {
		k.onCommit(rows, b.commitTimes)
	}
	k.log.Debug().Int("rows", rows).Str("checkpoint", b.end.String()).Msg("log rows committed")
	return nil
}
