// Package health tracks the health of each part of tether (credential,
// Salesforce API, capture slot, each table): a status, a message and since
// when. Loops report through the Reporter interface; Store keeps the latest
// status in memory and in the _sync_health table.
//
// Usage:
//
//	h := health.NewStore(pool, "salesforce", logger) // a Reporter and a Source
//	h.Report(ctx, health.Credential, health.CustomerIntervention, "invalid_grant: re-authorise")
//	h.Report(ctx, health.Table("contact"), health.Healthy, "")
//	overall := health.Overall(h.Snapshot())          // for /health
//	entries, err := health.Load(ctx, pool, "salesforce") // tether status, from another process
package health

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Status is a component's health.
type Status string

// Statuses, as in DESIGN.md.
const (
	Healthy              Status = "healthy"
	CustomerIntervention Status = "customer_intervention" // the user must act: credentials, permissions, quota, mapping
	TetherIntervention   Status = "tether_intervention"   // a fault in tether or its database; an operator must look
)

// Well-known component names. Tables are "table:<name>".
const (
	Credential = "credential"
	API        = "salesforce_api"
	Capture    = "capture"
	Writer     = "writer"
	Fetcher    = "fetcher"
)

// Table is the component name of a synced table.
func Table(name string) string { return "table:" + name }

// Reporter receives status changes. Implementations must be safe for concurrent use.
type Reporter interface {
	Report(ctx context.Context, component string, status Status, message string)
}

// Nop discards reports.
type Nop struct{}

// Report implements Reporter.
func (Nop) Report(context.Context, string, Status, string) {}

// Entry is one component's current health.
type Entry struct {
	Component string    `json:"component"`
	Status    Status    `json:"status"`
	Message   string    `json:"message"`
	Since     time.Time `json:"since"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Memory keeps the latest status per component in memory.
type Memory struct {
	mu      sync.Mutex
	entries map[string]Entry
	now     func() time.Time
}

// NewMemory returns an empty in-memory reporter.
func NewMemory() *Memory { return &Memory{entries: map[string]Entry{}, now: time.Now} }

// Report implements Reporter; Since changes only when the status changes.
func (m *Memory) Report(_ context.Context, component string, status Status, message string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.entries[component]
	if !ok || e.Status != status {
		e.Since = now
	}
	e.Component, e.Status, e.Message, e.UpdatedAt = component, status, message, now
	m.entries[component] = e
}

// Snapshot returns all entries, sorted by component.
func (m *Memory) Snapshot() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out
}

// Source is anything that can list current health entries (Memory, Store).
type Source interface {
	Snapshot() []Entry
}

// severity orders statuses for Overall.
func severity(s Status) int {
	switch s {
	case Healthy:
		return 0
	case CustomerIntervention:
		return 1
	default: // TetherIntervention or anything unknown
		return 2
	}
}

// Overall is the worst status among entries: tether_intervention, then
// customer_intervention, else healthy (also for no entries).
func Overall(entries []Entry) Status {
	worst := Healthy
	for _, e := range entries {
		if severity(e.Status) > severity(worst) {
			worst = e.Status
		}
	}
	return worst
}

// Get returns one component's entry.
func (m *Memory) Get(component string) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[component]
	return e, ok
}
