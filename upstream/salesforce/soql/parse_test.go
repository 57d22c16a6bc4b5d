package soql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var clock = time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC) // a Friday

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string // canonical rendering (Query.String)
		fields []string
		object string
		count  bool
		limit  int
		offset int
		order  []Order
	}{
		{name: "simple", in: "SELECT Id, Name FROM Account",
			want: "SELECT Id, Name FROM Account", fields: []string{"Id", "Name"}, object: "Account", limit: -1},
		{name: "keywords any case", in: "select Id from Account where Name = 'x' order by Name desc limit 5 offset 10",
			want:   "SELECT Id FROM Account WHERE Name = 'x' ORDER BY Name DESC LIMIT 5 OFFSET 10",
			fields: []string{"Id"}, object: "Account", limit: 5, offset: 10,
			order: []Order{{Field: "Name", Desc: true, NullsLast: true}}},
		{name: "count", in: "SELECT COUNT() FROM Contact WHERE IsDeleted = false",
			want: "SELECT COUNT() FROM Contact WHERE IsDeleted = false", object: "Contact", count: true, limit: -1},
		{name: "count spaced", in: "SELECT count ( ) FROM Contact", want: "SELECT COUNT() FROM Contact", object: "Contact", count: true, limit: -1},
		{name: "relationship path", in: "SELECT Id, Account.Name, Owner.Profile.Name FROM Contact",
			want: "SELECT Id, Account.Name, Owner.Profile.Name FROM Contact", fields: []string{"Id", "Account.Name", "Owner.Profile.Name"}, object: "Contact", limit: -1},
		{name: "custom", in: "SELECT Id, Amount__c FROM Invoice__c WHERE Amount__c >= -1.5",
			want: "SELECT Id, Amount__c FROM Invoice__c WHERE Amount__c >= -1.5", fields: []string{"Id", "Amount__c"}, object: "Invoice__c", limit: -1},
		{name: "tie breaker",
			in:     "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000001AAA') ORDER BY SystemModstamp, Id LIMIT 2000",
			want:   "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000001AAA') ORDER BY SystemModstamp, Id LIMIT 2000",
			fields: []string{"Id", "SystemModstamp"}, object: "Account", limit: 2000,
			order: []Order{{Field: "SystemModstamp"}, {Field: "Id"}}},
		{name: "client find-created query",
			in:     "SELECT Id FROM Contact WHERE CreatedDate >= 2024-01-02T03:04:05Z AND CreatedById = '005000000000001AAA' AND Email = 'a@b.co' AND Amount__c = 12.5 AND Big__c = 1.5E7 AND Active__c = true AND Start__c = 13:30:00.000Z AND Birthdate = 2024-01-02 AND Title = null ORDER BY CreatedDate ASC, Id ASC",
			want:   "SELECT Id FROM Contact WHERE CreatedDate >= 2024-01-02T03:04:05Z AND CreatedById = '005000000000001AAA' AND Email = 'a@b.co' AND Amount__c = 12.5 AND Big__c = 1.5E7 AND Active__c = true AND Start__c = 13:30:00.000Z AND Birthdate = 2024-01-02 AND Title = null ORDER BY CreatedDate, Id",
			fields: []string{"Id"}, object: "Contact", limit: -1, order: []Order{{Field: "CreatedDate"}, {Field: "Id"}}},
		{name: "jsforce builder output",
			in:     "SELECT Id, Name FROM Account WHERE Name LIKE 'A%' AND (NOT Name LIKE '%x') AND (Industry = 'Tech' OR Industry = null) AND Tags__c INCLUDES ('a;b', 'c') AND Tags__c EXCLUDES ('d') ORDER BY CreatedDate DESC, Name ASC LIMIT 10 OFFSET 20",
			want:   "SELECT Id, Name FROM Account WHERE Name LIKE 'A%' AND NOT Name LIKE '%x' AND (Industry = 'Tech' OR Industry = null) AND Tags__c INCLUDES ('a;b', 'c') AND Tags__c EXCLUDES ('d') ORDER BY CreatedDate DESC, Name LIMIT 10 OFFSET 20",
			fields: []string{"Id", "Name"}, object: "Account", limit: 10, offset: 20,
			order: []Order{{Field: "CreatedDate", Desc: true, NullsLast: true}, {Field: "Name"}}},
		{name: "and chain", in: "SELECT Id FROM A WHERE a = 1 AND b = 2 AND c = 3", want: "SELECT Id FROM A WHERE a = 1 AND b = 2 AND c = 3", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "or of ands", in: "SELECT Id FROM A WHERE (a = 1 AND b = 2) OR (c = 3)", want: "SELECT Id FROM A WHERE (a = 1 AND b = 2) OR c = 3", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "not binds tighter than and", in: "SELECT Id FROM A WHERE NOT a = 1 AND b = 2", want: "SELECT Id FROM A WHERE NOT a = 1 AND b = 2", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "not of group", in: "SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)", want: "SELECT Id FROM A WHERE NOT (a = 1 OR b = 2)", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "nested parens", in: "SELECT Id FROM A WHERE ((a = 1))", want: "SELECT Id FROM A WHERE a = 1", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "in and not in", in: "SELECT Id FROM A WHERE Stage IN ('a','b') AND Type NOT IN ('c', null)",
			want: "SELECT Id FROM A WHERE Stage IN ('a', 'b') AND Type NOT IN ('c', null)", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "not equal forms", in: "SELECT Id FROM A WHERE a <> 1 AND b != 2", want: "SELECT Id FROM A WHERE a != 1 AND b != 2", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "like", in: "SELECT Id FROM A WHERE Name LIKE 'ac%'", want: "SELECT Id FROM A WHERE Name LIKE 'ac%'", fields: []string{"Id"}, object: "A", limit: -1},
		{name: "no spaces", in: "SELECT Id,Name FROM A WHERE a>=1AND b<=2", want: "", fields: nil},
		{name: "literals", in: "SELECT Id FROM A WHERE a = true AND b = FALSE AND c = null AND d = 2024-01-02 AND e = 2024-01-02T03:04:05.000Z AND f = 2024-01-02T03:04:05+01:00 AND g = 2024-01-02T03:04:05-0800 AND h = TODAY AND i = LAST_N_DAYS:30 AND j = .5",
			want:   "SELECT Id FROM A WHERE a = true AND b = FALSE AND c = null AND d = 2024-01-02 AND e = 2024-01-02T03:04:05.000Z AND f = 2024-01-02T03:04:05+01:00 AND g = 2024-01-02T03:04:05-0800 AND h = TODAY AND i = LAST_N_DAYS:30 AND j = .5",
			fields: []string{"Id"}, object: "A", limit: -1},
		{name: "order by options", in: "SELECT Id FROM A ORDER BY a ASC NULLS LAST, b DESC NULLS FIRST, c DESC, d",
			want: "SELECT Id FROM A ORDER BY a NULLS LAST, b DESC NULLS FIRST, c DESC, d", fields: []string{"Id"}, object: "A", limit: -1,
			order: []Order{{Field: "a", NullsLast: true}, {Field: "b", Desc: true}, {Field: "c", Desc: true, NullsLast: true}, {Field: "d"}}},
		{name: "object named Order", in: "SELECT Id FROM Order ORDER BY Id", want: "SELECT Id FROM Order ORDER BY Id", fields: []string{"Id"}, object: "Order", limit: -1, order: []Order{{Field: "Id"}}},
		{name: "limit zero", in: "SELECT Id FROM A LIMIT 0", want: "SELECT Id FROM A LIMIT 0", fields: []string{"Id"}, object: "A", limit: 0},
		{name: "offset 2000", in: "SELECT Id FROM A OFFSET 2000", want: "SELECT Id FROM A OFFSET 2000", fields: []string{"Id"}, object: "A", limit: -1, offset: 2000},
		{name: "newlines and tabs", in: "SELECT Id,\n\tName\nFROM A\nWHERE Name = 'x'\n", want: "SELECT Id, Name FROM A WHERE Name = 'x'", fields: []string{"Id", "Name"}, object: "A", limit: -1},
		{name: "escaped string", in: `SELECT Id FROM A WHERE Name = 'O\'Brien \\ \"q\" \n'`, want: `SELECT Id FROM A WHERE Name = 'O\'Brien \\ \"q\" \n'`, fields: []string{"Id"}, object: "A", limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseWithClock(tt.in, clock)
			if tt.want == "" {
				// "a>=1AND": a number glued to a keyword is malformed.
				if err == nil {
					t.Fatalf("expected an error, got %s", q)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := q.String(); got != tt.want {
				t.Errorf("String()\n got %s\nwant %s", got, tt.want)
			}
			if !reflect.DeepEqual(q.Fields, tt.fields) {
				t.Errorf("Fields = %q, want %q", q.Fields, tt.fields)
			}
			if q.Object != tt.object || q.Count != tt.count || q.Limit != tt.limit || q.Offset != tt.offset {
				t.Errorf("Object/Count/Limit/Offset = %q/%v/%d/%d, want %q/%v/%d/%d",
					q.Object, q.Count, q.Limit, q.Offset, tt.object, tt.count, tt.limit, tt.offset)
			}
			if tt.order != nil && !reflect.DeepEqual(q.OrderBy, tt.order) {
				t.Errorf("OrderBy = %+v, want %+v", q.OrderBy, tt.order)
			}
			// The rendering parses back to itself.
			q2, err := ParseWithClock(q.String(), clock)
			if err != nil {
				t.Fatalf("reparse %q: %v", q.String(), err)
			}
			if q2.String() != q.String() {
				t.Errorf("round trip: %q -> %q", q.String(), q2.String())
			}
		})
	}
}

