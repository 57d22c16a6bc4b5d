// Package sim is a Salesforce simulator: a real HTTP server that answers like
// Salesforce's REST API (v62.0; any vNN.N in the path is accepted): OAuth2
// refresh-token flow, describe, SOQL query/queryAll with paging, single
// records and sObject Collections, getUpdated/getDeleted, limits, and the
// faults a sync engine must survive (5xx, dropped connections, lost answers
// after a commit, locked rows, expired sessions, revoked refresh tokens,
// exhausted daily limits). Standard objects' fields come from describes
// recorded from a real org.
//
// Besides the API, the simulator can act as "another Salesforce user"
// (Create/Update/Delete bypass limits and faults), and exposes the same
// controls over HTTP under /_sim/ (see serveControl).
//
// Endpoints (vXX.X is any version; request-count keys in brackets):
//
//	POST /services/oauth2/token                 refresh_token grant [token]
//	GET  /services/oauth2/userinfo, /id/{org}/{user}      [userinfo]
//	GET  /services/data                         versions [versions]
//	GET  /services/data/vXX.X                   resources [resources]
//	GET  .../limits                             DailyApiRequests... [limits]
//	GET  .../sobjects                           global describe [sobjects]
//	GET  .../sobjects/{X}/describe              [describe]
//	GET  .../query?q=, .../queryAll?q=          [query], [queryAll]
//	GET  .../query/{locator}-{offset}           next page [queryMore]
//	GET  .../sobjects/{X}/updated?start=&end=   getUpdated [updated]
//	GET  .../sobjects/{X}/deleted?start=&end=   getDeleted [deleted]
//	GET|POST .../sobjects/{X}                   info, create [sobject:GET|POST]
//	GET|PATCH|DELETE .../sobjects/{X}/{id}      [sobject:GET|PATCH|DELETE]
//	POST|PATCH|DELETE .../composite/sobjects    collections [composite:POST|PATCH|DELETE]
//	GET|POST .../composite/sobjects/{X}         collections retrieve [composite:retrieve]
//
// Every API answer carries Sforce-Limit-Info: api-usage=N/M.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
)

// Options configure a simulator.
type Options struct {
	// Seed is how many sample records New adds to each default object
	// (Account, Contact, Lead, Opportunity; User always has a few).
	Seed int
	// RandSeed makes seeded data deterministic.
	RandSeed int64
	// DailyLimit is the org's DailyApiRequests maximum (default 100000).
	DailyLimit int
	// ClientID and ClientSecret of the connected app (defaults provided).
	ClientID, ClientSecret string
	// Now, if set, freezes the simulator clock at this instant (see SetNow);
	// otherwise it follows the wall clock.
	Now time.Time
	// SessionTimeout, if set, expires an access token that long after it
	// was issued (simulator clock), like an org's session timeout.
	SessionTimeout time.Duration
}

// Credentials are what a client needs to connect to the simulator.
type Credentials struct {
	InstanceURL  string `json:"instance_url"`
	LoginURL     string `json:"login_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
	AccessToken  string `json:"access_token"`
}

// RequestEntry is one served request.
type RequestEntry struct {
	At time.Time `json:"at"` // the simulator's clock (second precision, movable)
	// Received is the wall-clock moment the request arrived, at full
	// precision: for checking request rates.
	Received time.Time `json:"received"`
	Key      string    `json:"key"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Query    string    `json:"query,omitempty"` // the raw query string (SOQL, ids); never credentials
	Status   int       `json:"status"`          // 0: connection dropped without an answer
}

// Server is the simulator. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	rng  *mrand.Rand

	mu       sync.RWMutex // the store: objects and records
	objects  map[string]*objectDef
	byLower  map[string]*objectDef
	byPrefix map[string]*objectDef
	nextPfx  int
	cursors  map[string]*cursor
	curOrder []string
	curN     uint64

	cmu          sync.Mutex // control state below
	frozen       bool
	at           time.Time
	offset       time.Duration
	tokens       map[string]time.Time // access token → issued at (simulator clock)
	accessToken  string
	refreshToken string
	revoked      bool
	dailyMax     int
	usage        map[int64]int // API requests by hour (simulator clock): a rolling 24-hour window
	failStatus   int
	failN        int
	delay        time.Duration
	delayN       int
	dropN        int
	dropCommitN  int
	locks        map[string]int
	counts       map[string]int
	log          []RequestEntry

	orgID       string
	apiUser     string // the credential's user: API writes are made as this user
	otherUser   string // "another Salesforce user": Create/Update/Delete
	created     time.Time
	listener    net.Listener
	httpSrv     *http.Server
	url         string
	instanceURL string
}

