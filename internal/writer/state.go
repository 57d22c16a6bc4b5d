package writer

import "fmt"

// State is the state of one _sync_write_log row (see DESIGN.md).
type State string

// Log row states.
const (
	StateNew       State = "new"       // captured (or requeued), not yet tried
	StatePending   State = "pending"   // claimed by the writer: being written, or outcome unknown
	StateSucceeded State = "succeeded" // the provider applied it (or it was already gone, for a delete)
	StateFailed    State = "failed"    // the provider refused it; api_result/api_message say why
	StateSkipped   State = "skipped"   // nothing to send: folded into another entry, or nothing to do
)

// transitions is the one table of allowed state changes. Every state change
// the writer makes is checked against it (and guarded in SQL by the old state).
//
//	new → pending                 claimed for a batch
//	pending → succeeded           applied upstream (or a delete of a record already gone)
//	pending → failed              refused upstream, or impossible to send (read-only only, never created)
//	pending → skipped             folded into another entry, or nothing to send
//	pending → new                 transient error, paused (auth/quota), or returned on shutdown before sending
//	pending → pending             resent after an unknown outcome (a crash, a dropped connection)
//	failed → new                  the user requeues it with plain SQL (not done by the writer)
var transitions = map[State][]State{
	StateNew:       {StatePending},
	StatePending:   {StateSucceeded, StateFailed, StateSkipped, StateNew, StatePending},
	StateFailed:    {StateNew},
	StateSucceeded: nil,
	StateSkipped:   nil,
}

// Allowed reports whether a log row may go from one state to another.
func Allowed(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func checkTransition(from, to State) error {
	if !Allowed(from, to) {
		return fmt.Errorf("write log: state %s → %s is not allowed", from, to)
	}
	return nil
}

// Terminal reports whether a state is final (the writer never changes it again).
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateSkipped
}
