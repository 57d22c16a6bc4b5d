package sim

import (
	"bytes"
	"strings"
)

// Parent relationship fields in SOQL (Account.Name on Contact, Owner.Email,
// CreatedBy.Name, Account__r.Name on a custom object), up to five levels as
// Salesforce allows.

// relPath is a resolved field path: the reference fields followed, then the
// leaf field name (resolved on the object actually reached, since Owner may
// point to a User or a Group).
type relPath struct {
	refs []*fieldDef // reference fields along the way (AccountId, ...)
	rels []string    // their relationship names, canonical (Account, ...)
	leaf *fieldDef   // the leaf field on the statically resolved object
}

// relationshipField finds the reference field of o whose relationship name
// is rel (case-insensitively).
func (o *objectDef) relationshipField(rel string) *fieldDef {
	for _, f := range o.fields {
		if f.Type != "reference" {
			continue
		}
		if rn, _ := f.raw["relationshipName"].(string); rn != "" && strings.EqualFold(rn, rel) {
			return f
		}
	}
	return nil
}

// targetOf returns the first object a reference field points to that the
// simulator knows.
func (s *Server) targetOf(f *fieldDef) *objectDef {
	for _, name := range f.ReferenceTo {
		if t := s.object(name); t != nil {
			return t
		}
	}
	return nil
}

// resolvePath resolves a dotted field path from o, or returns nil.
func (s *Server) resolvePath(o *objectDef, path string) *relPath {
	parts := strings.Split(path, ".")
	if len(parts) < 2 || len(parts) > 6 {
		return nil
	}
	p := &relPath{}
	cur := o
	for _, rel := range parts[:len(parts)-1] {
		ref := cur.relationshipField(rel)
		if ref == nil {
			return nil
		}
		next := s.targetOf(ref)
		if next == nil {
			return nil
		}
		rn, _ := ref.raw["relationshipName"].(string)
		p.refs = append(p.refs, ref)
		p.rels = append(p.rels, rn)
		cur = next
	}
	p.leaf = cur.field(parts[len(parts)-1])
	if p.leaf == nil {
		return nil
	}
	return p
}

// follow walks one reference from r: the parent record and its object, or nil.
func (s *Server) follow(o *objectDef, r *record, ref *fieldDef) (*objectDef, *record) {
	id, _ := o.value(r, ref).(string)
	if len(id) < 3 {
		return nil, nil
	}
	t := s.byPrefix[id[:3]]
	if t == nil {
		return nil, nil
	}
	pr := t.byID[id]
	if pr == nil {
		return nil, nil
	}
	return t, pr
}

// pathValue returns the value of a resolved path for r (nil when a parent is
// missing) and the leaf field on the object reached.
func (s *Server) pathValue(o *objectDef, r *record, p *relPath) (any, *fieldDef) {
	cur, rec := o, r
	for _, ref := range p.refs {
		// the reference field may differ by object when polymorphic: look it up by name
		f := cur.field(ref.Name)
		if f == nil {
			return nil, p.leaf
		}
		cur, rec = s.follow(cur, rec, f)
		if rec == nil {
			return nil, p.leaf
		}
	}
	leaf := cur.field(p.leaf.Name)
	if leaf == nil {
		return nil, p.leaf
	}
	return cur.value(rec, leaf), leaf
}

// column is one output column of a query: a field, or a parent relationship
// with its own columns.
type column struct {
	f   *fieldDef // a field of this object
	rel string    // relationship name (when f is nil)
	ref *fieldDef // the reference field followed
	sub []column
}

// addColumn adds a SELECT item (a field name or dotted path) to cols.
func (s *Server) addColumn(cols []column, o *objectDef, path string) ([]column, bool) {
	parts := strings.SplitN(path, ".", 2)
	if len(parts) == 1 {
		f := o.field(path)
		if f == nil {
			return cols, false
		}
		for _, c := range cols {
			if c.f == f {
				return cols, true
			}
		}
		return append(cols, column{f: f}), true
	}
	ref := o.relationshipField(parts[0])
	if ref == nil {
		return cols, false
	}
	target := s.targetOf(ref)
	if target == nil {
		return cols, false
	}
	for i := range cols {
		if cols[i].f == nil && cols[i].ref == ref {
			sub, ok := s.addColumn(cols[i].sub, target, parts[1])
			cols[i].sub = sub
			return cols, ok
		}
	}
	sub, ok := s.addColumn(nil, target, parts[1])
	if !ok {
		return cols, false
	}
	rn, _ := ref.raw["relationshipName"].(string)
	return append(cols, column{rel: rn, ref: ref, sub: sub}), true
}

// columnsJSON renders a record with attributes and the given columns.
func (s *Server) columnsJSON(buf *bytes.Buffer, o *objectDef, r *record, cols []column, ver string) {
	buf.WriteString(`{"attributes":{"type":`)
	writeStr(buf, o.Name)
	buf.WriteString(`,"url":`)
	writeStr(buf, "/services/data/v"+ver+"/sobjects/"+o.Name+"/"+r.id)
	buf.WriteString("}")
	for _, c := range cols {
		buf.WriteByte(',')
		if c.f != nil {
			f := o.field(c.f.Name) // polymorphic parents: the actual object's field
			writeStr(buf, c.f.Name)
			buf.WriteByte(':')
			if f == nil {
				buf.WriteString("null")
				continue
			}
			writeValue(buf, f, o.value(r, f))
			continue
		}
		writeStr(buf, c.rel)
		buf.WriteByte(':')
		ref := o.field(c.ref.Name)
		if ref == nil {
			buf.WriteString("null")
			continue
		}
		po, pr := s.follow(o, r, ref)
		if pr == nil {
			buf.WriteString("null")
			continue
		}
		s.columnsJSON(buf, po, pr, c.sub, ver)
	}
	buf.WriteByte('}')
}