// The org and instance codes used in generated ids.
const instanceCode = "5g"

// idBase offsets generated ids so they look like an org's (0000AbC...).
const idBase = 10 * 62 * 62 * 62 * 62 * 62

// New builds a simulator with the default objects, seeded per opts. Call
// Start to serve HTTP.
func New(opts Options) *Server {
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = 100000
	}
	if opts.ClientID == "" {
		opts.ClientID = "3MVG9tether.sim.client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim-client-secret"
	}
	s := &Server{
		opts:     opts,
		rng:      mrand.New(mrand.NewSource(opts.RandSeed)),
		objects:  map[string]*objectDef{},
		byLower:  map[string]*objectDef{},
		byPrefix: map[string]*objectDef{},
		cursors:  map[string]*cursor{},
		tokens:   map[string]time.Time{},
		locks:    map[string]int{},
		counts:   map[string]int{},
		usage:    map[int64]int{},
		dailyMax: opts.DailyLimit,
	}
	if !opts.Now.IsZero() {
		s.frozen, s.at = true, opts.Now.UTC().Truncate(time.Second)
	}
	s.created = s.Now().Add(-90 * 24 * time.Hour)
	s.orgID = sfid.New("00D", instanceCode, 1)
	s.refreshToken = "5Aep861sim" + randHex(24)
	s.accessToken = s.newAccessToken()
	var account *objectDef
	for _, name := range []string{"Account", "Contact", "Lead", "Opportunity"} {
		o, err := loadRecorded(name)
		if err != nil {
			panic(fmt.Sprintf("sim: embedded describe: %v", err)) // embedded at build time
		}
		s.register(o)
		if name == "Account" {
			account = o
		}
	}
	s.register(userObject(account))
	s.apiUser = s.seedUser("Integration", "User", "integration@tether.example", "integ")
	s.otherUser = s.seedUser("Alex", "Other", "alex.other@tether.example", "aother")
	for i := 0; i < 3; i++ {
		s.seedObjectLocked("User", 1)
	}
	for _, name := range []string{"Account", "Contact", "Lead", "Opportunity"} {
		s.seedObjectLocked(name, opts.Seed)
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (s *Server) newAccessToken() string {
	tok := s.orgID[:15] + "!AQ4AQsim" + randHex(20)
	s.tokens[tok] = s.nowLocked()
	return tok
}

func (s *Server) register(o *objectDef) {
	s.objects[o.Name] = o
	s.byLower[strings.ToLower(o.Name)] = o
	s.byPrefix[o.KeyPrefix] = o
}

func (s *Server) object(name string) *objectDef { return s.byLower[strings.ToLower(name)] }

// Start serves HTTP on addr ("127.0.0.1:0" for any free port) and returns
// the base URL (instance and login URL alike).
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sim listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	s.instanceURL = s.url
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s.url, nil
}

// URL is the base URL after Start.
func (s *Server) URL() string { return s.url }

// Close stops the HTTP server.
func (s *Server) Close() error {
	if s.httpSrv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		return s.httpSrv.Close()
	}
	return nil
}

// Credentials returns what a client needs to connect (after Start).
func (s *Server) Credentials() Credentials {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return Credentials{InstanceURL: s.url, LoginURL: s.url, ClientID: s.opts.ClientID, ClientSecret: s.opts.ClientSecret,
		RefreshToken: s.refreshToken, AccessToken: s.accessToken}
}

// Now is the simulator clock (second precision).
func (s *Server) Now() time.Time {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time {
	if s.frozen {
		return s.at
	}
	return time.Now().Add(s.offset).UTC().Truncate(time.Second)
}

// SetNow freezes the clock at t; Advance moves it.
func (s *Server) SetNow(t time.Time) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.frozen, s.at = true, t.UTC().Truncate(time.Second)
}

// Advance moves the clock forward by d (frozen or not).
func (s *Server) Advance(d time.Duration) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.frozen {
		s.at = s.at.Add(d).Truncate(time.Second)
	} else {
		s.offset += d
	}
}

// FailNext makes the next n API requests answer status (500, 502, 503...)
// with Salesforce's body for it.
func (s *Server) FailNext(status, n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.failStatus, s.failN = status, n
}

// DelayNext delays the next n API requests by d.
func (s *Server) DelayNext(d time.Duration, n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.delay, s.delayN = d, n
}

