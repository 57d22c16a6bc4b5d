// Package soql parses and evaluates the subset of the Salesforce Object Query
// Language that sync tools send: a flat SELECT of fields (or COUNT()) from one
// object, with a WHERE filter, ORDER BY, LIMIT and OFFSET.
//
// The Salesforce simulator uses it to answer /query and /queryAll: Parse turns
// the query text into a *Query (or a *Error with the MALFORMED_QUERY code and a
// message shaped like Salesforce's), Match evaluates the WHERE clause against
// one record, and CompareValues / Order.Compare give the ORDER BY order.
//
// Semantics follow Salesforce where they differ from SQL: string comparisons
// are case-insensitive, Salesforce ids compare on their case-sensitive 15-char
// form, and a null field value is a value like any other (Name != 'x' is true
// when Name is null, and NOT IN behaves likewise).
package soql

import (
	"fmt"
	"strings"
	"time"
)

// Error codes reported by Parse and Match, as Salesforce names them.
const (
	CodeMalformedQuery      = "MALFORMED_QUERY"
	CodeInvalidField        = "INVALID_FIELD"
	CodeInvalidOperator     = "INVALID_QUERY_FILTER_OPERATOR"
	CodeNumberOutsideRange  = "NUMBER_OUTSIDE_VALID_RANGE"
	maxOffset               = 2000
	defaultNullsLastForDesc = true
)

// Error is a query error with Salesforce's error code (MALFORMED_QUERY,
// INVALID_FIELD, ...) and a Salesforce-like message, ready to be returned in
// a REST error body.
type Error struct {
	Code    string
	Message string
}

// Error renders the error as "CODE: message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Query is a parsed SOQL query.
type Query struct {
	Object  string   // the FROM object as written; matching it case-insensitively is the caller's job
	Fields  []string // the SELECT list as written; empty when Count
	Count   bool     // SELECT COUNT() FROM ...
	Where   Expr     // nil when there is no WHERE clause
	OrderBy []Order  // ORDER BY items, in order
	Limit   int      // -1 when there is no LIMIT
	Offset  int      // 0 when there is no OFFSET
}

// Order is one ORDER BY item. NullsLast holds the effective null placement:
// the explicit NULLS FIRST/LAST when given, otherwise Salesforce's default
// (nulls first for ASC, last for DESC).
type Order struct {
	Field     string
	Desc      bool
	NullsLast bool
}

// Compare orders two field values for this ORDER BY item: direction and null
// placement applied. It returns <0 when a sorts before b.
func (o Order) Compare(a, b any) int {
	a, b = normalize(a), normalize(b)
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if o.NullsLast {
			return 1
		}
		return -1
	case b == nil:
		if o.NullsLast {
			return -1
		}
		return 1
	}
	c := CompareValues(a, b)
	if o.Desc {
		return -c
	}
	return c
}

// ReferencedFields lists every field named in the SELECT list, the WHERE
// clause and ORDER BY, in that order, without duplicates (compared
// case-insensitively; the first spelling is kept).
func (q *Query) ReferencedFields() []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		k := strings.ToLower(f)
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	for _, f := range q.Fields {
		add(f)
	}
	walkFields(q.Where, add)
	for _, o := range q.OrderBy {
		add(o.Field)
	}
	return out
}

// String renders the query back as SOQL (keywords upper case, literals as
// written).
func (q *Query) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.Count {
		b.WriteString("COUNT()")
	} else {
		b.WriteString(strings.Join(q.Fields, ", "))
	}
	b.WriteString(" FROM ")
	b.WriteString(q.Object)
	if q.Where != nil {
		b.WriteString(" WHERE ")
		b.WriteString(q.Where.String())
	}
	for i, o := range q.OrderBy {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.Field)
		if o.Desc {
			b.WriteString(" DESC")
		}
		if o.NullsLast != (o.Desc && defaultNullsLastForDesc) {
			if o.NullsLast {
				b.WriteString(" NULLS LAST")
			} else {
				b.WriteString(" NULLS FIRST")
			}
		}
	}
	if q.Limit >= 0 {
		fmt.Fprintf(&b, " LIMIT %d", q.Limit)
	}
	if q.Offset > 0 {
		fmt.Fprintf(&b, " OFFSET %d", q.Offset)
	}
	return b.String()
}

// Date is a calendar date, the value of a Salesforce date field. A get
// function given to Match may return a Date (instead of a time.Time) so that
// Match can tell a date field from a datetime field, and reject a datetime
// literal compared with a date field as Salesforce does.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Time returns the date at midnight UTC.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// String renders the date as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format("2006-01-02") }
