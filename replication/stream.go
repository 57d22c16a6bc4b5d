package replication

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rs/zerolog"

	"github.com/tether-sync/tether/internal/metrics"
)

// Batching limits. A batch (several whole small transactions, or one chunk of
// a large one) holds at most this many rows or bytes; this bounds capture's
// memory whatever the size of a transaction.
const (
	defaultChunkRows  = 5000
	defaultChunkBytes = 8 << 20
	pollInterval      = 2 * time.Millisecond
	maxWake           = 250 * time.Millisecond
)

// stream reads pgoutput messages from the replication connection, turns the
// changes of synced tables into log rows and hands them to the sink in
// batches that never end inside a transaction unless the transaction is too
// large to hold, in which case its chunks go into one open local transaction
// that commits at the transaction's end. It also answers the server: status
// updates carry only the position the sink has durably stored (or, when
// nothing at all is in flight, the server's WAL end).
type stream struct {
	conn    *pgconn.PgConn
	cfg     Config
	log     zerolog.Logger
	metrics *metrics.Metrics
	enc     *valueEncoder
	rels    map[uint32]*relation

	out      chan<- *batch
	sinkDone <-chan struct{}
	free     <-chan []byte
	flushed  *atomic.Uint64
	inflight *atomic.Int64

	checkpoint pglogrepl.LSN // transactions ending at or before it are already in the log

	chunkRows  int
	chunkBytes int

	// The transaction being received.
	inTx     bool
	skip     bool
	txLSN    pglogrepl.LSN
	txTime   time.Time
	seq      int32
	txStart  int  // offset in buf of the current transaction's unsent rows
	txRows   int  // unsent rows of the current transaction
	txOpen   bool // earlier chunks of the current transaction are in the sink's open local transaction
	txChunks int

	// Whole transactions received and not yet handed over.
	buf       []byte
	doneLen   int
	doneRows  int
	doneEnd   pglogrepl.LSN
	doneOpen  bool // the sink holds uncommitted chunks of a completed transaction
	doneTimes []time.Time

	idleEnd   pglogrepl.LSN // highest server position seen outside any transaction
	serverEnd pglogrepl.LSN

	statusEvery time.Duration
	nextStatus  time.Time
	lastSent    pglogrepl.LSN
	lastStatus  time.Time

	replayed int // transactions skipped because the log has them
	warned   map[uint32]bool

	scratch    [2][]byte
	scratchIdx int
}

func (s *stream) idle() bool {
	return !s.inTx && len(s.buf) == 0 && !s.doneOpen && !s.txOpen && s.inflight.Load() == 0
}

// confirmable is the position the server may discard WAL up to.
func (s *stream) confirmable() pglogrepl.LSN {
	pos := pglogrepl.LSN(s.flushed.Load())
	if s.idle() && s.idleEnd > pos {
		pos = s.idleEnd
	}
	if pos < s.lastSent {
		pos = s.lastSent
	}
	return pos
}

func (s *stream) sendStatus(reply bool) error {
	pos := s.confirmable()
	if err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos, ReplyRequested: reply,
	}); err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	s.lastSent = pos
	s.lastStatus = time.Now()
	s.nextStatus = s.lastStatus.Add(s.statusEvery)
	if s.serverEnd > pos {
		s.metrics.Lag(int64(s.serverEnd - pos))
	} else {
		s.metrics.Lag(0)
	}
	return nil
}

// run receives until ctx is done or the connection fails.
func (s *stream) run(ctx context.Context) error {
	s.nextStatus = time.Now().Add(s.statusEvery)
	for {
		select {
		case <-s.sinkDone:
			return fmt.Errorf("log writer stopped")
		default:
		}
		now := time.Now()
		if now.After(s.nextStatus) || (s.confirmable() != s.lastSent && now.Sub(s.lastStatus) >= maxWake) {
			if err := s.sendStatus(false); err != nil {
				return err
			}
		}
		if s.pendingDone() {
			if _, err := s.flushDone(ctx, s.mustBlock()); err != nil {
				return err
			}
		}
		wake := now.Add(maxWake)
		if s.nextStatus.Before(wake) {
			wake = s.nextStatus
		}
		if s.pendingDone() {
			wake = now.Add(pollInterval)
		}
		rctx, cancel := context.WithDeadline(ctx, wake)
		msg, err := s.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if err := s.handleCopyData(ctx, msg.Data); err != nil {
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return fmt.Errorf("replication stream ended by the server")
		default:
			// NoticeResponse and the like: nothing to do.
		}
	}
}

