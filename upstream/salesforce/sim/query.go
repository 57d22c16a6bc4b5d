package sim

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
	"github.com/tether-sync/tether/upstream/salesforce/soql"
)

// cursor is a query's snapshot of matching records, paged by locator.
type cursor struct {
	obj     *objectDef
	recs    []*record
	cols    []column
	batch   int
	total   int
	lastUse time.Time
}

// maxCursors is how many query cursors stay open: like Salesforce (10 per
// user), opening one more releases the oldest, whose locator then answers
// INVALID_QUERY_LOCATOR.
const maxCursors = 10

// batchSize reads Sforce-Query-Options: batchSize=N (200..2000, default 2000).
func batchSize(r *http.Request) int {
	n := 2000
	for _, part := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		kv := strings.SplitN(strings.TrimSpace(part), "=", 2)
		if len(kv) == 2 && strings.EqualFold(kv[0], "batchSize") {
			if v, err := strconv.Atoi(strings.TrimSpace(kv[1])); err == nil {
				n = v
			}
		}
	}
	if n < 200 {
		n = 200
	}
	if n > 2000 {
		n = 2000
	}
	return n
}

func queryError(w http.ResponseWriter, err error) {
	var qe *soql.Error
	if errors.As(err, &qe) {
		writeError(w, http.StatusBadRequest, qe.Code, "%s", qe.Message)
		return
	}
	writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", "%v", err)
}

// matchValue converts a stored value for soql.Match / ordering.
func matchValue(f *fieldDef, v any) any {
	switch x := v.(type) {
	case string:
		if f.Type == "date" {
			if t, err := time.Parse("2006-01-02", x); err == nil {
				return soql.DateOf(t)
			}
		}
	case map[string]any:
		return nil
	}
	return v
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, ver string, all bool) {
	text := r.URL.Query().Get("q")
	if strings.TrimSpace(text) == "" {
		writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query string must be provided.")
		return
	}
	q, err := soql.ParseWithClock(text, s.Now())
	if err != nil {
		queryError(w, err)
		return
	}
	s.mu.Lock() // the sorted index and cursors may be updated
	defer s.mu.Unlock()
	o := s.object(q.Object)
	if o == nil {
		writeError(w, http.StatusBadRequest, "INVALID_TYPE", "\n%s\n^\nERROR at Row:1:Column:1\nsObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", text, q.Object)
		return
	}
	// resolve every field: plain fields and parent relationship paths
	type ref struct {
		f    *fieldDef
		path *relPath
	}
	lookup := map[string]ref{}
	for _, name := range q.ReferencedFields() {
		var rf ref
		if strings.Contains(name, ".") {
			rf.path = s.resolvePath(o, name)
		} else {
			rf.f = o.field(name)
		}
		if rf.f == nil && rf.path == nil {
			msg := fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", name, o.Name)
			if i := strings.IndexByte(name, '.'); i > 0 {
				msg = fmt.Sprintf("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", name[:i])
			}
			writeError(w, http.StatusBadRequest, "INVALID_FIELD", "\n%s\n^\nERROR at Row:1:Column:1\n%s", text, msg)
			return
		}
		lookup[name] = rf
	}
	for _, ob := range q.OrderBy {
		rf := lookup[ob.Field]
		f := rf.f
		if f == nil {
			f = rf.path.leaf
		}
		if f.Type == "address" || f.Type == "textarea" && f.Length > 255 || f.Type == "multipicklist" {
			writeError(w, http.StatusBadRequest, "INVALID_FIELD", "field '%s' can not be sorted in a query call", f.Name)
			return
		}
	}
	var cols []column
	for _, name := range q.Fields {
		cols, _ = s.addColumn(cols, o, name)
	}
	// value of a referenced field for matching and ordering
	valueOf := func(rec *record, name string) (any, bool) {
		rf, ok := lookup[name]
		if !ok {
			if f := o.field(name); f != nil {
				rf.f = f
			} else if p := s.resolvePath(o, name); p != nil {
				rf.path = p
			} else {
				return nil, false
			}
		}
		if rf.f != nil {
			return matchValue(rf.f, o.value(rec, rf.f)), true
		}
		v, leaf := s.pathValue(o, rec, rf.path)
		return matchValue(leaf, v), true
	}

	// Candidate records: by (SystemModstamp, Id) when that is the order asked.
	src := o.recs
	presorted := false
	if isStampOrder(q.OrderBy) {
		src = o.sorted()
		presorted = true
	}
	get := func(rec *record) func(string) (any, bool) {
		return func(name string) (any, bool) { return valueOf(rec, name) }
	}
	if presorted {
		// incremental reads: start at the first record the WHERE can match
		if lo, ok := stampLowerBound(q.Where); ok {
			i := sort.Search(len(src), func(i int) bool { return src[i].stamp >= lo })
			src = src[i:]
		}
	}
	var matched []*record
	for _, rec := range src {
		if rec.deleted && !all {
			continue
		}
		ok, err := soql.Match(q.Where, get(rec))
		if err != nil {
			queryError(w, err)
			return
		}
		if ok {
			matched = append(matched, rec)
		}
	}
	if len(q.OrderBy) > 0 && !presorted {
		// compute each record's sort key once, then sort
		type keyed struct {
			rec  *record
			keys []any
		}
		ks := make([]keyed, len(matched))
		for i, rec := range matched {
			ks[i].rec = rec
			ks[i].keys = make([]any, len(q.OrderBy))
			for k, ob := range q.OrderBy {
				ks[i].keys[k], _ = valueOf(rec, ob.Field)
			}
		}
		sort.SliceStable(ks, func(i, j int) bool {
			for k, ob := range q.OrderBy {
				if c := ob.Compare(ks[i].keys[k], ks[j].keys[k]); c != 0 {
					return c < 0
				}
			}
			return false
		})
		for i := range ks {
			matched[i] = ks[i].rec
		}
	}
	if q.Offset > 0 {
		if q.Offset >= len(matched) {
			matched = nil
		} else {
			matched = matched[q.Offset:]
		}
	}
	if q.Limit >= 0 && len(matched) > q.Limit {
		matched = matched[:q.Limit]
	}
	if q.Count {
		writeJSON(w, http.StatusOK, map[string]any{"totalSize": len(matched), "done": true, "records": []any{}})
		return
	}
	c := &cursor{obj: o, recs: matched, cols: cols, batch: batchSize(r), total: len(matched), lastUse: time.Now()}
	s.writePage(w, c, 0, ver)
}

