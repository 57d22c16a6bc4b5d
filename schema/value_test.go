package schema_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

func col(pgType string) *schema.Column {
	return &schema.Column{Name: "c_" + strings.ReplaceAll(pgType, "[]", "_array"), Field: "C__c", PGType: pgType, Synced: true}
}

// TestPGValueRoundTrip writes provider values through PGValue with INSERT and
// with COPY and reads back what PostgreSQL stored, as text.
func TestPGValueRoundTrip(t *testing.T) {
	cases := []struct {
		pgType string
		in     any
		want   string // PostgreSQL's text output
	}{
		{"text", "hello", "hello"},
		{"text", json.Number("12.50"), "12.50"},
		{"text", true, "true"},
		{"text[]", []string{"a", "b c"}, `{a,"b c"}`},
		{"text[]", "Red;Green", "{Red,Green}"},
		{"text[]", []any{"x"}, "{x}"},
		{"boolean", true, "true"},
		{"boolean", "false", "false"},
		{"integer", json.Number("250"), "250"},
		{"integer", json.Number("12.0"), "12"},
		{"integer", float64(-3), "-3"},
		{"integer", json.Number("2147483647"), "2147483647"},
		{"bigint", json.Number("9007199254740993"), "9007199254740993"},
		{"bigint", json.Number("1E3"), "1000"},
		{"numeric", json.Number("1234567.89"), "1234567.89"},
		{"numeric", json.Number("123456789012345678901234567890.123"), "123456789012345678901234567890.123"},
		{"numeric", json.Number("1.5E3"), "1500"},
		{"numeric", json.Number("-2.5e-3"), "-0.0025"},
		{"numeric", json.Number("37.7749295"), "37.7749295"},
		{"numeric", float64(0.1), "0.1"},
		{"numeric", "42", "42"},
		{"date", "2024-01-02", "2024-01-02"},
		{"date", time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC), "2024-02-29"},
		{"timestamptz", "2024-01-02T03:04:05.000+0000", "2024-01-02 03:04:05+00"},
		{"timestamptz", "2024-01-02T03:04:05.123+0200", "2024-01-02 01:04:05.123+00"},
		{"timestamptz", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05+00"},
		{"timestamptz", "2024-01-02T03:04:05.5-05:00", "2024-01-02 08:04:05.5+00"},
		{"timestamptz", "2024-01-02 03:04:05+00", "2024-01-02 03:04:05+00"},
		{"timestamptz", "2024-01-02T03:04:05", "2024-01-02 03:04:05+00"},
		{"time", "10:00:00.000Z", "10:00:00"},
		{"time", "23:59:58.250Z", "23:59:58.25"},
		{"time", "07:30", "07:30:00"},
		{"jsonb", map[string]any{"city": "Paris", "latitude": json.Number("48.85"), "street": nil}, `{"city": "Paris", "street": null, "latitude": 48.85}`},
		{"text", nil, "<null>"},
		{"numeric", nil, "<null>"},
		{"jsonb", nil, "<null>"},
	}
	ctx := context.Background()
	conn := migrated(t)
	if _, err := conn.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
		t.Fatal(err)
	}
	types := []string{"text", "text[]", "boolean", "integer", "bigint", "numeric", "date", "timestamptz", "time", "jsonb"}
	var defs []string
	for _, typ := range types {
		defs = append(defs, col(typ).Name+" "+typ)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE v (n int, "+strings.Join(defs, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	var copyRows [][]any
	for i, c := range cases {
		column := col(c.pgType)
		v, err := column.PGValue(c.in)
		if err != nil {
			t.Errorf("#%d PGValue(%s, %#v): %v", i, c.pgType, c.in, err)
			continue
		}
		if _, err := conn.Exec(ctx, "INSERT INTO v (n, "+column.Name+") VALUES ($1, $2)", i, v); err != nil {
			t.Errorf("#%d insert %s %#v (%T): %v", i, c.pgType, c.in, v, err)
		}
		copyRows = append(copyRows, []any{i + 1000, v})
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"v"}, []string{"n", column.Name}, pgx.CopyFromRows(copyRows[len(copyRows)-1:])); err != nil {
			t.Errorf("#%d copy %s %#v (%T): %v", i, c.pgType, c.in, v, err)
		}
	}
	for i, c := range cases {
		column := col(c.pgType)
		for _, n := range []int{i, i + 1000} {
			var got *string
			if err := conn.QueryRow(ctx, "SELECT "+column.Name+"::text FROM v WHERE n = $1", n).Scan(&got); err != nil {
				t.Errorf("#%d read: %v", i, err)
				continue
			}
			s := "<null>"
			if got != nil {
				s = *got
			}
			if s != c.want {
				t.Errorf("#%d %s %#v (row %d): stored %q, want %q", i, c.pgType, c.in, n, s, c.want)
			}
		}
	}
}

func TestPGValueErrors(t *testing.T) {
	cases := []struct {
		pgType string
		in     any
		why    string
	}{
		{"integer", json.Number("1.5"), "not an integer"},
		{"integer", json.Number("2147483648"), "out of range"},
		{"integer", "abc", "not a number"},
		{"bigint", true, "not a number"},
		{"numeric", json.Number("1..2"), "not a number"},
		{"numeric", "NaN", "not a number"},
		{"numeric", map[string]any{}, "not a number"},
		{"boolean", "yes please", ""},
		{"date", "2024-13-01", "not a date"},
		{"date", "01/02/2024", "not a date"},
		{"timestamptz", "yesterday", "not a timestamp"},
		{"timestamptz", json.Number("1"), "not a timestamp"},
		{"time", "25:00:00", "not a time"},
		{"text", map[string]any{"a": 1}, "not text"},
		{"text[]", []any{1}, "element 0"},
		{"text[]", true, "not a list"},
		{"", "x", "not synced"},
	}
	for _, c := range cases {
		column := col(c.pgType)
		column.Reason = "base64 blobs are not synced by default"
		_, err := column.PGValue(c.in)
		if err == nil {
			t.Errorf("PGValue(%s, %#v): no error", c.pgType, c.in)
			continue
		}
		if !strings.Contains(err.Error(), column.Name) || !strings.Contains(err.Error(), "C__c") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("PGValue(%s, %#v): error %q should name the column, the field and say %q", c.pgType, c.in, err, c.why)
		}
	}
}

func TestColumnWritable(t *testing.T) {
	cases := []struct {
		c              schema.Column
		create, update bool
	}{
		{schema.Column{Kind: upstream.KindText, Synced: true, Createable: true, Updateable: true}, true, true},
		{schema.Column{Kind: upstream.KindText, Synced: true, Createable: true}, true, false},
		{schema.Column{Kind: upstream.KindText, Synced: true, Updateable: true}, false, true},
		{schema.Column{Kind: upstream.KindText, Synced: false, Createable: true, Updateable: true}, false, false},
		{schema.Column{Kind: upstream.KindID, Synced: true, Createable: true, Updateable: true}, false, false},
		{schema.Column{Kind: upstream.KindText, Synced: true, Createable: true, Updateable: true, RemovedAt: time.Now()}, false, false},
	}
	for i, c := range cases {
		if got := c.c.Writable(upstream.OpCreate); got != c.create {
			t.Errorf("#%d create: %v", i, got)
		}
		if got := c.c.Writable(upstream.OpUpdate); got != c.update {
			t.Errorf("#%d update: %v", i, got)
		}
		if c.c.Writable(upstream.OpDelete) {
			t.Errorf("#%d delete writable", i)
		}
	}
}
