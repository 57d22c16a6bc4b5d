package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// PGValue converts one value as the provider returned it (nil, string, bool,
// json.Number, float64, []string, map[string]any; time.Time and Go integers
// are accepted too) into a value pgx writes into this column's PostgreSQL
// type, with both INSERT and COPY:
//
//	text        string (numbers and booleans as their text)
//	text[]      []string (a string is split on ";", Salesforce's multi-select form)
//	boolean     bool
//	integer     int32;  bigint: int64 (from json.Number, integral floats too)
//	numeric     pgtype.Numeric (exact, exponents accepted)
//	date        time.Time (UTC midnight) from "2024-01-02"
//	timestamptz time.Time (UTC) from "2024-01-02T03:04:05.000+0000", RFC 3339 and similar
//	time        pgtype.Time from "10:00:00.000Z", "10:00:00", "10:00"
//	jsonb       json.RawMessage (the value marshalled)
//
// nil is NULL for every type. A value that does not fit is an error naming
// the column.
func (c *Column) PGValue(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, err := c.pgValue(v)
	if err != nil {
		return nil, fmt.Errorf("column %s (field %s, %s): value %s: %w", c.Name, c.Field, c.PGType, describeValue(v), err)
	}
	return out, nil
}

func (c *Column) pgValue(v any) (any, error) {
	switch c.PGType {
	case PGText:
		return toText(v)
	case PGTextArray:
		return toTextArray(v)
	case PGBoolean:
		return toBool(v)
	case PGInteger:
		n, err := toInt(v, 32)
		return int32(n), err
	case PGBigInt:
		return toInt(v, 64)
	case PGNumeric:
		return toNumeric(v)
	case PGDate:
		return toDate(v)
	case PGTimestamptz:
		return toTimestamp(v)
	case PGTime:
		return toTime(v)
	case PGJSONB:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(b), nil
	case "":
		return nil, fmt.Errorf("the column is not synced (%s)", c.Reason)
	}
	return nil, fmt.Errorf("unsupported column type %q", c.PGType)
}

// describeValue renders a value for an error message, shortened.
func describeValue(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return fmt.Sprintf("%q (%T)", s, v)
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int, int32, int64:
		return fmt.Sprint(x), nil
	}
	return nil, fmt.Errorf("not text")
}

func toTextArray(v any) (any, error) {
	switch x := v.(type) {
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %T, not a string", i, e)
			}
			out[i] = s
		}
		return out, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return strings.Split(x, ";"), nil
	}
	return nil, fmt.Errorf("not a list of strings")
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(x)
	}
	return nil, fmt.Errorf("not a boolean")
}

// numberText returns the decimal text of a numeric value.
func numberText(v any) (string, error) {
	switch x := v.(type) {
	case json.Number:
		return strings.TrimSpace(x.String()), nil
	case string:
		return strings.TrimSpace(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("not a finite number")
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", fmt.Errorf("not a number")
}

func toInt(v any, bits int) (int64, error) {
	s, err := numberText(v)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.ParseInt(s, 10, bits); err == nil {
		return n, nil
	}
	// "12.0", "1.2E3": accepted when integral and in range.
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("not an integer")
	}
	n := r.Num()
	if !n.IsInt64() || n.Int64() < -(1<<(bits-1)) || n.Int64() > 1<<(bits-1)-1 {
		return 0, fmt.Errorf("out of range for a %d-bit integer", bits)
	}
	return n.Int64(), nil
}

func toNumeric(v any) (any, error) {
	s, err := numberText(v)
	if err != nil {
		return nil, err
	}
	s, err = plainDecimal(s)
	if err != nil {
		return nil, err
	}
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		return nil, fmt.Errorf("not a number")
	}
	return n, nil
}

// plainDecimal rewrites a decimal with an exponent ("1.5E3") without one
// ("1500"), exactly; other valid decimals are returned as they are.
func plainDecimal(s string) (string, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return "", fmt.Errorf("not a number")
		}
		mant, exp = s[:i], e
	}
	sign := ""
	if strings.HasPrefix(mant, "-") || strings.HasPrefix(mant, "+") {
		if mant[0] == '-' {
			sign = "-"
		}
		mant = mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", fmt.Errorf("not a number")
	}
	if exp == 0 {
		return s, nil
	}
	point := len(intPart) + exp
	switch {
	case point <= 0:
		digits = strings.Repeat("0", -point+1) + digits
		point = 1
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	out := digits[:point]
	if point < len(digits) {
		out += "." + digits[point:]
	}
	return sign + out, nil
}

func toDate(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		y, m, d := x.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case string:
		t, err := time.Parse("2006-01-02", strings.TrimSpace(x))
		if err != nil {
			return nil, fmt.Errorf("not a date (want YYYY-MM-DD)")
		}
		return t, nil
	}
	return nil, fmt.Errorf("not a date")
}

// timestampLayouts are the forms accepted for timestamps, Salesforce's first.
// Fractional seconds are accepted by every layout.
var timestampLayouts = []string{
	"2006-01-02T15:04:05Z0700",  // 2024-01-02T03:04:05.000+0000 (Salesforce), ...Z
	"2006-01-02T15:04:05Z07:00", // RFC 3339
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05Z07", // PostgreSQL's output
	"2006-01-02T15:04:05",    // no zone: UTC
	"2006-01-02 15:04:05",
}

// ParseTimestamp parses a timestamp in Salesforce's form
// ("2024-01-02T03:04:05.000+0000"), RFC 3339, or PostgreSQL's text form;
// a timestamp without zone is taken as UTC.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp (want e.g. 2024-01-02T03:04:05.000+0000)")
}

func toTimestamp(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case string:
		return ParseTimestamp(x)
	}
	return nil, fmt.Errorf("not a timestamp")
}

func toTime(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		h, m, s := x.Clock()
		us := (int64(h)*3600+int64(m)*60+int64(s))*1e6 + int64(x.Nanosecond()/1000)
		return pgtype.Time{Microseconds: us, Valid: true}, nil
	case string:
		s := strings.TrimSuffix(strings.TrimSpace(x), "Z")
		for _, l := range []string{"15:04:05", "15:04"} {
			if t, err := time.Parse(l, s); err == nil {
				h, m, sec := t.Clock()
				us := (int64(h)*3600+int64(m)*60+int64(sec))*1e6 + int64(t.Nanosecond()/1000)
				return pgtype.Time{Microseconds: us, Valid: true}, nil
			}
		}
		return nil, fmt.Errorf("not a time of day (want HH:MM:SS.sssZ)")
	}
	return nil, fmt.Errorf("not a time of day")
}