func TestParseStructure(t *testing.T) {
	q, err := Parse("SELECT Id FROM A WHERE NOT a = 1 AND (b = 'x' OR c IN (1, 2)) AND d NOT IN ('y')")
	if err != nil {
		t.Fatal(err)
	}
	and, ok := q.Where.(*And)
	if !ok || len(and.Terms) != 3 {
		t.Fatalf("Where = %#v, want And of 3", q.Where)
	}
	if n, ok := and.Terms[0].(*Not); !ok || n.Expr.(*Comparison).Field != "a" {
		t.Errorf("term 0 = %#v, want NOT a = 1", and.Terms[0])
	}
	or, ok := and.Terms[1].(*Or)
	if !ok || len(or.Terms) != 2 {
		t.Fatalf("term 1 = %#v, want Or of 2", and.Terms[1])
	}
	if c := or.Terms[0].(*Comparison); c.Op != "=" || c.Value.Kind != StringLit || c.Value.Str != "x" {
		t.Errorf("b = 'x' parsed as %+v", c)
	}
	if in := or.Terms[1].(*In); in.Not || len(in.Values) != 2 || in.Values[1].Num != 2 {
		t.Errorf("c IN (1, 2) parsed as %+v", in)
	}
	if in := and.Terms[2].(*In); !in.Not || in.Values[0].Str != "y" {
		t.Errorf("d NOT IN ('y') parsed as %+v", in)
	}
}

