// Package pgtest runs a throwaway PostgreSQL cluster from the machine's own
// binaries: initdb into a temporary directory, wal_level=logical, a free port
// on 127.0.0.1, started as the postgres user when the caller is root. Tests use
// one cluster per package (Main) and a fresh database per test (NewDB); the
// demo uses Start with a persistent data directory.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a cluster.
type Options struct {
	// DataDir is where the cluster lives. Empty means a temporary directory
	// that Stop removes; a non-empty directory is kept and reused.
	DataDir string
	// Port to listen on; 0 picks a free one (a kept DataDir remembers it).
	Port int
	// Settings are extra postgresql.conf lines (name -> value).
	Settings map[string]string
	// Log receives PostgreSQL's server log; nil means DataDir/server.log only.
	Quiet bool
}

// Cluster is a running (or stopped) PostgreSQL instance.
type Cluster struct {
	BinDir  string
	DataDir string
	Port    int
	temp    bool
	runAs   string // "postgres" when we are root, else ""
	mu      sync.Mutex
}

// Superuser is the name of the cluster's bootstrap superuser.
const Superuser = "postgres"

// BinDir finds PostgreSQL's server binaries: $TETHER_PG_BIN, then initdb on
// PATH, then the newest /usr/lib/postgresql/N/bin.
func BinDir() (string, error) {
	if d := os.Getenv("TETHER_PG_BIN"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(r), nil
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries not found (install postgresql, or set TETHER_PG_BIN)")
}

// Start initialises (if needed) and starts a cluster.
func Start(opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: bin, DataDir: opts.DataDir, Port: opts.Port}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
	}
	if c.DataDir == "" {
		dir, err := os.MkdirTemp("", "tether-pg-")
		if err != nil {
			return nil, err
		}
		c.DataDir = filepath.Join(dir, "data")
		c.temp = true
	}
	if err := os.MkdirAll(filepath.Dir(c.DataDir), 0o755); err != nil {
		return nil, err
	}
	fresh := false
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
		fresh = true
		if err := c.initdb(); err != nil {
			c.cleanup()
			return nil, err
		}
	}
	if c.Port == 0 {
		if b, err := os.ReadFile(filepath.Join(c.DataDir, "tether_port")); err == nil && !fresh {
			c.Port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if c.Port == 0 || !portFree(c.Port) {
			if c.Port, err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	conf := map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"port":                    strconv.Itoa(c.Port),
		"unix_socket_directories": "''",
		"wal_level":               "logical",
		"max_replication_slots":   "20",
		"max_wal_senders":         "20",
		"max_connections":         "200",
		"fsync":                   "off",
		"synchronous_commit":      "on",
		"full_page_writes":        "off",
		"shared_buffers":          "128MB",
		"wal_sender_timeout":      "60s",
		"logging_collector":       "off",
	}
	for k, v := range opts.Settings {
		conf[k] = v
	}
	var b strings.Builder
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, conf[k])
	}
	if err := c.writeFile("postgresql.auto.conf", b.String()); err != nil {
		return nil, err
	}
	_ = c.writeFile("tether_port", strconv.Itoa(c.Port)+"\n")
	if err := c.Start(); err != nil {
		c.cleanup()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) writeFile(name, content string) error {
	p := filepath.Join(c.DataDir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return err
	}
	return c.chown(p)
}

func (c *Cluster) chown(p string) error {
	if c.runAs == "" {
		return nil
	}
	u, err := user.Lookup(c.runAs)
	if err != nil {
		return fmt.Errorf("pgtest: running as root needs a %q user: %w", c.runAs, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(p, uid, gid)
}

func (c *Cluster) initdb() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return err
	}
	if c.runAs != "" {
		// The postgres user must be able to reach the directory.
		if err := c.chown(c.DataDir); err != nil {
			return err
		}
		if err := traversable(filepath.Dir(c.DataDir)); err != nil {
			return err
		}
	}
	out, err := c.command("initdb", "-D", c.DataDir, "-U", Superuser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	hba := "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
	return c.writeFile("pg_hba.conf", hba)
}

// traversable lets other users search (o+x, not read) dir and its ancestors,
// so that the postgres user can reach a data directory below a private
// directory such as /root or a test's temporary directory.
func traversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("pgtest: let the postgres user reach %s: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.BinDir, name)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.runAs, "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = "/"
	return cmd
}

// Start starts a stopped cluster and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	logFile := filepath.Join(c.DataDir, "server.log")
	out, err := c.command("pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir, "-l", logFile).CombinedOutput()
	if err != nil {
		tail, _ := os.ReadFile(logFile)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, tail)
	}
	return c.waitReady(30 * time.Second)
}

func (c *Cluster) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: server not ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the cluster down cleanly (fast mode).
func (c *Cluster) Stop() error { return c.stop("fast") }

// Crash stops the cluster abruptly (pg_ctl stop -m immediate), as a power cut
// would; Start recovers it from its WAL.
func (c *Cluster) Crash() error { return c.stop("immediate") }

// Restart crashes (immediate) or stops the cluster and starts it again.
func (c *Cluster) Restart(immediate bool) error {
	var err error
	if immediate {
		err = c.Crash()
	} else {
		err = c.Stop()
	}
	if err != nil {
		return err
	}
	return c.Start()
}

func (c *Cluster) stop(mode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.command("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", c.DataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Close stops the cluster and removes a temporary data directory.
func (c *Cluster) Close() error {
	err := c.Stop()
	c.cleanup()
	return err
}

func (c *Cluster) cleanup() {
	if c.temp {
		_ = os.RemoveAll(filepath.Dir(c.DataDir))
	}
}

// DSN is a connection string for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.Port, db)
}

// DSNAs is a connection string for database db as role (no password: trust).
func (c *Cluster) DSNAs(role, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", role, c.Port, db)
}

// Exec runs SQL in database db as the superuser.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

var dbSeq atomic.Int64

// CreateDB creates a new empty database and returns its name.
func (c *Cluster) CreateDB(ctx context.Context, prefix string) (string, error) {
	name := fmt.Sprintf("%s_%d_%d", sanitize(prefix), os.Getpid(), dbSeq.Add(1))
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return name, nil
}

// DropDB drops a database, ending its sessions and its replication slots first.
func (c *Cluster) DropDB(ctx context.Context, name string) error {
	_ = c.Exec(ctx, "postgres", `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
	_ = c.Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name)
	return c.Exec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[len(out)-40:]
	}
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "t" + out
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

var (
	shared    *Cluster
	sharedErr error
	sharedMu  sync.Mutex
)

// Main is for TestMain: it runs the package's tests and stops the package's
// cluster (if one was started) afterwards.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		_ = shared.Close()
	}
	sharedMu.Unlock()
	os.Exit(code)
}

// Shared returns the package's cluster, starting it on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start(Options{})
	}
	if sharedErr != nil {
		t.Fatalf("start PostgreSQL: %v", sharedErr)
	}
	return shared
}

// NewDB creates a fresh database on the package's cluster, drops it when the
// test ends, and returns its connection string.
func NewDB(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	ctx := context.Background()
	name, err := c.CreateDB(ctx, t.Name())
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { _ = c.DropDB(context.Background(), name) })
	return c.DSN(name)
}
