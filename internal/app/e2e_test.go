package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/logging"
	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/internal/status"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// harness is one database, one simulator and one running tether.
type harness struct {
	t      *testing.T
	ctx    context.Context
	srv    *sim.Server
	admin  *pgxpool.Pool // the application (superuser here; tether itself runs as a restricted role)
	env    *Env
	logs   *syncBuffer // everything tether logged, for the secret scan
	cancel context.CancelFunc
	done   chan error
	cfg    *config.Config
}

// leastPrivileged creates the role `tether` exactly as README/`tether setup`
// documents it (LOGIN REPLICATION, CONNECT and CREATE on the database, no
// superuser) and returns its connection string.
func leastPrivileged(t *testing.T, adminDSN string, origins bool) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Database
	role := "tether_" + strings.TrimPrefix(db, "t")
	if len(role) > 60 {
		role = role[:60]
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	grants := Grants(db, role, "salesforce", "app_user_unused")
	// Run the documented grants, minus the application role's (that role does
	// not exist here) and the optional origin grants when origins is false.
	for _, stmt := range strings.Split(grants, ";") {
		s := strings.TrimSpace(stripComments(stmt))
		if s == "" || strings.Contains(s, "app_user_unused") {
			continue
		}
		if !origins && strings.Contains(s, "pg_replication_origin") {
			continue
		}
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("documented grant %q: %v", s, err)
		}
	}
	return strings.Replace(adminDSN, "postgres://postgres@", "postgres://"+role+":choose-one@", 1)
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func startHarness(t *testing.T, seed int, origins bool, tweak func(*config.Config)) *harness {
	t.Helper()
	adminDSN := pgtest.NewDB(t)
	tetherDSN := leastPrivileged(t, adminDSN, origins)
	srv := sim.New(sim.Options{Seed: seed, RandSeed: 7})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()

	cfg := config.Default()
	cfg.DatabaseURL = tetherDSN
	cfg.Objects = []string{"Account", "Contact", "Opportunity"}
	cfg.IncludeCustom = false
	cfg.Salesforce.LoginURL = creds.LoginURL
	cfg.Salesforce.ClientID = creds.ClientID
	cfg.Salesforce.ClientSecret = creds.ClientSecret
	cfg.Salesforce.RefreshToken = creds.RefreshToken
	cfg.Rate.AllowedRequests, cfg.Rate.MaxConcurrent = 0, 0
	cfg.PollInterval = 200 * time.Millisecond
	cfg.Batch.Wait = 100 * time.Millisecond
	cfg.HTTPAddr = "127.0.0.1:0"
	if tweak != nil {
		tweak(cfg)
	}
	// Logs go straight to the buffer, with no redactor in between: the scan
	// below checks that no secret is logged in the first place.
	logs := &syncBuffer{}
	env := &Env{Cfg: cfg, Log: logging.New(config.LogJSON, logs), Metrics: metrics.New(), Out: io.Discard}

	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ctx: ctx, srv: srv, env: env, logs: logs, cancel: cancel, done: make(chan error, 1), cfg: cfg}
	ready := make(chan struct{})
	go func() {
		h.done <- env.Run(ctx, RunOptions{Ready: func() { close(ready) }, WriterRetryBase: 50 * time.Millisecond, WriterRetryMax: 500 * time.Millisecond})
	}()
	t.Cleanup(h.stop)
	select {
	case <-ready:
	case err := <-h.done:
		h.cancel = nil
		t.Fatalf("tether run stopped early: %v\nlogs:\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("tether run not ready after 60s\nlogs:\n%s", logs.String())
	}
	admin, err := pgxpool.New(context.Background(), adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	h.admin = admin
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("tether run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Errorf("tether run did not stop within 30s of cancel")
	}
	h.env.Close()
}

func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s (last: %s)", what, d, last)
}

