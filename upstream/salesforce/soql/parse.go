package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// reserved words cannot be used as field names.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
	"IN": true, "LIKE": true, "ORDER": true, "BY": true, "LIMIT": true, "OFFSET": true,
	"NULL": true, "TRUE": true, "FALSE": true, "GROUP": true, "HAVING": true, "WITH": true,
	"USING": true, "INCLUDES": true, "EXCLUDES": true, "NULLS": true, "ASC": true, "DESC": true,
	"FOR": true, "TYPEOF": true,
}

// Parse parses a SOQL query. Date literals such as TODAY are resolved against
// the current time; use ParseWithClock for a simulated clock. A syntax error
// is a *Error with code MALFORMED_QUERY.
func Parse(text string) (*Query, error) { return ParseWithClock(text, time.Now()) }

// ParseWithClock parses a SOQL query, resolving relative date literals
// (TODAY, YESTERDAY, LAST_N_DAYS:n, ...) against now, in now's location.
func ParseWithClock(text string, now time.Time) (*Query, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{src: text, toks: toks, now: now}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type parser struct {
	src  string
	toks []token
	i    int
	now  time.Time
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isKW reports whether the next token is the keyword kw.
func (p *parser) isKW(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *parser) unexpected(t token) error {
	return malformed(p.src, t.pos, fmt.Sprintf("unexpected token: '%s'", t.text))
}

func (p *parser) expectKW(kw string) error {
	if !p.isKW(kw) {
		return p.unexpected(p.peek())
	}
	p.next()
	return nil
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.unexpected(p.peek())
	}
	p.next()
	return nil
}

// field reads a field name (possibly a relationship path like Account.Name).
func (p *parser) field() (string, error) {
	t := p.peek()
	if t.kind != tIdent || reserved[strings.ToUpper(t.text)] || strings.HasSuffix(t.text, ".") ||
		strings.Contains(t.text, "..") || strings.Contains(t.text, ":") {
		return "", p.unexpected(t)
	}
	p.next()
	return t.text, nil
}

func (p *parser) query() (*Query, error) {
	q := &Query{Limit: -1}
	if err := p.expectKW("SELECT"); err != nil {
		return nil, err
	}
	if p.isKW("COUNT") && p.peekAt(1).kind == tPunct && p.peekAt(1).text == "(" {
		p.next()
		p.next()
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		q.Count = true
	} else {
		for {
			f, err := p.field()
			if err != nil {
				return nil, err
			}
			q.Fields = append(q.Fields, f)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if err := p.expectKW("FROM"); err != nil {
		return nil, err
	}
	obj := p.peek()
	if obj.kind != tIdent || strings.Contains(obj.text, ".") || strings.Contains(obj.text, ":") {
		return nil, p.unexpected(obj)
	}
	p.next()
	q.Object = obj.text

	if p.isKW("WHERE") {
		p.next()
		e, err := p.condition()
		if err != nil {
			return nil, err
		}
		q.Where = e
	}
	if p.isKW("ORDER") {
		p.next()
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.field()
			if err != nil {
				return nil, err
			}
			o := Order{Field: f}
			switch {
			case p.isKW("ASC"):
				p.next()
			case p.isKW("DESC"):
				p.next()
				o.Desc = true
			}
			o.NullsLast = o.Desc && defaultNullsLastForDesc
			if p.isKW("NULLS") {
				p.next()
				switch {
				case p.isKW("FIRST"):
					o.NullsLast = false
				case p.isKW("LAST"):
					o.NullsLast = true
				default:
					return nil, p.unexpected(p.peek())
				}
				p.next()
			}
			q.OrderBy = append(q.OrderBy, o)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if p.isKW("LIMIT") {
		p.next()
		n, err := p.count()
		if err != nil {
			return nil, err
		}
		q.Limit = n
	}
	if p.isKW("OFFSET") {
		p.next()
		n, err := p.count()
		if err != nil {
			return nil, err
		}
		if n > maxOffset {
			return nil, &Error{Code: CodeNumberOutsideRange, Message: fmt.Sprintf("Maximum SOQL offset allowed is %d", maxOffset)}
		}
		q.Offset = n
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
}

// count reads a non-negative integer (LIMIT, OFFSET).
func (p *parser) count() (int, error) {
	t := p.peek()
	if t.kind != tNumber || strings.ContainsAny(t.text, ".-+") {
		return 0, p.unexpected(t)
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n > 1<<31-1 {
		return 0, p.unexpected(t)
	}
	p.next()
	return n, nil
}

// condition parses terms joined by AND or by OR. SOQL has no precedence
// between AND and OR: mixing them without parentheses is malformed.
func (p *parser) condition() (Expr, error) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.isKW("AND"):
		op = "AND"
	case p.isKW("OR"):
		op = "OR"
	default:
		return first, nil
	}
	terms := []Expr{first}
	for {
		switch {
		case p.isKW(op):
			p.next()
			t, err := p.unary()
			if err != nil {
				return nil, err
			}
			terms = append(terms, t)
			continue
		case p.isKW("AND"), p.isKW("OR"):
			return nil, p.unexpected(p.peek())
		}
		break
	}
	if op == "AND" {
		return &And{Terms: terms}, nil
	}
	return &Or{Terms: terms}, nil
}

// unary parses NOT term, a parenthesised condition, or a simple condition.
func (p *parser) unary() (Expr, error) {
	if p.isKW("NOT") {
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Not{Expr: e}, nil
	}
	if p.isPunct("(") {
		p.next()
		e, err := p.condition()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return e, nil
	}
	f, err := p.field()
	if err != nil {
		return nil, err
	}
	switch {
	case p.isKW("NOT"):
		p.next()
		if !p.isKW("IN") {
			return nil, p.unexpected(p.peek())
		}
		p.next()
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		return &In{Field: f, Not: true, Values: vals}, nil
	case p.isKW("IN"):
		p.next()
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		return &In{Field: f, Values: vals}, nil
	case p.isKW("INCLUDES"), p.isKW("EXCLUDES"):
		exclude := p.isKW("EXCLUDES")
		p.next()
		vals, err := p.list()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if v.Kind != StringLit {
				return nil, malformed(p.src, p.toks[p.i-1].pos, fmt.Sprintf("unexpected token: '%s'", vals[i].Text))
			}
		}
		return &Includes{Field: f, Exclude: exclude, Values: vals}, nil
	case p.isKW("LIKE"):
		p.next()
		t := p.peek()
		if t.kind != tString {
			return nil, p.unexpected(t)
		}
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		lit.like = compileLike(t.text[1 : len(t.text)-1])
		return &Comparison{Field: f, Op: "LIKE", Value: lit}, nil
	}
	t := p.peek()
	if t.kind != tPunct {
		return nil, p.unexpected(t)
	}
	op := t.text
	switch op {
	case "=", "!=", "<", "<=", ">", ">=":
	case "<>":
		op = "!="
	default:
		return nil, p.unexpected(t)
	}
	p.next()
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	return &Comparison{Field: f, Op: op, Value: lit}, nil
}

// list parses ( literal, ... ).
func (p *parser) list() ([]Literal, error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	var vals []Literal
	for {
		l, err := p.literal()
		if err != nil {
			return nil, err
		}
		vals = append(vals, l)
		if p.isPunct(",") {
			p.next()
			continue
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return vals, nil
	}
}

// literal parses a constant.
func (p *parser) literal() (Literal, error) {
	t := p.peek()
	l := Literal{Text: t.text}
	switch t.kind {
	case tString:
		l.Kind, l.Str = StringLit, t.val
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return l, p.unexpected(t)
		}
		l.Kind, l.Num = NumberLit, f
	case tDate:
		d, err := time.Parse("2006-01-02", t.text)
		if err != nil {
			return l, malformed(p.src, t.pos, fmt.Sprintf("invalid date: %s", t.text))
		}
		l.Kind, l.Time = DateLit, d
	case tDateTime:
		d, err := parseDateTime(t.text)
		if err != nil {
			return l, malformed(p.src, t.pos, fmt.Sprintf("invalid datetime: %s", t.text))
		}
		l.Kind, l.Time = DateTimeLit, d
	case tTime:
		d, ok := parseTimeOfDay(t.text)
		if !ok {
			return l, malformed(p.src, t.pos, fmt.Sprintf("invalid time: %s", t.text))
		}
		l.Kind, l.Time = TimeLit, d
	case tIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "NULL":
			l.Kind = NullLit
		case "TRUE", "FALSE":
			l.Kind, l.Bool = BoolLit, up == "TRUE"
		default:
			start, end, ok := dateRange(up, p.now)
			if !ok {
				return l, p.unexpected(t)
			}
			l.Kind, l.Time, l.End = DateRangeLit, start, end
			l.startDay, l.endDay = DateOf(start).Time(), DateOf(end).Time()
		}
	default:
		return l, p.unexpected(t)
	}
	p.next()
	return l, nil
}

// parseDateTime parses the datetime forms SOQL accepts.
func parseDateTime(s string) (time.Time, error) {
	s = strings.ToUpper(s)
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid datetime %q", s)
}

// parseTimeOfDay parses a time of day (hh:mm:ss[.fff][Z]) onto 0000-01-01 UTC.
func parseTimeOfDay(s string) (time.Time, bool) {
	s = strings.TrimSuffix(strings.ToUpper(s), "Z")
	t, err := time.Parse("15:04:05.999999999", s)
	return t, err == nil
}

// dateRange resolves a relative date literal to the span [start, end) of
// midnights in now's location.
func dateRange(lit string, now time.Time) (start, end time.Time, ok bool) {
	y, m, d := now.Date()
	loc := now.Location()
	day := func(offset int) time.Time { return time.Date(y, m, d+offset, 0, 0, 0, 0, loc) }
	// Weeks start on Sunday, as in the default (en_US) Salesforce locale.
	weekStart := func(offset int) time.Time { return day(-int(now.Weekday()) + 7*offset) }
	month := func(offset int) time.Time { return time.Date(y, m+time.Month(offset), 1, 0, 0, 0, 0, loc) }
	year := func(offset int) time.Time { return time.Date(y+offset, 1, 1, 0, 0, 0, 0, loc) }

	name, arg := lit, 0
	if i := strings.IndexByte(lit, ':'); i >= 0 {
		n, err := strconv.Atoi(lit[i+1:])
		if err != nil || n > 1e6 {
			return start, end, false
		}
		name, arg = lit[:i], n
	} else if nLiterals[lit] {
		return start, end, false
	}
	switch name {
	case "TODAY":
		return day(0), day(1), true
	case "YESTERDAY":
		return day(-1), day(0), true
	case "TOMORROW":
		return day(1), day(2), true
	case "LAST_WEEK":
		return weekStart(-1), weekStart(0), true
	case "THIS_WEEK":
		return weekStart(0), weekStart(1), true
	case "NEXT_WEEK":
		return weekStart(1), weekStart(2), true
	case "LAST_MONTH":
		return month(-1), month(0), true
	case "THIS_MONTH":
		return month(0), month(1), true
	case "NEXT_MONTH":
		return month(1), month(2), true
	case "LAST_YEAR":
		return year(-1), year(0), true
	case "THIS_YEAR":
		return year(0), year(1), true
	case "NEXT_YEAR":
		return year(1), year(2), true
	// LAST_N_DAYS:n covers today and the n days before it; NEXT_N_DAYS:n the
	// n days after today (Salesforce's definitions).
	case "LAST_N_DAYS":
		return day(-arg), day(1), true
	case "NEXT_N_DAYS":
		return day(1), day(arg + 1), true
	case "LAST_N_WEEKS":
		return weekStart(-arg), weekStart(0), true
	case "NEXT_N_WEEKS":
		return weekStart(1), weekStart(arg + 1), true
	case "LAST_N_MONTHS":
		return month(-arg), month(0), true
	case "NEXT_N_MONTHS":
		return month(1), month(arg + 1), true
	case "LAST_N_YEARS":
		return year(-arg), year(0), true
	case "NEXT_N_YEARS":
		return year(1), year(arg + 1), true
	}
	return start, end, false
}