func (s *stream) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("parse keepalive: %w", err)
		}
		s.seen(ka.ServerWALEnd)
		if !s.inTx && ka.ServerWALEnd > s.idleEnd {
			s.idleEnd = ka.ServerWALEnd
		}
		if ka.ReplyRequested {
			return s.sendStatus(false)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("parse XLogData: %w", err)
		}
		s.seen(xld.ServerWALEnd)
		m, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return fmt.Errorf("parse pgoutput message at %s: %w", xld.WALStart, err)
		}
		return s.handle(ctx, m)
	}
	return nil
}

func (s *stream) seen(end pglogrepl.LSN) {
	if end > s.serverEnd {
		s.serverEnd = end
	}
}

func (s *stream) handle(ctx context.Context, m pglogrepl.Message) error {
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		s.rels[m.RelationID] = newRelation(m)
	case *pglogrepl.BeginMessage:
		s.inTx, s.skip = true, false
		s.txLSN, s.txTime = m.FinalLSN, m.CommitTime
		s.seq, s.txStart, s.txRows, s.txOpen, s.txChunks = 0, len(s.buf), 0, false, 0
		if s.checkpoint != 0 && m.FinalLSN < s.checkpoint {
			// Seen before a crash or reconnect; its rows are in the log already.
			s.skip = true
			s.replayed++
		} else if s.replayed > 0 {
			s.log.Info().Int("transactions", s.replayed).Str("checkpoint", s.checkpoint.String()).Msg("skipped transactions already in the log")
			s.replayed = 0
		}
	case *pglogrepl.OriginMessage:
		if s.inTx && m.Name == s.cfg.Origin {
			return s.dropTx(ctx, "origin")
		}
	case *pglogrepl.LogicalDecodingMessage:
		if m.Transactional && s.inTx && m.Prefix == s.cfg.Origin && string(m.Content) == MarkerContent {
			return s.dropTx(ctx, "marker")
		}
	case *pglogrepl.InsertMessage:
		return s.change(ctx, m.RelationID, func(r *relation) error { return s.insertRow(r, m) })
	case *pglogrepl.UpdateMessage:
		return s.change(ctx, m.RelationID, func(r *relation) error { return s.updateRow(r, m) })
	case *pglogrepl.DeleteMessage:
		return s.change(ctx, m.RelationID, func(r *relation) error { return s.deleteRow(r, m) })
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err := s.change(ctx, id, s.truncateRow); err != nil {
				return err
			}
		}
	case *pglogrepl.CommitMessage:
		return s.commit(ctx, m)
	}
	return nil
}

// dropTx discards the current transaction: it is tether's own.
func (s *stream) dropTx(ctx context.Context, why string) error {
	if s.skip {
		return nil
	}
	s.skip = true
	s.buf = s.buf[:s.txStart]
	s.txRows = 0
	if s.txOpen {
		// The marker came after chunks were handed over (a marker must be the
		// transaction's first statement; be safe anyway). The sink's open
		// transaction holds only this transaction's rows: roll it back.
		if err := s.send(ctx, &batch{abort: true}, true); err != nil {
			return err
		}
		s.txOpen = false
	}
	s.log.Debug().Str("commit_lsn", s.txLSN.String()).Str("by", why).Msg("dropping tether's own transaction")
	return nil
}

func (s *stream) change(ctx context.Context, relID uint32, fn func(*relation) error) error {
	if !s.inTx {
		return fmt.Errorf("change outside a transaction (relation %d)", relID)
	}
	if s.skip {
		return nil
	}
	r, ok := s.rels[relID]
	if !ok {
		return fmt.Errorf("change for unknown relation %d (no Relation message)", relID)
	}
	if err := fn(r); err != nil {
		return fmt.Errorf("table %s: %w", r.name, err)
	}
	if s.txRows >= s.chunkRows || len(s.buf)-s.txStart >= s.chunkBytes {
		return s.flushChunk(ctx)
	}
	return nil
}

