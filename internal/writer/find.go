package writer

import (
	"context"
	"sort"
	"time"

	"github.com/tether-sync/tether/internal/health"
	"github.com/tether-sync/tether/upstream"
)

// maxFindsPerCycle bounds the per-record lookups one cycle makes, so that a
// large batch of creates with an unknown outcome does not hold up every
// other change for long (the rest are checked in the next cycles).
const maxFindsPerCycle = 25

// findCreated checks, for each create that may already have been applied
// (its rows were pending: a crash, a dropped connection), whether the
// provider holds the record, and adopts it instead of creating it again.
//
// First one lookup per object lists the records this credential created
// since the earliest such attempt; the ones a succeeded insert of the log
// already owns are accounted for. If none is left, no uncertain create was
// applied and all of them are simply sent. Otherwise each uncertain create
// is looked up by its field values, and only the unaccounted records may be
// adopted; once all of those are adopted, the remaining creates are sent.
func (w *Writer) findCreated(ctx context.Context, preps []*prepared) error {
	byObject := map[string][]*prepared{}
	var objects []string
	for _, p := range preps {
		if !p.decided && p.op == upstream.OpCreate && p.g.Uncertain {
			if _, ok := byObject[p.table.Object]; !ok {
				objects = append(objects, p.table.Object)
			}
			byObject[p.table.Object] = append(byObject[p.table.Object], p)
		}
	}
	finds := 0
	for _, object := range objects {
		candidates := byObject[object]
		since := candidates[0].g.Head().UpdatedAt
		for _, p := range candidates {
			if t := p.g.Head().UpdatedAt; t.Before(since) {
				since = t
			}
		}
		since = since.Add(-w.cfg.FindSlack)
		all, err := w.find(ctx, object, since, nil)
		if err != nil {
			if stop := w.findFailed(ctx, candidates, err); stop != nil {
				return stop
			}
			continue
		}
		unaccounted, err := w.unaccounted(ctx, all)
		if err != nil {
			return err
		}
		for _, p := range candidates {
			if len(unaccounted) == 0 {
				break // nothing else can have been created: send the rest
			}
			if finds >= maxFindsPerCycle {
				// look in a later cycle; the rows stay pending
				p.decided, p.state, p.message = true, StatePending, ""
				continue
			}
			finds++
			fields := map[string]any{}
			for k, v := range p.change.Fields {
				if v != nil {
					fields[k] = v
				}
			}
			ids, err := w.find(ctx, object, since, fields)
			if err != nil {
				if stop := w.findFailed(ctx, []*prepared{p}, err); stop != nil {
					return stop
				}
				continue
			}
			sort.Strings(ids)
			for _, id := range ids {
				if !unaccounted[id] {
					continue
				}
				delete(unaccounted, id)
				p.finish(StateSucceeded, 201, "created by an earlier attempt whose answer was lost: found and adopted, not created again")
				if p.note != "" {
					p.message += "; " + p.note
				}
				p.apiID = id
				w.log.Info().Int64("log_id", p.g.Head().ID).Str("object", object).Str("record_id", id).
					Msg("adopted a record created by an earlier attempt")
				break
			}
			// not found: the earlier attempt did not create it; it is sent now
		}
	}
	return nil
}

func (w *Writer) find(ctx context.Context, object string, since time.Time, fields map[string]any) ([]string, error) {
	w.mu.Lock()
	w.stats.Finds++
	w.mu.Unlock()
	return w.cfg.Provider.FindCreated(ctx, object, since, fields)
}

// findFailed handles a failed lookup: the creates stay pending (still
// uncertain) and are looked for again later. It returns errStop when the
// writer must pause or stop.
func (w *Writer) findFailed(ctx context.Context, ps []*prepared, err error) error {
	if ctx.Err() != nil {
		return errStop
	}
	switch upstream.ClassOf(err) {
	case upstream.Auth, upstream.Quota:
		w.pause(ctx, err)
		return errStop
	case upstream.Permanent:
		w.log.Error().Err(err).Int64("log_id", ps[0].g.Head().ID).Str("object", ps[0].table.Object).
			Msg("cannot find out whether an earlier create was applied; keeping the rows pending")
		w.report(ctx, health.TetherIntervention, "cannot check for an earlier create: "+err.Error())
	}
	for _, p := range ps {
		p.decided, p.state, p.message = true, StatePending, "outcome of an earlier attempt unknown; checking before creating again: "+err.Error()
		w.notBefore[p.g.Key] = time.Now().Add(w.backoff(p.g.Head().Attempts + 1))
	}
	return nil
}

// unaccounted returns the ids no succeeded insert of the log owns.
func (w *Writer) unaccounted(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := w.cfg.Pool.Query(ctx, `SELECT api_id FROM `+w.logTable+`
		WHERE action = 'insert' AND state = 'succeeded' AND api_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		delete(out, id)
	}
	return out, rows.Err()
}