func (h *harness) count(sql string, args ...any) int {
	var n int
	if err := h.admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (h *harness) waitBackfilled(objects ...string) {
	for _, o := range objects {
		table := strings.ToLower(o)
		want := len(h.srv.Records(o))
		eventually(h.t, 60*time.Second, "backfill of "+table, func() (bool, string) {
			n := h.count("SELECT count(*) FROM salesforce." + pgx.Identifier{table}.Sanitize() + " WHERE id IS NOT NULL")
			return n == want, fmt.Sprintf("%d of %d rows", n, want)
		})
	}
}

// TestEndToEndUnderLeastPrivilegedRole: tether runs as the documented
// non-superuser role; the application's plain SQL reaches Salesforce, inserted
// rows get their ids, Salesforce's own changes arrive without being echoed,
// and nothing tether logs contains a secret.
func TestEndToEndUnderLeastPrivilegedRole(t *testing.T) {
	for _, origins := range []bool{true, false} {
		name := "message-marker"
		if origins {
			name = "origin"
		}
		t.Run(name, func(t *testing.T) {
			h := startHarness(t, 30, origins, nil)
			h.waitBackfilled("Account", "Contact", "Opportunity")

			var contactID string
			if err := h.admin.QueryRow(h.ctx, "SELECT id FROM salesforce.contact ORDER BY id LIMIT 1").Scan(&contactID); err != nil {
				t.Fatal(err)
			}
			var oppID string
			if err := h.admin.QueryRow(h.ctx, "SELECT id FROM salesforce.opportunity ORDER BY id LIMIT 1").Scan(&oppID); err != nil {
				t.Fatal(err)
			}
			// The application's SQL.
			mustExec(t, h.admin, "UPDATE salesforce.contact SET title = 'VP Sales', email = 'vp@example.com' WHERE id = $1", contactID)
			mustExec(t, h.admin, "INSERT INTO salesforce.contact (last_name, first_name, email) VALUES ('Lovelace-E2E', 'Ada', 'ada.e2e@example.com')")
			mustExec(t, h.admin, "DELETE FROM salesforce.opportunity WHERE id = $1", oppID)

			eventually(t, 30*time.Second, "update reaches Salesforce", func() (bool, string) {
				rec, _ := h.srv.Get("Contact", contactID)
				return rec["Title"] == "VP Sales" && rec["Email"] == "vp@example.com", fmt.Sprintf("%v / %v", rec["Title"], rec["Email"])
			})
			var newID string
			eventually(t, 30*time.Second, "inserted row gets its Salesforce id", func() (bool, string) {
				err := h.admin.QueryRow(h.ctx, "SELECT coalesce(id, '') FROM salesforce.contact WHERE last_name = 'Lovelace-E2E'").Scan(&newID)
				return err == nil && newID != "", fmt.Sprint(err)
			})
			rec, ok := h.srv.Get("Contact", newID)
			if !ok || rec["FirstName"] != "Ada" || rec["Email"] != "ada.e2e@example.com" || rec["LastName"] != "Lovelace-E2E" {
				t.Fatalf("created contact in Salesforce = %v (found %v)", rec, ok)
			}
			eventually(t, 30*time.Second, "delete reaches Salesforce", func() (bool, string) {
				rec, _ := h.srv.Get("Opportunity", oppID)
				return rec == nil || rec["IsDeleted"] == true, fmt.Sprint(rec["IsDeleted"])
			})
			eventually(t, 10*time.Second, "log shows each outcome", func() (bool, string) {
				n := h.count("SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'")
				return n == 3, fmt.Sprintf("%d succeeded", n)
			})
			var states []string
			rows, _ := h.admin.Query(h.ctx, "SELECT table_name || ':' || action || ':' || state || ':' || coalesce(api_result::text, '') || ':' || coalesce(api_id, '') FROM salesforce._sync_write_log ORDER BY id")
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				states = append(states, s)
			}
			want := []string{"contact:update:succeeded:200:" + contactID, "contact:insert:succeeded:201:" + newID, "opportunity:delete:succeeded:204:" + oppID}
			if strings.Join(states, "\n") != strings.Join(want, "\n") {
				t.Fatalf("write log:\n%s\nwant:\n%s", strings.Join(states, "\n"), strings.Join(want, "\n"))
			}

			// Another Salesforce user changes a record: it arrives, and tether's own
			// write of it is not captured (no echo).
			if err := h.srv.Update("Contact", contactID, map[string]any{"Department": "Field Ops"}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, "Salesforce's change arrives", func() (bool, string) {
				var d *string
				_ = h.admin.QueryRow(h.ctx, "SELECT department FROM salesforce.contact WHERE id = $1", contactID).Scan(&d)
				return d != nil && *d == "Field Ops", fmt.Sprint(d)
			})
			time.Sleep(500 * time.Millisecond) // let capture see tether's write, if it were to
			if n := h.count("SELECT count(*) FROM salesforce._sync_write_log"); n != 3 {
				t.Fatalf("write log has %d rows after a fetch; tether's own writes were echoed", n)
			}

			// /metrics shows what happened.
			metricsBody := h.get("/metrics")
			for _, want := range []string{"tether_changes_captured_total 3", `tether_writes_total{outcome="succeeded"} 3`, `tether_api_requests_total{`, "tether_leader 1", `tether_backfill_records{kind="done",table="contact"}`} {
				if !strings.Contains(metricsBody, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}

			// /status (what `tether status` shows) has the API usage and the leader.
			statusBody := h.get("/status")
			for _, want := range []string{`"api_usage"`, `"leader"`, `"write_log"`} {
				if !strings.Contains(statusBody, want) {
					t.Errorf("/status lacks %s", want)
				}
			}

			h.stop()
			creds := h.srv.Credentials()
			logs := h.logs.String()
			for name, secret := range map[string]string{"client secret": creds.ClientSecret, "refresh token": creds.RefreshToken, "access token": creds.AccessToken, "db password": "choose-one"} {
				if secret != "" && strings.Contains(logs, secret) {
					t.Errorf("the %s appears in tether's logs", name)
				}
			}
		})
	}
}

// TestRevokedCredentialHealth: /health reports a revoked refresh token as
// customer_intervention within one poll, and healthy again once restored.
func TestRevokedCredentialHealth(t *testing.T) {
	h := startHarness(t, 5, true, nil)
	h.waitBackfilled("Contact")
	addr := h.httpAddr()
	h.srv.RevokeRefreshToken()
	h.srv.ExpireTokens()
	eventually(t, 20*time.Second, "credential reported as customer_intervention", func() (bool, string) {
		code, body := getHealth(t, addr)
		return code == 503 && strings.Contains(body, `"customer_intervention"`) && strings.Contains(body, "credential"), body
	})
	// `tether status` (another process) reads the same from _sync_health.
	eventually(t, 10*time.Second, "tether status shows the credential", func() (bool, string) {
		st := h.credentialStatus()
		return st == health.CustomerIntervention, string(st)
	})
	h.srv.RestoreRefreshToken()
	eventually(t, 30*time.Second, "healthy again", func() (bool, string) {
		code, body := getHealth(t, addr)
		return code == 200, body
	})
	eventually(t, 10*time.Second, "tether status shows the credential healthy", func() (bool, string) {
		st := h.credentialStatus()
		return st == health.Healthy, string(st)
	})
}

// credentialStatus is the credential's health as `tether status` reports it.
func (h *harness) credentialStatus() health.Status {
	rep, err := status.Collect(context.Background(), h.admin, "salesforce")
	if err != nil {
		h.t.Fatalf("status: %v", err)
	}
	for _, e := range rep.Health {
		if e.Component == health.Credential {
			return e.Status
		}
	}
	return ""
}

func (h *harness) httpAddr() string {
	// The server listens on an ephemeral port; find it in the logs.
	var addr string
	eventually(h.t, 5*time.Second, "http address logged", func() (bool, string) {
		for _, line := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(line, "serving /health") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) == nil {
					addr, _ = m["addr"].(string)
				}
			}
		}
		return addr != "", ""
	})
	return addr
}

