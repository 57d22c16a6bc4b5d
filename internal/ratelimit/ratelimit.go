// Package ratelimit is the one request limiter shared by every loop that talks
// to an upstream API. It enforces, together:
//
//   - a sliding window: at most Config.AllowedRequests request starts in any
//     window of Config.Period (AllowedRequests <= 0: unlimited);
//   - a concurrency cap: at most Config.MaxConcurrent requests in flight
//     (<= 0: unlimited);
//   - priorities: a waiting Write is always served before any waiting Read;
//     within one priority, waiters are served first come, first served;
//   - a pause (PauseUntil), e.g. after the provider answered "limit exceeded";
//   - a daily ceiling fed by the provider's usage figures (SetDailyUsage): once
//     used >= DailyShare*max, reads wait; writes may use the remainder up to
//     max. Usage figures only arrive with responses, so while the ceiling holds
//     the limiter lets one probe request through every Config.DailyRecheck
//     (default 1 min) to learn whether usage dropped; a new SetDailyUsage below
//     the ceiling releases waiters at once.
//
// A waiter whose context ends is removed from the queue and gets ctx.Err().
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Priority orders waiting requests: Write before Read.
type Priority int

// Priorities.
const (
	Read Priority = iota
	Write
)

func (p Priority) String() string {
	if p == Write {
		return "write"
	}
	return "read"
}

// DefaultDailyShare is the share of the daily limit reads may use when
// Config.DailyShare is zero.
const DefaultDailyShare = 0.9

// DefaultDailyRecheck is how often a probe request passes the daily ceiling
// when Config.DailyRecheck is zero.
const DefaultDailyRecheck = time.Minute

// Config sets the limits. The zero Config limits nothing but the daily ceiling.
type Config struct {
	// AllowedRequests is the most request starts in any window of Period;
	// <= 0 (or Period <= 0): unlimited.
	AllowedRequests int
	// Period is the sliding window length.
	Period time.Duration
	// MaxConcurrent is the most requests in flight; <= 0: unlimited.
	MaxConcurrent int
	// DailyShare (0..1] is the share of the daily limit reads may use; 0 means
	// DefaultDailyShare. Writes may always use up to the full daily limit.
	DailyShare float64
	// DailyRecheck is how often one probe request may pass while the daily
	// ceiling holds; 0 means DefaultDailyRecheck.
	DailyRecheck time.Duration
	// Now is the clock; nil means time.Now (tests only).
	Now func() time.Time
}

// Stats is a snapshot of the limiter's state.
type Stats struct {
	InFlight       int
	WaitingReads   int
	WaitingWrites  int
	StartsInWindow int
	PausedUntil    time.Time // zero when not paused
	DailyUsed      int
	DailyMax       int
	DailyBlocked   bool          // reads are held by the daily ceiling
	Granted        uint64        // acquisitions granted so far
	Waited         time.Duration // total time granted requests waited
}

type waiter struct {
	prio Priority
	seq  uint64
}

// Limiter is a shared request limiter; safe for concurrent use.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every state change
	starts      []time.Time   // request starts within the last Period, oldest first
	inFlight    int
	queue       []*waiter
	seq         uint64
	pausedUntil time.Time
	dailyUsed   int
	dailyMax    int
	probeAt     time.Time // while the ceiling holds: when the next probe may pass
	granted     uint64
	waited      time.Duration
}

// New returns a limiter with the given configuration.
func New(cfg Config) *Limiter {
	if cfg.Period <= 0 {
		cfg.AllowedRequests = 0 // no window, no rate
	}
	if cfg.DailyShare <= 0 {
		cfg.DailyShare = DefaultDailyShare
	}
	if cfg.DailyShare > 1 {
		cfg.DailyShare = 1
	}
	if cfg.DailyRecheck <= 0 {
		cfg.DailyRecheck = DefaultDailyRecheck
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, now: now, changed: make(chan struct{})}
}

// Config returns the limiter's effective configuration.
func (l *Limiter) Config() Config { return l.cfg }

