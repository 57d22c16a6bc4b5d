package soql

import (
	"fmt"
	"testing"
	"time"
)

// benchRecords builds n records shaped like a fetch page: an id, a
// SystemModstamp shared by runs of records, a name and an amount.
func benchRecords(n int) []map[string]any {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = map[string]any{
			"Id":             fmt.Sprintf("001%012dAAA", i),
			"Name":           fmt.Sprintf("Account %d", i),
			"Amount":         float64(i % 1000),
			"Industry":       []any{nil, "Tech", "Retail"}[i%3],
			"SystemModstamp": base.Add(time.Duration(i/10) * time.Second),
		}
	}
	return recs
}

// BenchmarkMatch evaluates typical WHERE clauses over 1M records; ns/op is
// per 1M-record scan, and ns/record is reported alongside.
func BenchmarkMatch(b *testing.B) {
	const n = 1_000_000
	recs := benchRecords(n)
	queries := map[string]string{
		"tiebreaker": "SystemModstamp > 2024-01-02T00:00:00Z OR (SystemModstamp = 2024-01-02T00:00:00Z AND Id > '001000000864000AAA')",
		"like":       "Name LIKE 'account 9%' AND Industry != null",
		"in":         "Industry IN ('Tech', 'Media') AND Amount >= 500",
	}
	for _, name := range []string{"tiebreaker", "like", "in"} {
		q, err := Parse("SELECT Id FROM Account WHERE " + queries[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			matched := 0
			for b.Loop() {
				matched = 0
				for _, r := range recs {
					ok, err := Match(q.Where, func(f string) (any, bool) { v, ok := r[f]; return v, ok })
					if err != nil {
						b.Fatal(err)
					}
					if ok {
						matched++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
			b.ReportMetric(float64(matched), "matched")
		})
	}
}
