package upstream

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCursorAfter(t *testing.T) {
	s := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := Cursor{Stamp: s, ID: "003B"}
	cases := []struct {
		stamp time.Time
		id    string
		want  bool
	}{
		{s.Add(time.Second), "003A", true}, // a later second, whatever the id
		{s, "003C", true},                  // same second, larger id
		{s, "003B", false},                 // the cursor itself
		{s, "003A", false},                 // same second, smaller id
		{s.Add(-time.Second), "003Z", false},
	}
	for _, tc := range cases {
		if got := c.After(tc.stamp, tc.id); got != tc.want {
			t.Errorf("Cursor{%s,003B}.After(%s, %s) = %v, want %v", s.Format(time.TimeOnly), tc.stamp.Format(time.TimeOnly), tc.id, got, tc.want)
		}
	}
	if !(Cursor{}).IsZero() || c.IsZero() {
		t.Error("IsZero")
	}
}

func TestResultMessage(t *testing.T) {
	r := Result{Errors: []FieldError{
		{Code: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [LastName]", Fields: []string{"LastName"}},
		{Code: "INVALID_EMAIL_ADDRESS", Message: "Email: invalid email address: x", Fields: []string{"Email", "Other"}},
		{Code: "UNKNOWN_EXCEPTION", Message: "boom"},
	}}
	want := "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName); " +
		"INVALID_EMAIL_ADDRESS: Email: invalid email address: x (fields: Email, Other); UNKNOWN_EXCEPTION: boom"
	if got := r.Message(); got != want {
		t.Errorf("Message() =\n%s\nwant\n%s", got, want)
	}
	if (Result{}).Message() != "" {
		t.Error("a result without errors has a message")
	}
}

func TestClassOf(t *testing.T) {
	base := &Error{Class: Quota, Status: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."}
	cases := []struct {
		err  error
		want Class
	}{
		{base, Quota},
		{fmt.Errorf("read Contact: %w", base), Quota},
		{&Error{Class: Transient}, Transient},
		{&Error{Class: Auth}, Auth},
		{errors.New("plain"), Permanent},
	}
	for _, tc := range cases {
		if got := ClassOf(tc.err); got != tc.want {
			t.Errorf("ClassOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	if got := base.Error(); got != "quota error (HTTP 403): REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." {
		t.Errorf("Error() = %q", got)
	}
}

func TestObjectField(t *testing.T) {
	o := &Object{Name: "Contact", Fields: []Field{{Name: "Id"}, {Name: "LastName"}}}
	if f := o.Field("LastName"); f == nil || f.Name != "LastName" {
		t.Errorf("Field(LastName) = %v", f)
	}
	if o.Field("Nope") != nil {
		t.Error("Field(Nope) found something")
	}
}
