package health

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/metrics"
	"github.com/tether-sync/tether/internal/pgtest"
	"github.com/tether-sync/tether/internal/testdb"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func migrated(t *testing.T, schemaName string) *pgxpool.Pool {
	t.Helper()
	_, pool := testdb.Migrated(t, schemaName)
	return pool
}

func TestStorePersistsAndKeepsSince(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t, "salesforce")
	m := metrics.New()
	s := NewStore(pool, "salesforce", zerolog.Nop()).WithMetrics(m)

	s.Report(ctx, Credential, Healthy, "")
	s.Report(ctx, Table("contact"), Healthy, "")
	entries, err := Load(ctx, pool, "salesforce")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Component != Credential || entries[1].Component != "table:contact" || entries[0].Status != Healthy {
		t.Fatalf("entries %+v", entries)
	}
	firstSince := entries[0].Since

	// Same status, new message: since stays, message changes.
	time.Sleep(20 * time.Millisecond)
	s.Report(ctx, Credential, Healthy, "token refreshed")
	entries, _ = Load(ctx, pool, "salesforce")
	if !entries[0].Since.Equal(firstSince) || entries[0].Message != "token refreshed" || !entries[0].UpdatedAt.After(firstSince) {
		t.Errorf("same status: %+v (since was %s)", entries[0], firstSince)
	}

	// Status change: since moves.
	s.Report(ctx, Credential, CustomerIntervention, "invalid_grant: re-authorise tether")
	entries, _ = Load(ctx, pool, "salesforce")
	if entries[0].Status != CustomerIntervention || !entries[0].Since.After(firstSince) || entries[0].Message != "invalid_grant: re-authorise tether" {
		t.Errorf("changed status: %+v", entries[0])
	}
	var g dto.Metric
	if err := m.HealthStatus.WithLabelValues(Credential).Write(&g); err != nil || g.GetGauge().GetValue() != 1 {
		got := g.GetGauge().GetValue()
		t.Errorf("tether_health_status{component=credential} = %v, want 1", got)
	}
	if got := Overall(entries); got != CustomerIntervention {
		t.Errorf("Overall = %s", got)
	}
	changedSince := entries[0].Since

	// A new process (new Store) reporting the same status keeps the table's since
	// and takes it into memory.
	s2 := NewStore(pool, "salesforce", zerolog.Nop())
	time.Sleep(20 * time.Millisecond)
	s2.Report(ctx, Credential, CustomerIntervention, "invalid_grant: re-authorise tether")
	entries, _ = Load(ctx, pool, "salesforce")
	if !entries[0].Since.Equal(changedSince) {
		t.Errorf("restart moved since: %s → %s", changedSince, entries[0].Since)
	}
	if e, _ := s2.Get(Credential); !e.Since.Equal(changedSince) {
		t.Errorf("memory since %s, table since %s", e.Since, changedSince)
	}
	if len(s2.Snapshot()) != 1 {
		t.Errorf("snapshot holds only this process's reports: %+v", s2.Snapshot())
	}

	if err := s.Forget(ctx, Table("contact")); err != nil {
		t.Fatal(err)
	}
	entries, _ = Load(ctx, pool, "salesforce")
	if len(entries) != 1 {
		t.Errorf("after Forget: %+v", entries)
	}
}

func TestStoreSurvivesDatabaseErrors(t *testing.T) {
	ctx := context.Background()
	pool := migrated(t, "other_schema")
	s := NewStore(pool, "missing_schema", zerolog.Nop()) // table does not exist
	s.Report(ctx, Capture, TetherIntervention, "slot lost")
	if e, ok := s.Get(Capture); !ok || e.Status != TetherIntervention {
		t.Fatalf("memory not updated when the database write fails: %+v", e)
	}
	if _, err := Load(ctx, pool, "missing_schema"); err == nil {
		t.Error("Load of a missing table must fail")
	}
	// A cancelled caller context still persists (shutdown reports matter).
	s3 := NewStore(pool, "other_schema", zerolog.Nop())
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s3.Report(cctx, Writer, Healthy, "stopped")
	entries, err := Load(ctx, pool, "other_schema")
	if err != nil || len(entries) != 1 || entries[0].Message != "stopped" {
		t.Errorf("entries %+v err %v", entries, err)
	}
}

func TestOverall(t *testing.T) {
	cases := []struct {
		in   []Status
		want Status
	}{
		{nil, Healthy},
		{[]Status{Healthy, Healthy}, Healthy},
		{[]Status{Healthy, CustomerIntervention}, CustomerIntervention},
		{[]Status{CustomerIntervention, TetherIntervention, Healthy}, TetherIntervention},
	}
	for _, tc := range cases {
		var es []Entry
		for _, s := range tc.in {
			es = append(es, Entry{Status: s})
		}
		if got := Overall(es); got != tc.want {
			t.Errorf("Overall(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestMemorySnapshotSorted(t *testing.T) {
	m := NewMemory()
	for _, c := range []string{"writer", "capture", "table:b", "credential"} {
		m.Report(context.Background(), c, Healthy, "")
	}
	got := m.Snapshot()
	for i := 1; i < len(got); i++ {
		if got[i-1].Component > got[i].Component {
			t.Fatalf("not sorted: %+v", got)
		}
	}
}
