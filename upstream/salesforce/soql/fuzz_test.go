package soql

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, fails only with a *soql.Error,
// that an accepted query renders to SOQL that parses back to the same
// rendering, and that Match over records of every value type never panics.
// Without -fuzz it runs only the seed corpus.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"SELECT Id FROM Account",
		"SELECT COUNT() FROM Contact WHERE IsDeleted = false",
		"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000001AAA') ORDER BY SystemModstamp, Id LIMIT 2000",
		"select id from a where not (x = 1 or y in ('a', null)) and z not in (1.5, -2) order by x desc nulls last limit 3 offset 4",
		`SELECT Id FROM A WHERE Name LIKE 'a\%b\_c%' AND d = 2024-01-02 AND e = 2024-01-02T03:04:05.000-0800`,
		"SELECT Id FROM A WHERE d = LAST_N_DAYS:30 OR d = TODAY OR d = THIS_MONTH",
		"SELECT Id FROM A WHERE a = 1 AND b = 2 OR c = 3",
		"SELECT Id FORM Account",
		"SELECT Id FROM A WHERE a = 'x",
		"SELECT Account.Name FROM Contact WHERE Account.Name != null",
		"SELECT Id FROM A WHERE Tags__c INCLUDES ('a;b', 'c') AND Start__c > 13:30:00.000Z AND Big__c < 1.5E7",
		"SELECT Id FROM A WHERE (NOT Name LIKE '%x') AND Name <> 'y'",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	now := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	values := []any{nil, "Acme", "001000000000001AAA", "2024-01-02", "2024-01-02T03:04:05.000+0000",
		true, 1.5, 42, now, Date{2024, 3, 15}, []string{"a", "b"}}
	f.Fuzz(func(t *testing.T, text string) {
		q, err := ParseWithClock(text, now)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Code == "" || se.Message == "" {
				t.Fatalf("Parse(%q) error %T %v is not a complete *soql.Error", text, err, err)
			}
			return
		}
		out := q.String()
		q2, err := ParseWithClock(out, now)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its rendering %q fails: %v", text, out, err)
		}
		if out2 := q2.String(); out2 != out {
			t.Fatalf("rendering not stable: %q -> %q", out, out2)
		}
		_ = q.ReferencedFields()
		for _, v := range values {
			_, err := Match(q.Where, func(string) (any, bool) { return v, true })
			var se *Error
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("Match with %v: error %T %v is not a *soql.Error", v, err, err)
			}
			_ = CompareValues(v, values[len(values)-1])
		}
		_, _ = Match(q.Where, func(string) (any, bool) { return nil, false })
		_ = fmt.Sprint(q.OrderBy)
	})
}