// DropNext closes the connection of the next n API requests without an answer.
func (s *Server) DropNext(n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.dropN = n
}

// DropAfterCommitNext applies the next n write requests, then closes the
// connection without an answer (the client cannot know the outcome).
func (s *Server) DropAfterCommitNext(n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.dropCommitN = n
}

// LockRecord makes the next n API writes to id fail with UNABLE_TO_LOCK_ROW.
func (s *Server) LockRecord(id string, n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if full := sfid.To18(id); full != "" {
		id = full
	}
	s.locks[id] = n
}

func (s *Server) takeLock(id string) bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.locks[id] > 0 {
		s.locks[id]--
		return true
	}
	return false
}

// ExpireTokens invalidates every issued access token: requests answer 401
// INVALID_SESSION_ID until the client refreshes.
func (s *Server) ExpireTokens() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.tokens = map[string]time.Time{}
}

// RevokeRefreshToken makes the token endpoint answer invalid_grant.
func (s *Server) RevokeRefreshToken() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.revoked = true
}

// RestoreRefreshToken undoes RevokeRefreshToken.
func (s *Server) RestoreRefreshToken() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.revoked = false
}

// SetDailyLimit sets the org's DailyApiRequests maximum.
func (s *Server) SetDailyLimit(max int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.dailyMax = max
}

// SetDailyUsed sets how many API requests the org has used in the last 24
// hours (counted from now: they age out as the clock moves on a day).
func (s *Server) SetDailyUsed(n int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.usage = map[int64]int{s.nowLocked().Unix() / 3600: n}
}

// usedLocked sums the requests of the last 24 hours; caller holds cmu.
func (s *Server) usedLocked() int {
	h := s.nowLocked().Unix() / 3600
	n := 0
	for k, v := range s.usage {
		if k > h-24 {
			n += v
		} else {
			delete(s.usage, k)
		}
	}
	return n
}

// countUsageLocked records one API request; caller holds cmu.
func (s *Server) countUsageLocked() {
	s.usage[s.nowLocked().Unix()/3600]++
}

// Usage returns the daily API requests used and the maximum.
func (s *Server) Usage() (used, max int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.usedLocked(), s.dailyMax
}

// Requests returns request counts by endpoint key ("query", "composite:POST", ...).
func (s *Server) Requests() map[string]int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// ResetRequests clears the counts and the request log.
func (s *Server) ResetRequests() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.counts = map[string]int{}
	s.log = nil
}

// RequestLog returns the served requests in order.
func (s *Server) RequestLog() []RequestEntry {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return append([]RequestEntry(nil), s.log...)
}

// APIUserID is the id of the user the credential belongs to (API writes are
// made as this user); OtherUserID the user Create/Update/Delete act as.
func (s *Server) APIUserID() string { return s.apiUser }

// OtherUserID is the user the simulator's own Create/Update/Delete act as.
func (s *Server) OtherUserID() string { return s.otherUser }

// ErrNotFound is returned for an unknown object or record.
var ErrNotFound = errors.New("not found")

// WriteError is a validation failure of Create/Update (Salesforce's code and message).
type WriteError struct {
	Code    string
	Message string
	Fields  []string
}

func (e *WriteError) Error() string { return e.Code + ": " + e.Message }

func toErr(w *writeErr) error {
	if w == nil {
		return nil
	}
	return &WriteError{Code: w.StatusCode, Message: w.Message, Fields: w.Fields}
}

// Create adds a record as another Salesforce user and returns its id.
func (s *Server) Create(object string, fields map[string]any) (string, error) {
	var id string
	err := s.withObject("create", object, func(o *objectDef) error {
		var werr *writeErr
		if id, werr = s.createLocked(o, fields, s.otherUser); werr != nil {
			return fmt.Errorf("create %s: %w", object, toErr(werr))
		}
		return nil
	})
	return id, err
}

// withObject runs fn with the store locked and object looked up; verb names
// the operation in the error for an unknown object.
func (s *Server) withObject(verb, object string, fn func(o *objectDef) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.object(object)
	if o == nil {
		return fmt.Errorf("%s %s: %w", verb, object, ErrNotFound)
	}
	return fn(o)
}

// children calls fn for each record that deleting r cascades to (see cascades).
func (s *Server) children(o *objectDef, r *record, fn func(co *objectDef, cr *record)) {
	for _, c := range cascades[o.Name] {
		co := s.objects[c.child]
		if co == nil {
			continue
		}
		f := co.field(c.field)
		for _, cr := range co.recs {
			if cr.get(f.idx) == r.id {
				fn(co, cr)
			}
		}
	}
}

