package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"testing"
	"time"
)

// heapMB forces a GC and returns the live heap in MiB.
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// loadAndPage seeds n contacts, then pages through all of them ordered by
// (SystemModstamp, Id) at batchSize 2000, and reports figures.
func loadAndPage(tb testing.TB, n int) (heap, seedSec, firstPageSec, perPageMs, pollMs float64) {
	before := heapMB()
	s := New(Options{RandSeed: 1})
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	if err := s.SeedObject("Contact", n); err != nil {
		tb.Fatal(err)
	}
	seedSec = time.Since(t0).Seconds()
	heap = heapMB() - before
	tok := s.Credentials().AccessToken
	get := func(path string) map[string]any {
		req, _ := http.NewRequest("GET", u+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			tb.Fatalf("%s: %s", path, b[:min(len(b), 300)])
		}
		return out
	}
	t0 = time.Now()
	page := get("/services/data/v62.0/query?q=" + url.QueryEscape("SELECT Id, Name, Email, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id"))
	firstPageSec = time.Since(t0).Seconds()
	total := len(page["records"].([]any))
	pages := 0
	t0 = time.Now()
	for page["done"] != true {
		page = get(page["nextRecordsUrl"].(string))
		total += len(page["records"].([]any))
		pages++
	}
	if pages > 0 {
		perPageMs = float64(time.Since(t0).Milliseconds()) / float64(pages)
	}
	if total != n {
		tb.Fatalf("paged %d of %d records", total, n)
	}
	// an incremental poll after a few changes: only they come back
	recs := page["records"].([]any)
	lastRec := recs[len(recs)-1].(map[string]any)
	s.Advance(time.Second)
	for i := 0; i < 3; i++ {
		if _, err := s.Create("Contact", map[string]any{"LastName": fmt.Sprintf("New%d", i)}); err != nil {
			tb.Fatal(err)
		}
	}
	stamp, id := lastRec["SystemModstamp"].(string), lastRec["Id"].(string)
	t0 = time.Now()
	poll := get("/services/data/v62.0/query?q=" + url.QueryEscape(fmt.Sprintf(
		"SELECT Id FROM Contact WHERE SystemModstamp > %s OR (SystemModstamp = %s AND Id > '%s') ORDER BY SystemModstamp, Id", stamp, stamp, id)))
	pollMs = float64(time.Since(t0).Microseconds()) / 1000
	if poll["totalSize"] != 3.0 {
		tb.Fatalf("poll found %v records", poll["totalSize"])
	}
	return heap, seedSec, firstPageSec, perPageMs, pollMs
}

// TestPagingLarge is the normal-suite version of the million-record check.
func TestPagingLarge(t *testing.T) {
	n := 20000
	if os.Getenv("TETHER_SIM_MILLION") == "1" {
		n = 1000000
	}
	heap, seedSec, first, perPage, poll := loadAndPage(t, n)
	t.Logf("%d contacts: heap %.0f MiB (%.0f B/record), seed %.1fs, first page %.3fs, next pages %.1f ms each, incremental poll %.1f ms",
		n, heap, heap*(1<<20)/float64(n), seedSec, first, perPage, poll)
}

// BenchmarkMillionRecords prints the memory and paging figures for one
// million Contacts (go test -run '^$' -bench Million -benchtime 1x).
func BenchmarkMillionRecords(b *testing.B) {
	for i := 0; i < b.N; i++ {
		heap, seedSec, first, perPage, poll := loadAndPage(b, 1000000)
		b.ReportMetric(heap, "heap-MiB")
		b.ReportMetric(seedSec, "seed-s")
		b.ReportMetric(first, "first-page-s")
		b.ReportMetric(perPage, "page-ms")
		b.ReportMetric(poll, "poll-ms")
		fmt.Printf("1M contacts: heap %.0f MiB, seed %.1fs, first page %.2fs, next pages %.1f ms each, incremental poll %.1f ms\n", heap, seedSec, first, perPage, poll)
	}
}
