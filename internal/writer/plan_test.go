package writer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

func ins(id, row int64, vals map[string]any) *Entry {
	return &Entry{ID: id, Table: "contact", Action: ActionInsert, RowID: row, State: StateNew, Values: vals}
}
func upd(id, row int64, vals map[string]any) *Entry {
	return &Entry{ID: id, Table: "contact", Action: ActionUpdate, RowID: row, State: StateNew, Values: vals, APIID: "003X"}
}
func del(id, row int64) *Entry {
	return &Entry{ID: id, Table: "contact", Action: ActionDelete, RowID: row, State: StateNew, APIID: "003X"}
}
func pending(e *Entry) *Entry { e.State = StatePending; return e }

type groupWant struct {
	kind     Kind
	entries  []int64
	survivor int64
	values   map[string]any
	uncert   bool
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		entries []*Entry
		blocked map[int64]bool // row ids
		max     int
		want    []groupWant
	}{
		{
			name:    "update+update merge into one PATCH with later values winning",
			entries: []*Entry{upd(1, 10, map[string]any{"a": "1", "b": "1"}), upd(2, 10, map[string]any{"b": "2", "c": "2"})},
			want:    []groupWant{{KindUpdate, []int64{1, 2}, 1, map[string]any{"a": "1", "b": "2", "c": "2"}, false}},
		},
		{
			name:    "insert+updates become one create with the final values",
			entries: []*Entry{ins(1, 10, map[string]any{"a": "1", "b": nil}), upd(2, 10, map[string]any{"b": "x"}), upd(3, 10, map[string]any{"a": "3"})},
			want:    []groupWant{{KindCreate, []int64{1, 2, 3}, 1, map[string]any{"a": "3", "b": "x"}, false}},
		},
		{
			name:    "insert..delete not yet sent is skipped",
			entries: []*Entry{ins(1, 10, map[string]any{"a": "1"}), upd(2, 10, map[string]any{"a": "2"}), del(3, 10)},
			want:    []groupWant{{KindNone, []int64{1, 2, 3}, 1, nil, false}},
		},
		{
			name:    "updates then delete: the delete carries the outcome",
			entries: []*Entry{upd(1, 10, map[string]any{"a": "1"}), del(2, 10)},
			want:    []groupWant{{KindDelete, []int64{1, 2}, 2, nil, false}},
		},
		{
			name: "records interleave; each record gets one group at its head",
			entries: []*Entry{upd(1, 10, map[string]any{"a": "1"}), ins(2, 11, map[string]any{"a": "x"}),
				upd(3, 10, map[string]any{"a": "2"}), upd(4, 11, map[string]any{"b": "y"}), del(5, 12)},
			want: []groupWant{
				{KindUpdate, []int64{1, 3}, 1, map[string]any{"a": "2"}, false},
				{KindCreate, []int64{2, 4}, 2, map[string]any{"a": "x", "b": "y"}, false},
				{KindDelete, []int64{5}, 5, nil, false},
			},
		},
		{
			name:    "a delete ends a group: a later insert (same key) waits",
			entries: []*Entry{del(1, 10), ins(2, 10, map[string]any{"a": "1"})},
			want:    []groupWant{{KindDelete, []int64{1}, 1, nil, false}},
		},
		{
			name: "pending entries (outcome unknown) stay their own group, newer ones wait",
			entries: []*Entry{pending(ins(1, 10, map[string]any{"a": "1"})), pending(upd(2, 10, map[string]any{"a": "2"})),
				upd(3, 10, map[string]any{"a": "3"})},
			want: []groupWant{{KindCreate, []int64{1, 2}, 1, map[string]any{"a": "2"}, true}},
		},
		{
			name:    "blocked record waits, others go",
			entries: []*Entry{upd(1, 10, map[string]any{"a": "1"}), upd(2, 11, map[string]any{"a": "1"}), upd(3, 10, map[string]any{"a": "2"})},
			blocked: map[int64]bool{10: true},
			want:    []groupWant{{KindUpdate, []int64{2}, 2, map[string]any{"a": "1"}, false}},
		},
		{
			name:    "max caps the groups that send",
			entries: []*Entry{upd(1, 10, nil), upd(2, 11, nil), ins(3, 12, nil), del(4, 12), upd(5, 13, nil)},
			max:     2,
			want: []groupWant{
				{KindUpdate, []int64{1}, 1, map[string]any{}, false},
				{KindUpdate, []int64{2}, 2, map[string]any{}, false},
				{KindNone, []int64{3, 4}, 3, nil, false},
			},
		},
		{
			name:    "insert then insert of the same key: second waits",
			entries: []*Entry{ins(1, 10, map[string]any{"a": "1"}), ins(2, 10, map[string]any{"a": "2"})},
			want:    []groupWant{{KindCreate, []int64{1}, 1, map[string]any{"a": "1"}, false}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs := Plan(tc.entries, func(k RecordKey) bool { return tc.blocked[k.Row] }, tc.max)
			if len(gs) != len(tc.want) {
				t.Fatalf("got %d groups, want %d", len(gs), len(tc.want))
			}
			for i, g := range gs {
				w := tc.want[i]
				var ids []int64
				for _, e := range g.Entries {
					ids = append(ids, e.ID)
				}
				if g.Kind != w.kind || !reflect.DeepEqual(ids, w.entries) || g.Survivor.ID != w.survivor || g.Uncertain != w.uncert {
					t.Errorf("group %d: kind %v entries %v survivor %d uncertain %v; want %v %v %d %v",
						i, g.Kind, ids, g.Survivor.ID, g.Uncertain, w.kind, w.entries, w.survivor, w.uncert)
				}
				if w.values != nil && !reflect.DeepEqual(g.Values, w.values) {
					t.Errorf("group %d values %v, want %v", i, g.Values, w.values)
				}
			}
		})
	}
}