// Update changes a record as another Salesforce user (SystemModstamp moves).
func (s *Server) Update(object, id string, fields map[string]any) error {
	return s.withObject("update", object, func(o *objectDef) error {
		if werr := s.updateLocked(o, id, fields, s.otherUser); werr != nil {
			return fmt.Errorf("update %s %s: %w", object, id, toErr(werr))
		}
		return nil
	})
}

// Delete soft-deletes a record (recycle bin: IsDeleted, seen by queryAll and getDeleted).
func (s *Server) Delete(object, id string) error {
	return s.withObject("delete", object, func(o *objectDef) error {
		if werr := s.deleteLocked(o, id, s.otherUser); werr != nil {
			return fmt.Errorf("delete %s %s: %w", object, id, toErr(werr))
		}
		return nil
	})
}

// HardDelete removes a record for good (also from the recycle bin); only
// getDeleted reports it.
func (s *Server) HardDelete(object, id string) error {
	return s.withObject("hard delete", object, func(o *objectDef) error {
		r := o.byID[sfid.To18(id)]
		if r == nil {
			return fmt.Errorf("hard delete %s %s: %w", object, id, ErrNotFound)
		}
		if !r.deleted {
			o.deletions = append(o.deletions, deletion{id: r.id, at: s.Now().Unix()})
		}
		o.remove(r)
		return nil
	})
}

// Undelete restores a soft-deleted record from the recycle bin.
func (s *Server) Undelete(object, id string) error {
	return s.withObject("undelete", object, func(o *objectDef) error {
		r := o.byID[sfid.To18(id)]
		if r == nil || !r.deleted {
			return fmt.Errorf("undelete %s %s: %w", object, id, ErrNotFound)
		}
		deletedAt := r.deletedAt
		now := s.Now().Unix()
		restore := func(o *objectDef, r *record) {
			r.deleted, r.deletedAt = false, 0
			r.modified, r.stamp, r.modifiedBy = now, now, s.otherUser
			o.touched(r)
		}
		// Children deleted with it come back with it.
		s.children(o, r, func(co *objectDef, cr *record) {
			if cr.deleted && cr.deletedAt == deletedAt {
				restore(co, cr)
			}
		})
		restore(o, r)
		return nil
	})
}

// Touch moves a record's SystemModstamp (not LastModifiedDate), as
// Salesforce's own system updates do (roll-ups, sharing recalculation).
func (s *Server) Touch(object, id string) error {
	return s.withObject("touch", object, func(o *objectDef) error {
		r := o.byID[sfid.To18(id)]
		if r == nil {
			return fmt.Errorf("touch %s %s: %w", object, id, ErrNotFound)
		}
		r.stamp = s.Now().Unix()
		o.touched(r)
		return nil
	})
}

// Get returns a record's fields (JSON-like values: datetimes as Salesforce
// strings), including a soft-deleted record.
func (s *Server) Get(object, id string) (map[string]any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.object(object)
	if o == nil {
		return nil, false
	}
	r := o.byID[sfid.To18(id)]
	if r == nil {
		return nil, false
	}
	return o.recordMap(r), true
}

// Records returns every live (not deleted) record of an object, in creation order.
func (s *Server) Records(object string) []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.object(object)
	if o == nil {
		return nil
	}
	var out []map[string]any
	for _, r := range o.recs {
		if !r.deleted {
			out = append(out, o.recordMap(r))
		}
	}
	return out
}

// Count returns the number of live and soft-deleted records of an object.
func (s *Server) Count(object string) (live, deleted int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.object(object)
	if o == nil {
		return 0, 0
	}
	for _, r := range o.recs {
		if r.deleted {
			deleted++
		} else {
			live++
		}
	}
	return live, deleted
}

// Objects lists the object names.
func (s *Server) Objects() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedNames(s.objects)
}

func (o *objectDef) recordMap(r *record) map[string]any {
	m := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		m[f.Name] = jsonValue(o.value(r, f))
	}
	return m
}

