package salesforce

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tether-sync/tether/upstream"
)

func TestQuoteString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"O'Brien", `'O\'Brien'`},
		{`back\slash`, `'back\\slash'`},
		{`say "hi"`, `'say \"hi\"'`},
		{"line\nbreak\ttab\r", `'line\nbreak\ttab\r'`},
		{"' OR Id != '", `'\' OR Id != \''`},
		{"日本", `'日本'`},
		{"", `''`},
	}
	for _, c := range cases {
		if got := QuoteString(c.in); got != c.want {
			t.Errorf("QuoteString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDateTimeLiteral(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	cases := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z"},
		{time.Date(2024, 1, 2, 4, 4, 5, 0, paris), "2024-01-02T03:04:05Z"},
		{time.Date(2024, 1, 2, 3, 4, 5, 250*int(time.Millisecond), time.UTC), "2024-01-02T03:04:05.250Z"},
		{time.Date(2024, 1, 2, 3, 4, 5, 999, time.UTC), "2024-01-02T03:04:05Z"},
	}
	for _, c := range cases {
		if got := DateTimeLiteral(c.in); got != c.want {
			t.Errorf("DateTimeLiteral(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"2024-01-02T03:04:05.000+0000", "2024-01-02T04:04:05.000+0100", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"} {
		got, err := ParseDateTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseDateTime(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseDateTime("yesterday"); err == nil {
		t.Error("ParseDateTime accepted garbage")
	}
}

func TestBuildReadQuery(t *testing.T) {
	stamp := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name string
		req  upstream.ReadRequest
		want string
	}{
		{"from the start", upstream.ReadRequest{Object: "Contact", Fields: []string{"FirstName", "LastName"}},
			"SELECT Id, SystemModstamp, FirstName, LastName FROM Contact ORDER BY SystemModstamp ASC, Id ASC"},
		{"dedupes id and stamp", upstream.ReadRequest{Object: "Contact", Fields: []string{"Id", "systemmodstamp", "Email"}},
			"SELECT Id, SystemModstamp, Email FROM Contact ORDER BY SystemModstamp ASC, Id ASC"},
		{"after a cursor", upstream.ReadRequest{Object: "Account", Fields: []string{"Name"}, After: upstream.Cursor{Stamp: stamp, ID: "001000000000001AAA"}},
			"SELECT Id, SystemModstamp, Name FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z OR (SystemModstamp = 2024-01-02T03:04:05Z AND Id > '001000000000001AAA') ORDER BY SystemModstamp ASC, Id ASC"},
		{"stamp only", upstream.ReadRequest{Object: "Account", After: upstream.Cursor{Stamp: stamp}},
			"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z ORDER BY SystemModstamp ASC, Id ASC"},
		{"include deleted", upstream.ReadRequest{Object: "Invoice__c", Fields: []string{"Amount__c", "IsDeleted"}, IncludeDeleted: true},
			"SELECT Id, SystemModstamp, IsDeleted, Amount__c FROM Invoice__c ORDER BY SystemModstamp ASC, Id ASC"},
		{"id is quoted", upstream.ReadRequest{Object: "Account", After: upstream.Cursor{Stamp: stamp, ID: "x' OR Name != '"}},
			`SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2024-01-02T03:04:05Z OR (SystemModstamp = 2024-01-02T03:04:05Z AND Id > 'x\' OR Name != \'') ORDER BY SystemModstamp ASC, Id ASC`},
		{"by ids, cursor ignored", upstream.ReadRequest{Object: "Contact", Fields: []string{"Title"}, IDs: []string{"003000000000001AAA", "003000000000002AAA"}, After: upstream.Cursor{Stamp: stamp}},
			"SELECT Id, SystemModstamp, Title FROM Contact WHERE Id IN ('003000000000001AAA', '003000000000002AAA') ORDER BY SystemModstamp ASC, Id ASC"},
	}
	for _, c := range cases {
		got, err := BuildReadQuery(c.req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	for _, bad := range []upstream.ReadRequest{
		{Object: "Contact", IDs: []string{"003' OR Name != '"}},
		{Object: "Account; DROP"},
		{Object: "Account", Fields: []string{"Name FROM User"}},
		{Object: ""},
	} {
		if _, err := BuildReadQuery(bad); err == nil {
			t.Errorf("BuildReadQuery(%+v) accepted an invalid name", bad)
		}
	}
}

func TestPageSize(t *testing.T) {
	for in, want := range map[int]int{0: 2000, -5: 2000, 1: 200, 199: 200, 200: 200, 500: 500, 2000: 2000, 5000: 2000} {
		if got := PageSize(in); got != want {
			t.Errorf("PageSize(%d) = %d, want %d", in, got, want)
		}
	}
}

func testObject() *upstream.Object {
	return &upstream.Object{Name: "Contact", Fields: []upstream.Field{
		{Name: "Id", Kind: upstream.KindID, SourceType: "id"},
		{Name: "LastName", Kind: upstream.KindText, SourceType: "string", Createable: true, Updateable: true},
		{Name: "Description", Kind: upstream.KindText, SourceType: "textarea", Length: 32000, Createable: true},
		{Name: "Hobbies__c", Kind: upstream.KindTextArray, SourceType: "multipicklist", Createable: true},
		{Name: "Score__c", Kind: upstream.KindDecimal, SourceType: "double", Createable: true},
		{Name: "Age__c", Kind: upstream.KindInt, SourceType: "int", Createable: true},
		{Name: "Birthdate", Kind: upstream.KindDate, SourceType: "date", Createable: true},
		{Name: "Seen__c", Kind: upstream.KindTimestamp, SourceType: "datetime", Createable: true},
		{Name: "Alarm__c", Kind: upstream.KindTime, SourceType: "time", Createable: true},
		{Name: "DoNotCall", Kind: upstream.KindBool, SourceType: "boolean", Createable: true},
		{Name: "MailingAddress", Kind: upstream.KindJSON, SourceType: "address"},
		{Name: "Secret__c", Kind: upstream.KindText, SourceType: "encryptedstring", Createable: true},
	}}
}

func TestLiteral(t *testing.T) {
	obj := testObject()
	cases := []struct {
		field string
		v     any
		want  string
		ok    bool
	}{
		{"LastName", "O'Hara", `'O\'Hara'`, true},
		{"LastName", nil, "null", true},
		{"LastName", json.Number("12"), "'12'", true},
		{"Score__c", json.Number("1.5"), "1.5", true},
		{"Score__c", "2.25", "2.25", true},
		{"Score__c", "abc", "", false},
		{"Age__c", 42, "42", true},
		{"DoNotCall", true, "true", true},
		{"DoNotCall", "false", "false", true},
		{"Birthdate", "2020-02-29", "2020-02-29", true},
		{"Birthdate", time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC), "2020-02-29", true},
		{"Birthdate", "2020-02-29' OR", "", false},
		{"Seen__c", "2024-01-02T03:04:05.000+0000", "2024-01-02T03:04:05Z", true},
		{"Seen__c", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z", true},
		{"Hobbies__c", []string{"a"}, "", false},
		{"Description", "long text", "", false},
		{"MailingAddress", map[string]any{}, "", false},
		{"Secret__c", "x", "", false},
	}
	for _, c := range cases {
		got, ok := Literal(obj.Field(c.field), c.v)
		if got != c.want || ok != c.ok {
			t.Errorf("Literal(%s, %#v) = %q, %v; want %q, %v", c.field, c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestBuildFindCreatedQuery(t *testing.T) {
	obj := testObject()
	since := time.Date(2024, 1, 2, 3, 4, 5, 700*int(time.Millisecond), time.UTC)
	got, err := BuildFindCreatedQuery(obj, since, "005000000000001AAA", map[string]any{
		"LastName":    "O'Hara",
		"Score__c":    json.Number("3"),
		"Hobbies__c":  []string{"golf"},     // not comparable: left out
		"Description": "long",               // long text area: left out
		"Unknown__c":  "x",                  // not in the describe: left out
		"Id":          "001000000000001AAA", // never filtered
		"DoNotCall":   nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT Id FROM Contact WHERE CreatedDate >= 2024-01-02T03:04:05Z AND CreatedById = '005000000000001AAA'" +
		" AND DoNotCall = null AND LastName = 'O\\'Hara' AND Score__c = 3 ORDER BY CreatedDate ASC, Id ASC"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "Hobbies") {
		t.Fatal("multi-select filtered")
	}
}