// Plan must not change the entries' own values when merging.
func TestPlanDoesNotMutateEntries(t *testing.T) {
	a := ins(1, 10, map[string]any{"a": "1"})
	b := upd(2, 10, map[string]any{"a": "2"})
	Plan([]*Entry{a, b}, nil, 0)
	if a.Values["a"] != "1" {
		t.Fatalf("insert values changed: %v", a.Values)
	}
}

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{StateNew, StatePending, true},
		{StatePending, StateSucceeded, true},
		{StatePending, StateFailed, true},
		{StatePending, StateSkipped, true},
		{StatePending, StateNew, true},
		{StateFailed, StateNew, true},
		{StateNew, StateSucceeded, false},
		{StateSucceeded, StateNew, false},
		{StateSkipped, StatePending, false},
		{StateFailed, StatePending, false},
	}
	for _, tc := range tests {
		if got := Allowed(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s → %s: got %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

func testTable() *schema.Table {
	return &schema.Table{Schema: "salesforce", Name: "contact", Object: "Contact", Columns: []schema.Column{
		{Name: "id", Field: "Id", Kind: upstream.KindID, Synced: true},
		{Name: "last_name", Field: "LastName", Kind: upstream.KindText, Synced: true, Createable: true, Updateable: true},
		{Name: "amount", Field: "Amount__c", Kind: upstream.KindDecimal, Synced: true, Createable: true, Updateable: true},
		{Name: "count", Field: "Count__c", Kind: upstream.KindInt, Synced: true, Createable: true, Updateable: true},
		{Name: "birthdate", Field: "Birthdate", Kind: upstream.KindDate, Synced: true, Createable: true, Updateable: true},
		{Name: "seen_at", Field: "Seen_At__c", Kind: upstream.KindTimestamp, Synced: true, Createable: true, Updateable: true},
		{Name: "do_not_call", Field: "DoNotCall", Kind: upstream.KindBool, Synced: true, Createable: true, Updateable: true},
		{Name: "tags", Field: "Tags__c", Kind: upstream.KindTextArray, Synced: true, Createable: true, Updateable: true},
		{Name: "name", Field: "Name", Kind: upstream.KindText, Synced: true},
		{Name: "created_date", Field: "CreatedDate", Kind: upstream.KindTimestamp, Synced: true},
		{Name: "mailing_address", Field: "MailingAddress", Kind: upstream.KindJSON, Synced: true},
		{Name: "owner_id", Field: "OwnerId", Kind: upstream.KindReference, Synced: true, Createable: true},
		{Name: "photo", Field: "Photo__c", Kind: upstream.KindBinary, Synced: false},
	}}
}

func TestMapValues(t *testing.T) {
	vals, err := decodeJSON([]byte(`{"id": null, "_sync_row_id": 5, "_sync_updated_at": null, "last_name": "Ng",
		"amount": 12.50, "count": 3, "birthdate": "1990-02-03", "seen_at": "2024-05-06T07:08:09.123456+02:00",
		"do_not_call": true, "tags": ["a", "b c"], "name": "Ng", "created_date": null, "mailing_address": null,
		"owner_id": "005000000000001AAA", "photo": "xx", "unknown_col": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		op       upstream.Op
		fields   map[string]any
		readOnly []string
	}{
		{upstream.OpCreate, map[string]any{
			"LastName": "Ng", "Amount__c": json.Number("12.50"), "Count__c": json.Number("3"), "Birthdate": "1990-02-03",
			"Seen_At__c": time.Date(2024, 5, 6, 5, 8, 9, 123456000, time.UTC), "DoNotCall": true,
			"Tags__c": []string{"a", "b c"}, "OwnerId": "005000000000001AAA"}, []string{"Name"}},
		{upstream.OpUpdate, map[string]any{
			"LastName": "Ng", "Amount__c": json.Number("12.50"), "Count__c": json.Number("3"), "Birthdate": "1990-02-03",
			"Seen_At__c": time.Date(2024, 5, 6, 5, 8, 9, 123456000, time.UTC), "DoNotCall": true,
			"Tags__c": []string{"a", "b c"}}, []string{"CreatedDate", "MailingAddress", "Name", "OwnerId"}},
	}
	for _, tc := range tests {
		m, err := mapValues(testTable(), tc.op, vals)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Fields, tc.fields) {
			t.Errorf("%s fields:\n got %#v\nwant %#v", tc.op, m.Fields, tc.fields)
		}
		if !reflect.DeepEqual(m.ReadOnly, tc.readOnly) {
			t.Errorf("%s read-only: got %v, want %v", tc.op, m.ReadOnly, tc.readOnly)
		}
	}
}

func TestFieldValue(t *testing.T) {
	tests := []struct {
		kind upstream.Kind
		in   any
		want any
		err  bool
	}{
		{upstream.KindText, nil, nil, false},
		{upstream.KindTextArray, []any{}, []string{}, false},
		{upstream.KindTextArray, nil, nil, false},
		{upstream.KindBool, false, false, false},
		{upstream.KindBool, "t", true, false},
		{upstream.KindDecimal, json.Number("-0.001"), json.Number("-0.001"), false},
		{upstream.KindDecimal, "abc", nil, true},
		{upstream.KindDate, "2024-02-29", "2024-02-29", false},
		{upstream.KindDate, "29/02/2024", nil, true},
		{upstream.KindTimestamp, "2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{upstream.KindTimestamp, "2024-01-02 03:04:05+00", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{upstream.KindTimestamp, "2024-01-02T03:04:05", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{upstream.KindTimestamp, "soon", nil, true},
		{upstream.KindText, json.Number("42"), "42", false},
		{upstream.KindTime, "10:11:12", "10:11:12", false},
	}
	for _, tc := range tests {
		got, err := fieldValue(tc.kind, tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%s %v: err %v", tc.kind, tc.in, err)
			continue
		}
		if !tc.err {
			if tt, ok := got.(time.Time); ok {
				if !tt.Equal(tc.want.(time.Time)) {
					t.Errorf("%s %v: got %v want %v", tc.kind, tc.in, got, tc.want)
				}
				continue
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %v: got %#v want %#v", tc.kind, tc.in, got, tc.want)
			}
		}
	}
}
