package sim

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
)

// record is one stored record. Audit fields live in the struct; the other
// values are packed into one byte string (only non-null fields), so that a
// million records fit in a few hundred megabytes. While a write is being
// built, vals holds the values unpacked; pack stores them.
type record struct {
	id         string
	created    int64 // unix seconds
	modified   int64
	stamp      int64 // SystemModstamp
	createdBy  string
	modifiedBy string
	deleted    bool
	deletedAt  int64
	data       []byte // packed values (immutable once packed)
	vals       []slot // unpacked values while building a write; nil when packed
}

type slot struct {
	f uint16
	v any // string, bool, float64, time.Time (datetime); dates and times are strings
}

// Packed value tags.
const (
	tagString byte = iota
	tagFalse
	tagTrue
	tagFloat
	tagTime
)

func (r *record) get(f int) any {
	if r.vals != nil {
		for i := range r.vals {
			if int(r.vals[i].f) == f {
				return r.vals[i].v
			}
		}
		return nil
	}
	b := r.data
	for len(b) > 0 {
		idx, n := binary.Uvarint(b)
		b = b[n:]
		v, rest := decodeValue(b)
		if int(idx) == f {
			return v
		}
		if int(idx) > f {
			return nil
		}
		b = rest
	}
	return nil
}

func decodeValue(b []byte) (any, []byte) {
	tag := b[0]
	b = b[1:]
	switch tag {
	case tagString:
		l, n := binary.Uvarint(b)
		return string(b[n : n+int(l)]), b[n+int(l):]
	case tagFalse:
		return boxedFalse, b
	case tagTrue:
		return boxedTrue, b
	case tagFloat:
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
	case tagTime:
		ms, n := binary.Varint(b)
		return time.UnixMilli(ms).UTC(), b[n:]
	}
	panic(fmt.Sprintf("sim: bad packed tag %d", tag))
}

// slots returns the record's values unpacked, in field order.
func (r *record) slots() []slot {
	if r.vals != nil {
		return append([]slot(nil), r.vals...)
	}
	out := []slot{}
	b := r.data
	for len(b) > 0 {
		idx, n := binary.Uvarint(b)
		var v any
		v, b = decodeValue(b[n:])
		out = append(out, slot{f: uint16(idx), v: v})
	}
	return out
}

func (r *record) set(f int, v any) {
	if r.vals == nil {
		r.vals = r.slots()
	}
	for i := range r.vals {
		if int(r.vals[i].f) == f {
			if v == nil {
				r.vals = append(r.vals[:i], r.vals[i+1:]...)
			} else {
				r.vals[i].v = v
			}
			return
		}
	}
	if v != nil {
		r.vals = append(r.vals, slot{f: uint16(f), v: v})
	}
}

// pack stores vals into data (a new byte slice) and drops vals.
func (r *record) pack() {
	if r.vals == nil {
		return
	}
	sort.Slice(r.vals, func(i, j int) bool { return r.vals[i].f < r.vals[j].f })
	var buf []byte
	for _, s := range r.vals {
		buf = binary.AppendUvarint(buf, uint64(s.f))
		switch x := s.v.(type) {
		case string:
			buf = append(buf, tagString)
			buf = binary.AppendUvarint(buf, uint64(len(x)))
			buf = append(buf, x...)
		case bool:
			if x {
				buf = append(buf, tagTrue)
			} else {
				buf = append(buf, tagFalse)
			}
		case float64:
			buf = append(buf, tagFloat)
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
		case time.Time:
			buf = append(buf, tagTime)
			buf = binary.AppendVarint(buf, x.UnixMilli())
		default:
			panic(fmt.Sprintf("sim: cannot pack %T", s.v))
		}
	}
	r.data = append(make([]byte, 0, len(buf)), buf...)
	r.vals = nil
}

// deletion is one getDeleted entry.
type deletion struct {
	id string
	at int64
}

// table holds an object's records.
type table struct {
	recs       []*record // creation order; hard-deleted records are removed
	byID       map[string]*record
	order      []*record // by (stamp, id); rebuilt lazily when dirty
	orderDirty bool
	nextN      uint64
	deletions  []deletion
}