// SetDailyShare changes the share of the daily limit reads may use (0 keeps
// the current share).
func (l *Limiter) SetDailyShare(share float64) {
	if share <= 0 {
		return
	}
	if share > 1 {
		share = 1
	}
	l.mu.Lock()
	l.cfg.DailyShare = share
	l.broadcastLocked()
	l.mu.Unlock()
}

// broadcastLocked wakes every waiter so it re-checks its turn.
func (l *Limiter) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// PauseUntil blocks every acquisition until t. A later t extends the pause; an
// earlier one never shortens it.
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
		l.broadcastLocked()
	}
}

// SetDailyUsage reports the provider's daily usage (used of max requests).
// max <= 0 clears the ceiling.
func (l *Limiter) SetDailyUsage(used, max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wasBlocked := l.dailyReadBlockedLocked()
	l.dailyUsed, l.dailyMax = used, max
	if l.dailyReadBlockedLocked() {
		if !wasBlocked {
			l.probeAt = l.now().Add(l.cfg.DailyRecheck)
		}
	} else {
		l.probeAt = time.Time{}
	}
	l.broadcastLocked()
}

func (l *Limiter) dailyReadBlockedLocked() bool {
	return l.dailyMax > 0 && float64(l.dailyUsed) >= l.cfg.DailyShare*float64(l.dailyMax)
}

func (l *Limiter) dailyBlockedLocked(p Priority) bool {
	if l.dailyMax <= 0 {
		return false
	}
	if p == Write {
		return l.dailyUsed >= l.dailyMax
	}
	return l.dailyReadBlockedLocked()
}

// Usage returns the last daily usage reported.
func (l *Limiter) Usage() (used, max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dailyUsed, l.dailyMax
}

// pruneLocked drops starts that left the window.
func (l *Limiter) pruneLocked(now time.Time) {
	if l.cfg.AllowedRequests <= 0 {
		l.starts = l.starts[:0]
		return
	}
	i := 0
	for i < len(l.starts) && !l.starts[i].After(now.Add(-l.cfg.Period)) {
		i++
	}
	if i > 0 {
		l.starts = append(l.starts[:0], l.starts[i:]...)
	}
}

// headLocked returns the waiter whose turn it is: the oldest write, else the
// oldest read.
func (l *Limiter) headLocked() *waiter {
	var head *waiter
	for _, w := range l.queue {
		if head == nil || w.prio > head.prio || (w.prio == head.prio && w.seq < head.seq) {
			head = w
		}
	}
	return head
}

// tryLocked grants w if it is its turn and every limit allows it. Otherwise
// it returns the moment a time-based limit may lift (zero: wait for a change).
func (l *Limiter) tryLocked(w *waiter, now time.Time) (bool, time.Time) {
	if l.headLocked() != w {
		return false, time.Time{}
	}
	if now.Before(l.pausedUntil) {
		return false, l.pausedUntil
	}
	if l.cfg.MaxConcurrent > 0 && l.inFlight >= l.cfg.MaxConcurrent {
		return false, time.Time{}
	}
	l.pruneLocked(now)
	if l.cfg.AllowedRequests > 0 && len(l.starts) >= l.cfg.AllowedRequests {
		// The oldest start leaves the window strictly after start+Period.
		return false, l.starts[0].Add(l.cfg.Period + time.Millisecond/10)
	}
	probe := false
	if l.dailyBlockedLocked(w.prio) {
		if now.Before(l.probeAt) {
			return false, l.probeAt
		}
		probe = true
	}
	if probe {
		l.probeAt = now.Add(l.cfg.DailyRecheck)
	}
	if l.cfg.AllowedRequests > 0 {
		l.starts = append(l.starts, now)
	}
	l.inFlight++
	l.granted++
	return true, time.Time{}
}

func (l *Limiter) removeLocked(w *waiter) {
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return
		}
	}
}

