package replication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
)

// CaptureConfig configures a Capture.
type CaptureConfig struct {
	Config
	// DSN of the database (a normal connection string; capture adds
	// replication=database for its streaming connection).
	DSN     string
	Logger  zerolog.Logger
	Health  health.Reporter  // nil: health.Nop
	Metrics *metrics.Metrics // may be nil
	// Heartbeat: when capture has written nothing for this long it emits a
	// tiny non-transactional logical message, so the slot always has a recent
	// position to confirm. 0 means one minute; negative disables it.
	Heartbeat time.Duration
	// ChunkRows bounds the rows held in memory per batch (default 5000).
	ChunkRows int
}

// Capture streams the application's changes to synced tables from the slot
// into _sync_write_log, exactly once and in commit order.
//
// Echo suppression: transactions that tether itself wrote are dropped. On
// PostgreSQL 16 and later, pgoutput is asked for origin 'none' and never sends
// them; on 15 every transaction whose Origin message names cfg.Origin is
// dropped. For a role that may not use replication origins, EchoGuard in
// message mode starts each of tether's transactions with a transactional
// pg_logical_emit_message(true, cfg.Origin, 'echo'); a transaction carrying
// that marker is dropped likewise (pgoutput's messages option is on).
type Capture struct {
	cfg      CaptureConfig
	log      zerolog.Logger
	health   health.Reporter
	onCommit func(rows int, commitTimes []time.Time) // test hook: after each local commit
	// startAtSlot (tests) starts streaming at the slot's confirmed position
	// instead of the checkpoint, so the server sends again what the log has.
	startAtSlot bool
}

// NewCapture prepares a capture; Run starts it.
func NewCapture(cfg CaptureConfig) *Capture {
	cfg.Config = cfg.Config.withDefaults()
	if cfg.Health == nil {
		cfg.Health = health.Nop{}
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Minute
	}
	if cfg.ChunkRows <= 0 {
		cfg.ChunkRows = defaultChunkRows
	}
	return &Capture{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("component", "capture").Str("slot", cfg.Slot).Logger(),
		health: cfg.Health,
	}
}

