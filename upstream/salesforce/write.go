package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/upstream"
)

// goneCodes mark a record that no longer exists upstream.
var goneCodes = map[string]bool{
	"ENTITY_IS_DELETED": true,
	"NOT_FOUND":         true,
}

// collectionResult is one entry of an sObject Collections answer.
type collectionResult struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

// Write implements upstream.Provider with sObject Collections
// (/composite/sobjects, allOrNone=false): POST creates, PATCH updates,
// DELETE ?ids= deletes. It returns one Result per change, in order.
//
// A create whose answer was lost (the request was sent) fails with an
// *upstream.Error of Code upstream.CodeUnknownOutcome: call FindCreated
// before creating again. Updates and deletes are retried on transient faults.
func (c *Client) Write(ctx context.Context, object string, op upstream.Op, changes []upstream.Change) ([]upstream.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if len(changes) > MaxBatch {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("write %s: %d changes, at most %d per request", object, len(changes), MaxBatch)}
	}
	if !validName(object) {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("invalid object name %q", object)}
	}
	cl := call{endpoint: "composite", prio: ratelimit.Write, path: c.dataPath("/composite/sobjects")}
	switch op {
	case upstream.OpCreate, upstream.OpUpdate:
		obj, err := c.Describe(ctx, object)
		if err != nil {
			return nil, err
		}
		body, err := EncodeCollection(obj, op, changes)
		if err != nil {
			return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("write %s: %v", object, err)}
		}
		cl.body = body
		if op == upstream.OpCreate {
			cl.method, cl.create = http.MethodPost, true
		} else {
			cl.method = http.MethodPatch
		}
	case upstream.OpDelete:
		ids := make([]string, len(changes))
		for i, ch := range changes {
			if ch.ID == "" {
				return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("delete %s: change %d has no id", object, i)}
			}
			ids[i] = ch.ID
		}
		cl.method = http.MethodDelete
		cl.path += "?ids=" + url.QueryEscape(strings.Join(ids, ",")) + "&allOrNone=false"
	default:
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("write %s: unknown operation %q", object, op)}
	}
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("%s %d %s records: %w", op, len(changes), object, err)
	}
	var raw []collectionResult
	if err := json.Unmarshal(resp.body, &raw); err != nil {
		return nil, fmt.Errorf("%s %s: decode results: %w", op, object, err)
	}
	if len(raw) != len(changes) {
		return nil, &upstream.Error{Class: upstream.Permanent, Status: resp.status,
			Message: fmt.Sprintf("%s %s: %d results for %d changes", op, object, len(raw), len(changes))}
	}
	return convertResults(op, changes, raw), nil
}

// convertResults maps collection results onto upstream results.
func convertResults(op upstream.Op, changes []upstream.Change, raw []collectionResult) []upstream.Result {
	out := make([]upstream.Result, len(raw))
	for i, r := range raw {
		res := upstream.Result{ID: r.ID, OK: r.Success}
		if res.ID == "" {
			res.ID = changes[i].ID
		}
		if r.Success {
			switch op {
			case upstream.OpCreate:
				res.Status = http.StatusCreated
			case upstream.OpUpdate:
				res.Status = http.StatusOK
			default:
				res.Status = http.StatusNoContent
			}
			out[i] = res
			continue
		}
		res.Status = http.StatusBadRequest
		for _, e := range r.Errors {
			res.Errors = append(res.Errors, upstream.FieldError{Code: e.StatusCode, Message: e.Message, Fields: e.Fields})
			if IsTransientCode(e.StatusCode) {
				res.Transient = true
			}
			if goneCodes[e.StatusCode] || (op == upstream.OpDelete && e.StatusCode == "INVALID_CROSS_REFERENCE_KEY") {
				if op != upstream.OpCreate {
					res.Gone = true
				}
			}
		}
		switch {
		case res.Gone:
			res.Status = http.StatusNotFound
		case res.Transient:
			res.Status = http.StatusServiceUnavailable
		}
		out[i] = res
	}
	return out
}