func (s *stream) commit(ctx context.Context, m *pglogrepl.CommitMessage) error {
	if !s.inTx {
		return fmt.Errorf("commit without begin at %s", m.CommitLSN)
	}
	s.inTx = false
	if m.TransactionEndLSN > s.idleEnd {
		s.idleEnd = m.TransactionEndLSN
	}
	if s.skip || (s.txRows == 0 && !s.txOpen) {
		return nil
	}
	s.doneLen = len(s.buf)
	s.doneRows += s.txRows
	s.doneEnd = m.TransactionEndLSN
	s.doneOpen = s.doneOpen || s.txOpen
	s.doneTimes = append(s.doneTimes, m.CommitTime)
	s.txRows, s.txOpen, s.txStart = 0, false, len(s.buf)
	if s.txChunks > 0 {
		s.log.Info().Str("commit_lsn", s.txLSN.String()).Int("chunks", s.txChunks+1).Msg("large transaction captured in chunks")
	}
	_, err := s.flushDone(ctx, s.mustBlock())
	return err
}

func (s *stream) pendingDone() bool { return s.doneRows > 0 || s.doneOpen }

func (s *stream) mustBlock() bool {
	return s.doneOpen || s.doneRows >= s.chunkRows || s.doneLen >= s.chunkBytes
}

// flushDone hands the completed transactions over, with the instruction to
// commit them and their checkpoint. Without block it gives up when the sink
// is busy; the rows wait and more transactions join them.
func (s *stream) flushDone(ctx context.Context, block bool) (bool, error) {
	if !s.pendingDone() {
		return true, nil
	}
	b := &batch{data: s.buf[:s.doneLen], rows: s.doneRows, commit: true, end: s.doneEnd, commitTimes: s.doneTimes}
	if block {
		if err := s.send(ctx, b, true); err != nil {
			return false, err
		}
	} else if err := s.send(ctx, b, false); err != nil {
		if err == errBusy {
			return false, nil
		}
		return false, err
	}
	rest := s.buf[s.doneLen:]
	s.buf = append(s.newBuf(len(rest)), rest...)
	s.txStart -= s.doneLen
	s.doneLen, s.doneRows, s.doneOpen, s.doneTimes = 0, 0, false, nil
	return true, nil
}

// flushChunk hands over the rows of a transaction too large to hold, after
// committing the whole transactions received before it.
func (s *stream) flushChunk(ctx context.Context) error {
	if _, err := s.flushDone(ctx, true); err != nil {
		return err
	}
	b := &batch{data: s.buf[s.txStart:], rows: s.txRows}
	if err := s.send(ctx, b, true); err != nil {
		return err
	}
	s.buf = s.newBuf(0)
	s.txStart, s.txRows, s.txOpen = 0, 0, true
	s.txChunks++
	return nil
}