func (t *table) add(r *record) {
	if t.byID == nil {
		t.byID = map[string]*record{}
	}
	t.recs = append(t.recs, r)
	t.byID[r.id] = r
	if n := len(t.order); !t.orderDirty && (n == 0 || less(t.order[n-1], r)) {
		t.order = append(t.order, r)
	} else {
		t.orderDirty = true
	}
}

func less(a, b *record) bool {
	if a.stamp != b.stamp {
		return a.stamp < b.stamp
	}
	return a.id < b.id
}

// touched notes that r's stamp changed.
func (t *table) touched(r *record) {
	if n := len(t.order); n > 0 && t.order[n-1] == r {
		if n == 1 || less(t.order[n-2], r) {
			return
		}
	}
	t.orderDirty = true
}

func (t *table) remove(r *record) {
	delete(t.byID, r.id)
	for i, x := range t.recs {
		if x == r {
			t.recs = append(t.recs[:i], t.recs[i+1:]...)
			break
		}
	}
	t.orderDirty = true
}

// sorted returns records ordered by (SystemModstamp, Id).
func (t *table) sorted() []*record {
	if t.orderDirty || len(t.order) != len(t.recs) {
		t.order = append(t.order[:0], t.recs...)
		sort.Slice(t.order, func(i, j int) bool { return less(t.order[i], t.order[j]) })
		t.orderDirty = false
	}
	return t.order
}

// SFTime is Salesforce's datetime format in JSON.
const SFTime = "2006-01-02T15:04:05.000-0700"

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

// value returns a field's stored value (JSON-like: string, bool, float64,
// time.Time for datetimes, map for address compounds) or nil.
func (o *objectDef) value(r *record, f *fieldDef) any {
	switch f.Name {
	case "Id":
		return r.id
	case "IsDeleted":
		return r.deleted
	case "CreatedDate":
		return unixTime(r.created)
	case "LastModifiedDate":
		return unixTime(r.modified)
	case "SystemModstamp":
		return unixTime(r.stamp)
	case "CreatedById":
		return r.createdBy
	case "LastModifiedById":
		return r.modifiedBy
	}
	if f.Type == "address" {
		comps := o.compounds[f.Name]
		if len(comps) == 0 {
			return nil
		}
		m := map[string]any{}
		any := false
		for _, c := range comps {
			key := addressKey(f.Name, c.Name)
			v := r.get(c.idx)
			if v != nil {
				any = true
			}
			m[key] = v
		}
		if !any {
			return nil
		}
		return m
	}
	v := r.get(f.idx)
	if v == nil && f.Type == "boolean" {
		return false
	}
	return v
}

// addressKey maps a component field (BillingCity) to its key in the
// address value (city).
func addressKey(compound, comp string) string {
	prefix := strings.TrimSuffix(compound, "Address")
	k := strings.TrimPrefix(comp, prefix)
	return strings.ToLower(k[:1]) + k[1:]
}

// jsonValue renders a value for a response body.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return fmtTime(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}

// writeErr is one per-record error, as Salesforce reports it.
type writeErr struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func errf(code string, fields []string, format string, args ...any) *writeErr {
	if fields == nil {
		fields = []string{}
	}
	return &writeErr{StatusCode: code, Message: fmt.Sprintf(format, args...), Fields: fields}
}

var emailRE = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

