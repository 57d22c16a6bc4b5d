package salesforce

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/tether-sync/tether/upstream"
)

// apiError is one entry of a Salesforce REST error body:
// [{"message": "...", "errorCode": "...", "fields": [...]}].
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// oauthError is an OAuth error body: {"error": "...", "error_description": "..."}.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// transientCodes are Salesforce error codes worth retrying later.
var transientCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW":       true,
	"SERVER_UNAVAILABLE":       true,
	"REQUEST_RUNNING_TOO_LONG": true,
	"QUERY_TIMEOUT":            true,
	"CONCURRENT_REQUEST_LIMIT": true,
	"TXN_SECURITY_METERING":    true,
	"UNKNOWN_EXCEPTION":        true,
}

// IsTransientCode reports whether a Salesforce error code (per request or
// per record) is worth retrying: lock contention, timeouts, unavailability.
func IsTransientCode(code string) bool { return transientCodes[code] }

// parseAPIErrors decodes a REST error body; it accepts a list, a single
// object, or an OAuth error body.
func parseAPIErrors(body []byte) []apiError {
	var list []apiError
	if err := json.Unmarshal(body, &list); err == nil && len(list) > 0 {
		return list
	}
	var one apiError
	if err := json.Unmarshal(body, &one); err == nil && one.ErrorCode != "" {
		return []apiError{one}
	}
	var o oauthError
	if err := json.Unmarshal(body, &o); err == nil && o.Error != "" {
		return []apiError{{ErrorCode: o.Error, Message: o.Description}}
	}
	return nil
}

// parseOAuthError reads an OAuth error body's code and description.
func parseOAuthError(body []byte) (code, desc string) {
	var o oauthError
	if json.Unmarshal(body, &o) == nil {
		return o.Error, o.Description
	}
	return "", ""
}

// classify turns a non-2xx answer into an *upstream.Error:
//
//	401 (INVALID_SESSION_ID)                        → Auth (the caller retries once first)
//	403 REQUEST_LIMIT_EXCEEDED                      → Quota
//	5xx, 429, UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE → Transient
//	anything else                                   → Permanent
func classify(status int, body []byte) *upstream.Error {
	e := &upstream.Error{Status: status, Class: upstream.Permanent}
	errs := parseAPIErrors(body)
	if len(errs) > 0 {
		e.Code = errs[0].ErrorCode
		var msgs []string
		for _, a := range errs {
			m := a.Message
			if len(a.Fields) > 0 {
				m += " (fields: " + strings.Join(a.Fields, ", ") + ")"
			}
			msgs = append(msgs, m)
		}
		e.Message = strings.Join(msgs, "; ")
	} else {
		e.Message = http.StatusText(status)
	}
	switch {
	case e.Code == "REQUEST_LIMIT_EXCEEDED":
		e.Class = upstream.Quota
	case status == http.StatusUnauthorized || e.Code == "INVALID_SESSION_ID":
		e.Class = upstream.Auth
	case status >= 500, status == http.StatusTooManyRequests, IsTransientCode(e.Code):
		e.Class = upstream.Transient
	}
	return e
}

// ParseLimitInfo reads the org's daily usage from a Sforce-Limit-Info header
// ("api-usage=18/15000", possibly followed by "; per-app-api-usage=...").
func ParseLimitInfo(h string) (used, max int, ok bool) {
	for _, part := range strings.Split(h, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found || strings.TrimSpace(k) != "api-usage" {
			continue
		}
		u, m, found := strings.Cut(strings.TrimSpace(v), "/")
		if !found {
			return 0, 0, false
		}
		ui, err1 := strconv.Atoi(strings.TrimSpace(u))
		mi, err2 := strconv.Atoi(strings.TrimSpace(m))
		if err1 != nil || err2 != nil || ui < 0 || mi < 0 {
			return 0, 0, false
		}
		return ui, mi, true
	}
	return 0, 0, false
}

// surelyNotSent reports whether a transport error proves the request never
// reached the server (it failed while dialling).
func surelyNotSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// redact replaces every non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// redactedError keeps an error's chain but prints it without secrets.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// redactErr wraps err so that its text carries none of the secrets.
func redactErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := redact(msg, secrets...); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}