// Acquire waits for the turn of one request of priority p and returns the
// function that marks it finished (call it exactly once; extra calls are
// ignored). It returns ctx.Err() if ctx ends first.
func (l *Limiter) Acquire(ctx context.Context, p Priority) (release func(), err error) {
	if g, ok := ctx.Value(grantKey{}).(*Grant); ok && g.l == l && g.take() {
		return g.release, nil
	}
	release, _, err = l.acquire(ctx, p)
	return release, err
}

// acquire is Acquire without grants; it also returns the start recorded in
// the window.
func (l *Limiter) acquire(ctx context.Context, p Priority) (release func(), started time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, err
	}
	start := l.now()
	l.mu.Lock()
	l.seq++
	w := &waiter{prio: p, seq: l.seq}
	l.queue = append(l.queue, w)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now := l.now()
		ok, wake := l.tryLocked(w, now)
		if ok {
			l.removeLocked(w)
			l.waited += now.Sub(start)
			l.broadcastLocked() // the next waiter may now be the head
			l.mu.Unlock()
			var once sync.Once
			return func() { once.Do(l.release) }, now, nil
		}
		changed := l.changed
		l.mu.Unlock()

		var timerC <-chan time.Time
		if !wake.IsZero() {
			d := wake.Sub(now)
			if d < 0 {
				d = 0
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
			l.mu.Lock()
			l.removeLocked(w)
			l.broadcastLocked()
			l.mu.Unlock()
			return nil, time.Time{}, ctx.Err()
		case <-changed:
		case <-timerC:
		}
		if timer != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		l.mu.Lock()
	}
}

// Grant is a request slot taken ahead of the request that will use it (see
// Reserve). Under a context carrying it (WithGrant), the first Acquire (of any
// priority: a lookup the holder makes before its write must not wait behind
// its own slot) uses the slot instead of waiting again; Cancel gives back a
// slot no request used, and its place in the window.
//
// The writer uses it to wait for its turn first and only then gather the
// changes to send, so that changes arriving during the wait join the batch.
type Grant struct {
	l       *Limiter
	started time.Time
	rel     func()

	mu    sync.Mutex
	taken bool
	done  bool
}

type grantKey struct{}

// Reserve waits for a slot of priority p, as Acquire does, and holds it.
func (l *Limiter) Reserve(ctx context.Context, p Priority) (*Grant, error) {
	rel, started, err := l.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Grant{l: l, started: started, rel: rel}, nil
}

// WithGrant returns a context whose first Acquire uses g.
func WithGrant(ctx context.Context, g *Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

func (g *Grant) take() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.taken || g.done {
		return false
	}
	g.taken = true
	return true
}

func (g *Grant) release() {
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		return
	}
	g.done = true
	g.mu.Unlock()
	g.rel()
}

// Cancel gives back the slot if no request took it: the concurrency slot and
// its start in the window, as if it had never been granted. After a request
// took it, Cancel does nothing (the request's release frees it).
func (g *Grant) Cancel() {
	g.mu.Lock()
	if g.taken || g.done {
		g.mu.Unlock()
		return
	}
	g.done = true
	g.mu.Unlock()
	l := g.l
	l.mu.Lock()
	for i, t := range l.starts {
		if t.Equal(g.started) {
			l.starts = append(l.starts[:i], l.starts[i+1:]...)
			break
		}
	}
	if l.granted > 0 {
		l.granted--
	}
	l.mu.Unlock()
	g.rel()
}

func (l *Limiter) release() {
	l.mu.Lock()
	l.inFlight--
	l.broadcastLocked()
	l.mu.Unlock()
}

// Stats returns a snapshot of the limiter's state.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	s := Stats{
		InFlight:       l.inFlight,
		StartsInWindow: len(l.starts),
		DailyUsed:      l.dailyUsed,
		DailyMax:       l.dailyMax,
		DailyBlocked:   l.dailyReadBlockedLocked(),
		Granted:        l.granted,
		Waited:         l.waited,
	}
	if now.Before(l.pausedUntil) {
		s.PausedUntil = l.pausedUntil
	}
	for _, w := range l.queue {
		if w.prio == Write {
			s.WaitingWrites++
		} else {
			s.WaitingReads++
		}
	}
	return s
}
