package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
)

// apiError is one entry of Salesforce's error array body.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`[{"message":"encoding failed","errorCode":"UNKNOWN_EXCEPTION"}]`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, []apiError{{Message: fmt.Sprintf(format, args...), ErrorCode: code}})
}

func writeFieldError(w http.ResponseWriter, status int, e *writeErr) {
	writeJSON(w, status, []apiError{{Message: e.Message, ErrorCode: e.StatusCode, Fields: e.Fields}})
}

// statusWriter remembers the status code and can buffer the whole answer
// (to drop the connection after a write has been applied).
type statusWriter struct {
	http.ResponseWriter
	status int
	buffer bool
	buf    bytes.Buffer
	hdr    http.Header
}

func (w *statusWriter) Header() http.Header {
	if w.buffer {
		if w.hdr == nil {
			w.hdr = http.Header{}
		}
		return w.hdr
	}
	return w.ResponseWriter.Header()
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	if !w.buffer {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	if w.buffer {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// maxURILength is Salesforce's REST URI limit (16,384 bytes): a longer GET
// (a huge SOQL IN list) is refused with 414.
const maxURILength = 16384

var versionRE = regexp.MustCompile(`^/services/data/v(\d+\.\d+|\d+)(/.*)?$`)

// route names the endpoint key of a request and whether it writes.
func route(method, path string) (key, ver, rest string, write bool) {
	switch {
	case path == "/services/oauth2/token":
		return "token", "", "", false
	case path == "/services/oauth2/userinfo" || strings.HasPrefix(path, "/id/"):
		return "userinfo", "", "", false
	case path == "/services/data" || path == "/services/data/":
		return "versions", "", "", false
	}
	m := versionRE.FindStringSubmatch(path)
	if m == nil {
		return "", "", "", false
	}
	ver, rest = m[1], strings.TrimSuffix(m[2], "/")
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "":
		return "resources", ver, rest, false
	case rest == "/limits":
		return "limits", ver, rest, false
	case rest == "/sobjects":
		return "sobjects", ver, rest, false
	case parts[0] == "query" && len(parts) == 1:
		return "query", ver, rest, false
	case parts[0] == "queryAll" && len(parts) == 1:
		return "queryAll", ver, rest, false
	case (parts[0] == "query" || parts[0] == "queryAll") && len(parts) == 2:
		return "queryMore", ver, rest, false
	case parts[0] == "composite" && len(parts) == 3 && parts[1] == "sobjects":
		return "composite:retrieve", ver, rest, false
	case rest == "/composite":
		return "composite", ver, rest, false
	case rest == "/composite/sobjects":
		return "composite:" + method, ver, rest, method != http.MethodGet
	case parts[0] == "sobjects" && len(parts) == 3 && parts[2] == "describe":
		return "describe", ver, rest, false
	case parts[0] == "sobjects" && len(parts) == 3 && parts[2] == "updated":
		return "updated", ver, rest, false
	case parts[0] == "sobjects" && len(parts) == 3 && parts[2] == "deleted":
		return "deleted", ver, rest, false
	case parts[0] == "sobjects" && (len(parts) == 2 || len(parts) == 3):
		return "sobject:" + method, ver, rest, method != http.MethodGet && method != http.MethodHead
	}
	return "other", ver, rest, false
}

// ServeHTTP answers the Salesforce API and the /_sim/ control surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim" {
		s.serveControl(w, r)
		return
	}
	key, ver, rest, write := route(r.Method, r.URL.Path)
	if key == "" {
		key = "other"
	}
	sw := &statusWriter{ResponseWriter: w}
	received := time.Now()
	at := s.Now()

	// Faults apply to API requests (not the token endpoint).
	var drop, dropAfter bool
	var delay time.Duration
	var fail int
	s.cmu.Lock()
	s.counts[key]++
	if key != "token" {
		switch {
		case s.dropN > 0:
			s.dropN--
			drop = true
		case s.failN > 0:
			s.failN--
			fail = s.failStatus
		case write && s.dropCommitN > 0:
			s.dropCommitN--
			dropAfter = true
		}
		if s.delayN > 0 {
			s.delayN--
			delay = s.delay
		}
	}
	s.cmu.Unlock()
	defer func() {
		s.cmu.Lock()
		s.log = append(s.log, RequestEntry{At: at, Received: received, Key: key, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status})
		if len(s.log) > 100000 {
			s.log = append([]RequestEntry(nil), s.log[len(s.log)-50000:]...)
		}
		s.cmu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if drop {
		hijackClose(w)
		return
	}
	if fail > 0 {
		writeFault(sw, fail)
		return
	}
	if len(r.URL.RequestURI()) > maxURILength {
		sw.Header().Set("Content-Type", "text/html")
		sw.WriteHeader(http.StatusRequestURITooLong)
		_, _ = sw.Write([]byte("<html><body>414 Request-URI Too Long</body></html>"))
		return
	}
	if dropAfter {
		sw.buffer = true
	}
	s.serveAPI(sw, r, key, ver, rest)
	if dropAfter {
		sw.status = 0
		hijackClose(w)
	}
}

func hijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func writeFault(w http.ResponseWriter, status int) {
	switch status {
	case 503:
		writeError(w, status, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later.")
	case 502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	case 401:
		writeError(w, status, "INVALID_SESSION_ID", "Session expired or invalid")
	case 403:
		writeError(w, status, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
	default:
		writeError(w, status, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1931786364-58734 (-1483785587)")
	}
}

func (s *Server) serveAPI(w *statusWriter, r *http.Request, key, ver, rest string) {
	switch key {
	case "token":
		s.handleToken(w, r)
		return
	case "versions":
		s.handleVersions(w, r)
		return
	case "other":
		writeNotFound(w)
		return
	}
	// authentication
	tok := bearer(r)
	s.cmu.Lock()
	issued, valid := s.tokens[tok]
	if valid && s.opts.SessionTimeout > 0 && s.nowLocked().Sub(issued) >= s.opts.SessionTimeout {
		delete(s.tokens, tok)
		valid = false
	}
	s.cmu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Token`)
		writeError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	if key == "userinfo" {
		s.handleUserinfo(w, r)
		return
	}
	// daily limit
	s.cmu.Lock()
	if used := s.usedLocked(); used >= s.dailyMax {
		max := s.dailyMax
		s.cmu.Unlock()
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, max))
		writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	s.countUsageLocked()
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.usedLocked(), s.dailyMax))
	s.cmu.Unlock()
	s.dispatch(w, r, key, ver, rest)
}

// dispatch answers an authenticated, counted API request.
func (s *Server) dispatch(w *statusWriter, r *http.Request, key, ver, rest string) {
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case key == "composite":
		s.handleCompositeAPI(w, r)
	case key == "resources":
		s.handleResources(w, ver)
	case key == "limits":
		s.handleLimits(w)
	case key == "sobjects":
		s.handleGlobal(w, ver)
	case key == "describe":
		s.handleDescribe(w, ver, parts[1])
	case key == "query" || key == "queryAll":
		s.handleQuery(w, r, ver, key == "queryAll")
	case key == "queryMore":
		s.handleQueryMore(w, r, ver, parts[1])
	case key == "updated":
		s.handleUpdated(w, r, parts[1])
	case key == "deleted":
		s.handleDeleted(w, r, parts[1])
	case key == "composite:retrieve":
		s.handleRetrieve(w, r, ver, parts[2])
	case strings.HasPrefix(key, "composite:"):
		s.handleComposite(w, r, ver)
	case strings.HasPrefix(key, "sobject:"):
		if len(parts) == 2 {
			s.handleSObject(w, r, ver, parts[1])
		} else {
			s.handleRecord(w, r, ver, parts[1], parts[2])
		}
	default:
		writeNotFound(w)
	}
}

// maxSubrequests is the most subrequests one composite request may carry.
const maxSubrequests = 25

// handleCompositeAPI answers POST /composite: each subrequest is answered as
// if it had been sent alone (one API call in all), in order. Subrequests may
// not nest composites; references between subrequests (@{ref.field}) and
// allOrNone rollback are not simulated.
func (s *Server) handleCompositeAPI(w *statusWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are POST", r.Method)
		return
	}
	var req struct {
		AllOrNone bool `json:"allOrNone"`
		Requests  []struct {
			Method      string            `json:"method"`
			URL         string            `json:"url"`
			ReferenceID string            `json:"referenceId"`
			Body        json.RawMessage   `json:"body"`
			Headers     map[string]string `json:"httpHeaders"`
		} `json:"compositeRequest"`
	}
	if err := decodeBody(r, &req); err != nil {
		jsonParseError(w, err)
		return
	}
	if len(req.Requests) == 0 || len(req.Requests) > maxSubrequests {
		writeError(w, http.StatusBadRequest, "INVALID_BATCH_REQUEST", "A composite request must have between 1 and %d subrequests", maxSubrequests)
		return
	}
	type subResponse struct {
		Body        json.RawMessage   `json:"body"`
		Headers     map[string]string `json:"httpHeaders"`
		Status      int               `json:"httpStatusCode"`
		ReferenceID string            `json:"referenceId"`
	}
	out := make([]subResponse, 0, len(req.Requests))
	for _, sub := range req.Requests {
		u, err := url.Parse(sub.URL)
		key, ver, rest, _ := route(sub.Method, u.Path)
		if err != nil || key == "composite" || key == "token" || key == "versions" || key == "other" || key == "userinfo" {
			out = append(out, subResponse{Status: http.StatusBadRequest, ReferenceID: sub.ReferenceID,
				Body: json.RawMessage(`[{"message":"The requested resource is not supported in a composite request","errorCode":"INVALID_INPUT"}]`)})
			continue
		}
		var body io.Reader
		if len(sub.Body) > 0 {
			body = bytes.NewReader(sub.Body)
		}
		inner := httptest.NewRequest(sub.Method, u.String(), body).WithContext(r.Context())
		inner.Header.Set("Authorization", r.Header.Get("Authorization"))
		inner.Header.Set("Content-Type", "application/json")
		for k, v := range sub.Headers {
			inner.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.dispatch(&statusWriter{ResponseWriter: rec}, inner, key, ver, rest)
		headers := map[string]string{}
		for k := range rec.Header() {
			if k != "Content-Type" && k != "Sforce-Limit-Info" {
				headers[k] = rec.Header().Get(k)
			}
		}
		b := bytes.TrimSpace(rec.Body.Bytes())
		if len(b) == 0 {
			b = []byte("null")
		}
		out = append(out, subResponse{Body: b, Headers: headers, Status: rec.Code, ReferenceID: sub.ReferenceID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"compositeResponse": out})
}

// writeNotFound answers Salesforce's 404 for an unknown resource or object.
func writeNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "must use HTTP POST"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "bad form body"})
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, secret = u, p
	}
	grant := r.PostForm.Get("grant_type")
	if grant != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	}
	if clientID != s.opts.ClientID {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client_id", "error_description": "client identifier invalid"})
		return
	}
	if secret != s.opts.ClientSecret {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "invalid client credentials"})
		return
	}
	s.cmu.Lock()
	if s.revoked || r.PostForm.Get("refresh_token") != s.refreshToken {
		s.cmu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "expired access/refresh token"})
		return
	}
	tok := s.newAccessToken()
	s.accessToken = tok
	now := s.nowLocked()
	s.cmu.Unlock()
	base := s.baseURL(r)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"signature":    "sim" + randHex(16) + "=",
		"scope":        "refresh_token api",
		"instance_url": base,
		"id":           base + "/id/" + s.orgID + "/" + s.apiUser,
		"token_type":   "Bearer",
		"issued_at":    strconv.FormatInt(now.UnixMilli(), 10),
	})
}

// baseURL is the URL clients reached us at (the listener's when known).
func (s *Server) baseURL(r *http.Request) string {
	if s.url != "" {
		return s.url
	}
	return "http://" + r.Host
}

func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	u := s.objects["User"].byID[s.apiUser]
	users := s.objects["User"]
	get := func(n string) string { v, _ := users.value(u, users.field(n)).(string); return v }
	info := map[string]any{
		"sub":                "https://login.salesforce.com/id/" + s.orgID + "/" + s.apiUser,
		"user_id":            s.apiUser,
		"username":           get("Username"),
		"display_name":       get("Name"),
		"organization_id":    s.orgID,
		"preferred_username": get("Username"),
		"nickname":           get("CommunityNickname"),
		"name":               get("Name"),
		"email":              get("Email"),
		"email_verified":     true,
		"given_name":         get("FirstName"),
		"family_name":        get("LastName"),
		"zoneinfo":           get("TimeZoneSidKey"),
		"active":             true,
		"user_type":          "STANDARD",
		"language":           get("LanguageLocaleKey"),
		"locale":             get("LocaleSidKey"),
		"utcOffset":          -28800000,
		"updated_at":         fmtTime(unixTime(u.modified)),
		"is_app_installed":   true,
		"urls": map[string]string{
			"rest":     s.baseURL(r) + "/services/data/v{version}/",
			"sobjects": s.baseURL(r) + "/services/data/v{version}/sobjects/",
			"query":    s.baseURL(r) + "/services/data/v{version}/query/",
		},
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, info)
}

// Versions offered by GET /services/data.
const (
	minVersion = 31
	maxVersion = 62
)

func versionLabel(v int) string {
	k := maxVersion - v
	season := []string{"Winter", "Summer", "Spring"}[k%3]
	return fmt.Sprintf("%s '%02d", season, 25-(k+2)/3)
}

func (s *Server) handleVersions(w http.ResponseWriter, _ *http.Request) {
	var out []map[string]string
	for v := minVersion; v <= maxVersion; v++ {
		out = append(out, map[string]string{"label": versionLabel(v), "url": fmt.Sprintf("/services/data/v%d.0", v), "version": fmt.Sprintf("%d.0", v)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleResources(w http.ResponseWriter, ver string) {
	p := "/services/data/v" + ver
	out := map[string]string{}
	for _, k := range []string{"tooling", "metadata", "eclair", "folders", "prechatForms", "chatter", "tabs", "appMenu",
		"quickActions", "queryAll", "commerce", "wave", "iot", "analytics", "search", "identity", "composite",
		"parameterizedSearch", "fingerprint", "theme", "nouns", "event", "serviceTemplates", "recent", "connect",
		"licensing", "limits", "process", "async-queries", "query", "match", "emailConnect", "compactLayouts",
		"knowledgeManagement", "sobjects", "actions", "support"} {
		out[k] = p + "/" + k
	}
	out["identity"] = s.url + "/id/" + s.orgID + "/" + s.apiUser
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleLimits(w http.ResponseWriter) {
	s.cmu.Lock()
	used, limit := s.usedLocked(), s.dailyMax
	s.cmu.Unlock()
	lim := func(m, rem int) map[string]int { return map[string]int{"Max": m, "Remaining": rem} }
	writeJSON(w, http.StatusOK, map[string]any{
		"ConcurrentAsyncGetReportInstances": lim(200, 200),
		"ConcurrentSyncReportRuns":          lim(20, 20),
		"DailyApiRequests":                  lim(limit, max(0, limit-used)),
		"DailyAsyncApexExecutions":          lim(250000, 250000),
		"DailyBulkApiBatches":               lim(15000, 15000),
		"DailyBulkV2QueryFileStorageMB":     lim(976562, 976562),
		"DailyBulkV2QueryJobs":              lim(10000, 10000),
		"DailyStreamingApiEvents":           lim(1000000, 1000000),
		"DataStorageMB":                     lim(1024, 1000),
		"FileStorageMB":                     lim(1024, 1024),
		"HourlyTimeBasedWorkflow":           lim(1000, 1000),
		"SingleEmail":                       lim(5000, 5000),
	})
}

func (s *Server) handleGlobal(w http.ResponseWriter, ver string) {
	s.mu.RLock()
	var list []any
	for _, n := range sortedNames(s.objects) {
		list = append(list, s.objects[n].globalJSON(ver))
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list})
}

func (s *Server) handleDescribe(w http.ResponseWriter, ver, name string) {
	s.mu.RLock()
	o := s.object(name)
	var d map[string]any
	if o != nil {
		d = o.describeJSON(ver, s.url)
	}
	s.mu.RUnlock()
	if o == nil {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// recordJSON renders a record with attributes and the given fields (all
// fields when nil), in order.
func (o *objectDef) recordJSON(buf *bytes.Buffer, r *record, fields []*fieldDef, ver string) {
	buf.WriteString(`{"attributes":{"type":`)
	writeStr(buf, o.Name)
	buf.WriteString(`,"url":`)
	writeStr(buf, "/services/data/v"+ver+"/sobjects/"+o.Name+"/"+r.id)
	buf.WriteString("}")
	if fields == nil {
		fields = o.fields
	}
	for _, f := range fields {
		buf.WriteByte(',')
		writeStr(buf, f.Name)
		buf.WriteByte(':')
		writeValue(buf, f, o.value(r, f))
	}
	buf.WriteByte('}')
}

// writeValue renders one field value as JSON.
func writeValue(buf *bytes.Buffer, f *fieldDef, v any) {
	switch x := jsonValue(v).(type) {
	case nil:
		buf.WriteString("null")
	case string:
		writeStr(buf, x)
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case float64:
		if f.Type == "int" || f.Type == "long" {
			buf.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			buf.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		}
	default:
		b, _ := json.Marshal(x)
		buf.Write(b)
	}
}

func writeStr(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

func jsonParseError(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character in request body: %v", err)
}

// handleSObject: GET basic info, POST create.
func (s *Server) handleSObject(w http.ResponseWriter, r *http.Request, ver, name string) {
	switch r.Method {
	case http.MethodGet:
		s.mu.RLock()
		o := s.object(name)
		if o == nil {
			s.mu.RUnlock()
			writeNotFound(w)
			return
		}
		info := o.globalJSON(ver)
		s.mu.RUnlock()
		writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": info, "recentItems": []any{}})
	case http.MethodPost:
		var body map[string]any
		if err := decodeBody(r, &body); err != nil {
			jsonParseError(w, err)
			return
		}
		s.mu.Lock()
		o := s.object(name)
		if o == nil {
			s.mu.Unlock()
			writeNotFound(w)
			return
		}
		id, werr := s.createLocked(o, body, s.apiUser)
		s.mu.Unlock()
		if werr != nil {
			writeFieldError(w, http.StatusBadRequest, werr)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": id, "success": true, "errors": []any{}})
	default:
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are GET,POST", r.Method)
	}
}

// handleRecord: GET, PATCH, DELETE one record.
func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request, ver, name, id string) {
	switch r.Method {
	case http.MethodGet:
		s.mu.RLock()
		defer s.mu.RUnlock()
		o := s.object(name)
		if o == nil {
			writeNotFound(w)
			return
		}
		rec, werr := s.findLive(o, id)
		if werr != nil {
			switch werr.StatusCode {
			case "ENTITY_IS_DELETED":
				writeFieldError(w, http.StatusNotFound, werr)
			case "MALFORMED_ID":
				writeError(w, http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: %s", id)
			default:
				writeNotFound(w)
			}
			return
		}
		var fields []*fieldDef
		if fl := r.URL.Query().Get("fields"); fl != "" {
			for _, n := range strings.Split(fl, ",") {
				f := o.field(strings.TrimSpace(n))
				if f == nil {
					writeError(w, http.StatusBadRequest, "INVALID_FIELD", "No such column '%s' on sobject of type %s", strings.TrimSpace(n), o.Name)
					return
				}
				fields = append(fields, f)
			}
		}
		var buf bytes.Buffer
		o.recordJSON(&buf, rec, fields, ver)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	case http.MethodPatch:
		var body map[string]any
		if err := decodeBody(r, &body); err != nil {
			jsonParseError(w, err)
			return
		}
		s.mu.Lock()
		o := s.object(name)
		if o == nil {
			s.mu.Unlock()
			writeNotFound(w)
			return
		}
		werr := s.lockedCheck(id)
		if werr == nil {
			werr = s.updateLocked(o, id, body, s.apiUser)
		}
		s.mu.Unlock()
		if werr != nil {
			writeRecordError(w, id, werr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.mu.Lock()
		o := s.object(name)
		if o == nil {
			s.mu.Unlock()
			writeNotFound(w)
			return
		}
		werr := s.lockedCheck(id)
		if werr == nil {
			werr = s.deleteLocked(o, id, s.apiUser)
		}
		s.mu.Unlock()
		if werr != nil {
			writeRecordError(w, id, werr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are HEAD,GET,PATCH,DELETE", r.Method)
	}
}

// writeRecordError answers a failed PATCH/DELETE of /sobjects/X/{id}: a
// malformed id reads as an external id field name (404 NOT_FOUND, as
// Salesforce answers), a missing record is 404, the rest 400.
func writeRecordError(w http.ResponseWriter, id string, e *writeErr) {
	switch {
	case e.StatusCode == "MALFORMED_ID" && len(e.Fields) == 1 && e.Fields[0] == "Id":
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: %s", id)
	case e.StatusCode == "INVALID_CROSS_REFERENCE_KEY" && len(e.Fields) == 0:
		writeNotFound(w)
	case e.StatusCode == "ENTITY_IS_DELETED":
		writeFieldError(w, http.StatusNotFound, e)
	default:
		writeFieldError(w, http.StatusBadRequest, e)
	}
}

// lockedCheck consumes a LockRecord fault for id.
func (s *Server) lockedCheck(id string) *writeErr {
	full := toID18(id)
	if s.takeLock(full) {
		return errf("UNABLE_TO_LOCK_ROW", []string{}, "unable to obtain exclusive access to this record or 1 records: %s", full)
	}
	return nil
}

// toID18 returns the 18-character form of a well-formed id, else id itself.
func toID18(id string) string {
	if full := sfid.To18(id); full != "" {
		return full
	}
	return id
}

// composite sObject Collections.
func (s *Server) handleComposite(w http.ResponseWriter, r *http.Request, ver string) {
	switch r.Method {
	case http.MethodPost, http.MethodPatch:
		var body struct {
			AllOrNone bool             `json:"allOrNone"`
			Records   []map[string]any `json:"records"`
		}
		if err := decodeBody(r, &body); err != nil {
			jsonParseError(w, err)
			return
		}
		if len(body.Records) > 200 {
			writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
			return
		}
		s.writeCollection(w, r.Method == http.MethodPost, body.AllOrNone, body.Records)
	case http.MethodDelete:
		q := r.URL.Query()
		var ids []string
		for _, id := range strings.Split(q.Get("ids"), ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			writeError(w, http.StatusBadRequest, "MISSING_ARGUMENT", "ids parameter is required")
			return
		}
		if len(ids) > 200 {
			writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
			return
		}
		allOrNone, _ := strconv.ParseBool(q.Get("allOrNone"))
		s.deleteCollection(w, ids, allOrNone)
	default:
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are POST,PATCH,DELETE", r.Method)
	}
}

// saveResult is one entry of a collection answer.
type saveResult struct {
	ID      *string     `json:"id,omitempty"`
	Success bool        `json:"success"`
	Errors  []*writeErr `json:"errors"`
}

func rolledBack() *writeErr {
	return errf("ALL_OR_NONE_OPERATION_ROLLED_BACK", []string{}, "Record rolled back because not all records were valid and the request was using AllOrNone header")
}

func (s *Server) writeCollection(w http.ResponseWriter, create, allOrNone bool, recs []map[string]any) {
	results := make([]saveResult, len(recs))
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, results)
	}()
	type pending struct {
		o   *objectDef
		old *record // for updates: the record before (for rollback)
		rec *record // the record after
		new bool
	}
	applied := make([]*pending, len(recs))
	failed := false
	for i, body := range recs {
		attrs, _ := body["attributes"].(map[string]any)
		typ, _ := attrs["type"].(string)
		var idp *string
		if !create {
			for k, v := range body { // field names are case-insensitive
				if id, _ := v.(string); strings.EqualFold(k, "Id") && id != "" {
					idc := id
					idp = &idc
				}
			}
		}
		fail := func(e *writeErr) {
			results[i] = saveResult{ID: idp, Success: false, Errors: []*writeErr{e}}
			failed = true
		}
		if typ == "" {
			fail(errf("INVALID_TYPE", []string{}, "sObject type must be specified in attributes"))
			continue
		}
		o := s.object(typ)
		if o == nil {
			fail(errf("INVALID_TYPE", []string{}, "sObject type '%s' is not supported.", typ))
			continue
		}
		if create {
			id, werr := s.createLocked(o, body, s.apiUser)
			if werr != nil {
				fail(werr)
				continue
			}
			applied[i] = &pending{o: o, rec: o.byID[id], new: true}
			idc := id
			results[i] = saveResult{ID: &idc, Success: true, Errors: []*writeErr{}}
			continue
		}
		if idp == nil {
			fail(errf("MISSING_ARGUMENT", []string{"Id"}, "Id not specified in an update call"))
			continue
		}
		if werr := s.lockedCheck(*idp); werr != nil {
			fail(werr)
			continue
		}
		rec, werr := s.findLive(o, *idp)
		if werr != nil {
			fail(werr)
			continue
		}
		before := *rec // data is immutable once packed: a shallow copy keeps the old values
		if werr := s.updateLocked(o, *idp, body, s.apiUser); werr != nil {
			fail(werr)
			continue
		}
		full := rec.id
		idp = &full
		applied[i] = &pending{o: o, old: &before, rec: rec}
		results[i] = saveResult{ID: idp, Success: true, Errors: []*writeErr{}}
	}
	if allOrNone && failed {
		for i, p := range applied {
			if p == nil {
				continue
			}
			if p.new {
				p.o.remove(p.rec)
				results[i] = saveResult{Success: false, Errors: []*writeErr{rolledBack()}}
			} else {
				*p.rec = *p.old
				p.o.orderDirty = true
				results[i] = saveResult{ID: results[i].ID, Success: false, Errors: []*writeErr{rolledBack()}}
			}
		}
	}
}

func (s *Server) deleteCollection(w http.ResponseWriter, ids []string, allOrNone bool) {
	results := make([]saveResult, len(ids))
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, results)
	}()
	type done struct {
		o   *objectDef
		rec *record
		old record
	}
	var applied []int
	undo := map[int]done{}
	failed := false
	for i, id := range ids {
		idc := toID18(id)
		fail := func(e *writeErr) {
			results[i] = saveResult{ID: &idc, Success: false, Errors: []*writeErr{e}}
			failed = true
		}
		var o *objectDef
		if len(id) >= 3 {
			o = s.byPrefix[id[:3]]
		}
		if _, err := sfid.Normalize(id); o == nil || err != nil {
			fail(errf("MALFORMED_ID", []string{}, "malformed id %s", id))
			continue
		}
		if werr := s.lockedCheck(idc); werr != nil {
			fail(werr)
			continue
		}
		rec, werr := s.findLive(o, idc)
		if werr != nil {
			fail(werr)
			continue
		}
		before := *rec
		if werr := s.deleteLocked(o, idc, s.apiUser); werr != nil {
			fail(werr)
			continue
		}
		applied = append(applied, i)
		undo[i] = done{o: o, rec: rec, old: before}
		results[i] = saveResult{ID: &idc, Success: true, Errors: []*writeErr{}}
	}
	if allOrNone && failed {
		for _, i := range applied {
			d := undo[i]
			*d.rec = d.old
			d.o.orderDirty = true
			// drop the deletion entry
			for j := len(d.o.deletions) - 1; j >= 0; j-- {
				if d.o.deletions[j].id == d.rec.id {
					d.o.deletions = append(d.o.deletions[:j], d.o.deletions[j+1:]...)
					break
				}
			}
			results[i] = saveResult{ID: results[i].ID, Success: false, Errors: []*writeErr{rolledBack()}}
		}
	}
}

// handleRetrieve answers GET /composite/sobjects/{Object}?ids=&fields= and
// POST with {"ids":[...],"fields":[...]}: the records in request order, null
// for an id that matches no live record.
func (s *Server) handleRetrieve(w http.ResponseWriter, r *http.Request, ver, name string) {
	var body struct {
		IDs    []string `json:"ids"`
		Fields []string `json:"fields"`
	}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		body.IDs = strings.Split(q.Get("ids"), ",")
		body.Fields = strings.Split(q.Get("fields"), ",")
	case http.MethodPost:
		if err := decodeBody(r, &body); err != nil {
			jsonParseError(w, err)
			return
		}
	default:
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not allowed. Allowed are GET,POST", r.Method)
		return
	}
	if len(body.IDs) > 2000 {
		writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records into this call")
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.object(name)
	if o == nil {
		writeNotFound(w)
		return
	}
	var fields []*fieldDef
	for _, n := range body.Fields {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		f := o.field(n)
		if f == nil {
			writeError(w, http.StatusBadRequest, "INVALID_FIELD", "No such column '%s' on sobject of type %s", n, o.Name)
			return
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		writeError(w, http.StatusBadRequest, "MISSING_ARGUMENT", "fields parameter is required")
		return
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, id := range body.IDs {
		if i > 0 {
			buf.WriteByte(',')
		}
		rec, werr := s.findLive(o, strings.TrimSpace(id))
		if werr != nil {
			buf.WriteString("null")
			continue
		}
		o.recordJSON(&buf, rec, fields, ver)
	}
	buf.WriteByte(']')
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
