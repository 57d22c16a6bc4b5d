package ratelimit

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"
)

// maxInWindow returns the most starts in any half-open window [t, t+period).
func maxInWindow(starts []time.Time, period time.Duration) int {
	s := append([]time.Time(nil), starts...)
	sort.Slice(s, func(i, j int) bool { return s[i].Before(s[j]) })
	best, j := 0, 0
	for i := range s {
		for s[i].Sub(s[j]) >= period {
			j++
		}
		if n := i - j + 1; n > best {
			best = n
		}
	}
	return best
}

func TestSlidingWindowNeverExceeded(t *testing.T) {
	const allowed, period = 5, 50 * time.Millisecond
	l := New(Config{AllowedRequests: allowed, Period: period})
	ctx := context.Background()
	var mu sync.Mutex
	var starts []time.Time
	var wg sync.WaitGroup
	begin := time.Now()
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				p := Read
				if (g+i)%2 == 0 {
					p = Write
				}
				rel, err := l.Acquire(ctx, p)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				time.Sleep(time.Duration(i) * time.Millisecond)
				rel()
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if n := maxInWindow(starts, period); n > allowed {
		t.Fatalf("a window of %v saw %d starts, allowed %d", period, n, allowed)
	}
	// 30 requests at 5 per 50ms need at least 5 full periods.
	if elapsed < 5*period {
		t.Fatalf("30 requests took %v, want >= %v", elapsed, 5*period)
	}
	if st := l.Stats(); st.Granted != 30 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxConcurrent(t *testing.T) {
	l := New(Config{MaxConcurrent: 2})
	ctx := context.Background()
	var mu sync.Mutex
	cur, peak := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := l.Acquire(ctx, Read)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			cur++
			if cur > peak {
				peak = cur
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			cur--
			mu.Unlock()
			rel()
			rel() // a second call is ignored
		}()
	}
	wg.Wait()
	if peak > 2 || peak == 0 {
		t.Fatalf("peak concurrency %d, want at most 2", peak)
	}
}

func TestUnlimited(t *testing.T) {
	l := New(Config{})
	for i := 0; i < 1000; i++ {
		rel, err := l.Acquire(context.Background(), Read)
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
}

// waitQueued waits until the limiter holds n waiters.
func waitQueued(t *testing.T, l *Limiter, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		st := l.Stats()
		if st.WaitingReads+st.WaitingWrites == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d waiters: %+v", n, l.Stats())
}

func TestWritesBeforeReads(t *testing.T) {
	l := New(Config{MaxConcurrent: 1})
	ctx := context.Background()
	hold, err := l.Acquire(ctx, Read)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(name string, p Priority, queued int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := l.Acquire(ctx, p)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			rel()
		}()
		waitQueued(t, l, queued)
	}
	// Readers queue first, then writers: writers must still go first, and
	// each priority keeps its arrival order.
	enqueue("r1", Read, 1)
	enqueue("r2", Read, 2)
	enqueue("w1", Write, 3)
	enqueue("r3", Read, 4)
	enqueue("w2", Write, 5)
	hold()
	wg.Wait()
	want := []string{"w1", "w2", "r1", "r2", "r3"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestWritesBeforeReadsUnderWindow(t *testing.T) {
	// The window is long enough that every waiter is queued before the
	// first slot frees, even on a loaded machine.
	l := New(Config{AllowedRequests: 1, Period: 200 * time.Millisecond})
	ctx := context.Background()
	rel, _ := l.Acquire(ctx, Read) // fills the window
	rel()
	var mu sync.Mutex
	var order []Priority
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Acquire(ctx, Read)
			if err == nil {
				mu.Lock()
				order = append(order, Read)
				mu.Unlock()
				r()
			}
		}()
	}
	waitQueued(t, l, 3)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := l.Acquire(ctx, Write)
			if err == nil {
				mu.Lock()
				order = append(order, Write)
				mu.Unlock()
				r()
			}
		}()
	}
	waitQueued(t, l, 5)
	wg.Wait()
	if order[0] != Write || order[1] != Write {
		t.Fatalf("order %v: writes were not served first", order)
	}
}

func TestCancelRemovesWaiter(t *testing.T) {
	l := New(Config{MaxConcurrent: 1})
	hold, _ := l.Acquire(context.Background(), Read)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, Write)
		errc <- err
	}()
	waitQueued(t, l, 1)
	// A read queued behind the cancelled write must get its turn.
	got := make(chan struct{})
	go func() {
		r, err := l.Acquire(context.Background(), Read)
		if err == nil {
			r()
			close(got)
		}
	}()
	waitQueued(t, l, 2)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if st := l.Stats(); st.WaitingWrites != 0 {
		t.Fatalf("cancelled writer still queued: %+v", st)
	}
	hold()
	select {
	case <-got:
	case <-time.After(time.Second):
		t.Fatal("read never served after the write was cancelled")
	}
	// A context that is already done fails at once.
	if _, err := l.Acquire(ctx, Read); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestDeadlineWhileWindowFull(t *testing.T) {
	l := New(Config{AllowedRequests: 1, Period: time.Hour})
	rel, _ := l.Acquire(context.Background(), Read)
	rel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, Write); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestPauseUntil(t *testing.T) {
	l := New(Config{})
	begin := time.Now()
	l.PauseUntil(begin.Add(40 * time.Millisecond))
	l.PauseUntil(begin.Add(80 * time.Millisecond)) // extends
	l.PauseUntil(begin.Add(10 * time.Millisecond)) // never shortens
	if st := l.Stats(); !st.PausedUntil.Equal(begin.Add(80 * time.Millisecond)) {
		t.Fatalf("paused until %v", st.PausedUntil)
	}
	rel, err := l.Acquire(context.Background(), Write)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if d := time.Since(begin); d < 80*time.Millisecond {
		t.Fatalf("acquired after %v, want >= 80ms", d)
	}

	// Extending the pause while a request waits holds it longer.
	begin = time.Now()
	l.PauseUntil(begin.Add(150 * time.Millisecond))
	done := make(chan time.Duration, 1)
	go func() {
		r, err := l.Acquire(context.Background(), Read)
		if err == nil {
			r()
		}
		done <- time.Since(begin)
	}()
	waitQueued(t, l, 1)
	l.PauseUntil(begin.Add(300 * time.Millisecond))
	if d := <-done; d < 300*time.Millisecond {
		t.Fatalf("waiting read acquired after %v, want >= 300ms", d)
	}
}

