package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/replication"
	"github.com/tether-sync/tether/upstream/salesforce"
)

// TestWriterProcess is the writer as a separate process for TestCrashMidBatch
// (which kills it with SIGKILL); it does nothing in a normal test run.
func TestWriterProcess(t *testing.T) {
	if os.Getenv("TETHER_WRITER_PROCESS") != "1" {
		t.Skip("helper process for TestCrashMidBatch")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("TETHER_TEST_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	guard, err := replication.NewEchoGuard(ctx, pool, "tether", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := salesforce.New(ctx, salesforce.Config{LoginURL: os.Getenv("TETHER_TEST_LOGIN_URL"),
		ClientID: os.Getenv("TETHER_TEST_CLIENT_ID"), ClientSecret: os.Getenv("TETHER_TEST_CLIENT_SECRET"),
		RefreshToken: os.Getenv("TETHER_TEST_REFRESH_TOKEN"), RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := New(Config{Schema: testSchema, Provider: c, Pool: pool, Guard: guard, BatchSize: 25, BatchWait: 20 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Settle: 300 * time.Millisecond, Logger: zerolog.New(os.Stderr).Level(zerolog.WarnLevel)})
	_ = w.Run(ctx) // until killed
}

// tether is killed (SIGKILL) in the middle of batches, several times; after
// a final restart every change has arrived exactly once.
func TestCrashMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop")
	}
	s := newSimEnv(t, simOptions{capture: true})
	const total = 700
	s.exec(`INSERT INTO salesforce.contact (last_name, title) SELECT 'K' || i, 'v1' FROM generate_series(1, $1::int) i`, total)
	s.waitLogged(total)
	creds := s.srv.Credentials()
	env := append(os.Environ(), "TETHER_WRITER_PROCESS=1", "TETHER_TEST_DSN="+s.dsn, "TETHER_TEST_LOGIN_URL="+creds.LoginURL,
		"TETHER_TEST_CLIENT_ID="+creds.ClientID, "TETHER_TEST_CLIENT_SECRET="+creds.ClientSecret, "TETHER_TEST_REFRESH_TOKEN="+creds.RefreshToken)
	r := rand.New(rand.NewPCG(7, 8))
	killedPending := 0
	s.srv.DelayNext(60*time.Millisecond, 100000) // every request takes a while: kills land mid-request
	for round := 0; round < 5; round++ {
		if round == 2 {
			// updates of records created (or not yet) by killed processes
			s.exec(`UPDATE salesforce.contact SET title = 'v2' WHERE last_name LIKE 'K1%'`)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// let it make progress (a batch recorded), then kill it at a random moment
		before := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'`))
		deadline := time.Now().Add(20 * time.Second)
		for str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'`)) == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		// ... and is in the middle of its next batch
		for str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'`)) == "0" && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(r.IntN(60)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'pending'`))
		if n != "0" {
			killedPending++
		}
		t.Logf("round %d: killed with %s rows pending, %s succeeded", round, n,
			str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state = 'succeeded'`)))
	}
	if killedPending == 0 {
		t.Errorf("no kill happened mid-batch")
	}
	s.srv.DelayNext(0, 0)
	s.startWriter(Config{Provider: s.client, Settle: 300 * time.Millisecond})
	s.waitDone(60 * time.Second)
	counts := liveBy(s.srv, "Contact", "LastName")
	for i := 1; i <= total; i++ {
		if got := counts[fmt.Sprintf("K%d", i)]; got != 1 {
			t.Errorf("K%d: %d records, want 1", i, got)
		}
	}
	for _, rec := range s.srv.Records("Contact") {
		name := str(rec["LastName"])
		want := "v1"
		if len(name) > 1 && name[:2] == "K1" {
			want = "v2"
		}
		if str(rec["Title"]) != want {
			t.Errorf("%s: title %v, want %s", name, rec["Title"], want)
		}
	}
	if n := str(s.scalar(`SELECT count(*) FROM salesforce.contact WHERE id IS NULL`)); n != "0" {
		t.Errorf("%s rows without id", n)
	}
	if n := str(s.scalar(`SELECT count(*) FROM salesforce._sync_write_log WHERE state NOT IN ('succeeded', 'skipped')`)); n != "0" {
		t.Errorf("%s log rows not succeeded", n)
	}
}
