package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// DemoOptions configure `tether demo`.
type DemoOptions struct {
	Dir      string // data directory (PostgreSQL cluster, simulator snapshot)
	SimAddr  string // simulator address; busy → a free port
	HTTPAddr string // tether's /health; busy → a free port
	Seed     int    // sample records per object on first start
	Out      io.Writer
	// Env builds the environment for a configuration (logger, metrics).
	Env func(*config.Config) *Env
	// Ready, if set, is called with the demo's database URL and simulator once tether runs.
	Ready func(dsn string, srv *sim.Server)
}

// Demo runs an embedded PostgreSQL (kept under opts.Dir so a second run
// resumes), the Salesforce simulator and tether, and prints how to try it.
func Demo(ctx context.Context, opts DemoOptions) (retErr error) {
	if opts.Dir == "" {
		opts.Dir = ".tether/demo"
	}
	if opts.Seed <= 0 {
		opts.Seed = 1000
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Chmod(dir, 0o755)
	out := opts.Out
	_, statErr := os.Stat(filepath.Join(dir, "pg", "PG_VERSION"))
	resumed := statErr == nil
	fmt.Fprintf(out, "starting PostgreSQL (data directory %s) ...\n", filepath.Join(dir, "pg"))
	cluster, err := pgtest.Start(pgtest.Options{DataDir: filepath.Join(dir, "pg")})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "stopping PostgreSQL ...")
		_ = cluster.Stop()
	}()
	if err := ensureDatabase(ctx, cluster, "demo"); err != nil {
		return err
	}
	dsn := cluster.DSN("demo")

	snapPath := filepath.Join(dir, simSnapshotFile)
	srv, simResumed, err := openSim(snapPath, opts.Seed)
	if err != nil {
		return err
	}
	simAddr := freeAddr(opts.SimAddr, "127.0.0.1:8787")
	if _, err := srv.Start(simAddr); err != nil {
		return fmt.Errorf("simulator on %s: %w", simAddr, err)
	}
	defer func() {
		_ = srv.Close()
		fmt.Fprintf(out, "saving the simulator's state to %s ...\n", snapPath)
		if err := saveSim(srv, snapPath); err != nil {
			fmt.Fprintf(out, "could not save the simulator: %v\n", err)
			if retErr == nil {
				retErr = err
			}
		}
	}()
	creds := srv.Credentials()

	cfg := config.Default()
	cfg.DatabaseURL = dsn
	cfg.Salesforce.LoginURL = creds.LoginURL
	cfg.Salesforce.ClientID = creds.ClientID
	cfg.Salesforce.ClientSecret = creds.ClientSecret
	cfg.Salesforce.RefreshToken = creds.RefreshToken
	// Faster than the production default (1 request per 3 s) so the demo's
	// backfill takes seconds; the limiter is the same.
	cfg.Rate.AllowedRequests, cfg.Rate.PeriodMS, cfg.Rate.MaxConcurrent = 10, 1000, 2
	cfg.PollInterval = 5 * time.Second
	cfg.HTTPAddr = freeAddr(opts.HTTPAddr, "127.0.0.1:8080")
	if cfg.LogFormat == "" {
		cfg.LogFormat = config.LogConsole
	}
	env := opts.Env(cfg)
	defer env.Close()

	var contactID string
	for _, r := range srv.Records("Contact") {
		if id, _ := r["Id"].(string); id != "" {
			contactID = id
			break
		}
	}
	dbState := "new database"
	if resumed {
		dbState = "database resumed"
	}
	simState := fmt.Sprintf("seeded with %d records per object", opts.Seed)
	switch {
	case simResumed:
		simState = "resumed from " + snapPath
	case resumed:
		simState = fmt.Sprintf("no saved state: seeded again with %d records per object", opts.Seed)
	}
	fmt.Fprintf(out, `
tether demo is running.

  PostgreSQL   %[1]s (%[4]s)
  Salesforce   simulator at %[2]s (%[3]s)
  tether       http://%[5]s/health   http://%[5]s/metrics   http://%[5]s/status

Try it (in another terminal):

  psql '%[1]s'

  -- 1. a contact that came from Salesforce
  SELECT id, first_name, last_name, email, title FROM salesforce.contact WHERE id = '%[6]s';
  -- 2. change it, then watch the write-back reach Salesforce
  UPDATE salesforce.contact SET title = 'VP Sales' WHERE id = '%[6]s';
  SELECT id, action, state, api_result, api_message FROM salesforce._sync_write_log ORDER BY id DESC LIMIT 5;
  -- 3. insert a contact and watch its Salesforce id arrive
  INSERT INTO salesforce.contact (last_name, email) VALUES ('Lovelace', 'ada@example.com');
  SELECT _sync_row_id, id, last_name, email FROM salesforce.contact WHERE email = 'ada@example.com';

The record as Salesforce (the simulator) holds it:

  curl -s -H 'Authorization: Bearer %[7]s' %[2]s/services/data/v62.0/sobjects/Contact/%[6]s

Status:  TETHER_DATABASE_URL='%[1]s' ./bin/tether status
Stop with Ctrl-C; the next 'make demo' resumes from %[8]s.

`, dsn, creds.InstanceURL, simState, dbState, cfg.HTTPAddr, contactID, creds.AccessToken, dir)

	return env.Run(ctx, RunOptions{Ready: func() {
		if opts.Ready != nil {
			opts.Ready(dsn, srv)
		}
	}})
}

func ensureDatabase(ctx context.Context, c *pgtest.Cluster, name string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// freeAddr returns want (or def) if it can be listened on, else a free port on 127.0.0.1.
func freeAddr(want, def string) string {
	if want == "" {
		want = def
	}
	if l, err := net.Listen("tcp", want); err == nil {
		l.Close()
		return want
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return want
	}
	defer l.Close()
	return l.Addr().String()
}

// simSnapshotFile is the simulator's saved state in the demo directory.
const simSnapshotFile = "salesforce.json"

// openSim builds the simulator: from the state saved by the previous run
// (same records, ids, deletions and credentials) when path exists, else with
// deterministic sample data.
func openSim(path string, seed int) (*sim.Server, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return sim.New(sim.Options{Seed: seed, RandSeed: 1}), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open simulator state: %w", err)
	}
	defer f.Close()
	srv := sim.New(sim.Options{RandSeed: 1})
	if err := srv.Load(f); err != nil {
		return nil, false, fmt.Errorf("load simulator state %s (move it away to start the simulator afresh): %w", path, err)
	}
	return srv, true, nil
}

// saveSim writes the simulator's state to path atomically (a temporary file
// in the same directory, then a rename). The file holds the demo's client
// secret and refresh token, so only the owner may read it.
func saveSim(srv *sim.Server, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing to remove
	if err := srv.Save(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save simulator state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	return nil
}