func TestDailyCeiling(t *testing.T) {
	l := New(Config{DailyShare: 0.9, DailyRecheck: time.Hour})
	ctx := context.Background()
	l.SetDailyUsage(89, 100)
	rel, err := l.Acquire(ctx, Read)
	if err != nil {
		t.Fatal(err)
	}
	rel()

	l.SetDailyUsage(90, 100) // reads stop at 90%
	if !l.Stats().DailyBlocked {
		t.Fatal("ceiling not reported")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = l.Acquire(short, Read)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read over the share: err %v, want to wait", err)
	}
	// Writes may use the remainder.
	rel, err = l.Acquire(ctx, Write)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	l.SetDailyUsage(100, 100) // now writes wait too
	short, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = l.Acquire(short, Write)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write at the max: err %v, want to wait", err)
	}

	// A new, lower figure releases a waiting read at once.
	done := make(chan error, 1)
	go func() {
		r, err := l.Acquire(ctx, Read)
		if err == nil {
			r()
		}
		done <- err
	}()
	waitQueued(t, l, 1)
	l.SetDailyUsage(10, 100)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("read not released by lower usage")
	}
}

func TestDailyCeilingProbe(t *testing.T) {
	// While the ceiling holds, one probe passes every DailyRecheck so the
	// caller learns the new usage from its response.
	l := New(Config{DailyRecheck: 200 * time.Millisecond})
	ctx := context.Background()
	l.SetDailyUsage(95, 100) // over the default 0.9 share
	begin := time.Now()
	rel, err := l.Acquire(ctx, Read)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if d := time.Since(begin); d < 190*time.Millisecond {
		t.Fatalf("probe passed after %v, want ~200ms", d)
	}
	// The probe's response still says "over": the next probe waits again.
	l.SetDailyUsage(96, 100)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(short, Read); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second probe passed too early: %v", err)
	}
	// Clearing the ceiling (max <= 0) lets everything through.
	l.SetDailyUsage(0, 0)
	rel, err = l.Acquire(ctx, Read)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestSetDailyShare(t *testing.T) {
	l := New(Config{DailyRecheck: time.Hour})
	l.SetDailyShare(0.5)
	l.SetDailyUsage(60, 100)
	if !l.Stats().DailyBlocked {
		t.Fatal("share 0.5 at 60% should block reads")
	}
	if used, max := l.Usage(); used != 60 || max != 100 {
		t.Fatalf("usage %d/%d", used, max)
	}
}

// TestGrant: a reserved slot is used by the first request under its context
// without waiting again, holds back reads meanwhile, and, if unused, is given
// back with its place in the window.
func TestGrant(t *testing.T) {
	l := New(Config{AllowedRequests: 1, Period: time.Hour, MaxConcurrent: 1})
	ctx := context.Background()

	g, err := l.Reserve(ctx, Write)
	if err != nil {
		t.Fatal(err)
	}
	// A read cannot start while the grant holds the only slot.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := l.Acquire(short, Read); err == nil {
		t.Fatal("a read started while a write slot was reserved")
	}
	cancel()
	// Unused, the grant gives its slot and its window start back.
	g.Cancel()
	rel, err := l.Acquire(ctx, Read)
	if err != nil {
		t.Fatalf("slot not given back by Cancel: %v", err)
	}
	rel()

	// A used grant: the request under its context starts at once; a second
	// request under the same context waits for the window like any other.
	l2 := New(Config{AllowedRequests: 1, Period: time.Hour, MaxConcurrent: 1})
	g2, err := l2.Reserve(ctx, Write)
	if err != nil {
		t.Fatal(err)
	}
	gctx := WithGrant(ctx, g2)
	done := make(chan struct{})
	go func() {
		rel, err := l2.Acquire(gctx, Write)
		if err == nil {
			rel()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the request under the grant waited")
	}
	g2.Cancel() // no effect once taken
	short2, cancel2 := context.WithTimeout(gctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := l2.Acquire(short2, Write); err == nil {
		t.Fatal("a second request used the same grant")
	}
	if st := l2.Stats(); st.InFlight != 0 {
		t.Fatalf("in flight %d after release, want 0", st.InFlight)
	}
}
