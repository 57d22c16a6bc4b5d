package fetcher

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

// Prepare describes every configured object through the provider and
// creates or evolves its table (schema.SyncTable). An object that cannot be
// described (unknown, no permission) is reported as the table's health and
// left out; it is tried again at the next describe. Prepare returns the
// tables it prepared, and an error only when none could be prepared for a
// reason other than the provider refusing, or the database failed.
//
// A field added upstream later (seen when objects are described again)
// becomes a new column, and the table is read again from the start so that
// existing rows get its values (readAgainForNewColumns).
func (f *Fetcher) Prepare(ctx context.Context) ([]*schema.Table, error) {
	return f.prepare(ctx, false, false)
}

// prepare describes the configured objects; with onlyMissing, only those not
// prepared yet (the others keep their mapping). With notify, tables prepared
// for the first time are handed to Config.OnNewTable.
func (f *Fetcher) prepare(ctx context.Context, onlyMissing, notify bool) ([]*schema.Table, error) {
	f.mu.Lock()
	known := map[string]*table{}
	for _, r := range f.runs {
		known[r.t.Object] = r.t
	}
	f.mu.Unlock()

	var (
		out    []*schema.Table
		tables []*table
		missed []string
		dbErr  error
	)
	for _, obj := range f.cfg.Objects {
		old, again := known[obj]
		if again && onlyMissing {
			tables = append(tables, old)
			continue
		}
		st, desc, err := f.prepareOne(ctx, obj, again)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			name := schema.TableName(obj)
			var uerr *upstream.Error
			switch {
			case errors.As(err, &uerr) && uerr.Class == upstream.Permanent:
				f.log.Error().Err(err).Str("object", obj).Msg("object cannot be synced")
				f.cfg.Health.Report(ctx, health.Table(name), health.CustomerIntervention, "cannot describe "+obj+": "+err.Error())
			case errors.As(err, &uerr):
				f.log.Warn().Err(err).Str("object", obj).Msg("describe failed; trying again later")
			default:
				f.log.Error().Err(err).Str("object", obj).Msg("preparing the table failed")
				f.cfg.Health.Report(ctx, health.Table(name), health.TetherIntervention, err.Error())
				if dbErr == nil {
					dbErr = err
				}
			}
			if old, ok := known[obj]; ok {
				tables = append(tables, old) // keep syncing with the mapping we had
			} else {
				missed = append(missed, obj)
			}
			continue
		}
		t, err := fromSchema(st)
		if err == nil {
			t.noDeletes = !desc.Deletable
		}
		if err != nil {
			f.cfg.Health.Report(ctx, health.Table(st.Name), health.TetherIntervention, err.Error())
			missed = append(missed, obj)
			if dbErr == nil {
				dbErr = err
			}
			continue
		}
		if again {
			if added := newColumns(old, t); len(added) > 0 {
				if err := f.readAgainForNewColumns(ctx, t, added); err != nil {
					f.log.Error().Err(err).Str("table", t.Name).Msg("scheduling a read of the new fields failed")
				}
			}
		}
		if notify && !again && f.cfg.OnNewTable != nil {
			if err := f.cfg.OnNewTable(ctx, st); err != nil {
				f.log.Error().Err(err).Str("table", st.Name).Msg("setting up the new table failed; trying again later")
				f.cfg.Health.Report(ctx, health.Table(st.Name), health.TetherIntervention, err.Error())
				missed = append(missed, obj)
				continue
			}
		}
		out = append(out, st)
		tables = append(tables, t)
	}
	f.setTables(tables, missed)
	if len(tables) == 0 && dbErr != nil {
		return out, dbErr
	}
	return out, nil
}

func (f *Fetcher) prepareOne(ctx context.Context, object string, again bool) (*schema.Table, *upstream.Object, error) {
	if again {
		// A provider that caches describes must ask again, or new fields
		// would never be seen.
		if fp, ok := f.cfg.Provider.(interface{ ForgetDescribe(string) }); ok {
			fp.ForgetDescribe(object)
		}
	}
	obj, err := f.cfg.Provider.Describe(ctx, object)
	if err != nil {
		return nil, nil, err
	}
	if !obj.Queryable {
		return nil, nil, &upstream.Error{Class: upstream.Permanent, Message: "object " + object + " cannot be queried with this credential"}
	}
	t, err := schema.SyncTable(ctx, f.cfg.Pool, f.cfg.Schema, obj)
	if err != nil {
		return nil, nil, err
	}
	return t, obj, nil
}

// newColumns lists the columns t has that old did not.
func newColumns(old, t *table) []string {
	had := map[string]bool{}
	for _, c := range old.Cols {
		had[c.Name] = true
	}
	var added []string
	for _, c := range t.Cols {
		if !had[c.Name] {
			added = append(added, c.Name)
		}
	}
	return added
}

// readAgainForNewColumns resets t's fetch state so that the next turns read
// every record again: rows fetched before a field existed get its values.
// Like any backfill from the start, it ends by sweeping rows the provider no
// longer has (local inserts not yet created are kept).
func (f *Fetcher) readAgainForNewColumns(ctx context.Context, t *table, added []string) error {
	err := f.cfg.Guard.Tx(ctx, func(tx pgx.Tx) error {
		st, err := loadState(ctx, tx, t)
		if err != nil {
			return err
		}
		next := tableState{Backfill: statePending, Total: -1, ResyncCount: st.ResyncCount + 1, LastChange: st.LastChange}
		return saveState(ctx, tx, t, next)
	})
	if err != nil {
		return err
	}
	f.log.Info().Str("table", t.Name).Strs("columns", added).
		Msg("new fields: reading every record again so that existing rows get their values")
	return nil
}

// fromSchema builds the fetcher's view of a synced table.
func fromSchema(st *schema.Table) (*table, error) {
	t := &table{Schema: st.Schema, Name: st.Name, Object: st.Object}
	for _, c := range st.SyncedColumns() {
		if c.PGType == "" {
			continue
		}
		col := c
		t.Cols = append(t.Cols, column{Name: c.Name, Field: c.Field, Conv: col.PGValue})
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return t, nil
}
