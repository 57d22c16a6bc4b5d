package soql

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// record is a test record; lookups are case-insensitive like Salesforce's.
type record map[string]any

func (r record) get(field string) (any, bool) {
	for k, v := range r {
		if strings.EqualFold(k, field) {
			return v, true
		}
	}
	return nil, false
}

func TestMatch(t *testing.T) {
	acme := record{
		"Id":             "001000000000001AAA",
		"Name":           "Acme Corp",
		"Industry":       nil,
		"Amount":         1500.5,
		"Employees":      json.Number("42"),
		"Count":          7,
		"IsDeleted":      false,
		"SystemModstamp": ts("2024-01-01T00:00:00Z"),
		"CreatedDate":    "2023-06-01T12:00:00.000+0000",
		"CloseDate":      Date{2024, 3, 15},
		"BirthDate":      "2024-03-14",
		"LastActivity":   ts("2024-03-15T00:00:00Z"),
		"Path":           `50%_off\now`,
		"Tags":           []string{"a", "b"},
		"Title":          "日本 Straße",
		"StartTime":      "13:30:00.000Z",
		"Revenue":        json.Number("1.5E7"),
		"Picks":          "x;y;z",
	}
	tests := []struct {
		where string
		want  bool
	}{
		// strings: case-insensitive
		{"Name = 'Acme Corp'", true},
		{"Name = 'acme corp'", true},
		{"Name = 'ACME CORP'", true},
		{"Name = 'Acme'", false},
		{"Name != 'acme corp'", false},
		{"Name <> 'other'", true},
		{"Name > 'acme'", true},
		{"Name < 'B'", true},
		{"Name >= 'ACME CORP'", true},
		{"Name <= 'acme corp'", true},
		{"Title = '日本 STRASSE'", false},
		{"Title = '日本 straße'", true},
		// LIKE
		{"Name LIKE 'acme%'", true},
		{"Name LIKE 'ACME%'", true},
		{"Name LIKE '%corp'", true},
		{"Name LIKE '%me C%'", true},
		{"Name LIKE 'Acme'", false},
		{"Name LIKE 'Acme Cor_'", true},
		{"Name LIKE 'Acme Co_'", false},
		{"Name LIKE '%'", true},
		{"Name LIKE '_%_'", true},
		{"Name LIKE 'A%C%P'", true},
		{"Name LIKE 'A%Z%'", false},
		{`Path LIKE '50\%%'`, true},
		{`Path LIKE '50\%\_off%'`, true},
		{`Path LIKE '5\_%'`, false},
		{`Path LIKE '%\\now'`, true},
		{"Industry LIKE '%'", false},
		{"Title LIKE '日_ %'", true},
		// numbers
		{"Amount = 1500.5", true},
		{"Amount > 1500", true},
		{"Amount < -1", false},
		{"Amount >= 1500.5", true},
		{"Employees = 42", true},
		{"Employees > 41.9", true},
		{"Count = 7", true},
		{"Count IN (1, 7, 9)", true},
		{"Count NOT IN (1, 9)", true},
		// booleans
		{"IsDeleted = false", true},
		{"IsDeleted = TRUE", false},
		{"IsDeleted != true", true},
		// null
		{"Industry = null", true},
		{"Industry != null", false},
		{"Name = null", false},
		{"Name != null", true},
		{"Industry = 'Tech'", false},
		{"Industry != 'Tech'", true}, // SOQL: a null value differs from any value
		{"Industry < 'Tech'", false},
		{"Industry IN ('Tech')", false},
		{"Industry IN ('Tech', null)", true},
		{"Industry NOT IN ('Tech')", true},
		{"Industry NOT IN ('Tech', null)", false},
		{"NOT Industry = 'Tech'", true},
		{"Amount > null", false},
		// IN on strings is case-insensitive
		{"Name IN ('x', 'ACME CORP')", true},
		{"Name NOT IN ('x', 'ACME CORP')", false},
		{"Name IN ('x')", false},
		// ids: first 15 chars, case-sensitive
		{"Id = '001000000000001'", true},
		{"Id = '001000000000001AAA'", true},
		{"Id = '001000000000001XYZ'", true},
		{"Id = '001000000000001aaa'", true},
		{"Id = '001000000000001'", true},
		{"Id = '001000000000OO1'", false},
		{"Id > '001000000000000ZZZ'", true},
		{"Id > '001000000000001'", false},
		{"Id IN ('001000000000001')", true},
		// datetimes
		{"SystemModstamp = 2024-01-01T00:00:00Z", true},
		{"SystemModstamp = 2024-01-01T00:00:00.000Z", true},
		{"SystemModstamp = 2024-01-01T01:00:00+01:00", true},
		{"SystemModstamp = 2023-12-31T16:00:00-0800", true},
		{"SystemModstamp > 2023-12-31T23:59:59Z", true},
		{"SystemModstamp > 2024-01-01T00:00:00Z", false},
		{"SystemModstamp >= 2024-01-01T00:00:00Z", true},
		{"SystemModstamp < 2024-01-01T00:00:00.001Z", true},
		{"CreatedDate = 2023-06-01T12:00:00Z", true},
		{"CreatedDate < 2023-06-01T12:00:01Z", true},
		// datetime value against a date literal: the whole UTC day
		{"SystemModstamp = 2024-01-01", true},
		{"SystemModstamp > 2023-12-31", true},
		{"SystemModstamp < 2024-01-02", true},
		{"SystemModstamp <= 2024-01-01", true},
		{"SystemModstamp >= 2024-01-02", false},
		{"CreatedDate = 2023-06-01", true},
		// dates
		{"CloseDate = 2024-03-15", true},
		{"CloseDate > 2024-03-14", true},
		{"CloseDate < 2024-03-15", false},
		{"CloseDate IN (2024-01-01, 2024-03-15)", true},
		{"BirthDate = 2024-03-14", true},
		{"BirthDate = YESTERDAY", true},
		{"BirthDate < TODAY", true},
		// relative dates (clock: 2024-03-15 10:30 UTC)
		{"CloseDate = TODAY", true},
		{"CloseDate != TODAY", false},
		{"CloseDate > YESTERDAY", true},
		{"CloseDate < TOMORROW", true},
		{"CloseDate <= TODAY", true},
		{"CloseDate >= TOMORROW", false},
		{"CloseDate = LAST_N_DAYS:3", true},
		{"CloseDate = THIS_MONTH", true},
		{"CloseDate = LAST_MONTH", false},
		{"LastActivity = TODAY", true},
		{"SystemModstamp = LAST_N_DAYS:30", false},
		{"SystemModstamp = LAST_N_DAYS:90", true},
		{"SystemModstamp < LAST_N_DAYS:30", true},
		{"SystemModstamp = THIS_YEAR", true},
		{"CreatedDate = LAST_YEAR", true},
		// time fields (stored as strings)
		{"StartTime = 13:30:00Z", true},
		{"StartTime = 13:30:00.000Z", true},
		{"StartTime > 12:00:00.000Z", true},
		{"StartTime < 13:30:00.001Z", true},
		{"StartTime != 13:30:00Z", false},
		// exponents
		{"Revenue = 15000000", true},
		{"Amount < 1.5E7", true},
		// multi-select picklists ([]string or "a;b")
		{"Tags = 'a;b'", true},
		{"Tags INCLUDES ('a')", true},
		{"Tags INCLUDES ('B;a')", true},
		{"Tags INCLUDES ('a;c')", false},
		{"Tags INCLUDES ('a;c', 'b')", true},
		{"Tags EXCLUDES ('c')", true},
		{"Tags EXCLUDES ('c', 'b')", false},
		{"Picks INCLUDES ('y')", true},
		{"Picks INCLUDES ('x;z')", true},
		{"Industry INCLUDES ('a')", false},
		{"Industry EXCLUDES ('a')", true},
		// logic
		{"Name = 'x' OR Amount > 1000", true},
		{"Name = 'x' OR Amount > 2000", false},
		{"Name = 'acme corp' AND Amount > 1000 AND IsDeleted = false", true},
		{"Name = 'acme corp' AND Amount > 2000", false},
		{"NOT Name = 'x'", true},
		{"NOT (Name = 'x' OR Amount > 1000)", false},
		{"NOT NOT Amount > 1000", true},
		{"(Name = 'x' OR Amount > 1000) AND (IsDeleted = true OR Industry = null)", true},
		{"NOT Name = 'acme corp' AND Amount > 1000", false},
		// the incremental-read tie breaker
		{"SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000000AAA')", true},
		{"SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000001AAA')", false},
		{"SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000002AAA')", false},
		{"SystemModstamp > 2023-12-31T23:59:59Z OR (SystemModstamp = 2023-12-31T23:59:59Z AND Id > '001000000000002AAA')", true},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			q, err := ParseWithClock("SELECT Id FROM Account WHERE "+tt.where, clock)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := Match(q.Where, acme.get)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	rec := record{
		"Name":           "Acme",
		"Amount":         10.0,
		"IsDeleted":      false,
		"CloseDate":      Date{2024, 3, 15},
		"BirthDate":      "2024-03-14",
		"SystemModstamp": ts("2024-01-01T00:00:00Z"),
		"Weird":          struct{}{},
	}
	tests := []struct {
		where string
		code  string
		msg   string
	}{
		{"Nope = 'x'", CodeInvalidField, "No such column 'Nope'"},
		{"Nope IN ('x')", CodeInvalidField, "No such column 'Nope'"},
		{"Name = 'Acme' AND Nope = 1", CodeInvalidField, "No such column 'Nope'"},
		{"Name = 5", CodeInvalidField, "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"},
		{"Name = true", CodeInvalidField, "field 'Name' must be of type string"},
		{"Name = 2024-01-01", CodeInvalidField, "field 'Name' must be of type string"},
		{"Amount = '10'", CodeInvalidField, "value of filter criterion for field 'Amount' must be of type double and should not be enclosed in quotes"},
		{"Amount LIKE '1%'", CodeInvalidField, "field 'Amount' must be of type double"},
		{"Amount = true", CodeInvalidField, "field 'Amount' must be of type double"},
		{"IsDeleted = 'false'", CodeInvalidField, "field 'IsDeleted' must be of type boolean"},
		{"IsDeleted = 0", CodeInvalidField, "field 'IsDeleted' must be of type boolean"},
		{"IsDeleted > false", CodeInvalidOperator, "invalid operator on boolean field: IsDeleted"},
		{"CloseDate = 2024-03-15T00:00:00Z", CodeInvalidField, "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes"},
		{"BirthDate > 2024-03-14T00:00:00Z", CodeInvalidField, "field 'BirthDate' must be of type date"},
		{"CloseDate = '2024-03-15'", CodeInvalidField, "field 'CloseDate' must be of type date"},
		{"SystemModstamp = '2024-01-01'", CodeInvalidField, "field 'SystemModstamp' must be of type dateTime"},
		{"SystemModstamp = 5", CodeInvalidField, "field 'SystemModstamp' must be of type dateTime"},
		{"Name = 13:00:00Z", CodeInvalidField, "field 'Name' must be of type string and should be enclosed in quotes"},
		{"Amount = 13:00:00Z", CodeInvalidField, "field 'Amount' must be of type double"},
		{"Amount INCLUDES ('x')", CodeInvalidField, "field 'Amount' must be of type double"},
		{"Nope EXCLUDES ('x')", CodeInvalidField, "No such column 'Nope'"},
		{"Weird = 'x'", CodeInvalidField, "field 'Weird' must be of type struct {}"},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			q, err := ParseWithClock("SELECT Id FROM Account WHERE "+tt.where, clock)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ok, err := Match(q.Where, rec.get)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Match = %v, %v; want a *soql.Error", ok, err)
			}
			if se.Code != tt.code || !strings.Contains(se.Message, tt.msg) {
				t.Errorf("got %s: %q\nwant %s containing %q", se.Code, se.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestMatchNilWhere(t *testing.T) {
	q, _ := Parse("SELECT Id FROM Account")
	ok, err := Match(q.Where, func(string) (any, bool) { return nil, false })
	if !ok || err != nil {
		t.Fatalf("Match(nil) = %v, %v; want true", ok, err)
	}
}

// TestTieBreakerPagination reads a set of records sharing SystemModstamp
// seconds page by page with the incremental-read condition and checks every
// record comes back exactly once, in order.
func TestTieBreakerPagination(t *testing.T) {
	base := ts("2024-01-01T00:00:00Z")
	var recs []record
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("003%012d", 50-i) // ids not in stamp order
		if i%3 == 0 {
			id = strings.ToLower(id[:3]) + id[3:] + "AAA"
		}
		recs = append(recs, record{"Id": id, "SystemModstamp": base.Add(time.Duration(i/7) * time.Second)})
	}
	recs = append(recs, record{"Id": "003aaaaaaaaaaa1", "SystemModstamp": base}, record{"Id": "003AAAAAAAAAAA1", "SystemModstamp": base})
	order := []Order{{Field: "SystemModstamp"}, {Field: "Id"}}
	sort.SliceStable(recs, func(i, j int) bool {
		for _, o := range order {
			a, _ := recs[i].get(o.Field)
			b, _ := recs[j].get(o.Field)
			if c := o.Compare(a, b); c != 0 {
				return c < 0
			}
		}
		return false
	})
	seen := map[string]bool{}
	var got []string
	stamp, last := base.Add(-time.Second), ""
	for page := 0; page < 100; page++ {
		where := fmt.Sprintf("SystemModstamp > %s", stamp.Format(time.RFC3339))
		if last != "" {
			where = fmt.Sprintf("SystemModstamp > %[1]s OR (SystemModstamp = %[1]s AND Id > '%[2]s')", stamp.Format(time.RFC3339), last)
		}
		q, err := Parse("SELECT Id, SystemModstamp FROM Contact WHERE " + where + " ORDER BY SystemModstamp, Id LIMIT 4")
		if err != nil {
			t.Fatal(err)
		}
		var pageRecs []record
		for _, r := range recs {
			ok, err := Match(q.Where, r.get)
			if err != nil {
				t.Fatal(err)
			}
			if ok && len(pageRecs) < q.Limit {
				pageRecs = append(pageRecs, r)
			}
		}
		if len(pageRecs) == 0 {
			break
		}
		for _, r := range pageRecs {
			id := r["Id"].(string)
			if seen[id] {
				t.Fatalf("record %s read twice", id)
			}
			seen[id] = true
			got = append(got, id)
		}
		lastRec := pageRecs[len(pageRecs)-1]
		stamp, last = lastRec["SystemModstamp"].(time.Time), lastRec["Id"].(string)
	}
	if len(got) != len(recs) {
		t.Fatalf("read %d records, want %d", len(got), len(recs))
	}
	for i, r := range recs {
		if got[i] != r["Id"] {
			t.Fatalf("record %d = %s, want %s (sorted order)", i, got[i], r["Id"])
		}
	}
}

func TestCompareValues(t *testing.T) {
	d := Date{2024, 1, 2}
	ordered := []any{
		nil,
		false, true,
		math.NaN(), -5, 0.5, json.Number("1"), int64(2), 3.0,
		ts("2024-01-01T23:59:59Z"), d, ts("2024-01-02T00:00:01Z"),
		"", "a", "B", "b c", "Z",
	}
	for i := range ordered {
		for j := range ordered {
			c := CompareValues(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if c != want {
				t.Errorf("CompareValues(%v, %v) = %d, want %d", ordered[i], ordered[j], c, want)
			}
		}
	}
	cases := []struct {
		a, b any
		want int
	}{
		{"acme", "ACME", 0},
		{"001000000000001AAA", "001000000000001", 0},
		{"001000000000001aaa", "001000000000001AAA", 0},
		{"001000000000001", "00100000000000a", -1}, // case-sensitive on ids: '1' < 'a'
		{"00100000000000A", "00100000000000a", -1}, // 'A' < 'a'
		{ts("2024-01-01T00:00:00Z"), Date{2024, 1, 1}, 0},
		{[]string{"a"}, "A", 0},
	}
	for _, c := range cases {
		if got := CompareValues(c.a, c.b); got != c.want {
			t.Errorf("CompareValues(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestOrderCompare(t *testing.T) {
	tests := []struct {
		o    Order
		a, b any
		want int
	}{
		{Order{Field: "x"}, nil, 1.0, -1},
		{Order{Field: "x", NullsLast: true}, nil, 1.0, 1},
		{Order{Field: "x", Desc: true, NullsLast: true}, nil, 1.0, 1},
		{Order{Field: "x", Desc: true}, nil, 1.0, -1},
		{Order{Field: "x", Desc: true}, 2.0, 1.0, -1},
		{Order{Field: "x"}, 2.0, 1.0, 1},
		{Order{Field: "x"}, nil, nil, 0},
	}
	for _, tt := range tests {
		if got := tt.o.Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("%+v.Compare(%v, %v) = %d, want %d", tt.o, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLooksLikeID(t *testing.T) {
	for s, want := range map[string]bool{
		"001000000000001":    true,
		"001000000000001AAA": true,
		"0010000000000010":   false,
		"abcdefghijklmno":    false,
		"001 00000000001":    false,
		"":                   false,
	} {
		if got := LooksLikeID(s); got != want {
			t.Errorf("LooksLikeID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestMatchHandBuilt(t *testing.T) {
	e := &And{Terms: []Expr{
		&Comparison{Field: "Name", Op: "LIKE", Value: Literal{Kind: StringLit, Text: "'ac%'", Str: "ac%"}},
		&In{Field: "Id", Values: []Literal{{Kind: StringLit, Str: "001000000000001"}}},
	}}
	rec := record{"Name": "ACME", "Id": "001000000000001AAA"}
	if ok, err := Match(e, rec.get); !ok || err != nil {
		t.Fatalf("Match = %v, %v; want true", ok, err)
	}
}