func (h *harness) get(path string) string {
	resp, err := http.Get("http://" + h.httpAddr() + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func getHealth(t *testing.T, addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestShutdownLeavesNothingPending: stopping tether (SIGTERM cancels the same
// context) while a write batch is in flight leaves no log row pending: each
// ends written or back in new, and a restarted tether sends the rest, once.
func TestShutdownLeavesNothingPending(t *testing.T) {
	h := startHarness(t, 5, true, nil)
	h.waitBackfilled("Contact")
	h.srv.DelayNext(2*time.Second, 1000) // every request now takes 2 s
	for i := 0; i < 5; i++ {
		mustExec(t, h.admin, "INSERT INTO salesforce.contact (last_name) VALUES ($1)", fmt.Sprintf("Shutdown-%d", i))
	}
	eventually(t, 20*time.Second, "a batch in flight", func() (bool, string) {
		n := h.count("SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'")
		return n > 0, fmt.Sprintf("%d pending", n)
	})
	h.stop()
	if n := h.count("SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'"); n != 0 {
		t.Fatalf("%d log rows left pending after shutdown", n)
	}
	h.srv.DelayNext(0, 0)

	// A new tether on the same database finishes the job, with no duplicate.
	h2 := restartHarness(t, h)
	eventually(t, 30*time.Second, "every insert written", func() (bool, string) {
		n := h2.count("SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'")
		return n == 5, fmt.Sprintf("%d succeeded", n)
	})
	seen := map[string]int{}
	for _, r := range h.srv.Records("Contact") {
		if ln, _ := r["LastName"].(string); strings.HasPrefix(ln, "Shutdown-") {
			seen[ln]++
		}
	}
	for i := 0; i < 5; i++ {
		if n := seen[fmt.Sprintf("Shutdown-%d", i)]; n != 1 {
			t.Errorf("Shutdown-%d is in Salesforce %d times", i, n)
		}
	}
}

// restartHarness runs a second tether on h's database and simulator.
func restartHarness(t *testing.T, h *harness) *harness {
	t.Helper()
	env := &Env{Cfg: h.cfg, Log: logging.New(config.LogJSON, h.logs), Metrics: metrics.New(), Out: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	h2 := &harness{t: t, ctx: ctx, srv: h.srv, env: env, logs: h.logs, cancel: cancel, done: make(chan error, 1), cfg: h.cfg, admin: h.admin}
	ready := make(chan struct{})
	go func() {
		h2.done <- env.Run(ctx, RunOptions{Ready: func() { close(ready) }, WriterRetryBase: 50 * time.Millisecond, WriterRetryMax: 500 * time.Millisecond})
	}()
	t.Cleanup(h2.stop)
	select {
	case <-ready:
	case err := <-h2.done:
		h2.cancel = nil
		t.Fatalf("second tether stopped early: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("second tether not ready after 60s")
	}
	return h2
}

// TestAccountDeleteCascadesBothWays: the application deletes an Account row;
// tether deletes the record in Salesforce, Salesforce deletes its Contacts
// with it, and tether removes those Contact rows too, without logging them as
// application changes.
func TestAccountDeleteCascadesBothWays(t *testing.T) {
	h := startHarness(t, 20, true, nil)
	h.waitBackfilled("Account", "Contact")
	var acct string
	var children int
	if err := h.admin.QueryRow(h.ctx, `SELECT account_id, count(*) FROM salesforce.contact
		WHERE account_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1`).Scan(&acct, &children); err != nil {
		t.Fatal(err)
	}
	mustExec(t, h.admin, "DELETE FROM salesforce.account WHERE id = $1", acct)
	eventually(t, 30*time.Second, "the account's contacts leave PostgreSQL", func() (bool, string) {
		n := h.count("SELECT count(*) FROM salesforce.contact WHERE account_id = $1", acct)
		return n == 0, fmt.Sprintf("%d of %d contacts left", n, children)
	})
	rec, _ := h.srv.Get("Account", acct)
	if rec["IsDeleted"] != true {
		t.Fatalf("account in Salesforce: IsDeleted %v", rec["IsDeleted"])
	}
	if n := h.count("SELECT count(*) FROM salesforce._sync_write_log"); n != 1 {
		t.Fatalf("write log has %d rows, want only the application's account delete", n)
	}
}
