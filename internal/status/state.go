package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/health"
)

// DB is what this package needs from a pool or connection
// (*pgxpool.Pool, *pgx.Conn, pgx.Tx).
type DB = health.DB

// State keys in <schema>._sync_state.
const (
	KeyAPIUsage = "api_usage"
	KeyLeader   = "leader"
)

// APIUsage is the org's daily API usage as last seen in Sforce-Limit-Info.
type APIUsage struct {
	Used      int       `json:"used"`
	Max       int       `json:"max"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LeaderInfo says which process runs the sync loops.
type LeaderInfo struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Since     time.Time `json:"since"`
	UpdatedAt time.Time `json:"updated_at"`
}

func stateTable(schemaName string) string {
	return pgx.Identifier{schemaName, "_sync_state"}.Sanitize()
}

// PutState stores v (as JSON) under key in <schema>._sync_state.
func PutState(ctx context.Context, db DB, schemaName, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state %s: %w", key, err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO `+stateTable(schemaName)+` (key, value, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`, key, b); err != nil {
		return fmt.Errorf("save state %s: %w", key, err)
	}
	return nil
}

// GetState decodes key's value into v and returns when it was written; ok is
// false when the key (or the table) does not exist.
func GetState(ctx context.Context, db DB, schemaName, key string, v any) (updatedAt time.Time, ok bool, err error) {
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", stateTable(schemaName)).Scan(&exists); err != nil {
		return time.Time{}, false, fmt.Errorf("load state %s: %w", key, err)
	}
	if !exists {
		return time.Time{}, false, nil
	}
	var b []byte
	err = db.QueryRow(ctx, "SELECT value, updated_at FROM "+stateTable(schemaName)+" WHERE key = $1", key).Scan(&b, &updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("load state %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return time.Time{}, false, fmt.Errorf("decode state %s: %w", key, err)
	}
	return updatedAt, true, nil
}

// SaveUsage records the daily API usage for `tether status`.
func SaveUsage(ctx context.Context, db DB, schemaName string, used, max int) error {
	return PutState(ctx, db, schemaName, KeyAPIUsage, APIUsage{Used: used, Max: max})
}

// SaveLeader records this process (host name and pid) as the leader since
// now; call it right after acquiring the leader lease.
func SaveLeader(ctx context.Context, db DB, schemaName string) error {
	host, _ := os.Hostname()
	return PutState(ctx, db, schemaName, KeyLeader, LeaderInfo{Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
}

// RecordUsage saves usage() every interval (and once more when ctx ends)
// until ctx ends; it skips the write while usage is unknown (max 0) or
// unchanged. Run it in a goroutine next to the Salesforce client:
//
//	go status.RecordUsage(ctx, pool, cfg.Schema, 30*time.Second, client.Usage)
func RecordUsage(ctx context.Context, db DB, schemaName string, interval time.Duration, usage func() (used, max int)) {
	lastUsed, lastMax := -1, -1
	save := func(ctx context.Context) {
		used, max := usage()
		if max == 0 || (used == lastUsed && max == lastMax) {
			return
		}
		if err := SaveUsage(ctx, db, schemaName, used, max); err == nil {
			lastUsed, lastMax = used, max
		}
	}
	save(ctx) // known already when setup has talked to the provider
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			save(sctx)
			cancel()
			return
		case <-t.C:
			save(ctx)
		}
	}
}
