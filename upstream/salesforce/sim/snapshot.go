package sim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
)

// Snapshot format: one JSON document. snapshotFormat names it, so a file
// that is not a simulator snapshot is told apart from a corrupt one;
// snapshotVersion changes when the layout does.
const (
	snapshotFormat  = "tether-salesforce-sim-snapshot"
	snapshotVersion = 1
)

// ErrSnapshot is wrapped by every error Load returns for a file that is not
// a usable snapshot (wrong format, unsupported version, corrupt content).
var ErrSnapshot = errors.New("bad simulator snapshot")

type snapshot struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	SavedAt string `json:"savedAt"`

	OrgID        string `json:"orgId"`
	APIUser      string `json:"apiUser"`
	OtherUser    string `json:"otherUser"`
	OrgCreated   int64  `json:"orgCreated"` // unix seconds
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	RefreshToken string `json:"refreshToken"`
	Revoked      bool   `json:"revoked,omitempty"`

	DailyMax int           `json:"dailyMax"`
	Usage    map[int64]int `json:"usage"` // API requests by hour (unix hour, simulator clock)

	Frozen  bool          `json:"frozen"`
	At      string        `json:"at,omitempty"` // the frozen clock (RFC 3339)
	Offset  time.Duration `json:"offset"`       // the running clock's offset from the wall clock (ns)
	NextPfx int           `json:"nextPrefix"`   // custom object key prefixes handed out

	Objects []snapObject `json:"objects"`
}

type snapObject struct {
	Name      string        `json:"name"`
	KeyPrefix string        `json:"keyPrefix"`
	Custom    *CustomObject `json:"custom,omitempty"` // declaration of a custom object added at run time
	NextN     uint64        `json:"nextN"`            // id counter
	Deletions []snapDeleted `json:"deletions"`        // getDeleted log
	Records   []snapRecord  `json:"records"`          // creation order, soft-deleted included
}

type snapDeleted struct {
	ID string `json:"id"`
	At int64  `json:"at"`
}

type snapRecord struct {
	ID         string         `json:"id"`
	Created    int64          `json:"created"`
	Modified   int64          `json:"modified"`
	Stamp      int64          `json:"stamp"`
	CreatedBy  string         `json:"createdBy"`
	ModifiedBy string         `json:"modifiedBy"`
	Deleted    bool           `json:"deleted,omitempty"`
	DeletedAt  int64          `json:"deletedAt,omitempty"`
	Fields     map[string]any `json:"fields"` // string, bool, number, or {"time": RFC 3339} for a stored datetime
}

// Save writes the simulator's whole state as JSON to w: objects (custom
// ones added at run time included), every record (soft-deleted ones
// included), the getDeleted log, id counters, the refresh token, client
// credentials, org and user ids, daily usage and the clock. Access tokens,
// open query cursors, pending faults and request counts are not saved.
func (s *Server) Save(w io.Writer) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.cmu.Lock()
	snap := snapshot{
		Format: snapshotFormat, Version: snapshotVersion, SavedAt: time.Now().UTC().Format(time.RFC3339),
		OrgID: s.orgID, APIUser: s.apiUser, OtherUser: s.otherUser, OrgCreated: s.created.Unix(),
		ClientID: s.opts.ClientID, ClientSecret: s.opts.ClientSecret, RefreshToken: s.refreshToken, Revoked: s.revoked,
		DailyMax: s.dailyMax, Usage: make(map[int64]int, len(s.usage)),
		Frozen: s.frozen, Offset: s.offset, NextPfx: s.nextPfx,
	}
	for k, v := range s.usage {
		snap.Usage[k] = v
	}
	if s.frozen {
		snap.At = s.at.Format(time.RFC3339)
	}
	s.cmu.Unlock()

	for _, name := range sortedNames(s.objects) {
		o := s.objects[name]
		so := snapObject{Name: o.Name, KeyPrefix: o.KeyPrefix, Custom: o.spec, NextN: o.nextN,
			Deletions: make([]snapDeleted, len(o.deletions)), Records: make([]snapRecord, 0, len(o.recs))}
		for i, d := range o.deletions {
			so.Deletions[i] = snapDeleted{ID: d.id, At: d.at}
		}
		for _, r := range o.recs {
			sr := snapRecord{ID: r.id, Created: r.created, Modified: r.modified, Stamp: r.stamp,
				CreatedBy: r.createdBy, ModifiedBy: r.modifiedBy, Deleted: r.deleted, DeletedAt: r.deletedAt,
				Fields: map[string]any{}}
			for _, sl := range r.slots() {
				if int(sl.f) >= len(o.fields) {
					return fmt.Errorf("save %s %s: value for unknown field #%d", o.Name, r.id, sl.f)
				}
				v := sl.v
				if t, ok := v.(time.Time); ok {
					v = map[string]string{"time": t.UTC().Format(time.RFC3339Nano)}
				}
				sr.Fields[o.fields[sl.f].Name] = v
			}
			so.Records = append(so.Records, sr)
		}
		snap.Objects = append(snap.Objects, so)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := json.NewEncoder(bw).Encode(&snap); err != nil {
		return fmt.Errorf("save simulator snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save simulator snapshot: %w", err)
	}
	return nil
}

