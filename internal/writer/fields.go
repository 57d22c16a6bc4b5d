package writer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/schema"
	"github.com/tether-sync/tether/upstream"
)

// decodeJSON decodes a log row's record or values column, keeping numbers
// exact (json.Number).
func decodeJSON(b []byte) (map[string]any, error) {
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// mapped is one change's values as provider fields.
type mapped struct {
	Fields   map[string]any
	ReadOnly []string // provider fields the change touched but may not write
}

// readOnlyMessage names the fields that were not sent.
func (m mapped) readOnlyMessage() string {
	if len(m.ReadOnly) == 0 {
		return ""
	}
	return "read-only fields not sent: " + strings.Join(m.ReadOnly, ", ")
}

// mapValues turns column values (keyed by column name) into provider field
// values for op, leaving out the id column, tether's own _sync_ columns,
// columns the mapping does not know or does not sync, and fields the
// provider will not accept in op (named in ReadOnly when the change set
// them).
func mapValues(t *schema.Table, op upstream.Op, values map[string]any) (mapped, error) {
	m := mapped{Fields: map[string]any{}}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := values[name]
		if name == "id" || strings.HasPrefix(name, "_sync_") {
			continue
		}
		c := t.Column(name)
		if c == nil || !c.Synced || c.Removed() || c.Kind == upstream.KindID {
			continue
		}
		if !c.Writable(op) {
			if op == upstream.OpUpdate || v != nil {
				m.ReadOnly = append(m.ReadOnly, c.Field)
			}
			continue
		}
		fv, err := fieldValue(c.Kind, v)
		if err != nil {
			return m, fmt.Errorf("column %s: %w", name, err)
		}
		m.Fields[c.Field] = fv
	}
	return m, nil
}

// fieldValue converts one JSON value from the log into the provider-neutral
// value upstream.Change carries for a field of kind k.
func fieldValue(k upstream.Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case upstream.KindTextArray:
		switch x := v.(type) {
		case []any:
			out := make([]string, 0, len(x))
			for _, it := range x {
				if it == nil {
					continue
				}
				out = append(out, fmt.Sprint(it))
			}
			return out, nil
		case []string:
			return x, nil
		case string:
			if x == "" {
				return []string{}, nil
			}
			return strings.Split(x, ";"), nil
		}
		return nil, fmt.Errorf("expected an array, got %T", v)
	case upstream.KindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				if x == "t" {
					return true, nil
				} else if x == "f" {
					return false, nil
				}
				return nil, fmt.Errorf("expected a boolean, got %q", x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("expected a boolean, got %T", v)
	case upstream.KindInt, upstream.KindBigInt, upstream.KindDecimal:
		switch x := v.(type) {
		case json.Number:
			return x, nil
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				return nil, fmt.Errorf("expected a number, got %q", x)
			}
			return json.Number(x), nil
		case float64:
			return json.Number(strconv.FormatFloat(x, 'f', -1, 64)), nil
		}
		return nil, fmt.Errorf("expected a number, got %T", v)
	case upstream.KindDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a date, got %T", v)
		}
		if len(s) > 10 && s[4] == '-' && s[7] == '-' {
			s = s[:10]
		}
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return nil, fmt.Errorf("expected a date YYYY-MM-DD, got %q", s)
		}
		return s, nil
	case upstream.KindTimestamp:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a timestamp, got %T", v)
		}
		t, err := parseTimestamp(s)
		if err != nil {
			return nil, err
		}
		return t.UTC(), nil
	case upstream.KindJSON:
		return v, nil
	default: // text, id, reference, time, unknown
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05.000Z0700",
}

// parseTimestamp reads the ISO 8601 forms PostgreSQL and JSON encoders write;
// a time without a zone is taken as UTC.
func parseTimestamp(s string) (time.Time, error) {
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expected an ISO 8601 timestamp, got %q", s)
}
