package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/internal/metrics"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	ctx := context.Background()
	h := health.NewMemory()
	m := metrics.New()
	srv := New("127.0.0.1:0", h, m)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	base := "http://" + srv.Addr()

	// No components yet: healthy.
	code, body := get(t, base+"/health")
	if code != 200 || !strings.Contains(body, `"status": "healthy"`) {
		t.Errorf("empty health: %d %s", code, body)
	}

	h.Report(ctx, health.Capture, health.Healthy, "")
	h.Report(ctx, health.Table("contact"), health.Healthy, "")
	code, body = get(t, base+"/health")
	var hr HealthResponse
	if err := json.Unmarshal([]byte(body), &hr); err != nil {
		t.Fatal(err)
	}
	if code != 200 || hr.Status != health.Healthy || len(hr.Components) != 2 || hr.Components[0].Component != "capture" {
		t.Errorf("healthy: %d %+v", code, hr)
	}

	h.Report(ctx, health.Credential, health.CustomerIntervention, "invalid_grant: re-authorise tether")
	code, body = get(t, base+"/health")
	if code != 503 || !strings.Contains(body, `"status": "customer_intervention"`) || !strings.Contains(body, "invalid_grant") {
		t.Errorf("unhealthy: %d %s", code, body)
	}
	if code, _ := get(t, base+"/livez"); code != 200 {
		t.Errorf("livez %d", code)
	}

	m.Wrote("succeeded", 7)
	code, body = get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `tether_writes_total{outcome="succeeded"} 7`) ||
		!strings.Contains(body, `tether_health_status{component="credential"} 1`) {
		t.Errorf("metrics: %d %s", code, body)
	}

	if code, _ := get(t, base+"/status"); code != 404 {
		t.Errorf("status without a func: %d", code)
	}
	srv.SetStatus(func(context.Context) (any, error) { return map[string]int{"tables": 3}, nil })
	if code, body := get(t, base+"/status"); code != 200 || !strings.Contains(body, `"tables": 3`) {
		t.Errorf("status: %d %s", code, body)
	}
	srv.SetStatus(func(context.Context) (any, error) { return nil, errors.New("database down") })
	if code, body := get(t, base+"/status"); code != 500 || !strings.Contains(body, "database down") {
		t.Errorf("status error: %d %s", code, body)
	}
	if resp, err := http.Post(base+"/health", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /health: %v %v", resp, err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	slow := make(chan struct{})
	srv := New("127.0.0.1:0", nil, nil)
	srv.SetStatus(func(context.Context) (any, error) { <-slow; return "done", nil })
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	var addr string
	for i := 0; i < 100 && (addr == "" || strings.HasSuffix(addr, ":0")); i++ {
		time.Sleep(10 * time.Millisecond)
		addr = srv.Addr()
	}
	got := make(chan string, 1)
	go func() {
		code, body := get(t, "http://"+addr+"/status")
		got <- strings.TrimSpace(body) + " " + http.StatusText(code)
	}()
	time.Sleep(100 * time.Millisecond) // request in flight
	cancel()
	time.Sleep(100 * time.Millisecond)
	if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		t.Error("still accepting connections after shutdown began")
	}
	close(slow)
	if r := <-got; r != `"done" OK` {
		t.Errorf("in-flight request: %q", r)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := New(ln.Addr().String(), nil, nil)
	if err := srv.Start(); err == nil || !strings.Contains(err.Error(), "http listen") {
		t.Errorf("busy port: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of a server that never started: %v", err)
	}
}