// EncodeCollection builds an sObject Collections body for creates or updates:
// {"allOrNone":false,"records":[{"attributes":{"type":X},...}]}. Values are
// encoded per the field's describe type (see EncodeValue); updates carry Id.
func EncodeCollection(obj *upstream.Object, op upstream.Op, changes []upstream.Change) ([]byte, error) {
	recs := make([]map[string]any, len(changes))
	for i, ch := range changes {
		rec := make(map[string]any, len(ch.Fields)+2)
		rec["attributes"] = map[string]string{"type": obj.Name}
		for name, v := range ch.Fields {
			if strings.EqualFold(name, fieldID) {
				continue
			}
			ev, err := EncodeValue(obj.Field(name), v)
			if err != nil {
				return nil, fmt.Errorf("record %d field %s: %w", i, name, err)
			}
			rec[name] = ev
		}
		if op == upstream.OpUpdate {
			if ch.ID == "" {
				return nil, fmt.Errorf("record %d: an update needs an id", i)
			}
			rec[fieldID] = ch.ID
		}
		recs[i] = rec
	}
	return json.Marshal(map[string]any{"allOrNone": false, "records": recs})
}

// EncodeValue converts a change value into its JSON form for a field (f may
// be nil for a field the describe does not know):
//
//	nil → null; []string → "a;b" (multi-select picklist); json.Number → a
//	JSON number; time.Time → "2006-01-02" for date fields, else an ISO 8601
//	datetime in UTC ("15:04:05.000Z" for time fields); a numeric string for a
//	number field → a JSON number; other values unchanged.
func EncodeValue(f *upstream.Field, v any) (any, error) {
	kind := upstream.KindUnknown
	if f != nil {
		kind = f.Kind
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		for _, s := range x {
			if strings.Contains(s, ";") {
				return nil, fmt.Errorf("multi-select value %q contains ';'", s)
			}
		}
		return strings.Join(x, ";"), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("multi-select value %v is not a string", e)
			}
			parts[i] = s
		}
		return EncodeValue(f, parts)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		if kind == upstream.KindText {
			return string(x), nil
		}
		return x, nil
	case time.Time:
		switch kind {
		case upstream.KindDate:
			return x.Format("2006-01-02"), nil
		case upstream.KindTime:
			return x.Format("15:04:05.000Z"), nil
		}
		return x.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case string:
		switch kind {
		case upstream.KindInt, upstream.KindBigInt, upstream.KindDecimal:
			if _, err := strconv.ParseFloat(x, 64); err == nil {
				return json.Number(x), nil
			}
		}
		return x, nil
	}
	return v, nil
}

// FindCreated implements upstream.Provider: the ids of records of object that
// this credential's user created since the given moment whose comparable
// fields equal the given values. The writer calls it after a create whose
// outcome is unknown. since is rounded down to the second; allow for clock
// skew between tether and Salesforce when choosing it.
func (c *Client) FindCreated(ctx context.Context, object string, since time.Time, fields map[string]any) ([]string, error) {
	obj, err := c.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	me, err := c.UserID(ctx)
	if err != nil {
		return nil, fmt.Errorf("find created %s: %w", object, err)
	}
	soql, err := BuildFindCreatedQuery(obj, since, me, fields)
	if err != nil {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: err.Error()}
	}
	resp, err := c.query(ctx, "query", soql, 0, ratelimit.Write)
	if err != nil {
		return nil, fmt.Errorf("find created %s: %w", object, err)
	}
	var ids []string
	for {
		page, err := decodePage(nil, resp.body)
		if err != nil {
			return nil, fmt.Errorf("find created %s: %w", object, err)
		}
		for _, r := range page.Records {
			ids = append(ids, r.ID())
		}
		if page.Next == "" {
			return ids, nil
		}
		resp, err = c.do(ctx, call{endpoint: "queryMore", method: http.MethodGet, path: page.Next, prio: ratelimit.Write})
		if err != nil {
			return nil, fmt.Errorf("find created %s: %w", object, err)
		}
	}
}

// UserID returns the id of the user the credential acts as: from the token
// response's identity URL, else from /services/oauth2/userinfo.
func (c *Client) UserID(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	id := c.userID
	c.tokMu.Unlock()
	if id != "" {
		return id, nil
	}
	resp, err := c.do(ctx, call{endpoint: "userinfo", method: http.MethodGet, path: "/services/oauth2/userinfo", prio: ratelimit.Read})
	if err != nil {
		return "", fmt.Errorf("userinfo: %w", err)
	}
	var ui struct {
		UserID string `json:"user_id"`
	}
	if err := json.Unmarshal(resp.body, &ui); err != nil || ui.UserID == "" {
		return "", &upstream.Error{Class: upstream.Permanent, Message: "userinfo: no user_id in the answer"}
	}
	c.tokMu.Lock()
	c.userID = ui.UserID
	c.tokMu.Unlock()
	return ui.UserID, nil
}
