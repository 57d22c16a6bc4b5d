// Package leader elects one active tether per database with a PostgreSQL
// session advisory lock, so several replicas may run (e.g. a Deployment with
// 2 replicas): one holds the lease and runs the sync loops, the others wait.
//
// The lock lives on a dedicated connection. PostgreSQL releases it when that
// session ends, so a crashed or partitioned leader loses it without anyone's
// help; the lease pings its connection every CheckInterval and closes Lost()
// when the ping fails. A leader must stop working when Lost() closes. There
// is a window of at most CheckInterval + PingTimeout in which a terminated
// leader has not yet noticed; everything tether writes is idempotent
// (exactly-once capture is keyed by commit LSN, fetches are upserts), which
// keeps that window harmless.
//
// Usage:
//
//	lease, err := leader.Acquire(ctx, cfg.DatabaseURL, "tether:"+cfg.Schema+":"+cfg.Slot) // blocks until leader
//	if err != nil { return err }
//	defer lease.Release()
//	runCtx, stop := context.WithCancel(ctx)
//	go func() { <-lease.Lost(); stop() }() // lost the lock: stop the loops
package leader

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// Options tune Acquire; zero values take the defaults.
type Options struct {
	// PollInterval is how often a waiting process tries the lock (default 1 s).
	PollInterval time.Duration
	// CheckInterval is how often the leader pings its connection (default 1 s).
	CheckInterval time.Duration
	// PingTimeout bounds one ping (default 3 s).
	PingTimeout time.Duration
	// Logger receives waiting/acquired/lost messages (default: none).
	Logger *zerolog.Logger
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 3 * time.Second
	}
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = &nop
	}
	return o
}

// LockID is the 64-bit advisory lock id for key (FNV-1a of "tether.leader:"+key).
func LockID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("tether.leader:" + key))
	return int64(h.Sum64())
}

// Lease is a held leader lock.
type Lease struct {
	key  string
	id   int64
	pid  uint32
	conn *pgx.Conn
	opts Options
	log  zerolog.Logger

	lost     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	err      error
	released bool
}

// Acquire blocks until this process holds the lock for key, trying every
// second on a dedicated connection. It returns ctx's error if ctx ends first,
// and the connection error if the very first connection fails (a wrong DSN
// should not wait forever); later connection failures while waiting are
// retried.
func Acquire(ctx context.Context, dsn, key string) (*Lease, error) {
	return AcquireWith(ctx, dsn, key, Options{})
}

// AcquireWith is Acquire with options.
func AcquireWith(ctx context.Context, dsn, key string, opts Options) (*Lease, error) {
	opts = opts.withDefaults()
	log := opts.Logger.With().Str("component", "leader").Logger()
	id := LockID(key)
	var conn *pgx.Conn
	first := true
	waiting := false
	for {
		if conn == nil {
			c, err := connect(ctx, dsn)
			if err != nil {
				if first || ctx.Err() != nil {
					return nil, fmt.Errorf("leader: connect: %w", err)
				}
				log.Warn().Err(err).Msg("leader lock connection failed; retrying")
			}
			conn = c
		}
		first = false
		if conn != nil {
			var ok bool
			err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok)
			switch {
			case err == nil && ok:
				l := &Lease{key: key, id: id, pid: conn.PgConn().PID(), conn: conn, opts: opts, log: log,
					lost: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
				log.Info().Str("key", key).Uint32("pid", l.pid).Msg("acquired leader lease")
				go l.watch()
				return l, nil
			case err != nil:
				_ = conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				log.Warn().Err(err).Msg("leader lock attempt failed; retrying")
			case !waiting:
				waiting = true
				log.Info().Str("key", key).Msg("another process holds the leader lease; waiting")
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				_ = conn.Close(context.Background())
			}
			return nil, ctx.Err()
		case <-time.After(opts.PollInterval):
		}
	}
}

// connectTimeout bounds one connection attempt.
const connectTimeout = 10 * time.Second

func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = "tether-leader"
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > connectTimeout {
		cfg.ConnectTimeout = connectTimeout
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// watch pings the connection until Release or a failed ping.
func (l *Lease) watch() {
	defer close(l.stopped)
	t := time.NewTicker(l.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.PingTimeout)
			err := l.conn.Ping(ctx)
			cancel()
			if err != nil {
				l.end(fmt.Errorf("leader: lock connection lost: %w", err))
				l.log.Error().Err(err).Str("key", l.key).Msg("lost leader lease")
				_ = l.conn.Close(context.Background())
				return
			}
		}
	}
}

func (l *Lease) end(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// Lost closes when the lease ends: the connection died (see Err) or Release.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost; nil while held or after a plain Release.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// PID is the backend process id of the lock's connection.
func (l *Lease) PID() uint32 { return l.pid }

// Key is the lease's key.
func (l *Lease) Key() string { return l.key }

// Release unlocks and closes the connection; Lost closes. Safe to call more
// than once and after the lease was lost.
func (l *Lease) Release() {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.stopped
	select {
	case <-l.lost: // already lost: the connection is closed
	default:
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.PingTimeout)
		_, _ = l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.id)
		_ = l.conn.Close(ctx)
		cancel()
		l.log.Info().Str("key", l.key).Msg("released leader lease")
		l.end(nil)
	}
}
