package soql

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Match evaluates the condition e against one record. get returns the
// record's value for a field: nil, string, bool, a number (float64, any Go
// integer, json.Number), time.Time (a datetime, or a date at midnight UTC),
// Date (a date field, when the caller knows it), or a date/datetime string as
// Salesforce renders it ("2024-01-02", "2024-01-02T03:04:05.000+0000"), which
// is read as a date or datetime when compared with one. ok=false means the
// field does not exist: Match returns a *Error with code INVALID_FIELD.
// A nil e matches every record.
func Match(e Expr, get func(field string) (any, bool)) (bool, error) {
	if e == nil {
		return true, nil
	}
	return e.eval(get)
}

func (a *And) eval(get func(string) (any, bool)) (bool, error) {
	for _, t := range a.Terms {
		ok, err := t.eval(get)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (o *Or) eval(get func(string) (any, bool)) (bool, error) {
	for _, t := range o.Terms {
		ok, err := t.eval(get)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (n *Not) eval(get func(string) (any, bool)) (bool, error) {
	ok, err := n.Expr.eval(get)
	return !ok && err == nil, err
}

func (c *Comparison) eval(get func(string) (any, bool)) (bool, error) {
	v, ok := get(c.Field)
	if !ok {
		return false, noSuchField(c.Field)
	}
	return compare(c.Field, c.Op, normalize(v), &c.Value)
}

func (in *In) eval(get func(string) (any, bool)) (bool, error) {
	v, ok := get(in.Field)
	if !ok {
		return false, noSuchField(in.Field)
	}
	v = normalize(v)
	for i := range in.Values {
		eq, err := compare(in.Field, "=", v, &in.Values[i])
		if err != nil {
			return false, err
		}
		if eq {
			return !in.Not, nil
		}
	}
	return in.Not, nil
}

func (in *Includes) eval(get func(string) (any, bool)) (bool, error) {
	v, ok := get(in.Field)
	if !ok {
		return false, noSuchField(in.Field)
	}
	var have []string
	switch x := normalize(v).(type) {
	case nil:
	case string:
		have = splitItems(x)
	default:
		t, q := fieldType(x)
		return false, typeError(in.Field, t, q)
	}
	for _, lit := range in.Values {
		all := true
		for _, want := range splitItems(lit.Str) {
			found := false
			for _, h := range have {
				if strings.EqualFold(h, want) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all && len(have) > 0 {
			return !in.Exclude, nil
		}
	}
	return in.Exclude, nil
}

// splitItems splits a multi-select picklist value into its items.
func splitItems(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ";") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

func noSuchField(f string) error {
	return &Error{Code: CodeInvalidField, Message: fmt.Sprintf("No such column '%s' on entity. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", f)}
}

func typeError(field, typ string, quoted bool) error {
	q := "should not be enclosed in quotes"
	if quoted {
		q = "should be enclosed in quotes"
	}
	return &Error{Code: CodeInvalidField, Message: fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and %s", field, typ, q)}
}

// fieldType names a normalised value's Salesforce type for error messages.
func fieldType(v any) (string, bool) {
	switch v.(type) {
	case string:
		return "string", true
	case bool:
		return "boolean", false
	case float64:
		return "double", false
	case Date:
		return "date", false
	case time.Time:
		return "dateTime", false
	}
	return fmt.Sprintf("%T", v), false
}

// normalize maps the value types get may return onto nil, string, bool,
// float64, time.Time and Date.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64, time.Time, Date:
		return v
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *time.Time:
		if x == nil {
			return nil
		}
		return *x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return string(x)
		}
		return f
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case int16:
		return float64(x)
	case int8:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case uint16:
		return float64(x)
	case uint8:
		return float64(x)
	case float32:
		return float64(x)
	case []string: // multi-select picklist
		return strings.Join(x, ";")
	}
	return v
}

// compare evaluates `v op lit` for a normalised value v.
func compare(field, op string, v any, lit *Literal) (bool, error) {
	if lit.Kind == NullLit {
		switch op {
		case "=":
			return v == nil, nil
		case "!=":
			return v != nil, nil
		}
		return false, nil
	}
	if v == nil {
		// In SOQL a null value differs from every non-null literal.
		return op == "!=", nil
	}
	switch lit.Kind {
	case StringLit:
		s, ok := v.(string)
		if !ok {
			t, _ := fieldType(v)
			return false, typeError(field, t, false)
		}
		if op == "LIKE" {
			p := lit.like
			if p == nil && lit.Str != "" { // a hand-built Comparison: Str is the pattern
				p = compileLike(lit.Str)
			}
			return matchLike(p, s), nil
		}
		return applyOp(op, compareStrings(s, lit.Str)), nil
	case NumberLit:
		f, ok := v.(float64)
		if !ok {
			t, q := fieldType(v)
			return false, typeError(field, t, q)
		}
		if math.IsNaN(f) {
			return op == "!=", nil
		}
		return applyOp(op, cmpFloat(f, lit.Num)), nil
	case BoolLit:
		b, ok := v.(bool)
		if !ok {
			t, q := fieldType(v)
			return false, typeError(field, t, q)
		}
		switch op {
		case "=":
			return b == lit.Bool, nil
		case "!=":
			return b != lit.Bool, nil
		}
		return false, &Error{Code: CodeInvalidOperator, Message: fmt.Sprintf("invalid operator on boolean field: %s", field)}
	}
	if lit.Kind == TimeLit {
		s, ok := v.(string)
		if !ok {
			t, q := fieldType(v)
			return false, typeError(field, t, q)
		}
		tv, ok := parseTimeOfDay(s)
		if !ok {
			return false, typeError(field, "string", true)
		}
		return applyOp(op, tv.Compare(lit.Time)), nil
	}
	// Date and datetime literals.
	if s, ok := v.(string); ok {
		tv, ok := parseTemporal(s)
		if !ok {
			return false, typeError(field, "string", true)
		}
		v = tv
	}
	switch x := v.(type) {
	case Date:
		day := x.Time()
		switch lit.Kind {
		case DateLit:
			return applyOp(op, day.Compare(lit.Time)), nil
		case DateRangeLit:
			return inRange(op, day, lit.startDay, lit.endDay), nil
		}
		return false, typeError(field, "date", false)
	case time.Time:
		switch lit.Kind {
		case DateTimeLit:
			return applyOp(op, x.Compare(lit.Time)), nil
		case DateLit:
			// A date literal against a datetime value is the whole (UTC) day;
			// for a date carried as midnight UTC this is plain date comparison.
			return inRange(op, x, lit.Time, lit.Time.AddDate(0, 0, 1)), nil
		case DateRangeLit:
			return inRange(op, x, lit.Time, lit.End), nil
		}
	}
	t, q := fieldType(v)
	return false, typeError(field, t, q)
}

// parseTemporal reads a date or datetime the way Salesforce renders them.
func parseTemporal(s string) (any, bool) {
	if len(s) == 10 {
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return DateOf(t), true
		}
		return nil, false
	}
	if len(s) < 20 {
		return nil, false
	}
	if t, err := parseDateTime(s); err == nil {
		return t, true
	}
	return nil, false
}

// inRange evaluates `v op span` for a span [start, end).
func inRange(op string, v, start, end time.Time) bool {
	switch op {
	case "=":
		return !v.Before(start) && v.Before(end)
	case "!=":
		return v.Before(start) || !v.Before(end)
	case "<":
		return v.Before(start)
	case "<=":
		return v.Before(end)
	case ">":
		return !v.Before(end)
	case ">=":
		return !v.Before(start)
	}
	return false
}

func applyOp(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LooksLikeID reports whether s has the shape of a Salesforce record id: 15
// or 18 ASCII letters and digits, with at least one digit.
func LooksLikeID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		default:
			return false
		}
	}
	return digit
}

// compareStrings compares as Salesforce does: two ids on their
// case-sensitive 15-character form, anything else case-insensitively.
func compareStrings(a, b string) int {
	if LooksLikeID(a) && LooksLikeID(b) {
		return strings.Compare(a[:15], b[:15])
	}
	return foldCompare(a, b)
}

// foldCompare compares a and b rune by rune after lower-casing, without
// allocating.
func foldCompare(a, b string) int {
	for a != "" && b != "" {
		var ra, rb rune
		if a[0] < utf8.RuneSelf {
			ra, a = rune(a[0]), a[1:]
		} else {
			r, n := utf8.DecodeRuneInString(a)
			ra, a = r, a[n:]
		}
		if b[0] < utf8.RuneSelf {
			rb, b = rune(b[0]), b[1:]
		} else {
			r, n := utf8.DecodeRuneInString(b)
			rb, b = r, b[n:]
		}
		if ra == rb {
			continue
		}
		la, lb := unicode.ToLower(ra), unicode.ToLower(rb)
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// CompareValues is a total order on field values for ORDER BY: nil first,
// then booleans (false < true), numbers, dates and datetimes (by instant; a
// Date is midnight UTC), strings (ids by their case-sensitive 15-char form,
// other strings case-insensitively), then anything else by its printed form.
func CompareValues(a, b any) int {
	a, b = normalize(a), normalize(b)
	ra, rb := rank(a), rank(b)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case nil:
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case float64:
		y := b.(float64)
		// NaN sorts before every other number, so the order stays total.
		switch xn, yn := math.IsNaN(x), math.IsNaN(y); {
		case xn && yn:
			return 0
		case xn:
			return -1
		case yn:
			return 1
		}
		return cmpFloat(x, y)
	case string:
		return compareStrings(x, b.(string))
	}
	if ra == 3 {
		return toTime(a).Compare(toTime(b))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64:
		return 2
	case time.Time, Date:
		return 3
	case string:
		return 4
	}
	return 5
}

func toTime(v any) time.Time {
	if d, ok := v.(Date); ok {
		return d.Time()
	}
	return v.(time.Time)
}

// likeTok is one element of a compiled LIKE pattern.
type likeTok struct {
	kind byte // 'c' one rune (lower-cased), '_' any one rune, '%' any run
	r    rune
}

// compileLike compiles the body of a LIKE string literal (escapes still in
// place): % matches any run of characters, _ any one character, \% and \_
// the characters themselves. Matching is case-insensitive.
func compileLike(body string) []likeTok {
	dec, err := decodeString(body, true)
	if err != nil {
		dec = body
	}
	var toks []likeTok
	for i := 0; i < len(dec); {
		r, n := utf8.DecodeRuneInString(dec[i:])
		i += n
		switch r {
		case '\\':
			if i < len(dec) && (dec[i] == '%' || dec[i] == '_') {
				toks = append(toks, likeTok{kind: 'c', r: rune(dec[i])})
				i++
				continue
			}
			toks = append(toks, likeTok{kind: 'c', r: r})
		case '%':
			if len(toks) == 0 || toks[len(toks)-1].kind != '%' {
				toks = append(toks, likeTok{kind: '%'})
			}
		case '_':
			toks = append(toks, likeTok{kind: '_'})
		default:
			toks = append(toks, likeTok{kind: 'c', r: unicode.ToLower(r)})
		}
	}
	return toks
}

// matchLike matches s against a compiled pattern, with the classic
// single-backtrack wildcard algorithm (linear for patterns with one %).
func matchLike(p []likeTok, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		r, n := utf8.DecodeRuneInString(s[si:])
		if pi < len(p) {
			switch t := p[pi]; t.kind {
			case '%':
				starP, starS = pi, si
				pi++
				continue
			case '_':
				pi++
				si += n
				continue
			default:
				if t.r == r || t.r == unicode.ToLower(r) {
					pi++
					si += n
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		pi = starP + 1
		_, n = utf8.DecodeRuneInString(s[starS:])
		starS += n
		si = starS
	}
	for pi < len(p) && p[pi].kind == '%' {
		pi++
	}
	return pi == len(p)
}
