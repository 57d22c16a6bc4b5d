package salesforce

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tether-sync/tether/upstream"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rest", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   []byte
		class  upstream.Class
		code   string
	}{
		{"expired session (fixture)", 401, fixture(t, "expired_session_response.json"), upstream.Auth, "INVALID_SESSION_ID"},
		{"invalid field (fixture)", 400, fixture(t, "query_error_response.json"), upstream.Permanent, "INVALID_FIELD"},
		{"write error (fixture)", 400, fixture(t, "write_error_response.json"), upstream.Permanent, "INVALID_FIELD"},
		{"not found (fixture)", 404, fixture(t, "delete_error_response.json"), upstream.Permanent, "NOT_FOUND"},
		{"oauth error (fixture)", 400, fixture(t, "refresh_error_response.json"), upstream.Permanent, "invalid_grant"},
		{"limit exceeded", 403, []byte(`[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`), upstream.Quota, "REQUEST_LIMIT_EXCEEDED"},
		{"server unavailable", 503, []byte(`[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]`), upstream.Transient, "SERVER_UNAVAILABLE"},
		{"lock", 400, []byte(`[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW"}]`), upstream.Transient, "UNABLE_TO_LOCK_ROW"},
		{"500 html", 500, []byte(`<html>oops</html>`), upstream.Transient, ""},
		{"429", 429, nil, upstream.Transient, ""},
		{"permissions", 403, []byte(`[{"message":"no access","errorCode":"INSUFFICIENT_ACCESS"}]`), upstream.Permanent, "INSUFFICIENT_ACCESS"},
		{"single object body", 400, []byte(`{"message":"bad","errorCode":"MALFORMED_QUERY"}`), upstream.Permanent, "MALFORMED_QUERY"},
		{"replication date", 400, []byte(`[{"message":"start date too old","errorCode":"INVALID_REPLICATION_DATE"}]`), upstream.Permanent, "INVALID_REPLICATION_DATE"},
	}
	for _, c := range cases {
		e := classify(c.status, c.body)
		if e.Class != c.class || e.Code != c.code || e.Status != c.status {
			t.Errorf("%s: got class %v code %q status %d; want %v %q", c.name, e.Class, e.Code, e.Status, c.class, c.code)
		}
		if e.Message == "" {
			t.Errorf("%s: empty message", c.name)
		}
	}
	e := classify(400, []byte(`[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`))
	if e.Message != "Required fields are missing: [LastName] (fields: LastName)" {
		t.Errorf("message %q", e.Message)
	}
}

func TestParseLimitInfo(t *testing.T) {
	cases := []struct {
		h         string
		used, max int
		ok        bool
	}{
		{"api-usage=18/15000", 18, 15000, true},
		{"api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", 25, 5000, true},
		{"per-app-api-usage=17/250(appName=x); api-usage=7/100", 7, 100, true},
		{" api-usage = 1 / 2 ", 1, 2, true},
		{"", 0, 0, false},
		{"api-usage=abc/100", 0, 0, false},
		{"api-usage=5", 0, 0, false},
		{"something-else=1/2", 0, 0, false},
	}
	for _, c := range cases {
		used, max, ok := ParseLimitInfo(c.h)
		if used != c.used || max != c.max || ok != c.ok {
			t.Errorf("ParseLimitInfo(%q) = %d, %d, %v", c.h, used, max, ok)
		}
	}
}

func TestSurelyNotSent(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		err  error
		want bool
	}{
		{dial, true},
		{fmt.Errorf("post: %w", syscall.ECONNREFUSED), true},
		{&net.DNSError{Err: "no such host", Name: "x"}, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{errors.New("EOF"), false},
	}
	for _, c := range cases {
		if got := surelyNotSent(c.err); got != c.want {
			t.Errorf("surelyNotSent(%v) = %v", c.err, got)
		}
	}
}

func TestRedact(t *testing.T) {
	err := redactErr(fmt.Errorf("wrapped: %w", errors.New("token sekret-token-123 leaked")), "sekret-token-123", "")
	if err.Error() != "wrapped: token [redacted] leaked" {
		t.Fatalf("got %q", err.Error())
	}
	if redact("abc", "") != "abc" {
		t.Fatal("empty secret replaced")
	}
}
