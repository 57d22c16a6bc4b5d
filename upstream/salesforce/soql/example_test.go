package soql_test

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/soql"
)

// Example shows how a query endpoint uses the package: parse, filter with
// Match, sort with Order.Compare, then apply OFFSET and LIMIT.
func Example() {
	records := []map[string]any{
		{"Id": "001000000000003AAA", "Name": "Globex", "SystemModstamp": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Id": "001000000000001AAA", "Name": "Acme", "SystemModstamp": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Id": "001000000000002AAA", "Name": "Initech", "SystemModstamp": time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
	}
	q, err := soql.Parse("SELECT Id, Name FROM Account " +
		"WHERE SystemModstamp > 2024-01-01T00:00:00Z OR (SystemModstamp = 2024-01-01T00:00:00Z AND Id > '001000000000001AAA') " +
		"ORDER BY SystemModstamp, Id LIMIT 10")
	if err != nil {
		fmt.Println(err)
		return
	}
	var out []map[string]any
	for _, r := range records {
		get := func(f string) (any, bool) {
			for k, v := range r { // field names are case-insensitive
				if strings.EqualFold(k, f) {
					return v, true
				}
			}
			return nil, false
		}
		ok, err := soql.Match(q.Where, get)
		if err != nil {
			fmt.Println(err)
			return
		}
		if ok {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		for _, o := range q.OrderBy {
			if c := o.Compare(out[i][o.Field], out[j][o.Field]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	for _, r := range out {
		fmt.Println(r["Id"], r["Name"])
	}

	_, err = soql.Parse("SELECT Id FORM Account")
	fmt.Println(err.(*soql.Error).Code)
	// Output:
	// 001000000000003AAA Globex
	// 001000000000002AAA Initech
	// MALFORMED_QUERY
}
