package ratelimit

import (
	"context"
	"testing"
)

// BenchmarkAcquireRelease measures the limiter's own overhead per request,
// uncontended and with 8 goroutines sharing 2 slots.
func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("uncontended", func(b *testing.B) {
		l := New(Config{AllowedRequests: 1 << 30, Period: 1e9})
		for i := 0; i < b.N; i++ {
			rel, err := l.Acquire(ctx, Read)
			if err != nil {
				b.Fatal(err)
			}
			rel()
		}
	})
	b.Run("contended", func(b *testing.B) {
		l := New(Config{MaxConcurrent: 2})
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			p := Read
			for pb.Next() {
				rel, err := l.Acquire(ctx, p)
				if err != nil {
					b.Error(err)
					return
				}
				rel()
				p = 1 - p
			}
		})
	})
}