// Load replaces the simulator's state with a snapshot written by Save. Call
// it before Start (or while the server has no traffic). Access tokens issued
// before are invalid afterwards (a client refreshes with the saved refresh
// token); Credentials returns a new one. Faults, request counts and query
// cursors are cleared. A file that is not a snapshot, of an unsupported
// version or corrupt gives an error wrapping ErrSnapshot and leaves the
// server unchanged.
func (s *Server) Load(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	var snap snapshot
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("%w: decode: %v", ErrSnapshot, err)
	}
	if snap.Format != snapshotFormat {
		return fmt.Errorf("%w: not a simulator snapshot (format %q, want %q)", ErrSnapshot, snap.Format, snapshotFormat)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("%w: unsupported version %d (this simulator reads version %d)", ErrSnapshot, snap.Version, snapshotVersion)
	}
	if snap.RefreshToken == "" || snap.ClientID == "" || snap.ClientSecret == "" || snap.OrgID == "" {
		return fmt.Errorf("%w: credentials or org id missing", ErrSnapshot)
	}
	var at time.Time
	if snap.Frozen {
		t, err := time.Parse(time.RFC3339, snap.At)
		if err != nil {
			return fmt.Errorf("%w: clock: %v", ErrSnapshot, err)
		}
		at = t.UTC()
	}
	objects, err := snapshotObjects(&snap)
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.objects, s.byLower, s.byPrefix = map[string]*objectDef{}, map[string]*objectDef{}, map[string]*objectDef{}
	for _, o := range objects {
		s.register(o)
	}
	s.nextPfx = snap.NextPfx
	s.cursors, s.curOrder = map[string]*cursor{}, nil
	s.orgID, s.apiUser, s.otherUser = snap.OrgID, snap.APIUser, snap.OtherUser
	s.created = unixTime(snap.OrgCreated)
	s.opts.ClientID, s.opts.ClientSecret = snap.ClientID, snap.ClientSecret
	s.refreshToken, s.revoked = snap.RefreshToken, snap.Revoked
	s.dailyMax = snap.DailyMax
	s.usage = map[int64]int{}
	for k, v := range snap.Usage {
		s.usage[k] = v
	}
	s.frozen, s.at, s.offset = snap.Frozen, at, snap.Offset
	s.failStatus, s.failN, s.delay, s.delayN, s.dropN, s.dropCommitN = 0, 0, 0, 0, 0, 0
	s.locks, s.counts, s.log = map[string]int{}, map[string]int{}, nil
	s.tokens = map[string]time.Time{}
	s.accessToken = s.newAccessToken()
	return nil
}

