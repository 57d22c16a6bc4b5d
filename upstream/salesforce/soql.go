package salesforce

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream"
)

// Page size bounds of Sforce-Query-Options: batchSize.
const (
	DefaultPageSize = 2000
	MinPageSize     = 200
	MaxPageSize     = 2000
)

// Stamp and id fields of incremental reads.
const (
	fieldID        = "Id"
	fieldStamp     = "SystemModstamp"
	fieldIsDeleted = "IsDeleted"
)

// QuoteString renders s as a SOQL string literal, escaping backslash, quotes
// and control characters with backslashes.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// DateTimeLiteral renders t as a SOQL datetime literal in UTC
// ("2006-01-02T15:04:05Z", with milliseconds only when t has them).
func DateTimeLiteral(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Millisecond) != 0 {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

// ParseDateTime parses Salesforce's datetime format
// ("2024-01-02T03:04:05.000+0000") and RFC 3339.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse Salesforce datetime %q", s)
}

// validName reports whether s is a plain API name (letters, digits, '_', '.').
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// BuildReadQuery builds the SOQL of an incremental read:
//
//	SELECT Id, SystemModstamp[, IsDeleted], <fields> FROM X
//	[WHERE SystemModstamp > c OR (SystemModstamp = c AND Id > 'id')]
//	ORDER BY SystemModstamp ASC, Id ASC
func BuildReadQuery(req upstream.ReadRequest) (string, error) {
	if !validName(req.Object) {
		return "", fmt.Errorf("build query: invalid object name %q", req.Object)
	}
	fields := []string{fieldID, fieldStamp}
	if req.IncludeDeleted {
		fields = append(fields, fieldIsDeleted)
	}
	seen := map[string]bool{}
	for _, f := range fields {
		seen[strings.ToLower(f)] = true
	}
	for _, f := range req.Fields {
		if !validName(f) {
			return "", fmt.Errorf("build query on %s: invalid field name %q", req.Object, f)
		}
		if !seen[strings.ToLower(f)] {
			seen[strings.ToLower(f)] = true
			fields = append(fields, f)
		}
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(fields, ", "))
	b.WriteString(" FROM ")
	b.WriteString(req.Object)
	if len(req.IDs) > 0 {
		if len(req.IDs) > upstream.MaxReadIDs {
			return "", fmt.Errorf("build query on %s: %d ids, at most %d", req.Object, len(req.IDs), upstream.MaxReadIDs)
		}
		quoted := make([]string, len(req.IDs))
		for i, id := range req.IDs {
			if !validName(id) || strings.ContainsAny(id, "_.") {
				return "", fmt.Errorf("build query on %s: invalid id %q", req.Object, id)
			}
			quoted[i] = QuoteString(id)
		}
		fmt.Fprintf(&b, " WHERE Id IN (%s)", strings.Join(quoted, ", "))
	} else if !req.After.IsZero() {
		c := DateTimeLiteral(req.After.Stamp)
		if req.After.ID == "" {
			fmt.Fprintf(&b, " WHERE SystemModstamp > %s", c)
		} else {
			fmt.Fprintf(&b, " WHERE SystemModstamp > %s OR (SystemModstamp = %s AND Id > %s)", c, c, QuoteString(req.After.ID))
		}
	}
	b.WriteString(" ORDER BY SystemModstamp ASC, Id ASC")
	return b.String(), nil
}

// PageSize clamps a page-size hint to Salesforce's batchSize range.
func PageSize(hint int) int {
	switch {
	case hint <= 0:
		return DefaultPageSize
	case hint < MinPageSize:
		return MinPageSize
	case hint > MaxPageSize:
		return MaxPageSize
	}
	return hint
}

// Literal renders a value as a SOQL literal for a field of the given
// describe; ok is false when the field cannot be compared in a WHERE
// clause (long text, multi-select, compound, binary, encrypted).
func Literal(f *upstream.Field, v any) (string, bool) {
	if f != nil {
		switch f.Kind {
		case upstream.KindTextArray, upstream.KindJSON, upstream.KindBinary, upstream.KindUnknown:
			return "", false
		}
		if f.SourceType == "encryptedstring" || f.Calculated || (f.SourceType == "textarea" && f.Length > 255) {
			return "", false
		}
	}
	if v == nil {
		return "null", true
	}
	if f != nil && (f.Kind == upstream.KindText || f.Kind == upstream.KindID || f.Kind == upstream.KindReference) {
		switch x := v.(type) {
		case json.Number:
			return QuoteString(string(x)), true
		case bool:
			return QuoteString(strconv.FormatBool(x)), true
		case int:
			return QuoteString(strconv.Itoa(x)), true
		}
	}
	switch x := v.(type) {
	case string:
		if f != nil {
			switch f.Kind {
			case upstream.KindDate, upstream.KindTimestamp, upstream.KindTime:
				if f.Kind == upstream.KindTimestamp {
					if t, err := ParseDateTime(x); err == nil {
						return DateTimeLiteral(t), true
					}
				}
				if validLiteral(x) {
					return x, true
				}
				return "", false
			case upstream.KindInt, upstream.KindBigInt, upstream.KindDecimal:
				if _, err := strconv.ParseFloat(x, 64); err == nil {
					return x, true
				}
				return "", false
			case upstream.KindBool:
				if b, err := strconv.ParseBool(x); err == nil {
					return strconv.FormatBool(b), true
				}
				return "", false
			}
		}
		return QuoteString(x), true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return "", false
		}
		return string(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case time.Time:
		if f != nil && f.Kind == upstream.KindDate {
			return x.Format("2006-01-02"), true
		}
		return DateTimeLiteral(x), true
	}
	return "", false
}

// validLiteral accepts only characters of date/time literals.
func validLiteral(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '-' || r == ':' || r == 'T' || r == 'Z' || r == '.' || r == '+') {
			return false
		}
	}
	return true
}

// BuildFindCreatedQuery builds the SOQL that looks for records a given user
// created since a moment with the given field values. Fields that cannot be
// compared are left out of the filter; the field names are sorted for a
// stable query.
func BuildFindCreatedQuery(obj *upstream.Object, since time.Time, userID string, fields map[string]any) (string, error) {
	if obj == nil || !validName(obj.Name) {
		return "", fmt.Errorf("build find-created query: invalid object")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT Id FROM %s WHERE CreatedDate >= %s", obj.Name, DateTimeLiteral(since.Truncate(time.Second)))
	if userID != "" {
		fmt.Fprintf(&b, " AND CreatedById = %s", QuoteString(userID))
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validName(name) || strings.EqualFold(name, fieldID) {
			continue
		}
		f := obj.Field(name)
		if f == nil {
			continue
		}
		lit, ok := Literal(f, fields[name])
		if !ok {
			continue
		}
		fmt.Fprintf(&b, " AND %s = %s", name, lit)
	}
	b.WriteString(" ORDER BY CreatedDate ASC, Id ASC")
	return b.String(), nil
}
