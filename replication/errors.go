package replication

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// SlotError is a problem with the replication slot that tether cannot fix on
// its own without losing changes: the slot was dropped or invalidated. Capture
// reports it (health tether_intervention) and keeps checking, but never
// recreates the slot by itself.
type SlotError struct {
	Slot   string
	Reason string // "missing" or "invalidated"
	Err    error
}

func (e *SlotError) Error() string {
	switch e.Reason {
	case "missing":
		return fmt.Sprintf("replication slot %q does not exist any more: changes made since it was dropped were not captured; check what the application changed meanwhile, then run `tether setup --recreate-slot` to capture from now on", e.Slot)
	default:
		return fmt.Sprintf("replication slot %q was invalidated (wal_status lost: WAL it needed was removed): changes were lost; check what the application changed meanwhile, run `tether setup --recreate-slot` to capture from now on, and consider raising max_slot_wal_keep_size", e.Slot)
	}
}

func (e *SlotError) Unwrap() error { return e.Err }

func errSlotInvalidated(slot string) error { return &SlotError{Slot: slot, Reason: "invalidated"} }
func errSlotMissing(slot string, err error) error {
	return &SlotError{Slot: slot, Reason: "missing", Err: err}
}

// classifyStartError turns a START_REPLICATION failure into a SlotError where
// it is one; other errors come back unchanged (transient: reconnect).
func classifyStartError(slot string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case pgerrcode.UndefinedObject:
		if strings.Contains(pgErr.Message, "replication slot") {
			return errSlotMissing(slot, err)
		}
	case pgerrcode.ObjectNotInPrerequisiteState:
		if strings.Contains(pgErr.Message, "can no longer get changes") || strings.Contains(pgErr.Detail, "invalidated") {
			return &SlotError{Slot: slot, Reason: "invalidated", Err: err}
		}
	}
	return err
}

// isSlotInUse reports the error PostgreSQL gives when another session streams
// from the slot (often the session of a tether that just died, not yet noticed).
func isSlotInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ObjectInUse
}

func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.DuplicateObject || pgErr.Code == pgerrcode.UniqueViolation)
}
