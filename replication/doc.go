// Package replication captures the application's changes to synced tables
// from a logical replication slot (pgoutput) into _sync_write_log, exactly
// once and in commit order, and marks tether's own writes so that they are
// never captured.
//
// # Objects
//
// Setup creates, idempotently, the publication (an explicit list of the
// synced tables, never a _sync_ table; SyncPublication keeps it in step when
// tables are added), a logical slot using pgoutput, and the replication origin
// of tether's own sessions. Preflight refuses to start, saying what to do,
// when wal_level is not logical, the role lacks REPLICATION or write access to
// the log and checkpoint tables, the slot is missing, active in another
// session or invalidated (wal_status lost), or a synced table lacks REPLICA
// IDENTITY FULL.
//
// # The loop (stream.go, sink.go)
//
// The stream goroutine owns the replication connection: it decodes pgoutput
// (proto_version 1, messages on), keeps a relation cache replaced on every
// Relation message, turns inserts, updates and deletes into log rows (COPY
// text, JSON record and values; an update's values are only the columns that
// changed, unchanged-TOAST columns are taken from the old row) and records a
// TRUNCATE as a failed entry. It hands the sink batches that end at a
// transaction boundary: several small transactions together, or a large
// transaction in chunks that the sink writes into one open local transaction,
// so memory stays bounded whatever the transaction's size.
//
// The sink goroutine owns a normal connection and is the only writer of log
// rows and of the checkpoint (_sync_capture_checkpoint: the end LSN of the
// last captured transaction). Rows and checkpoint commit in one local
// transaction; only then does the position the stream reports to the server
// advance. On restart, streaming starts at the checkpoint; a transaction the
// server sends again (its commit LSN is before the checkpoint) is skipped,
// and UNIQUE (commit_lsn, commit_seq) is a second fence. Status updates go out
// at least every 3/4 of wal_sender_timeout (at most 10s), at once when the
// server asks, and also while the stream waits for a busy sink. When nothing
// is in flight the stream confirms the server's WAL end from keepalives, so
// the slot advances while synced tables are quiet and other tables churn; a
// periodic heartbeat message keeps a position to confirm.
//
// Faults: Capture.Run reconnects with backoff when the connection or
// PostgreSQL drops. A dropped or invalidated slot is a SlotError: health
// tether_intervention and an error log line; the slot is never recreated by
// capture (that would silently skip changes).
//
// # Echo suppression: two modes
//
// tether's own writes (fetched rows, deletes, ids filled in) go through an
// EchoGuard and capture drops them:
//
//   - EchoOrigin (default when the role may call
//     pg_replication_origin_session_setup): the guard's session sets up
//     replication origin "tether". On PostgreSQL 16 and later capture asks
//     pgoutput for origin 'none', so the server never sends those
//     transactions; on 14 and 15 pgoutput sends an Origin message after Begin
//     and capture drops every transaction whose origin is "tether". Since
//     PostgreSQL lets one session at a time use an origin, guarded
//     transactions are serialised on one connection.
//   - EchoMessage (for roles that may not use origins): each guarded
//     transaction starts with pg_logical_emit_message(true, 'tether', 'echo').
//     The message is transactional, so it arrives inside the transaction it
//     marks; capture drops that transaction (rolling back chunks already
//     handed to the sink if the marker came late). Guarded transactions run
//     concurrently on the pool.
//
// An application write racing with a guarded write is in a different
// transaction and is captured either way.
package replication
