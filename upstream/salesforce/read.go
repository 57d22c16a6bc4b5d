package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tether-sync/tether/internal/ratelimit"
	"github.com/tether-sync/tether/upstream"
)

// Objects implements upstream.Provider: the queryable objects of the global
// describe (GET /sobjects).
func (c *Client) Objects(ctx context.Context) ([]upstream.ObjectSummary, error) {
	resp, err := c.do(ctx, call{endpoint: "sobjects", method: http.MethodGet, path: c.dataPath("/sobjects"), prio: ratelimit.Read})
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	all, err := ParseGlobal(resp.body)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if o.Queryable {
			out = append(out, o)
		}
	}
	return out, nil
}

// Describe implements upstream.Provider (GET /sobjects/X/describe). Answers
// are cached for the client's lifetime; ForgetDescribe drops one.
func (c *Client) Describe(ctx context.Context, object string) (*upstream.Object, error) {
	c.descMu.Lock()
	obj, ok := c.desc[object]
	c.descMu.Unlock()
	if ok {
		return obj, nil
	}
	if !validName(object) {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("invalid object name %q", object)}
	}
	resp, err := c.do(ctx, call{endpoint: "describe", method: http.MethodGet,
		path: c.dataPath("/sobjects/" + object + "/describe"), prio: ratelimit.Read})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", object, err)
	}
	obj, err = ParseDescribe(resp.body)
	if err != nil {
		return nil, err
	}
	c.descMu.Lock()
	c.desc[object] = obj
	c.descMu.Unlock()
	return obj, nil
}

// ForgetDescribe drops a cached describe, so the next Describe asks again
// (e.g. after a field was added).
func (c *Client) ForgetDescribe(object string) {
	c.descMu.Lock()
	delete(c.desc, object)
	c.descMu.Unlock()
}

// Count implements upstream.Provider: SELECT COUNT() FROM X.
func (c *Client) Count(ctx context.Context, object string) (int64, error) {
	if !validName(object) {
		return 0, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("invalid object name %q", object)}
	}
	resp, err := c.query(ctx, "query", "SELECT COUNT() FROM "+object, 0, ratelimit.Read)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", object, err)
	}
	var qr struct {
		TotalSize int64 `json:"totalSize"`
	}
	if err := json.Unmarshal(resp.body, &qr); err != nil {
		return 0, fmt.Errorf("count %s: decode: %w", object, err)
	}
	return qr.TotalSize, nil
}

// query runs a SOQL query on /query or /queryAll.
func (c *Client) query(ctx context.Context, endpoint, soql string, batchSize int, prio ratelimit.Priority) (*response, error) {
	h := http.Header{}
	if batchSize > 0 {
		h.Set("Sforce-Query-Options", fmt.Sprintf("batchSize=%d", batchSize))
	}
	path := c.dataPath("/"+endpoint+"/") + "?q=" + url.QueryEscape(soql)
	if len(path) <= MaxQueryURI {
		return c.do(ctx, call{endpoint: endpoint, method: http.MethodGet, path: path, header: h, prio: prio})
	}
	// Salesforce refuses URIs over 16,384 bytes (414): an object with many
	// fields is queried through a composite request, whose subrequest URL
	// travels in the body. It counts as one API call.
	sub := map[string]any{"method": http.MethodGet, "url": path, "referenceId": "q"}
	if batchSize > 0 {
		sub["httpHeaders"] = map[string]string{"Sforce-Query-Options": h.Get("Sforce-Query-Options")}
	}
	body, err := json.Marshal(map[string]any{"allOrNone": false, "compositeRequest": []any{sub}})
	if err != nil {
		return nil, err
	}
	return c.do(ctx, call{endpoint: endpoint, method: http.MethodPost, path: c.dataPath("/composite"),
		body: body, prio: prio, composite: true})
}

// MaxQueryURI is the longest query URI sent as a GET; longer queries go
// through /composite. Salesforce allows 16,384 bytes for URI and headers.
const MaxQueryURI = 8000

// Read implements upstream.Provider: the first page of records changed after
// req.After, ordered by (SystemModstamp, Id), from /query or, with
// IncludeDeleted, /queryAll.
func (c *Client) Read(ctx context.Context, req upstream.ReadRequest) (*upstream.Page, error) {
	obj, err := c.Describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	if req.IncludeDeleted && obj.Field(fieldIsDeleted) == nil {
		// Objects such as User cannot be deleted and have no IsDeleted
		// field: asking for it is an INVALID_FIELD error, and queryAll adds nothing.
		req.IncludeDeleted = false
	}
	soql, err := BuildReadQuery(req)
	if err != nil {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: err.Error()}
	}
	endpoint := "query"
	if req.IncludeDeleted {
		endpoint = "queryAll"
	}
	resp, err := c.query(ctx, endpoint, soql, PageSize(req.PageSize), ratelimit.Read)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.Object, err)
	}
	return decodePage(obj, resp.body)
}