func TestParseLiterals(t *testing.T) {
	tests := []struct {
		lit        string
		kind       LiteralKind
		str        string
		num        float64
		start, end time.Time
	}{
		{lit: `'abc'`, kind: StringLit, str: "abc"},
		{lit: `''`, kind: StringLit, str: ""},
		{lit: `'a\'b\\c\"d\ne\tf\%g\_h'`, kind: StringLit, str: "a'b\\c\"d\ne\tf%g_h"},
		{lit: `'日本'`, kind: StringLit, str: "日本"},
		{lit: `42`, kind: NumberLit, num: 42},
		{lit: `-42`, kind: NumberLit, num: -42},
		{lit: `3.25`, kind: NumberLit, num: 3.25},
		{lit: `-0.5`, kind: NumberLit, num: -0.5},
		{lit: `+7`, kind: NumberLit, num: 7},
		{lit: `1.5E7`, kind: NumberLit, num: 1.5e7},
		{lit: `-2e-3`, kind: NumberLit, num: -2e-3},
		{lit: `13:30:00.000Z`, kind: TimeLit, start: time.Date(0, 1, 1, 13, 30, 0, 0, time.UTC)},
		{lit: `08:05:09`, kind: TimeLit, start: time.Date(0, 1, 1, 8, 5, 9, 0, time.UTC)},
		{lit: `true`, kind: BoolLit},
		{lit: `NULL`, kind: NullLit},
		{lit: `2024-01-02`, kind: DateLit, start: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{lit: `2024-01-02T03:04:05Z`, kind: DateTimeLit, start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{lit: `2024-01-02T03:04:05.123Z`, kind: DateTimeLit, start: time.Date(2024, 1, 2, 3, 4, 5, 123e6, time.UTC)},
		{lit: `2024-01-02T03:04:05+01:00`, kind: DateTimeLit, start: time.Date(2024, 1, 2, 2, 4, 5, 0, time.UTC)},
		{lit: `2024-01-02T03:04:05-0800`, kind: DateTimeLit, start: time.Date(2024, 1, 2, 11, 4, 5, 0, time.UTC)},
		{lit: `TODAY`, kind: DateRangeLit, start: time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC)},
		{lit: `yesterday`, kind: DateRangeLit, start: time.Date(2024, 3, 14, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)},
		{lit: `TOMORROW`, kind: DateRangeLit, start: time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC)},
		{lit: `LAST_N_DAYS:7`, kind: DateRangeLit, start: time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC)},
		{lit: `NEXT_N_DAYS:2`, kind: DateRangeLit, start: time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 18, 0, 0, 0, 0, time.UTC)},
		{lit: `THIS_WEEK`, kind: DateRangeLit, start: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC)},
		{lit: `LAST_MONTH`, kind: DateRangeLit, start: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{lit: `THIS_YEAR`, kind: DateRangeLit, start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), end: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			q, err := ParseWithClock("SELECT Id FROM A WHERE x = "+tt.lit, clock)
			if err != nil {
				t.Fatal(err)
			}
			l := q.Where.(*Comparison).Value
			if l.Kind != tt.kind || l.Text != tt.lit {
				t.Fatalf("kind/text = %v/%q, want %v/%q", l.Kind, l.Text, tt.kind, tt.lit)
			}
			switch tt.kind {
			case StringLit:
				if l.Str != tt.str {
					t.Errorf("Str = %q, want %q", l.Str, tt.str)
				}
			case NumberLit:
				if l.Num != tt.num {
					t.Errorf("Num = %v, want %v", l.Num, tt.num)
				}
			case BoolLit:
				if !l.Bool {
					t.Errorf("Bool = false")
				}
			case DateLit, DateTimeLit, TimeLit:
				if !l.Time.Equal(tt.start) {
					t.Errorf("Time = %v, want %v", l.Time, tt.start)
				}
			case DateRangeLit:
				if !l.Time.Equal(tt.start) || !l.End.Equal(tt.end) {
					t.Errorf("range = [%v, %v), want [%v, %v)", l.Time, l.End, tt.start, tt.end)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		code string
		msg  string // substring of the message
	}{
		{"SELECT Id FORM Account", CodeMalformedQuery, "unexpected token: 'FORM'"},
		{"SELECT Id FORM Account", CodeMalformedQuery, "ERROR at Row:1:Column:11"},
		{"", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELEC Id FROM A", CodeMalformedQuery, "unexpected token: 'SELEC'"},
		{"SELECT FROM A", CodeMalformedQuery, "unexpected token: 'FROM'"},
		{"SELECT Id, FROM A", CodeMalformedQuery, "unexpected token: 'FROM'"},
		{"SELECT Id FROM", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELECT Id FROM A WHERE", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELECT Id FROM A WHERE a = 1 AND b = 2 OR c = 3", CodeMalformedQuery, "unexpected token: 'OR'"},
		{"SELECT Id FROM A WHERE a = 1 OR b = 2 AND c = 3", CodeMalformedQuery, "unexpected token: 'AND'"},
		{"SELECT Id FROM A WHERE (a = 1 OR b = 2 AND c = 3)", CodeMalformedQuery, "unexpected token: 'AND'"},
		{"SELECT Id FROM A WHERE a = 1 AND NOT b = 2 OR c = 3", CodeMalformedQuery, "unexpected token: 'OR'"},
		{"SELECT Id FROM A WHERE (a = 1", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELECT Id FROM A WHERE a = 1)", CodeMalformedQuery, "unexpected token: ')'"},
		{"SELECT Id FROM A WHERE a == 1", CodeMalformedQuery, "unexpected token: '='"},
		{"SELECT Id FROM A WHERE a = acme", CodeMalformedQuery, "unexpected token: 'acme'"},
		{"SELECT Id FROM A WHERE a = 'x", CodeMalformedQuery, "expecting '''"},
		{`SELECT Id FROM A WHERE a = 'x\q'`, CodeMalformedQuery, `Illegal character sequence '\q' in string literal.`},
		{"SELECT Id FROM A WHERE a IN ()", CodeMalformedQuery, "unexpected token: ')'"},
		{"SELECT Id FROM A WHERE a IN ('x',)", CodeMalformedQuery, "unexpected token: ')'"},
		{"SELECT Id FROM A WHERE a IN 'x'", CodeMalformedQuery, "unexpected token: ''x''"},
		{"SELECT Id FROM A WHERE a NOT LIKE 'x'", CodeMalformedQuery, "unexpected token: 'LIKE'"},
		{"SELECT Id FROM A WHERE a LIKE 5", CodeMalformedQuery, "unexpected token: '5'"},
		{"SELECT Id FROM A WHERE a INCLUDES (5)", CodeMalformedQuery, "unexpected token: '5'"},
		{"SELECT Id FROM A WHERE a INCLUDES 'x'", CodeMalformedQuery, "unexpected token: ''x''"},
		{`SELECT Id FROM A WHERE a = 'x\'`, CodeMalformedQuery, "expecting '''"},
		{"SELECT Id FROM A WHERE a = 2024-01-02T03:04:05", CodeMalformedQuery, "no viable alternative"},
		{"SELECT Id FROM A WHERE a = 2024-13-02", CodeMalformedQuery, "invalid date"},
		{"SELECT Id FROM A WHERE a = 2024-01-02T25:04:05Z", CodeMalformedQuery, "invalid datetime"},
		{"SELECT Id FROM A WHERE a = LAST_N_DAYS", CodeMalformedQuery, "unexpected token: 'LAST_N_DAYS'"},
		{"SELECT Id FROM A WHERE a = LAST_N_DAYS:", CodeMalformedQuery, "unexpected token"},
		{"SELECT Id FROM A WHERE a = 1.2.3", CodeMalformedQuery, "unexpected token"},
		{"SELECT Id FROM A WHERE a = 1e", CodeMalformedQuery, "unexpected token: '1e'"},
		{"SELECT Id FROM A WHERE a = 25:00:00Z", CodeMalformedQuery, "invalid time: 25:00:00Z"},
		{"SELECT Id FROM A WHERE a = 12:00", CodeMalformedQuery, "unexpected token: ':'"},
		{"SELECT Id FROM A WHERE a = -", CodeMalformedQuery, "unexpected token: '-'"},
		{"SELECT Id FROM A WHERE a ! 1", CodeMalformedQuery, "unexpected token: '!'"},
		{"SELECT Id FROM A WHERE a = :x", CodeMalformedQuery, "unexpected token: ':'"},
		{"SELECT Id FROM A ORDER Id", CodeMalformedQuery, "unexpected token: 'Id'"},
		{"SELECT Id FROM A ORDER BY", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELECT Id FROM A ORDER BY a NULLS", CodeMalformedQuery, "unexpected token: '<EOF>'"},
		{"SELECT Id FROM A LIMIT x", CodeMalformedQuery, "unexpected token: 'x'"},
		{"SELECT Id FROM A LIMIT -1", CodeMalformedQuery, "unexpected token: '-1'"},
		{"SELECT Id FROM A LIMIT 1.5", CodeMalformedQuery, "unexpected token: '1.5'"},
		{"SELECT Id FROM A LIMIT 99999999999999999999", CodeMalformedQuery, "unexpected token"},
		{"SELECT Id FROM A OFFSET 2001", CodeNumberOutsideRange, "Maximum SOQL offset allowed is 2000"},
		{"SELECT Id FROM A OFFSET 1 LIMIT 1", CodeMalformedQuery, "unexpected token: 'LIMIT'"},
		{"SELECT Id FROM A B", CodeMalformedQuery, "unexpected token: 'B'"},
		{"SELECT Id FROM A.B", CodeMalformedQuery, "unexpected token: 'A.B'"},
		{"SELECT Id. FROM A", CodeMalformedQuery, "unexpected token: 'Id.'"},
		{"SELECT COUNT(Id) FROM A", CodeMalformedQuery, "unexpected token: 'Id'"},
		{"SELECT Id, (SELECT Id FROM Contacts) FROM Account", CodeMalformedQuery, "unexpected token: '('"},
		{"SELECT Id FROM A WHERE Id IN (SELECT AccountId FROM Contact)", CodeMalformedQuery, "unexpected token: 'SELECT'"},
		{"SELECT Id FROM A; DROP", CodeMalformedQuery, "unexpected token: ';'"},
		{"SELECT Id\nFROM A\nWHERE x = ?", CodeMalformedQuery, "ERROR at Row:3:Column:11"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseWithClock(tt.in, clock)
			if err == nil {
				t.Fatalf("Parse succeeded: %s", q)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *soql.Error", err, err)
			}
			if se.Code != tt.code || !strings.Contains(se.Message, tt.msg) {
				t.Errorf("got %s: %q\nwant %s containing %q", se.Code, se.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestErrorLayout(t *testing.T) {
	_, err := Parse("SELECT Id FORM Account")
	want := "MALFORMED_QUERY: \nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"
	if err == nil || err.Error() != want {
		t.Fatalf("got %q\nwant %q", err, want)
	}
}

func TestReferencedFields(t *testing.T) {
	q, err := Parse("SELECT Id, Name, Account.Name FROM Contact WHERE (name = 'x' OR Email != null) AND NOT Title IN ('a') ORDER BY SystemModstamp, ID")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Id", "Name", "Account.Name", "Email", "Title", "SystemModstamp"}
	if got := q.ReferencedFields(); !reflect.DeepEqual(got, want) {
		t.Errorf("ReferencedFields = %q, want %q", got, want)
	}
	q, _ = Parse("SELECT COUNT() FROM Contact")
	if got := q.ReferencedFields(); len(got) != 0 {
		t.Errorf("COUNT() ReferencedFields = %q, want none", got)
	}
}