// snapshotObjects rebuilds the objects and their records of a snapshot.
func snapshotObjects(snap *snapshot) ([]*objectDef, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
	var account *objectDef
	byName := map[string]*objectDef{}
	var out []*objectDef
	for _, name := range []string{"Account", "Contact", "Lead", "Opportunity"} {
		o, err := loadRecorded(name)
		if err != nil {
			return nil, err
		}
		if name == "Account" {
			account = o
		}
		byName[strings.ToLower(name)] = o
		out = append(out, o)
	}
	u := userObject(account)
	byName["user"] = u
	out = append(out, u)
	prefixes := map[string]string{}
	for _, o := range out {
		prefixes[o.KeyPrefix] = o.Name
	}
	for i := range snap.Objects {
		so := &snap.Objects[i]
		if so.Custom == nil {
			continue
		}
		if byName[strings.ToLower(so.Name)] != nil || !strings.EqualFold(so.Custom.Name, so.Name) {
			return nil, bad("custom object %q declared twice or under another name", so.Name)
		}
		if len(so.KeyPrefix) != 3 || prefixes[so.KeyPrefix] != "" {
			return nil, bad("custom object %s: key prefix %q invalid or already used", so.Name, so.KeyPrefix)
		}
		o, err := customObject(account, so.KeyPrefix, *so.Custom)
		if err != nil {
			return nil, bad("custom object %s: %v", so.Name, err)
		}
		spec := *so.Custom
		o.spec = &spec
		byName[strings.ToLower(o.Name)] = o
		prefixes[o.KeyPrefix] = o.Name
		out = append(out, o)
	}
	seen := map[string]bool{}
	for i := range snap.Objects {
		so := &snap.Objects[i]
		o := byName[strings.ToLower(so.Name)]
		if o == nil {
			return nil, bad("unknown object %q", so.Name)
		}
		if seen[o.Name] {
			return nil, bad("object %s appears twice", o.Name)
		}
		seen[o.Name] = true
		if so.KeyPrefix != o.KeyPrefix {
			return nil, bad("object %s: key prefix %q, want %q", o.Name, so.KeyPrefix, o.KeyPrefix)
		}
		o.nextN = so.NextN
		for _, d := range so.Deletions {
			if sfid.Prefix(d.ID) != o.KeyPrefix || !sfid.Valid(d.ID) {
				return nil, bad("object %s: deleted id %q invalid", o.Name, d.ID)
			}
			o.deletions = append(o.deletions, deletion{id: d.ID, at: d.At})
		}
		for _, sr := range so.Records {
			r, err := snapshotRecord(o, &sr)
			if err != nil {
				return nil, bad("%v", err)
			}
			if o.byID[r.id] != nil {
				return nil, bad("object %s: record %s appears twice", o.Name, r.id)
			}
			o.add(r)
			if n, ok := idCounter(r.id); ok && n > o.nextN {
				o.nextN = n // never hand out an id a record already has
			}
		}
		for _, d := range o.deletions {
			if n, ok := idCounter(d.id); ok && n > o.nextN {
				o.nextN = n
			}
		}
	}
	if u := byName["user"]; u.byID[snap.APIUser] == nil || u.byID[snap.OtherUser] == nil {
		return nil, bad("the API user %q or the other user %q is not among the users", snap.APIUser, snap.OtherUser)
	}
	return out, nil
}

func snapshotRecord(o *objectDef, sr *snapRecord) (*record, error) {
	if len(sr.ID) != 18 || !sfid.Valid(sr.ID) || sfid.To18(sr.ID) != sr.ID || sfid.Prefix(sr.ID) != o.KeyPrefix {
		return nil, fmt.Errorf("object %s: record id %q invalid", o.Name, sr.ID)
	}
	r := &record{id: sr.ID, created: sr.Created, modified: sr.Modified, stamp: sr.Stamp,
		createdBy: sr.CreatedBy, modifiedBy: sr.ModifiedBy, deleted: sr.Deleted, deletedAt: sr.DeletedAt}
	for name, v := range sr.Fields {
		f := o.field(name)
		if f == nil || structFields[f.Name] || f.Type == "address" {
			return nil, fmt.Errorf("object %s record %s: unknown or computed field %q", o.Name, sr.ID, name)
		}
		switch x := v.(type) {
		case string, bool, float64:
		case map[string]any:
			ts, _ := x["time"].(string)
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || len(x) != 1 {
				return nil, fmt.Errorf("object %s record %s field %s: bad time value %v", o.Name, sr.ID, name, v)
			}
			v = t.UTC()
		default:
			return nil, fmt.Errorf("object %s record %s field %s: unsupported value %v", o.Name, sr.ID, name, v)
		}
		r.set(f.idx, f.intern(v))
	}
	if r.vals == nil {
		r.vals = []slot{}
	}
	r.pack()
	return r, nil
}

// idCounter recovers n from an id made by createLocked
// (sfid.New(prefix, instanceCode, n+idBase)); ok is false for other ids.
func idCounter(id string) (uint64, bool) {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	if len(id) < 15 || id[3:5] != instanceCode || id[5] != '0' {
		return 0, false
	}
	var n uint64
	for i := 6; i < 15; i++ {
		d := strings.IndexByte(digits, id[i])
		if d < 0 {
			return 0, false
		}
		n = n*62 + uint64(d)
	}
	if n < idBase {
		return 0, false
	}
	return n - idBase, true
}
