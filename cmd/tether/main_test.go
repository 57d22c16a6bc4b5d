package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// runTether runs the command in-process with env set, capturing stdout and stderr.
func runTether(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	rOut, wOut, _ := os.Pipe()
	rErr, wErr, _ := os.Pipe()
	os.Stdout, os.Stderr = wOut, wErr
	var bo, be bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&bo, rOut); done <- struct{}{} }()
	go func() { io.Copy(&be, rErr); done <- struct{}{} }()
	code = execute(context.Background(), args)
	wOut.Close()
	wErr.Close()
	<-done
	<-done
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, bo.String(), be.String()
}

// simEnv starts a simulator with seed records per object and returns the
// environment that points tether at it and at dsn.
func simEnv(t *testing.T, seed int, dsn, objects string) (map[string]string, sim.Credentials) {
	t.Helper()
	srv := sim.New(sim.Options{Seed: seed, RandSeed: 1})
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	creds := srv.Credentials()
	env := map[string]string{
		"TETHER_DATABASE_URL":             dsn,
		"TETHER_SALESFORCE_LOGIN_URL":     creds.LoginURL,
		"TETHER_SALESFORCE_CLIENT_ID":     creds.ClientID,
		"TETHER_SALESFORCE_CLIENT_SECRET": creds.ClientSecret,
		"TETHER_SALESFORCE_REFRESH_TOKEN": creds.RefreshToken,
		"TETHER_HTTP_ADDR":                "127.0.0.1:0",
		"TETHER_LOG_FORMAT":               "json",
	}
	if objects != "" {
		env["TETHER_OBJECTS"] = objects
	}
	return env, creds
}

func TestExitCodesForBadInput(t *testing.T) {
	t.Chdir(t.TempDir()) // no tether.yaml here
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"version", nil, []string{"version"}, 0, ""},
		{"unknown flag", nil, []string{"run", "--nope"}, 2, "unknown flag"},
		{"unknown command", nil, []string{"frobnicate"}, 1, "unknown command"},
		{"extra argument", nil, []string{"status", "x"}, 2, "takes no arguments"},
		{"bad batch size", map[string]string{"TETHER_BATCH_SIZE": "500"}, []string{"run"}, 2, "TETHER_BATCH_SIZE: must be between 1 and 200"},
		{"bad duration", map[string]string{"TETHER_POLL_INTERVAL": "5 minutes"}, []string{"status"}, 2, "TETHER_POLL_INTERVAL"},
		{"missing settings", nil, []string{"run"}, 2, "TETHER_DATABASE_URL"},
		{"missing config file", nil, []string{"--config", "nope.yaml", "status"}, 2, "nope.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runTether(t, c.env, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			if c.msg != "" && !strings.Contains(errOut, c.msg) {
				t.Fatalf("stderr %q lacks %q", errOut, c.msg)
			}
		})
	}
}

