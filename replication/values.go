package replication

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
)

// Columns whose names start with this prefix are tether's bookkeeping; they are
// never part of a log row's record or values.
const syncPrefix = "_sync_"

const (
	rowIDColumn = "_sync_row_id"
	apiIDColumn = "id"
)

// relation is the decoded shape of a published table, as the last Relation
// message described it. pgoutput sends a Relation message before the first
// change of a table in a session and again whenever the table's shape changed,
// so the cache entry is replaced every time one arrives.
type relation struct {
	id     uint32
	schema string
	name   string
	cols   []relColumn
	rowID  int // index of _sync_row_id, -1 if absent
	apiID  int // index of id, -1 if absent
}

type relColumn struct {
	name     string
	oid      uint32
	internal bool // _sync_* bookkeeping column
}

func newRelation(m *pglogrepl.RelationMessage) *relation {
	r := &relation{id: m.RelationID, schema: m.Namespace, name: m.RelationName, rowID: -1, apiID: -1}
	r.cols = make([]relColumn, len(m.Columns))
	for i, c := range m.Columns {
		r.cols[i] = relColumn{name: c.Name, oid: c.DataType, internal: strings.HasPrefix(c.Name, syncPrefix)}
		switch c.Name {
		case rowIDColumn:
			r.rowID = i
		case apiIDColumn:
			r.apiID = i
		}
	}
	return r
}

// tupleValue returns column i of a tuple, or nil when the tuple is shorter
// (cannot happen with a matching Relation message, but never panic on it).
func tupleValue(t *pglogrepl.TupleData, i int) *pglogrepl.TupleDataColumn {
	if t == nil || i >= len(t.Columns) {
		return nil
	}
	return t.Columns[i]
}

func isNull(c *pglogrepl.TupleDataColumn) bool {
	return c == nil || c.DataType == pglogrepl.TupleDataTypeNull
}

// known reports whether the column's value is present in the tuple (not an
// unchanged-TOAST placeholder).
func known(c *pglogrepl.TupleDataColumn) bool {
	return c != nil && c.DataType != pglogrepl.TupleDataTypeToast
}

// sameValue compares two column values of the same type by their text form.
func sameValue(a, b *pglogrepl.TupleDataColumn) bool {
	if isNull(a) || isNull(b) {
		return isNull(a) == isNull(b)
	}
	return string(a.Data) == string(b.Data)
}

// valueEncoder turns pgoutput's text values into JSON in the shapes the
// upstream expects: numbers as JSON numbers, timestamps in ISO 8601, dates as
// YYYY-MM-DD, arrays as JSON arrays, booleans, json/jsonb as-is, anything else
// as a string. The replication connection runs with DateStyle=ISO and
// TimeZone=UTC, so the text forms are predictable.
type valueEncoder struct {
	types *pgtype.Map
}

func newValueEncoder() *valueEncoder { return &valueEncoder{types: pgtype.NewMap()} }

// appendObject appends a JSON object of the columns selected by keep, taking
// each value from primary, or from fallback where primary holds an
// unchanged-TOAST placeholder. Columns whose value is unknown in both are left
// out. It returns the object and how many keys it holds.
func (e *valueEncoder) appendObject(dst []byte, r *relation, primary, fallback *pglogrepl.TupleData, keep func(i int, v *pglogrepl.TupleDataColumn) bool) ([]byte, int) {
	dst = append(dst, '{')
	n := 0
	for i, col := range r.cols {
		v := tupleValue(primary, i)
		if !known(v) {
			v = tupleValue(fallback, i)
			if !known(v) {
				continue
			}
		}
		if !keep(i, v) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, col.name)
		dst = append(dst, ':')
		if isNull(v) {
			dst = append(dst, "null"...)
		} else {
			dst = e.appendValue(dst, col.oid, v.Data)
		}
		n++
	}
	return append(dst, '}'), n
}