func (s *stream) newBuf(n int) []byte {
	select {
	case b := <-s.free:
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	c := 64 << 10
	if n > c {
		c = n * 2
	}
	return make([]byte, 0, c)
}

var errBusy = fmt.Errorf("sink busy")

// send hands b to the sink. Blocking, it keeps answering the server while it
// waits, so a slow local write never costs the replication connection.
func (s *stream) send(ctx context.Context, b *batch, block bool) error {
	s.inflight.Add(1)
	if !block {
		select {
		case s.out <- b:
			return nil
		default:
			s.inflight.Add(-1)
			return errBusy
		}
	}
	t := time.NewTicker(s.statusEvery / 2)
	defer t.Stop()
	for {
		select {
		case s.out <- b:
			return nil
		case <-t.C:
			if err := s.sendStatus(false); err != nil {
				s.inflight.Add(-1)
				return err
			}
		case <-s.sinkDone:
			s.inflight.Add(-1)
			return fmt.Errorf("log writer stopped")
		case <-ctx.Done():
			s.inflight.Add(-1)
			return ctx.Err()
		}
	}
}

// Row encoding: one line of COPY text per log row.

func (s *stream) insertRow(r *relation, m *pglogrepl.InsertMessage) error {
	values, _ := s.objectOf(r, m.Tuple, nil, func(i int, v *pglogrepl.TupleDataColumn) bool {
		return !r.cols[i].internal && !(i == r.apiID && isNull(v))
	})
	s.appendRow(r, "insert", m.Tuple, nil, "new", nil, values, "")
	return nil
}

func (s *stream) updateRow(r *relation, m *pglogrepl.UpdateMessage) error {
	old := m.OldTuple
	if m.OldTupleType != pglogrepl.UpdateMessageTupleTypeOld {
		old = nil // only a key, or nothing: the table lacks REPLICA IDENTITY FULL
	}
	values, n := s.objectOf(r, m.NewTuple, old, func(i int, v *pglogrepl.TupleDataColumn) bool {
		if r.cols[i].internal {
			return false
		}
		if old == nil {
			return true
		}
		o := tupleValue(old, i)
		return !known(o) || !sameValue(o, v)
	})
	if n == 0 {
		return nil // only bookkeeping columns changed
	}
	var record []byte
	if old != nil {
		record, _ = s.objectOf(r, old, nil, keepRecord(r))
	} else {
		s.warnIdentity(r)
	}
	s.appendRow(r, "update", m.NewTuple, old, "new", record, values, "")
	return nil
}

func (s *stream) deleteRow(r *relation, m *pglogrepl.DeleteMessage) error {
	var record []byte
	if m.OldTupleType == pglogrepl.DeleteMessageTupleTypeOld {
		record, _ = s.objectOf(r, m.OldTuple, nil, keepRecord(r))
	} else {
		s.warnIdentity(r)
	}
	s.appendRow(r, "delete", m.OldTuple, nil, "new", record, nil, "")
	return nil
}

func (s *stream) truncateRow(r *relation) error {
	msg := fmt.Sprintf("TRUNCATE of %s is not written back to Salesforce: the truncated rows still exist there, and tether will not delete them one by one. Delete them in Salesforce (or delete the rows here with DELETE) and resync the table if needed.", r.name)
	s.log.Error().Str("table", r.name).Str("commit_lsn", s.txLSN.String()).Msg("TRUNCATE of a synced table recorded as a failed write-log entry")
	s.appendRow(r, "delete", nil, nil, "failed", nil, nil, msg)
	return nil
}

// warnIdentity logs, once per table and session, that changes arrive without
// the old row (no REPLICA IDENTITY FULL): such update rows carry every
// column in values and no record.
func (s *stream) warnIdentity(r *relation) {
	if s.warned == nil {
		s.warned = map[uint32]bool{}
	}
	if !s.warned[r.id] {
		s.warned[r.id] = true
		s.log.Warn().Str("table", r.name).Msg("changes arrive without the old row: the table lacks REPLICA IDENTITY FULL (run ALTER TABLE ... REPLICA IDENTITY FULL); updates carry every column and no record")
	}
}

func keepRecord(r *relation) func(int, *pglogrepl.TupleDataColumn) bool {
	return func(i int, _ *pglogrepl.TupleDataColumn) bool { return !r.cols[i].internal }
}

// objectOf encodes a JSON object into one of two scratch buffers (reused for
// every row; appendRow copies the result into place).
func (s *stream) objectOf(r *relation, primary, fallback *pglogrepl.TupleData, keep func(int, *pglogrepl.TupleDataColumn) bool) ([]byte, int) {
	s.scratchIdx ^= 1
	out, n := s.enc.appendObject(s.scratch[s.scratchIdx][:0], r, primary, fallback, keep)
	s.scratch[s.scratchIdx] = out
	return out, n
}

// appendRow appends one COPY line: table_name, action, api_id, row_id,
// state, record, values, api_message, commit_lsn, commit_seq, committed_at.
func (s *stream) appendRow(r *relation, action string, tuple, fallback *pglogrepl.TupleData, state string, record, values []byte, message string) {
	b := s.buf
	b = copyText(b, []byte(r.name))
	b = append(b, '\t')
	b = append(b, action...)
	b = append(b, '\t')
	b = appendCol(b, r.apiID, tuple, fallback)
	b = append(b, '\t')
	b = appendCol(b, r.rowID, tuple, fallback)
	b = append(b, '\t')
	b = append(b, state...)
	b = append(b, '\t')
	b = copyNullable(b, record)
	b = append(b, '\t')
	b = copyNullable(b, values)
	b = append(b, '\t')
	if message == "" {
		b = append(b, `\N`...)
	} else {
		b = copyText(b, []byte(message))
	}
	b = append(b, '\t')
	b = append(b, s.txLSN.String()...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(s.seq), 10)
	b = append(b, '\t')
	b = s.txTime.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999Z07:00")
	b = append(b, '\n')
	s.buf = b
	s.seq++
	s.txRows++
}

func appendCol(b []byte, i int, tuple, fallback *pglogrepl.TupleData) []byte {
	if i < 0 {
		return append(b, `\N`...)
	}
	v := tupleValue(tuple, i)
	if !known(v) {
		v = tupleValue(fallback, i)
	}
	if !known(v) || isNull(v) {
		return append(b, `\N`...)
	}
	return copyText(b, v.Data)
}

func copyNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, `\N`...)
	}
	return copyText(b, v)
}

// copyText appends v escaped for COPY's text format.
func copyText(b, v []byte) []byte {
	for _, c := range v {
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}