// coerce converts a JSON value for field f the way Salesforce accepts it.
func (s *Server) coerce(o *objectDef, f *fieldDef, v any) (any, *writeErr) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, *writeErr) {
		return nil, errf("INVALID_TYPE_ON_FIELD_IN_RECORD", []string{f.Name}, "%s: value not of required type: %v", f.Label, v)
	}
	str := func() (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	switch f.Type {
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return bad()
	case "int", "double", "currency", "percent", "long":
		var n float64
		switch x := v.(type) {
		case json.Number:
			p, err := x.Float64()
			if err != nil {
				return bad()
			}
			n = p
		case float64:
			n = x
		case int:
			n = float64(x)
		case string:
			if strings.TrimSpace(x) == "" {
				return nil, nil
			}
			p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return bad()
			}
			n = p
		default:
			return bad()
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return bad()
		}
		if f.Type == "int" || f.Type == "long" {
			n = math.Round(n)
			if f.Type == "int" && math.Abs(n) > math.MaxInt32 {
				return nil, errf("NUMBER_OUTSIDE_VALID_RANGE", []string{f.Name}, "%s: value outside of valid range on numeric field: %v", f.Label, v)
			}
		} else if f.Precision > 0 {
			if math.Abs(n) >= math.Pow10(f.Precision-f.Scale) {
				return nil, errf("NUMBER_OUTSIDE_VALID_RANGE", []string{f.Name}, "%s: value outside of valid range on numeric field: %v", f.Label, v)
			}
			p := math.Pow10(f.Scale)
			n = math.Round(n*p) / p
		}
		return n, nil
	case "date":
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(x) >= 10 {
			if _, err := time.Parse("2006-01-02", x[:10]); err == nil && (len(x) == 10 || x[10] == 'T') {
				return x[:10], nil
			}
		}
		return bad()
	case "datetime":
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		t, err := parseDateTime(x)
		if err != nil {
			return bad()
		}
		return t, nil
	case "time":
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		for _, layout := range []string{"15:04:05.000Z", "15:04:05Z", "15:04:05.000", "15:04:05", "15:04"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.Format("15:04:05.000Z"), nil
			}
		}
		return bad()
	case "id", "reference":
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		if x == "" {
			return nil, nil
		}
		id, err := sfid.Normalize(x)
		if err != nil {
			return nil, errf("MALFORMED_ID", []string{f.Name}, "%s: id value of incorrect type: %s", f.Label, x)
		}
		if target := s.byPrefix[sfid.Prefix(id)]; target != nil {
			okType := false
			for _, r := range f.ReferenceTo {
				if r == target.Name {
					okType = true
				}
			}
			if !okType {
				return nil, errf("FIELD_INTEGRITY_EXCEPTION", []string{f.Name}, "%s: id value of incorrect type: %s", f.Label, x)
			}
			if r := target.byID[id]; r == nil || r.deleted {
				return nil, errf("INVALID_CROSS_REFERENCE_KEY", []string{f.Name}, "invalid cross reference id")
			}
		}
		return id, nil
	case "multipicklist":
		var parts []string
		switch x := v.(type) {
		case string:
			if x == "" {
				return nil, nil
			}
			parts = strings.Split(x, ";")
		case []any:
			for _, e := range x {
				es, ok := e.(string)
				if !ok {
					return bad()
				}
				parts = append(parts, es)
			}
		default:
			return bad()
		}
		if f.Restricted {
			for _, p := range parts {
				if !contains(f.Picklist, p) {
					return nil, errf("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", []string{f.Name}, "%s: bad value for restricted picklist field: %s", f.Label, p)
				}
			}
		}
		out := strings.Join(parts, ";")
		if f.Length > 0 && len([]rune(out)) > f.Length {
			return nil, tooLong(f, out)
		}
		return out, nil
	case "address", "location", "base64":
		return bad()
	}
	// string-like types
	x, ok := str()
	if !ok {
		return bad()
	}
	if x == "" {
		return nil, nil
	}
	if f.Length > 0 && len([]rune(x)) > f.Length {
		return nil, tooLong(f, x)
	}
	switch f.Type {
	case "picklist":
		if f.Restricted && !contains(f.Picklist, x) {
			return nil, errf("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", []string{f.Name}, "%s: bad value for restricted picklist field: %s", f.Label, x)
		}
	case "email":
		if !emailRE.MatchString(x) {
			return nil, errf("INVALID_EMAIL_ADDRESS", []string{f.Name}, "%s: invalid email address: %s", f.Label, x)
		}
	}
	return x, nil
}