// AddCustomObject adds a custom object (and its standard fields) at run time.
func (s *Server) AddCustomObject(c CustomObject) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.object(c.Name) != nil {
		return fmt.Errorf("add custom object %s: already exists", c.Name)
	}
	prefix := customPrefix(s.nextPfx)
	s.nextPfx++
	o, err := customObject(s.objects["Account"], prefix, c)
	if err != nil {
		return fmt.Errorf("add custom object: %w", err)
	}
	spec := c
	spec.Fields = append([]CustomField(nil), c.Fields...)
	o.spec = &spec
	for _, f := range o.fields {
		for _, r := range f.ReferenceTo {
			if f.Name != "OwnerId" && s.object(r) == nil && !strings.HasSuffix(f.Name, "ById") {
				return fmt.Errorf("add custom object %s: field %s references unknown object %s", c.Name, f.Name, r)
			}
		}
	}
	s.register(o)
	return nil
}

// customPrefix gives the n-th custom object key prefix: a0A, a0B, ..., a09, a1A, ...
func customPrefix(n int) string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const second = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return "a" + string(second[(n/len(digits))%len(second)]) + string(digits[n%len(digits)])
}

// createLocked inserts a record; caller holds mu.
func (s *Server) createLocked(o *objectDef, fields map[string]any, user string) (string, *writeErr) {
	r, werr := s.apply(o, writeOp{values: fields, create: true, user: user})
	if werr != nil {
		return "", werr
	}
	o.nextN++
	r.id = sfid.New(o.KeyPrefix, instanceCode, o.nextN+idBase)
	now := s.Now().Unix()
	r.created, r.modified, r.stamp = now, now, now
	r.createdBy, r.modifiedBy = user, user
	if f := o.field("Name"); f != nil && o.Custom && r.get(f.idx) == nil {
		r.set(f.idx, r.id)
	}
	r.pack()
	o.add(r)
	return r.id, nil
}

func (s *Server) findLive(o *objectDef, id string) (*record, *writeErr) {
	full, err := sfid.Normalize(id)
	if err != nil || sfid.Prefix(full) != o.KeyPrefix {
		return nil, errf("MALFORMED_ID", []string{"Id"}, "%s ID: id value of incorrect type: %s", o.Label, id)
	}
	r := o.byID[full]
	if r == nil {
		return nil, errf("INVALID_CROSS_REFERENCE_KEY", []string{}, "invalid cross reference id")
	}
	if r.deleted {
		return nil, errf("ENTITY_IS_DELETED", []string{}, "entity is deleted")
	}
	return r, nil
}

// updateLocked changes a record; caller holds mu.
func (s *Server) updateLocked(o *objectDef, id string, fields map[string]any, user string) *writeErr {
	r, werr := s.findLive(o, id)
	if werr != nil {
		return werr
	}
	nr, werr := s.apply(o, writeOp{values: fields, rec: r, user: user})
	if werr != nil {
		return werr
	}
	now := s.Now().Unix()
	nr.pack()
	r.data = nr.data
	r.modified, r.stamp, r.modifiedBy = now, now, user
	o.touched(r)
	return nil
}

// deleteLocked soft-deletes a record; caller holds mu.
func (s *Server) deleteLocked(o *objectDef, id, user string) *writeErr {
	r, werr := s.findLive(o, id)
	if werr != nil {
		return werr
	}
	if o.Name == "User" {
		return errf("DELETE_FAILED", []string{}, "Users cannot be deleted")
	}
	now := s.Now().Unix()
	s.softDeleteLocked(o, r, user, now)
	// As in Salesforce, an Account's Contacts and Opportunities go to the
	// recycle bin with it (and come back when it is undeleted).
	s.children(o, r, func(co *objectDef, cr *record) {
		if !cr.deleted {
			s.softDeleteLocked(co, cr, user, now)
		}
	})
	return nil
}

// cascades lists, per object, the children deleted with a record: the child
// object and its reference field.
var cascades = map[string][]struct{ child, field string }{
	"Account": {{"Contact", "AccountId"}, {"Opportunity", "AccountId"}},
}

func (s *Server) softDeleteLocked(o *objectDef, r *record, user string, now int64) {
	r.deleted, r.deletedAt = true, now
	r.modified, r.stamp, r.modifiedBy = now, now, user
	o.touched(r)
	o.deletions = append(o.deletions, deletion{id: r.id, at: now})
}

// SeedObject adds n realistic records to an object.
func (s *Server) SeedObject(object string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.object(object) == nil {
		return fmt.Errorf("seed %s: %w", object, ErrNotFound)
	}
	return s.seedObjectLocked(object, n)
}

// Stats describes the store for memory checks.
func (s *Server) Stats() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int{}
	for _, name := range sortedNames(s.objects) {
		out[name] = len(s.objects[name].recs)
	}
	return out
}
