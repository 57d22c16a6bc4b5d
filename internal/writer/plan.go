package writer

import (
	"fmt"
	"time"
)

// Action is a log row's action.
type Action string

// Log row actions.
const (
	ActionInsert Action = "insert"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Entry is one open _sync_write_log row as the writer sees it.
type Entry struct {
	ID        int64
	Table     string
	Action    Action
	RowID     int64 // the row's _sync_row_id (0 if unknown)
	APIID     string
	State     State
	Record    map[string]any // the row before the change (update, delete)
	Values    map[string]any // inserted or changed columns (insert, update)
	Attempts  int
	UpdatedAt time.Time
	Age       time.Duration // how long ago updated_at was, by the database's clock
	Invalid   string        // why the row cannot be sent (undecodable JSON), or ""
}

// RecordKey identifies one record: a table's row (or its upstream id when the row is unknown).
type RecordKey struct {
	Table string
	Row   int64
	ID    string // used only when the row id is unknown
}

func (e *Entry) key() RecordKey {
	if e.RowID != 0 {
		return RecordKey{Table: e.Table, Row: e.RowID}
	}
	if e.APIID != "" {
		return RecordKey{Table: e.Table, ID: e.APIID}
	}
	return RecordKey{Table: e.Table, ID: fmt.Sprintf("entry:%d", e.ID)}
}

// Kind is what a group does upstream.
type Kind int

// Group kinds.
const (
	KindNone   Kind = iota // nothing to send (insert then delete)
	KindCreate             // create one record with Values
	KindUpdate             // update one record with Values
	KindDelete             // delete one record
)

func (k Kind) String() string {
	switch k {
	case KindCreate:
		return "create"
	case KindUpdate:
		return "update"
	case KindDelete:
		return "delete"
	}
	return "none"
}

// Group is consecutive open entries of one record folded into one change.
// Survivor carries the outcome; the others are recorded as folded into it.
type Group struct {
	Key       RecordKey
	Entries   []*Entry // in id order
	Survivor  *Entry
	Kind      Kind
	Values    map[string]any // merged column values (create: final values; update: merged changes)
	Uncertain bool           // the entries were pending: a previous attempt may have been applied
}

// Head is the group's first entry.
func (g *Group) Head() *Entry { return g.Entries[0] }

// Plan folds open entries (in id order) into groups, at most one per record:
// only the head entries of each record are considered, and only consecutive
// ones merge. Entries still pending from an earlier attempt form their own
// group (exactly what was sent then), never merged with newer ones. blocked
// reports records that must wait (backoff); max caps the number of groups that
// send something (0: no cap). Groups come back in order of their head entry.
func Plan(entries []*Entry, blocked func(RecordKey) bool, max int) []*Group {
	byKey := map[RecordKey][]*Entry{}
	var order []RecordKey
	for _, e := range entries {
		k := e.key()
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], e)
	}
	var out []*Group
	sending := 0
	for _, k := range order {
		if blocked != nil && blocked(k) {
			continue
		}
		g := fold(k, byKey[k])
		if g.Kind != KindNone {
			if max > 0 && sending >= max {
				continue
			}
			sending++
		}
		out = append(out, g)
	}
	return out
}

// fold builds the group at the head of one record's open entries.
func fold(k RecordKey, es []*Entry) *Group {
	run := es
	if es[0].State == StatePending {
		n := 0
		for n < len(es) && es[n].State == StatePending {
			n++
		}
		run = es[:n]
	} else {
		n := 0
		for n < len(es) && es[n].State != StatePending {
			n++
		}
		run = es[:n]
	}
	head := run[0]
	g := &Group{Key: k, Survivor: head, Uncertain: head.State == StatePending}
	i := 1
	switch head.Action {
	case ActionInsert:
		g.Kind = KindCreate
		g.Values = copyMap(head.Values)
		for i < len(run) && run[i].Action == ActionUpdate {
			overlay(g.Values, run[i].Values)
			i++
		}
		if i < len(run) && run[i].Action == ActionDelete {
			g.Kind, g.Values = KindNone, nil
			i++
		}
	case ActionUpdate:
		g.Kind = KindUpdate
		g.Values = copyMap(head.Values)
		for i < len(run) && run[i].Action == ActionUpdate {
			overlay(g.Values, run[i].Values)
			i++
		}
		if i < len(run) && run[i].Action == ActionDelete {
			g.Kind, g.Values, g.Survivor = KindDelete, nil, run[i]
			i++
		}
	default:
		g.Kind = KindDelete
	}
	g.Entries = run[:i]
	return g
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func overlay(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

// UpstreamID returns the record id the entries know: a log row's api_id or
// the old row's id column.
func (g *Group) UpstreamID() string {
	for _, e := range g.Entries {
		if e.APIID != "" {
			return e.APIID
		}
		if s, ok := e.Record["id"].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
