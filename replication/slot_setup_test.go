package replication

import (
	"context"
	"errors"
	"testing"
)

// TestSetupNeverSilentlyRecreatesASlot: once tether has captured from a slot
// (a checkpoint exists), a dropped slot makes Setup refuse with a SlotError
// that says what to do; only RecreateSlot (`tether setup --recreate-slot`)
// creates a new one, and it starts from a fresh checkpoint.
func TestSetupNeverSilentlyRecreatesASlot(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	d.exec(t, "INSERT INTO "+d.cfg.qualified("_sync_capture_checkpoint")+" (slot_name, lsn) VALUES ($1, '0/1')", d.cfg.Slot)
	d.exec(t, "SELECT pg_drop_replication_slot($1)", d.cfg.Slot)

	err := Setup(ctx, d.pool, d.cfg, nil)
	var se *SlotError
	if !errors.As(err, &se) || se.Reason != "missing" {
		t.Fatalf("Setup after the slot was dropped: %v, want a SlotError", err)
	}
	var exists bool
	if err := d.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", d.cfg.Slot).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("Setup recreated the dropped slot")
	}

	cfg := d.cfg
	cfg.RecreateSlot = true
	if err := Setup(ctx, d.pool, cfg, nil); err != nil {
		t.Fatalf("Setup with RecreateSlot: %v", err)
	}
	var checkpoints int
	if err := d.pool.QueryRow(ctx, "SELECT count(*) FROM "+d.cfg.qualified("_sync_capture_checkpoint")).Scan(&checkpoints); err != nil {
		t.Fatal(err)
	}
	if err := d.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", d.cfg.Slot).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists || checkpoints != 0 {
		t.Fatalf("after --recreate-slot: slot exists %v, %d checkpoints (want a new slot, no old checkpoint)", exists, checkpoints)
	}
	// A first setup (no checkpoint yet) still just creates the slot.
	d.exec(t, "SELECT pg_drop_replication_slot($1)", d.cfg.Slot)
	if err := Setup(ctx, d.pool, d.cfg, nil); err != nil {
		t.Fatalf("Setup of a slot never used: %v", err)
	}
}
