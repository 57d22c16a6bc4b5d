// Package upstream defines what tether needs from a SaaS provider, in terms
// that do not assume any one provider: describe objects, read records changed
// since a cursor, read deletes, and write batches of changes with per-record
// outcomes. Salesforce (upstream/salesforce) is the first implementation;
// nothing outside that package may assume Salesforce.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind is the provider-neutral type of a field; schema/ maps it to a
// PostgreSQL type and the provider maps its own types onto it.
type Kind string

// Field kinds.
const (
	KindID        Kind = "id"        // the record's own id (text)
	KindReference Kind = "reference" // the id of another record (text)
	KindText      Kind = "text"      // any string-like value (text)
	KindTextArray Kind = "textarray" // several values of a set (text[])
	KindBool      Kind = "bool"      // boolean
	KindInt       Kind = "int"       // 32-bit integer
	KindBigInt    Kind = "bigint"    // 64-bit integer
	KindDecimal   Kind = "decimal"   // numeric (currency, percent, double)
	KindDate      Kind = "date"      // calendar date
	KindTimestamp Kind = "timestamp" // instant (timestamptz)
	KindTime      Kind = "time"      // time of day
	KindJSON      Kind = "json"      // structured value (compound address/location) → jsonb
	KindBinary    Kind = "binary"    // blobs: not synced by default
	KindUnknown   Kind = "unknown"   // a type the provider does not map: not synced
)

// Object describes one provider object (a Salesforce sObject).
type Object struct {
	Name       string  // API name, e.g. "Account", "Invoice__c"
	Label      string  // human label
	Custom     bool    // a user-defined object
	Queryable  bool    // records can be read
	Createable bool    // records can be created
	Updateable bool    // records can be updated
	Deletable  bool    // records can be deleted
	Fields     []Field // in the provider's order
}

// Field returns the field with the given API name, or nil.
func (o *Object) Field(name string) *Field {
	for i := range o.Fields {
		if o.Fields[i].Name == name {
			return &o.Fields[i]
		}
	}
	return nil
}

// Field describes one field of an object.
type Field struct {
	Name         string   // API name, e.g. "FirstName", "Region_Code__c"
	Label        string   // human label
	Kind         Kind     // provider-neutral type
	SourceType   string   // the provider's own type name ("picklist", "currency", ...)
	Length       int      // maximum length of text values, 0 if none
	Precision    int      // digits for decimals, 0 if unknown
	Scale        int      // digits after the point, 0 if unknown
	Createable   bool     // may be set on create
	Updateable   bool     // may be set on update
	Nillable     bool     // may be null
	Calculated   bool     // a formula: computed by the provider, read-only
	Compound     string   // the compound field this is a component of ("BillingAddress"), or ""
	ReferenceTo  []string // objects a reference may point to
	Picklist     []string // allowed values for picklists, if any
	Restricted   bool     // only Picklist values are accepted
	NotSynced    string   // non-empty: why this field is not synced (e.g. "base64 blobs are not synced")
	ExternalID   bool     // an external id field
	DefaultOnNew bool     // the provider fills a default on create
}

// Record is one record as the provider returned it, keyed by field API name.
// Values are nil, string, bool, json.Number, []string (KindTextArray) or
// map[string]any (KindJSON). Dates and timestamps are strings in ISO 8601.
type Record map[string]any

// ID returns the record's id.
func (r Record) ID() string { s, _ := r["Id"].(string); return s }

// Cursor orders records for incremental reads: by modification stamp, then id
// as a tie-breaker, since many records may share one stamp second.
type Cursor struct {
	Stamp time.Time `json:"stamp"`
	ID    string    `json:"id"`
}

// IsZero reports whether the cursor is at the very beginning.
func (c Cursor) IsZero() bool { return c.Stamp.IsZero() && c.ID == "" }

// After reports whether (stamp, id) comes strictly after the cursor.
func (c Cursor) After(stamp time.Time, id string) bool {
	if stamp.After(c.Stamp) {
		return true
	}
	return stamp.Equal(c.Stamp) && id > c.ID
}

// ReadRequest asks for records changed after a cursor.
type ReadRequest struct {
	Object         string   // API name
	Fields         []string // fields to return (the id and stamp fields are always included)
	After          Cursor   // only records strictly after this (zero: all)
	IncludeDeleted bool     // also return soft-deleted records (Deleted reports them)
	PageSize       int      // hint; the provider may cap it
	// IDs, when set, reads only these records (at most MaxReadIDs) and
	// ignores After: a record not returned no longer exists (or is not
	// readable).
	IDs []string
}

// MaxReadIDs is the most ids one ReadRequest may name.
const MaxReadIDs = 200

// Page is one page of a read, ordered by (stamp, id).
type Page struct {
	Records []Record
	// Deleted marks, per index in Records, records that are soft-deleted.
	Deleted []bool
	// Last is the cursor of the last record in the page (zero if empty).
	Last Cursor
	// Total is the number of records the whole read will return, if known (-1 otherwise).
	Total int64
	// Next is an opaque token for the next page; "" when this is the last.
	Next string
}

// Deleted is a record deleted upstream.
type Deleted struct {
	ID        string
	DeletedAt time.Time
}