func isStampOrder(ob []soql.Order) bool {
	if len(ob) == 0 || len(ob) > 2 {
		return false
	}
	if !strings.EqualFold(ob[0].Field, "SystemModstamp") || ob[0].Desc {
		return false
	}
	return len(ob) == 1 || strings.EqualFold(ob[1].Field, "Id") && !ob[1].Desc
}

// writePage answers one page from offset; caller holds mu (write).
func (s *Server) writePage(w http.ResponseWriter, c *cursor, offset int, ver string) {
	end := offset + c.batch
	if end > len(c.recs) {
		end = len(c.recs)
	}
	var buf bytes.Buffer
	buf.Grow(256 * (end - offset + 1))
	fmt.Fprintf(&buf, `{"totalSize":%d,"done":%t`, c.total, end >= len(c.recs))
	if end < len(c.recs) {
		loc := s.saveCursor(c)
		fmt.Fprintf(&buf, `,"nextRecordsUrl":"/services/data/v%s/query/%s-%d"`, ver, loc, end)
	}
	buf.WriteString(`,"records":[`)
	for i := offset; i < end; i++ {
		if i > offset {
			buf.WriteByte(',')
		}
		s.columnsJSON(&buf, c.obj, c.recs[i], c.cols, ver)
	}
	buf.WriteString("]}")
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// saveCursor stores c (once) and returns its locator id.
func (s *Server) saveCursor(c *cursor) string {
	for id, x := range s.cursors {
		if x == c {
			return id
		}
	}
	s.curN++
	id := sfid.New("01g", instanceCode, s.curN+idBase)
	s.cursors[id] = c
	s.curOrder = append(s.curOrder, id)
	for len(s.curOrder) > maxCursors {
		delete(s.cursors, s.curOrder[0])
		s.curOrder = s.curOrder[1:]
	}
	return id
}

func (s *Server) handleQueryMore(w http.ResponseWriter, r *http.Request, ver, locator string) {
	i := strings.LastIndexByte(locator, '-')
	var id string
	var offset int
	var err error
	if i > 0 {
		id = locator[:i]
		offset, err = strconv.Atoi(locator[i+1:])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cursors[id]
	if i <= 0 || err != nil || c == nil || offset < 0 || offset > len(c.recs) || time.Since(c.lastUse) > 15*time.Minute {
		writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	c.lastUse = time.Now()
	if bs := r.Header.Get("Sforce-Query-Options"); bs != "" {
		c.batch = batchSize(r)
	}
	s.writePage(w, c, offset, ver)
}

// stampLowerBound returns a unix second below which no record's
// SystemModstamp can satisfy e (for "SystemModstamp > c OR (SystemModstamp
// = c AND Id > x)" that is c), so a scan in (SystemModstamp, Id) order can
// skip what comes before.
func stampLowerBound(e soql.Expr) (int64, bool) {
	switch x := e.(type) {
	case *soql.Comparison:
		if !strings.EqualFold(x.Field, "SystemModstamp") || x.Value.Kind != soql.DateTimeLit && x.Value.Kind != soql.DateLit {
			return 0, false
		}
		switch x.Op {
		case ">", ">=", "=":
			return x.Value.Time.Unix(), true
		}
	case *soql.And:
		best, found := int64(0), false
		for _, t := range x.Terms {
			if b, ok := stampLowerBound(t); ok && (!found || b > best) {
				best, found = b, true
			}
		}
		return best, found
	case *soql.Or:
		var low int64
		for i, t := range x.Terms {
			b, ok := stampLowerBound(t)
			if !ok {
				return 0, false
			}
			if i == 0 || b < low {
				low = b
			}
		}
		return low, len(x.Terms) > 0
	}
	return 0, false
}