func tooLong(f *fieldDef, x string) *writeErr {
	shown := x
	if len([]rune(shown)) > 40 {
		shown = string([]rune(shown)[:40]) + "..."
	}
	return errf("STRING_TOO_LONG", []string{f.Name}, "%s: data value too large: %s (max length=%d)", f.Label, shown, f.Length)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseDateTime accepts the ISO 8601 forms Salesforce accepts.
func parseDateTime(x string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano, time.RFC3339,
		"2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05.000", "2006-01-02"} {
		if t, err := time.Parse(layout, x); err == nil {
			return t.UTC().Truncate(time.Millisecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad datetime %q", x)
}

// writeOp carries what an insert or update sets.
type writeOp struct {
	values map[string]any // field name (as sent) → JSON value
	create bool
	rec    *record // the record to update
	user   string  // the acting user id
}

// apply validates values and, when valid, writes them into a record (a new
// one for a create). It must run under the write lock. On success it returns
// the record (not yet added to the table for a create).
func (s *Server) apply(o *objectDef, op writeOp) (*record, *writeErr) {
	var notWritable []string
	type kv struct {
		f *fieldDef
		v any
	}
	var sets []kv
	for name, v := range op.values {
		if name == "attributes" {
			continue
		}
		f := o.field(name)
		if f == nil {
			return nil, errf("INVALID_FIELD", []string{}, "No such column '%s' on sobject of type %s", name, o.Name)
		}
		if f.Name == "Id" {
			if op.create {
				return nil, errf("INVALID_FIELD", []string{"Id"}, "cannot specify Id in an insert call")
			}
			continue
		}
		if op.create && !f.Createable || !op.create && !f.Updateable {
			notWritable = append(notWritable, f.Name)
			continue
		}
		sets = append(sets, kv{f, v})
	}
	if len(notWritable) > 0 {
		sort.Strings(notWritable)
		return nil, errf("INVALID_FIELD_FOR_INSERT_UPDATE", notWritable,
			"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
			strings.Join(notWritable, ", "))
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].f.idx < sets[j].f.idx })
	coerced := make([]kv, 0, len(sets))
	for _, x := range sets {
		v, werr := s.coerce(o, x.f, x.v)
		if werr != nil {
			return nil, werr
		}
		coerced = append(coerced, kv{x.f, v})
	}
	var r *record
	if op.create {
		r = &record{}
	} else {
		cp := *op.rec
		cp.vals = op.rec.slots()
		r = &cp
	}
	for _, x := range coerced {
		if x.v == nil && x.f.Type == "boolean" {
			x.v = false
		}
		r.set(x.f.idx, x.f.intern(x.v))
	}
	if op.create {
		s.defaults(o, r, op.user)
	}
	if o.Name == "Opportunity" && !op.create {
		// a new stage brings its own probability unless one is given
		stage, prob := o.field("StageName"), o.field("Probability")
		if stage != nil && prob != nil && r.get(stage.idx) != op.rec.get(stage.idx) && !hasField(op.values, "Probability") {
			r.set(prob.idx, nil)
			r.set(o.field("ForecastCategoryName").idx, nil)
		}
	}
	// required fields
	var missing []string
	for _, f := range o.fields {
		if f.Createable && !f.Nillable && !f.Defaulted && f.Type != "boolean" && r.get(f.idx) == nil {
			missing = append(missing, f.Name)
		}
		if !op.create && f.Updateable && !f.Nillable && f.Type != "boolean" && r.get(f.idx) == nil && op.rec.get(f.idx) != nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, errf("REQUIRED_FIELD_MISSING", missing, "Required fields are missing: [%s]", strings.Join(missing, ", "))
	}
	s.derive(o, r)
	if r.vals == nil {
		r.vals = []slot{}
	}
	return r, nil
}

// structFields are kept in the record struct, not among the values.
var structFields = map[string]bool{"Id": true, "IsDeleted": true, "CreatedDate": true, "CreatedById": true,
	"LastModifiedDate": true, "LastModifiedById": true, "SystemModstamp": true}

// defaults fills what Salesforce fills on create.
func (s *Server) defaults(o *objectDef, r *record, user string) {
	for _, f := range o.fields {
		if r.get(f.idx) != nil || f.Calculated || structFields[f.Name] {
			continue
		}
		switch {
		case f.Name == "OwnerId":
			r.set(f.idx, user)
		case f.Type == "boolean" && f.Default != nil:
			r.set(f.idx, f.Default)
		case (f.Type == "picklist" || f.Type == "multipicklist") && f.PickDefault != "" && f.Createable:
			r.set(f.idx, f.PickDefault)
		}
	}
}

// opportunityStages maps standard stages to probability and forecast category.
var opportunityStages = map[string]struct {
	prob      float64
	forecast  string
	closed    bool
	won       bool
	forecast2 string
}{
	"Prospecting":          {10, "Pipeline", false, false, "Pipeline"},
	"Qualification":        {10, "Pipeline", false, false, "Pipeline"},
	"Needs Analysis":       {20, "Pipeline", false, false, "Pipeline"},
	"Value Proposition":    {50, "Pipeline", false, false, "Pipeline"},
	"Id. Decision Makers":  {60, "Pipeline", false, false, "Pipeline"},
	"Perception Analysis":  {70, "Pipeline", false, false, "Pipeline"},
	"Proposal/Price Quote": {75, "Pipeline", false, false, "Pipeline"},
	"Negotiation/Review":   {90, "Pipeline", false, false, "Pipeline"},
	"Closed Won":           {100, "Closed", true, true, "Closed"},
	"Closed Lost":          {0, "Omitted", true, false, "Omitted"},
}

// derive computes the fields Salesforce computes: compound names, formula
// fields and the Opportunity stage-driven fields.
func (s *Server) derive(o *objectDef, r *record) {
	set := func(name string, v any) {
		if f := o.field(name); f != nil {
			r.set(f.idx, v)
		}
	}
	get := func(name string) any {
		if f := o.field(name); f != nil {
			return r.get(f.idx)
		}
		return nil
	}
	switch o.Name {
	case "Contact", "Lead", "User":
		first, _ := get("FirstName").(string)
		last, _ := get("LastName").(string)
		set("Name", strings.TrimSpace(first+" "+last))
	case "Opportunity":
		stage, _ := get("StageName").(string)
		if st, ok := opportunityStages[stage]; ok {
			if get("Probability") == nil {
				set("Probability", st.prob)
			}
			set("ForecastCategory", st.forecast)
			if get("ForecastCategoryName") == nil {
				set("ForecastCategoryName", st.forecast2)
			}
			set("IsClosed", st.closed)
			set("IsWon", st.won)
		}
		amount, okA := get("Amount").(float64)
		prob, okP := get("Probability").(float64)
		if okA && okP {
			set("ExpectedRevenue", math.Round(amount*prob)/100)
		} else {
			set("ExpectedRevenue", nil)
		}
		if cd, ok := get("CloseDate").(string); ok {
			if t, err := time.Parse("2006-01-02", cd); err == nil {
				q := (int(t.Month())-1)/3 + 1
				set("FiscalYear", float64(t.Year()))
				set("FiscalQuarter", float64(q))
				set("Fiscal", fmt.Sprintf("%d %d", t.Year(), q))
			}
		}
	}
	for _, f := range o.fields {
		if f.Formula != "" {
			r.set(f.idx, evalFormula(o, r, f))
		}
	}
}

// evalFormula evaluates the simple formulas custom objects may declare:
// field references and 'literals' joined by &. A single numeric field
// reference keeps its number.
func evalFormula(o *objectDef, r *record, f *fieldDef) any {
	parts := strings.Split(f.Formula, "&")
	var b strings.Builder
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '\'' || p[0] == '"') {
			b.WriteString(p[1 : len(p)-1])
			continue
		}
		src := o.field(p)
		if src == nil {
			continue
		}
		v := o.value(r, src)
		if len(parts) == 1 {
			switch f.Type {
			case "double", "currency", "percent", "int", "boolean":
				return v
			}
		}
		switch x := v.(type) {
		case nil:
		case string:
			b.WriteString(x)
		case float64:
			b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		case time.Time:
			b.WriteString(fmtTime(x))
		default:
			fmt.Fprint(&b, x)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return b.String()
}

// boxed true/false shared by every record.
var boxedTrue, boxedFalse any = true, false

// intern returns a shared boxed value for the values many records repeat
// (picklist values, booleans), so a million records do not each hold a copy.
func (f *fieldDef) intern(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return boxedTrue
		}
		return boxedFalse
	case string:
		if f.Type != "picklist" || f.interned == nil {
			return v
		}
		if b, ok := f.interned[x]; ok {
			return b
		}
	}
	return v
}

// hasField reports whether values names field (case-insensitively).
func hasField(values map[string]any, field string) bool {
	for k := range values {
		if strings.EqualFold(k, field) {
			return true
		}
	}
	return false
}