// ReadNext implements upstream.Provider: GET the nextRecordsUrl of a page.
func (c *Client) ReadNext(ctx context.Context, object, token string) (*upstream.Page, error) {
	if !strings.HasPrefix(token, "/services/data/") {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("read %s: not a nextRecordsUrl: %q", object, token)}
	}
	obj, err := c.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, call{endpoint: "queryMore", method: http.MethodGet, path: token, prio: ratelimit.Read})
	if err != nil {
		return nil, fmt.Errorf("read next page of %s: %w", object, err)
	}
	return decodePage(obj, resp.body)
}

// queryResult is a /query answer.
type queryResult struct {
	TotalSize      int64             `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// decodePage turns a /query answer into a Page: attributes dropped, numbers
// kept as json.Number, multi-select picklists split into []string.
func decodePage(obj *upstream.Object, body []byte) (*upstream.Page, error) {
	var qr queryResult
	if err := json.Unmarshal(body, &qr); err != nil {
		return nil, fmt.Errorf("decode query result: %w", err)
	}
	page := &upstream.Page{Total: qr.TotalSize, Records: make([]upstream.Record, 0, len(qr.Records)), Deleted: make([]bool, 0, len(qr.Records))}
	if !qr.Done {
		page.Next = qr.NextRecordsURL
	}
	for i, raw := range qr.Records {
		rec, err := DecodeRecord(obj, raw)
		if err != nil {
			return nil, fmt.Errorf("decode record %d: %w", i, err)
		}
		del, _ := rec[fieldIsDeleted].(bool)
		page.Records = append(page.Records, rec)
		page.Deleted = append(page.Deleted, del)
	}
	if n := len(page.Records); n > 0 {
		last := page.Records[n-1]
		page.Last.ID = last.ID()
		if s, ok := last[fieldStamp].(string); ok {
			t, err := ParseDateTime(s)
			if err != nil {
				return nil, err
			}
			page.Last.Stamp = t
		}
	}
	return page, nil
}

// DecodeRecord decodes one record of a query answer. obj (may be nil) tells
// which fields are multi-select picklists.
func DecodeRecord(obj *upstream.Object, raw []byte) (upstream.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rec upstream.Record
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	delete(rec, "attributes")
	for k, v := range rec {
		switch x := v.(type) {
		case string:
			if obj != nil {
				if f := obj.Field(k); f != nil && f.Kind == upstream.KindTextArray {
					rec[k] = splitMulti(x)
				}
			}
		case map[string]any:
			// A related record (parent relationship) or a compound field:
			// compound fields stay maps, relationship objects lose attributes.
			delete(x, "attributes")
		}
	}
	return rec, nil
}

// splitMulti splits a multi-select picklist value ("a;b") into its values.
func splitMulti(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ";")
}

// deletedResult is a /sobjects/X/deleted answer.
type deletedResult struct {
	DeletedRecords []struct {
		ID          string `json:"id"`
		DeletedDate string `json:"deletedDate"`
	} `json:"deletedRecords"`
	EarliestDateAvailable string `json:"earliestDateAvailable"`
	LatestDateCovered     string `json:"latestDateCovered"`
}

// ReadDeleted implements upstream.Provider:
// GET /sobjects/X/deleted/?start=&end=. A start older than Salesforce keeps
// deletes (INVALID_REPLICATION_DATE) yields an error wrapping
// upstream.ErrWindowExpired.
func (c *Client) ReadDeleted(ctx context.Context, object string, start, end time.Time) (*upstream.DeletedResult, error) {
	if !validName(object) {
		return nil, &upstream.Error{Class: upstream.Permanent, Message: fmt.Sprintf("invalid object name %q", object)}
	}
	q := url.Values{}
	q.Set("start", start.UTC().Format("2006-01-02T15:04:05Z"))
	q.Set("end", end.UTC().Format("2006-01-02T15:04:05Z"))
	resp, err := c.do(ctx, call{endpoint: "deleted", method: http.MethodGet,
		path: c.dataPath("/sobjects/"+object+"/deleted/") + "?" + q.Encode(), prio: ratelimit.Read})
	if err != nil {
		var ue *upstream.Error
		if errors.As(err, &ue) && ue.Code == "INVALID_REPLICATION_DATE" {
			ue.Err = upstream.ErrWindowExpired
		}
		return nil, fmt.Errorf("read deleted %s: %w", object, err)
	}
	var dr deletedResult
	if err := json.Unmarshal(resp.body, &dr); err != nil {
		return nil, fmt.Errorf("read deleted %s: decode: %w", object, err)
	}
	out := &upstream.DeletedResult{Records: make([]upstream.Deleted, 0, len(dr.DeletedRecords))}
	for _, d := range dr.DeletedRecords {
		t, err := ParseDateTime(d.DeletedDate)
		if err != nil {
			return nil, fmt.Errorf("read deleted %s: %w", object, err)
		}
		out.Records = append(out.Records, upstream.Deleted{ID: d.ID, DeletedAt: t})
	}
	if dr.EarliestDateAvailable != "" {
		if t, err := ParseDateTime(dr.EarliestDateAvailable); err == nil {
			out.EarliestAvailable = t
		}
	}
	if dr.LatestDateCovered != "" {
		if t, err := ParseDateTime(dr.LatestDateCovered); err == nil {
			out.LatestCovered = t
		}
	}
	return out, nil
}