// DeletedResult is the answer to a deleted-records read.
type DeletedResult struct {
	Records []Deleted
	// EarliestAvailable is the oldest moment the provider still reports deletes for.
	EarliestAvailable time.Time
	// LatestCovered is the moment up to which the answer is complete; the next
	// read should start there.
	LatestCovered time.Time
}

// Op is a write operation.
type Op string

// Write operations.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one record to write. Fields is keyed by field API name; values are
// nil, string, bool, json.Number, []string, or time.Time. ID is empty for creates.
type Change struct {
	ID     string
	Fields map[string]any
}

// Result is the outcome of one Change, in request order.
type Result struct {
	ID     string // the record's id (for creates: the new id when OK)
	OK     bool
	Status int          // HTTP-like status: 201 created, 200 updated, 204 deleted, or the error's status
	Errors []FieldError // why it failed
	// Transient marks a failure worth retrying later (lock contention, timeout).
	Transient bool
	// Gone marks an update or delete of a record that no longer exists upstream.
	Gone bool
}

// FieldError is one error reported for one record.
type FieldError struct {
	Code    string   // e.g. "REQUIRED_FIELD_MISSING"
	Message string   // the provider's text
	Fields  []string // the fields it concerns
}

// Message renders errors as "CODE: message (fields: A, B); ...".
func (r Result) Message() string {
	s := ""
	for i, e := range r.Errors {
		if i > 0 {
			s += "; "
		}
		s += e.Code + ": " + e.Message
		if len(e.Fields) > 0 {
			s += " (fields: "
			for j, f := range e.Fields {
				if j > 0 {
					s += ", "
				}
				s += f
			}
			s += ")"
		}
	}
	return s
}

// Provider is a SaaS API tether syncs with. Implementations must be safe for
// concurrent use and must route every request through the shared rate limiter,
// writes ahead of reads.
type Provider interface {
	// Name is a short provider name ("salesforce").
	Name() string
	// Objects lists the API names of the objects the credential can read.
	Objects(ctx context.Context) ([]ObjectSummary, error)
	// Describe returns one object's fields.
	Describe(ctx context.Context, object string) (*Object, error)
	// Count returns how many (non-deleted) records an object holds.
	Count(ctx context.Context, object string) (int64, error)
	// Read returns the first page of records changed after req.After.
	Read(ctx context.Context, req ReadRequest) (*Page, error)
	// ReadNext returns the page after one whose Next was token.
	ReadNext(ctx context.Context, object string, token string) (*Page, error)
	// ReadDeleted lists records deleted (hard or soft) in [start, end].
	// It returns an error wrapping ErrWindowExpired when start is older than
	// the provider keeps deletes for.
	ReadDeleted(ctx context.Context, object string, start, end time.Time) (*DeletedResult, error)
	// Write sends one batch of changes of one object and operation, at most
	// MaxBatch long, and reports one Result per change in order. An error is
	// returned only when the whole request failed (see Error).
	Write(ctx context.Context, object string, op Op, changes []Change) ([]Result, error)
	// FindCreated looks for records created since a moment whose fields equal
	// the given ones, so a create whose outcome is unknown is not repeated.
	FindCreated(ctx context.Context, object string, since time.Time, fields map[string]any) ([]string, error)
	// MaxBatch is the most changes one Write may carry.
	MaxBatch() int
}

// WriteReserver is implemented by providers whose requests share a rate
// limiter. ReserveWrite waits for a write's turn and returns a context whose
// first request uses that turn, and a function that gives the turn back if no
// request used it. The writer waits for its turn before it gathers a batch,
// so that changes arriving during the wait join the batch.
type WriteReserver interface {
	ReserveWrite(ctx context.Context) (context.Context, func(), error)
}

// ObjectSummary is one entry of Objects.
type ObjectSummary struct {
	Name      string
	Label     string
	Custom    bool
	Queryable bool
}

// CodeUnknownOutcome is the Error.Code of a write whose request was sent but
// whose answer was lost (connection dropped, timeout): the provider may have
// applied it. Callers must find out (FindCreated) before sending a create again.
const CodeUnknownOutcome = "UNKNOWN_OUTCOME"

// ErrWindowExpired means a deleted-records read asked further back than the
// provider keeps deletes: the caller must resync the object.
var ErrWindowExpired = errors.New("upstream: deleted-records window expired")

// Class says how a caller should react to an error.
type Class int

// Error classes.
const (
	// Permanent: this request (or record) will fail again; record it and move on.
	Permanent Class = iota
	// Transient: retry with backoff (network, 5xx, lock contention, expired session).
	Transient
	// Auth: the credential is revoked or invalid; the user must act. Pause, do not fail rows.
	Auth
	// Quota: the API limit is exhausted; pause until it returns. Do not fail rows.
	Quota
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Auth:
		return "auth"
	case Quota:
		return "quota"
	default:
		return "permanent"
	}
}

// Error is a failed request, classified once by the provider.
type Error struct {
	Class   Class
	Status  int    // HTTP status, 0 for network errors
	Code    string // provider error code, e.g. "INVALID_SESSION_ID"
	Message string // provider message (never a secret)
	Err     error  // underlying cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s error", e.Class)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of an *Error inside err, else Permanent.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Permanent
}

// Number is a convenience for building json.Number values.
func Number(s string) json.Number { return json.Number(s) }