// appendValue appends the JSON form of one non-NULL value of type oid.
func (e *valueEncoder) appendValue(dst []byte, oid uint32, text []byte) []byte {
	switch oid {
	case pgtype.BoolOID:
		if len(text) > 0 && (text[0] == 't' || text[0] == 'T') {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID,
		pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		if isJSONNumber(text) {
			return append(dst, text...)
		}
		return appendJSONString(dst, string(text)) // NaN, Infinity
	case pgtype.JSONOID, pgtype.JSONBOID:
		if json.Valid(text) {
			return append(dst, text...)
		}
		return appendJSONString(dst, string(text))
	case pgtype.TimestamptzOID:
		if t, ok := e.parseTimestamp(oid, text, true); ok {
			return appendJSONString(dst, t.UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
		}
		return appendJSONString(dst, string(text))
	case pgtype.TimestampOID:
		if t, ok := e.parseTimestamp(oid, text, false); ok {
			return appendJSONString(dst, t.Format("2006-01-02T15:04:05.999999"))
		}
		return appendJSONString(dst, string(text))
	}
	if elem, ok := e.arrayElement(oid); ok {
		if out, ok := e.appendArray(dst, elem, text); ok {
			return out
		}
	}
	return appendJSONString(dst, string(text))
}

func (e *valueEncoder) parseTimestamp(oid uint32, text []byte, zoned bool) (time.Time, bool) {
	s := string(text)
	if zoned {
		if t, err := time.Parse("2006-01-02 15:04:05.999999999Z07", s); err == nil {
			return t, true
		}
		if t, err := time.Parse("2006-01-02 15:04:05.999999999Z07:00", s); err == nil {
			return t, true
		}
		var ts pgtype.Timestamptz
		if err := e.types.Scan(oid, pgtype.TextFormatCode, text, &ts); err == nil && ts.Valid && ts.InfinityModifier == pgtype.Finite {
			return ts.Time, true
		}
		return time.Time{}, false
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
		return t, true
	}
	var ts pgtype.Timestamp
	if err := e.types.Scan(oid, pgtype.TextFormatCode, text, &ts); err == nil && ts.Valid && ts.InfinityModifier == pgtype.Finite {
		return ts.Time, true
	}
	return time.Time{}, false
}

// arrayElement returns the element type of an array type oid.
func (e *valueEncoder) arrayElement(oid uint32) (uint32, bool) {
	t, ok := e.types.TypeForOID(oid)
	if !ok {
		return 0, false
	}
	ac, ok := t.Codec.(*pgtype.ArrayCodec)
	if !ok || ac.ElementType == nil {
		return 0, false
	}
	return ac.ElementType.OID, true
}

// appendArray appends a one-dimensional array literal as a JSON array. It
// reports false for shapes it does not handle (several dimensions, explicit
// bounds), which the caller then keeps as a string.
func (e *valueEncoder) appendArray(dst []byte, elem uint32, text []byte) ([]byte, bool) {
	elems, ok := parseArray(string(text))
	if !ok {
		return dst, false
	}
	dst = append(dst, '[')
	for i, el := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		if el == nil {
			dst = append(dst, "null"...)
			continue
		}
		dst = e.appendValue(dst, elem, []byte(*el))
	}
	return append(dst, ']'), true
}

// parseArray parses a one-dimensional PostgreSQL array literal such as
// {a,"b c",NULL}. A nil element is SQL NULL.
func parseArray(s string) ([]*string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	out := []*string{}
	if body == "" {
		return out, true
	}
	i := 0
	for {
		if i >= len(body) {
			return nil, false
		}
		var el string
		quoted := false
		if body[i] == '{' {
			return nil, false // several dimensions
		}
		if body[i] == '"' {
			quoted = true
			var b strings.Builder
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
			}
			if i >= len(body) {
				return nil, false
			}
			i++ // closing quote
			el = b.String()
		} else {
			start := i
			for i < len(body) && body[i] != ',' {
				i++
			}
			el = strings.TrimSpace(body[start:i])
		}
		if !quoted && strings.EqualFold(el, "NULL") {
			out = append(out, nil)
		} else {
			v := el
			out = append(out, &v)
		}
		if i >= len(body) {
			return out, true
		}
		if body[i] != ',' {
			return nil, false
		}
		i++
	}
}

// isJSONNumber reports whether b is a valid JSON number.
func isJSONNumber(b []byte) bool {
	i, n := 0, len(b)
	if i < n && b[i] == '-' {
		i++
	}
	if i >= n {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < n && b[i] == '.' {
		i++
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == n
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
