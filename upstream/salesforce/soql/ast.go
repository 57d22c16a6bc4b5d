package soql

import (
	"strings"
	"time"
)

// Expr is a WHERE condition: *And, *Or, *Not, *Comparison, *In or *Includes.
type Expr interface {
	// String renders the condition as SOQL, parenthesising nested AND/OR.
	String() string
	eval(get func(string) (any, bool)) (bool, error)
}

// And is true when every term is true.
type And struct{ Terms []Expr }

// Or is true when any term is true.
type Or struct{ Terms []Expr }

// Not negates its condition.
type Not struct{ Expr Expr }

// Comparison is `Field Op Value`. Op is one of = != < <= > >= LIKE
// (<> is normalised to !=).
type Comparison struct {
	Field string
	Op    string
	Value Literal
}

// In is `Field IN (Values...)`, or `Field NOT IN (...)` when Not is set.
type In struct {
	Field  string
	Not    bool
	Values []Literal
}

// Includes is `Field INCLUDES ('a;b', 'c')` on a multi-select picklist
// (EXCLUDES when Exclude is set). Each value is a set of ';'-separated items;
// INCLUDES is true when the field holds every item of at least one value.
type Includes struct {
	Field   string
	Exclude bool
	Values  []Literal
}

// LiteralKind tells what a Literal holds.
type LiteralKind int

// Literal kinds.
const (
	NullLit      LiteralKind = iota // null
	StringLit                       // 'text': Str
	NumberLit                       // 42, -1.5: Num
	BoolLit                         // true, false: Bool
	DateLit                         // 2024-01-02: Time is midnight UTC of that date
	DateTimeLit                     // 2024-01-02T03:04:05Z: Time
	DateRangeLit                    // TODAY, LAST_N_DAYS:n, ...: the span [Time, End)
	TimeLit                         // 13:30:00.000Z (time fields): Time is that time of day on 0000-01-01 UTC
)

// Literal is a constant in a condition.
type Literal struct {
	Kind LiteralKind
	Text string    // as written in the query (strings with their quotes)
	Str  string    // StringLit, escapes decoded
	Num  float64   // NumberLit
	Bool bool      // BoolLit
	Time time.Time // DateLit, DateTimeLit, TimeLit, start of a DateRangeLit
	End  time.Time // DateRangeLit: exclusive end

	like []likeTok // StringLit used with LIKE: the compiled pattern
	// DateRangeLit: the calendar days [startDay, endDay) as midnight UTC, for date fields.
	startDay, endDay time.Time
}

func (a *And) String() string { return joinTerms(a.Terms, " AND ") }
func (o *Or) String() string  { return joinTerms(o.Terms, " OR ") }
func (n *Not) String() string { return "NOT " + paren(n.Expr) }

func (c *Comparison) String() string { return c.Field + " " + c.Op + " " + c.Value.Text }

func (in *In) String() string {
	op := "IN"
	if in.Not {
		op = "NOT IN"
	}
	return listString(in.Field, op, in.Values)
}

func (in *Includes) String() string {
	op := "INCLUDES"
	if in.Exclude {
		op = "EXCLUDES"
	}
	return listString(in.Field, op, in.Values)
}

// listString writes "field OP (v1, v2, ...)".
func listString(field, op string, values []Literal) string {
	var b strings.Builder
	b.WriteString(field)
	b.WriteString(" " + op + " (")
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Text)
	}
	b.WriteString(")")
	return b.String()
}

func joinTerms(terms []Expr, sep string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = paren(t)
	}
	return strings.Join(parts, sep)
}

func paren(e Expr) string {
	switch e.(type) {
	case *And, *Or:
		return "(" + e.String() + ")"
	}
	return e.String()
}

// walkFields calls fn for every field named in e, left to right.
func walkFields(e Expr, fn func(string)) {
	switch e := e.(type) {
	case *And:
		for _, t := range e.Terms {
			walkFields(t, fn)
		}
	case *Or:
		for _, t := range e.Terms {
			walkFields(t, fn)
		}
	case *Not:
		walkFields(e.Expr, fn)
	case *Comparison:
		fn(e.Field)
	case *In:
		fn(e.Field)
	case *Includes:
		fn(e.Field)
	}
}