// TestSetupCheckStatus: check refuses (exit 3) before setup, setup creates
// everything and prints the grants, then check passes and status reports the
// tables and the write log.
func TestSetupCheckStatus(t *testing.T) {
	t.Chdir(t.TempDir())
	dsn := pgtest.NewDB(t)
	env, creds := simEnv(t, 3, dsn, "Account,Contact,Nope__c")
	code, out, errOut := runTether(t, env, "check")
	if code != 3 || !strings.Contains(out, "FAIL") {
		t.Fatalf("check before setup: exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runTether(t, env, "setup")
	if code != 0 {
		t.Fatalf("setup: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"account", "contact", "skipped Nope__c", "GRANT CONNECT, CREATE ON DATABASE", "LOGIN REPLICATION"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup output lacks %q:\n%s", want, out)
		}
	}
	// Setup is idempotent.
	if code, out, errOut = runTether(t, env, "setup"); code != 0 {
		t.Fatalf("setup again: exit %d\n%s\n%s", code, out, errOut)
	}
	// The unknown object makes check fail; without it, check passes.
	if code, out, _ = runTether(t, env, "check"); code != 3 || !strings.Contains(out, "Nope__c") {
		t.Fatalf("check with an unknown object: exit %d\n%s", code, out)
	}
	env["TETHER_OBJECTS"] = "Account,Contact"
	if code, out, errOut = runTether(t, env, "check"); code != 0 {
		t.Fatalf("check after setup: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runTether(t, env, "status")
	if code != 0 || !strings.Contains(out, "contact") {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runTether(t, env, "status", "--json")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	for _, secret := range []string{creds.ClientSecret, creds.RefreshToken} {
		if strings.Contains(out+errOut, secret) {
			t.Fatal("a secret appears in the command's output")
		}
	}
}

// TestRunRefusesWithoutLogicalWAL: on a PostgreSQL whose wal_level is not
// logical, run refuses to start (exit 3) and says what to change.
func TestRunRefusesWithoutLogicalWAL(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := pgtest.Start(pgtest.Options{Settings: map[string]string{"wal_level": "replica"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env, _ := simEnv(t, 1, c.DSN("postgres"), "Contact")
	code, _, errOut := runTether(t, env, "run")
	if code != 3 || !strings.Contains(errOut, "wal_level") {
		t.Fatalf("run on wal_level=replica: exit %d, want 3 with a word on wal_level\n%s", code, errOut)
	}
}

// TestDroppedSlotIsNeverRecreatedSilently: after tether has captured from its
// slot, a dropped slot makes setup and run refuse (exit 3) and say how to
// recover; `tether setup --recreate-slot` does, explicitly.
func TestDroppedSlotIsNeverRecreatedSilently(t *testing.T) {
	t.Chdir(t.TempDir())
	dsn := pgtest.NewDB(t)
	env, _ := simEnv(t, 1, dsn, "Contact")
	if code, out, errOut := runTether(t, env, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s\n%s", code, out, errOut)
	}
	c := pgtest.Shared(t)
	ctx := context.Background()
	db := strings.TrimSuffix(dsn[strings.LastIndex(dsn, "/")+1:], "?sslmode=disable")
	// As capture would have: a checkpoint for the slot. Then the slot is dropped.
	if err := c.Exec(ctx, db, "INSERT INTO salesforce._sync_capture_checkpoint (slot_name, lsn) VALUES ('tether', '0/1')"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, db, "SELECT pg_drop_replication_slot('tether')"); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"setup", "run"} {
		code, _, errOut := runTether(t, env, cmd)
		if code != 3 || !strings.Contains(errOut, "--recreate-slot") {
			t.Fatalf("%s after the slot was dropped: exit %d, want 3 naming --recreate-slot\n%s", cmd, code, errOut)
		}
	}
	if code, out, errOut := runTether(t, env, "setup", "--recreate-slot"); code != 0 {
		t.Fatalf("setup --recreate-slot: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runTether(t, env, "check"); code != 0 {
		t.Fatalf("check after recreating the slot: exit %d\n%s", code, out)
	}
}

// TestCheckReportsEveryProblemWithItsFix: with the database down and a wrong
// refresh token, check reports both (exit 3), the credential with what to do.
func TestCheckReportsEveryProblemWithItsFix(t *testing.T) {
	t.Chdir(t.TempDir())
	env, creds := simEnv(t, 1, "postgres://postgres@127.0.0.1:1/nowhere?connect_timeout=2", "")
	env["TETHER_SALESFORCE_REFRESH_TOKEN"] = "not-the-refresh-token"
	code, out, errOut := runTether(t, env, "check")
	if code != 3 {
		t.Fatalf("check: exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"FAIL database", "FAIL salesforce credential", "invalid_grant", "authorise again"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, creds.ClientSecret) {
		t.Error("the client secret appears in check's output")
	}
}

// TestResyncCommand: resync names synced objects (API or table names), refuses
// unknown ones and an empty list (exit 2), and records one request per table.
func TestResyncCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	dsn := pgtest.NewDB(t)
	env, _ := simEnv(t, 1, dsn, "Account,Contact")
	if code, out, errOut := runTether(t, env, "setup"); code != 0 {
		t.Fatalf("setup: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runTether(t, env, "resync"); code != 2 || !strings.Contains(errOut, "--all") {
		t.Fatalf("resync without objects: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runTether(t, env, "resync", "Nope__c"); code != 2 || !strings.Contains(errOut, "Account") {
		t.Fatalf("resync of an unknown object: exit %d\n%s", code, errOut)
	}
	code, out, errOut := runTether(t, env, "resync", "Contact", "account")
	if code != 0 || !strings.Contains(out, "resync of account requested") || !strings.Contains(out, "resync of contact requested") {
		t.Fatalf("resync: exit %d\n%s\n%s", code, out, errOut)
	}
	db := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	conn, err := pgx.Connect(context.Background(), pgtest.Shared(t).DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM salesforce._sync_state WHERE key LIKE 'resync:%'").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d resync requests recorded (%v), want 2", n, err)
	}
}
