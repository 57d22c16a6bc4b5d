package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/tether-sync/tether/internal/fetcher"
	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/httpserver"
	"github.com/tether-sync/tether/internal/leader"
	"github.com/tether-sync/tether/internal/status"
	"github.com/tether-sync/tether/internal/writer"
	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/upstream"
)

// RunOptions adjust Run for tests and the demo.
type RunOptions struct {
	// Ready, if set, is called once every loop has started.
	Ready func()
	// WriterRetryBase / WriterRetryMax shorten the writer's backoff (tests).
	WriterRetryBase, WriterRetryMax time.Duration
	// Heartbeat overrides capture's idle heartbeat (0: default).
	Heartbeat time.Duration
}

// Run is `tether run`: it connects, serves /health and /metrics, waits to be
// the leader (one tether per database works; others stand by), sets up what
// is missing, and runs the fetcher, capture and writer until ctx ends or the
// leadership is lost.
func (e *Env) Run(ctx context.Context, opts RunOptions) error {
	log := e.component("run")
	if err := e.Connect(ctx); err != nil {
		return err
	}
	if err := e.Migrate(ctx); err != nil {
		return fmt.Errorf("create system tables: %w", err)
	}
	store := health.NewStore(e.Pool, e.Cfg.Schema, e.Log).WithMetrics(e.Metrics)
	e.Health = store

	var srv *httpserver.Server
	if e.Cfg.HTTPAddr != "" {
		srv = httpserver.New(e.Cfg.HTTPAddr, store, e.Metrics)
		srv.SetStatus(func(ctx context.Context) (any, error) { return status.Collect(ctx, e.Pool, e.Cfg.Schema) })
		if err := srv.Start(); err != nil {
			return fmt.Errorf("http_addr %s: %w", e.Cfg.HTTPAddr, err)
		}
		log.Info().Str("addr", srv.Addr()).Msg("serving /health, /metrics and /status")
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	log.Info().Msg("waiting to be the active tether for this database")
	lease, err := leader.Acquire(ctx, e.Cfg.DatabaseURL, "tether:"+e.Cfg.Schema)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("leader lock: %s", redactErr(err, e.Cfg))
	}
	defer lease.Release()
	e.Metrics.Leader(true)
	defer e.Metrics.Leader(false)
	if err := status.SaveLeader(ctx, e.Pool, e.Cfg.Schema); err != nil {
		log.Warn().Err(err).Msg("could not record the leader for tether status")
	}
	log.Info().Msg("this tether is active")

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.Lost():
			if err := lease.Err(); err != nil {
				log.Error().Err(err).Msg("lost the leader lock; stopping so another tether can take over")
			}
			cancel()
		case <-runCtx.Done():
		}
	}()

	p, res, guard, fch, err := e.setupUntilReady(runCtx, store)
	if err != nil || res == nil {
		return err // nil when ctx ended while waiting
	}
	defer guard.Close()
	store.Report(ctx, health.Fetcher, health.Healthy, "")
	go status.RecordUsage(runCtx, e.Pool, e.Cfg.Schema, 30*time.Second, p.Usage)
	go e.exportStatus(runCtx, time.Minute)
	log.Info().Int("tables", len(res.Tables)).Str("echo_mode", string(res.EchoMode)).Msg("setup done")

	if err := replication.Preflight(runCtx, e.Pool, e.ReplicationConfig()); err != nil {
		store.Report(ctx, health.Capture, health.TetherIntervention, err.Error())
		return fmt.Errorf("%w: %v", ErrPreflight, err)
	}

	capture := replication.NewCapture(replication.CaptureConfig{
		Config:    e.ReplicationConfig(),
		DSN:       e.Cfg.DatabaseURL,
		Logger:    e.Log,
		Health:    store,
		Metrics:   e.Metrics,
		Heartbeat: opts.Heartbeat,
	})
	w := writer.New(writer.Config{
		Schema:    e.Cfg.Schema,
		BatchSize: e.Cfg.Batch.Size,
		BatchWait: e.Cfg.Batch.Wait,
		Provider:  p,
		Pool:      e.Pool,
		Guard:     guard,
		Health:    store,
		Metrics:   e.Metrics,
		Logger:    e.Log,
		RetryBase: opts.WriterRetryBase,
		RetryMax:  opts.WriterRetryMax,
	})

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(runCtx); err != nil && runCtx.Err() == nil {
				log.Error().Err(err).Str("loop", name).Msg("loop stopped")
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("capture", capture.Run)
	start("fetcher", fch.Run)
	start("writer", w.Run)
	if opts.Ready != nil {
		opts.Ready()
	}
	wg.Wait()
	close(errs)
	if err, ok := <-errs; ok {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// exportStatus refreshes the gauges that come from the database (write-log
// counts by state, backfill progress) every interval until ctx ends.
func (e *Env) exportStatus(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if rep, err := status.Collect(ctx, e.Pool, e.Cfg.Schema); err == nil {
			rep.Export(e.Metrics)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyProvider is the provider as Run uses it.
type readyProvider interface {
	upstream.Provider
	Usage() (int, int)
}

// setupUntilReady runs Setup until it succeeds. Setup needs Salesforce (a
// token, then describe): a revoked credential or an exhausted quota is the
// user's to fix, so it reports that and keeps trying with backoff. It returns
// a nil result without error when ctx ends first.
func (e *Env) setupUntilReady(ctx context.Context, store health.Reporter) (readyProvider, *SetupResult, *replication.EchoGuard, *fetcher.Fetcher, error) {
	var p readyProvider
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = time.Second
	bo.MaxInterval = 30 * time.Second
	bo.MaxElapsedTime = 0
	for {
		r, g, f, err := e.trySetup(ctx, &p)
		if err == nil {
			return p, r, g, f, nil
		}
		if ctx.Err() != nil {
			return nil, nil, nil, nil, nil
		}
		if errors.Is(err, ErrPreflight) || !isUpstream(err) {
			store.Report(ctx, health.Fetcher, health.TetherIntervention, redactErr(err, e.Cfg))
			return nil, nil, nil, nil, err
		}
		if e.setupRetry(ctx, store, bo, err) < 0 {
			return nil, nil, nil, nil, nil
		}
	}
}

// trySetup builds the provider once, then runs Setup.
func (e *Env) trySetup(ctx context.Context, p *readyProvider) (*SetupResult, *replication.EchoGuard, *fetcher.Fetcher, error) {
	if *p == nil {
		c, err := e.Provider(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		*p = c
	}
	return e.Setup(ctx, *p)
}

// setupRetry reports a Salesforce-side setup failure and waits before the
// next try; it returns -1 when ctx ended while waiting.
func (e *Env) setupRetry(ctx context.Context, store health.Reporter, bo backoff.BackOff, err error) time.Duration {
	st := health.TetherIntervention
	if c := upstream.ClassOf(err); c == upstream.Auth || c == upstream.Quota || c == upstream.Permanent {
		st = health.CustomerIntervention
	}
	store.Report(ctx, health.Fetcher, st, "setup: "+redactErr(err, e.Cfg))
	d := bo.NextBackOff()
	log := e.component("run")
	log.Warn().Err(err).Dur("retry_in", d).Msg("setup could not reach Salesforce; retrying")
	select {
	case <-ctx.Done():
		return -1
	case <-time.After(d):
		return d
	}
}

func isUpstream(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue)
}

// Check is `tether check`: the preflight checks, each reported as a line.
// It returns ErrPreflight when any fails.
func (e *Env) Check(ctx context.Context) ([]CheckResult, error) {
	var out []CheckResult
	add := func(name string, err error, okMsg string) {
		r := CheckResult{Name: name, OK: err == nil, Message: okMsg}
		if err != nil {
			r.Message = redactErr(err, e.Cfg)
		}
		out = append(out, r)
	}
	if err := e.Connect(ctx); err != nil {
		add("database", err, "")
	} else {
		add("database", nil, "connected")
		add("replication", replication.Preflight(ctx, e.Pool, e.ReplicationConfig()), "wal_level, privileges, slot, publication and replica identity are in order")
	}
	// Salesforce is checked whatever the database said: every problem at once.
	p, err := e.Provider(ctx)
	if err != nil {
		add("salesforce credential", fmt.Errorf("%w%s", err, credentialHint(err)), "")
	} else {
		objs, unknown, err := e.ResolveObjects(ctx, p)
		if err != nil {
			err = fmt.Errorf("%w%s", err, credentialHint(err))
		}
		add("salesforce credential", err, "token refreshed; objects listed")
		if err == nil {
			var uerr error
			if len(unknown) > 0 {
				uerr = fmt.Errorf("configured objects not readable with this credential: %v", unknown)
			}
			add("objects", uerr, fmt.Sprintf("%d objects to sync: %v", len(objs), objs))
		}
	}
	for _, r := range out {
		if !r.OK {
			return out, ErrPreflight
		}
	}
	return out, nil
}

// credentialHint says what to do about a refused credential.
func credentialHint(err error) string {
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		return ""
	}
	switch ue.Code {
	case "invalid_client", "invalid_client_id":
		return " (check salesforce.client_id and salesforce.client_secret: the connected app's consumer key and secret)"
	case "invalid_grant":
		return " (the refresh token is revoked or expired, or belongs to another login URL: authorise again and set salesforce.refresh_token)"
	}
	return ""
}

// CheckResult is one preflight line.
type CheckResult struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}
