package schema

import "time"

// SetDDLLockTimeout shortens SyncTable's lock wait for tests; it returns a
// function restoring the previous value.
func SetDDLLockTimeout(d time.Duration) func() {
	old := ddlLockTimeout
	ddlLockTimeout = d
	return func() { ddlLockTimeout = old }
}