// Run captures until ctx is done, reconnecting with backoff when the
// connection or PostgreSQL drops. A dropped or invalidated slot is reported
// (health tether_intervention, an error log line) and checked again
// periodically, never recreated. Run returns nil when ctx is done.
func (c *Capture) Run(ctx context.Context) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0
	var failingSince time.Time
	for {
		streamed, err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if streamed {
			bo.Reset()
			failingSince = time.Time{}
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		wait := bo.NextBackOff()
		var slotErr *SlotError
		switch {
		case errors.As(err, &slotErr):
			c.log.Error().Err(err).Msg("capture stopped: replication slot needs an operator")
			c.health.Report(ctx, health.Capture, health.TetherIntervention, slotErr.Error())
			wait = 30 * time.Second
		case isSlotInUse(err):
			c.log.Warn().Err(err).Msg("replication slot busy, retrying")
			if time.Since(failingSince) > time.Minute {
				c.health.Report(ctx, health.Capture, health.TetherIntervention, fmt.Sprintf("replication slot %q has been in use by another session for over a minute: is another tether running?", c.cfg.Slot))
			}
		default:
			c.log.Warn().Err(err).Dur("retry_in", wait).Msg("capture interrupted, reconnecting")
			if time.Since(failingSince) > 30*time.Second {
				c.health.Report(ctx, health.Capture, health.TetherIntervention, "capture cannot stream changes: "+err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// session runs one replication connection from the stored checkpoint. It
// reports whether streaming started.
func (c *Capture) session(ctx context.Context) (bool, error) {
	local, err := pgx.Connect(ctx, c.cfg.DSN)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer local.Close(context.Background())

	var checkpoint pglogrepl.LSN
	var ck string
	err = local.QueryRow(ctx, "SELECT lsn::text FROM "+c.cfg.qualified("_sync_capture_checkpoint")+" WHERE slot_name = $1", c.cfg.Slot).Scan(&ck)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("read checkpoint: %w", err)
	default:
		if checkpoint, err = pglogrepl.ParseLSN(ck); err != nil {
			return false, fmt.Errorf("parse checkpoint %q: %w", ck, err)
		}
	}
	st, err := slotState(ctx, local, c.cfg.Slot)
	if err != nil {
		return false, err
	}
	if !st.exists {
		return false, errSlotMissing(c.cfg.Slot, nil)
	}
	if st.walStatus == "lost" {
		return false, errSlotInvalidated(c.cfg.Slot)
	}

	rcfg, err := pgconn.ParseConfig(c.cfg.DSN)
	if err != nil {
		return false, fmt.Errorf("parse DSN: %w", err)
	}
	rcfg.RuntimeParams["replication"] = "database"
	rcfg.RuntimeParams["DateStyle"] = "ISO"
	rcfg.RuntimeParams["TimeZone"] = "UTC"
	rcfg.RuntimeParams["extra_float_digits"] = "3"
	if rcfg.RuntimeParams["application_name"] == "" {
		rcfg.RuntimeParams["application_name"] = "tether-capture"
	}
	repl, err := pgconn.ConnectConfig(ctx, rcfg)
	if err != nil {
		return false, fmt.Errorf("connect for replication: %w", err)
	}
	defer repl.Close(context.Background())

	timeout, err := walSenderTimeout(ctx, repl)
	if err != nil {
		return false, err
	}
	statusEvery := 10 * time.Second
	if timeout > 0 && timeout*3/4 < statusEvery {
		statusEvery = timeout * 3 / 4
	}
	if statusEvery < 100*time.Millisecond {
		statusEvery = 100 * time.Millisecond
	}

	args := []string{
		"proto_version '1'",
		"publication_names " + quoteLiteral(pgx.Identifier{c.cfg.Publication}.Sanitize()),
		"messages 'true'",
	}
	if v := serverMajor(repl); v >= 16 {
		args = append(args, "origin 'none'")
	}
	startAt := checkpoint
	if c.startAtSlot {
		startAt = 0
	}
	if err := pglogrepl.StartReplication(ctx, repl, pgx.Identifier{c.cfg.Slot}.Sanitize(), startAt,
		pglogrepl.StartReplicationOptions{PluginArgs: args}); err != nil {
		return false, classifyStartError(c.cfg.Slot, fmt.Errorf("start replication: %w", err))
	}
	c.log.Info().Str("checkpoint", checkpoint.String()).Dur("status_every", statusEvery).Msg("streaming changes")
	c.health.Report(ctx, health.Capture, health.Healthy, "streaming from slot "+c.cfg.Slot)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var flushed atomic.Uint64
	var inflight atomic.Int64
	flushed.Store(uint64(checkpoint))
	k := newSink(local, c.cfg.Config, c.log, c.cfg.Metrics, &flushed, &inflight)
	if c.cfg.Heartbeat > 0 {
		k.heartbeat = c.cfg.Heartbeat
	}
	k.onCommit = c.onCommit
	batches := make(chan *batch, 1)
	sinkDone := make(chan struct{})
	var sinkErr error
	go func() {
		defer close(sinkDone)
		sinkErr = k.run(ctx, batches)
	}()
	s := &stream{
		conn: repl, cfg: c.cfg.Config, log: c.log, metrics: c.cfg.Metrics, enc: newValueEncoder(),
		rels: map[uint32]*relation{}, out: batches, sinkDone: sinkDone, free: k.free,
		flushed: &flushed, inflight: &inflight, checkpoint: checkpoint,
		chunkRows: c.cfg.ChunkRows, chunkBytes: defaultChunkBytes, statusEvery: statusEvery,
		lastSent: checkpoint,
	}
	err = s.run(ctx)
	cancel()
	<-sinkDone
	if sinkErr != nil && !errors.Is(sinkErr, context.Canceled) {
		err = fmt.Errorf("write log: %w", sinkErr)
	}
	if ctx.Err() == nil || !repl.IsClosed() {
		// Best effort: tell the server what is durably stored before leaving.
		_ = s.sendStatus(false)
	}
	return true, err
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func serverMajor(conn *pgconn.PgConn) int {
	v := conn.ParameterStatus("server_version")
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// walSenderTimeout reads the server's wal_sender_timeout: capture must answer
// well within it or the server drops the connection.
func walSenderTimeout(ctx context.Context, conn *pgconn.PgConn) (time.Duration, error) {
	res, err := conn.Exec(ctx, "SHOW wal_sender_timeout").ReadAll()
	if err != nil {
		return 0, fmt.Errorf("show wal_sender_timeout: %w", err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 || len(res[0].Rows[0]) == 0 {
		return 0, errors.New("show wal_sender_timeout: no value")
	}
	return parsePGDuration(string(res[0].Rows[0][0]))
}

// parsePGDuration parses a time GUC as SHOW prints it ("60s", "1min", "500ms", "0").
func parsePGDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '-' })
	num, unit := s, "ms"
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("parse duration %q: unknown unit %q", s, unit)
	}
	return time.Duration(n) * u, nil
}
