// Package httpserver serves tether's operational HTTP endpoints:
//
//	GET /health   {"status": "...", "components": [...]}; 200 when every component is healthy, else 503
//	GET /livez    200 while the process serves HTTP (a liveness probe that never restarts tether for a credential problem)
//	GET /metrics  Prometheus text format from the metrics registry
//	GET /status   JSON from the StatusFunc, when one is set (404 otherwise)
//
// Usage:
//
//	srv := httpserver.New(cfg.HTTPAddr, healthStore, m)
//	srv.SetStatus(func(ctx context.Context) (any, error) { return status.Collect(ctx, pool, cfg.Schema) })
//	if err := srv.Start(); err != nil { return err } // listens now, serves in the background
//	log.Info().Str("addr", srv.Addr()).Msg("http")
//	defer srv.Shutdown(context.Background())          // graceful, bounded by ctx
//
// or, blocking until ctx ends: err := srv.Run(ctx).
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
)

// StatusFunc produces the /status document.
type StatusFunc func(ctx context.Context) (any, error)

// ShutdownTimeout bounds Run's graceful shutdown.
const ShutdownTimeout = 5 * time.Second

// Server is tether's HTTP status server.
type Server struct {
	addr    string
	health  health.Source
	metrics *metrics.Metrics
	mux     *http.ServeMux

	mu     sync.Mutex
	status StatusFunc
	srv    *http.Server
	ln     net.Listener
	done   chan struct{} // closed when Serve returns
	err    error         // Serve's error, set before done closes
}

// HealthResponse is the /health document.
type HealthResponse struct {
	Status     health.Status  `json:"status"`
	Components []health.Entry `json:"components"`
}

// New returns a server for addr (host:port; ":0" picks a free port). src may
// be nil (no components: healthy); m may be nil (empty /metrics).
func New(addr string, src health.Source, m *metrics.Metrics) *Server {
	s := &Server{addr: addr, health: src, metrics: m, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /health", s.handleHealth)
	s.mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", m.Handler())
	s.mux.HandleFunc("GET /status", s.handleStatus)
	return s
}

// SetStatus sets (or replaces) the function behind /status.
func (s *Server) SetStatus(fn StatusFunc) {
	s.mu.Lock()
	s.status = fn
	s.mu.Unlock()
}

// Handler returns the server's routes, e.g. to mount elsewhere or test.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	resp := HealthResponse{Status: health.Healthy, Components: []health.Entry{}}
	if s.health != nil {
		if es := s.health.Snapshot(); es != nil {
			resp.Components = es
		}
		resp.Status = health.Overall(resp.Components)
	}
	for _, e := range resp.Components {
		s.metrics.Health(e.Component, string(e.Status))
	}
	code := http.StatusOK
	if resp.Status != health.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, resp)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	fn := s.status
	s.mu.Unlock()
	if fn == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "status not available"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	doc, err := fn(ctx)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// Start listens on the address (so a busy port fails here) and serves in the
// background until Shutdown.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("httpserver: already started")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(done)
	}(s.srv, s.done)
	return nil
}

// Addr is the address actually listened on (after Start), else the configured one.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Shutdown stops accepting connections and waits for requests in flight,
// up to ctx's deadline. Safe to call when not started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	<-done
	return s.serveErr()
}

func (s *Server) serveErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("http serve: %w", s.err)
	}
	return nil
}

// Run starts the server, serves until ctx ends, then shuts down gracefully
// (at most ShutdownTimeout). It returns a listen or serve error, else nil.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
		return s.serveErr()
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}
