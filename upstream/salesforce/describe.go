package salesforce

import (
	"encoding/json"
	"fmt"

	"github.com/tether-sync/tether/upstream"
)

// describeBody is the part of GET /sobjects/{Object}/describe that tether uses.
type describeBody struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Custom     bool            `json:"custom"`
	Queryable  bool            `json:"queryable"`
	Createable bool            `json:"createable"`
	Updateable bool            `json:"updateable"`
	Deletable  bool            `json:"deletable"`
	Fields     []describeField `json:"fields"`
}

// describeField is one entry of a describe's "fields".
type describeField struct {
	Name                string   `json:"name"`
	Label               string   `json:"label"`
	Type                string   `json:"type"`
	Length              int      `json:"length"`
	Precision           int      `json:"precision"`
	Scale               int      `json:"scale"`
	Digits              int      `json:"digits"`
	Createable          bool     `json:"createable"`
	Updateable          bool     `json:"updateable"`
	Nillable            bool     `json:"nillable"`
	Calculated          bool     `json:"calculated"`
	CompoundFieldName   *string  `json:"compoundFieldName"`
	ReferenceTo         []string `json:"referenceTo"`
	RestrictedPicklist  bool     `json:"restrictedPicklist"`
	ExternalID          bool     `json:"externalId"`
	DefaultedOnCreate   bool     `json:"defaultedOnCreate"`
	DeprecatedAndHidden bool     `json:"deprecatedAndHidden"`
	PicklistValues      []struct {
		Active bool   `json:"active"`
		Value  string `json:"value"`
	} `json:"picklistValues"`
}

// globalBody is GET /sobjects (the global describe).
type globalBody struct {
	SObjects []struct {
		Name      string `json:"name"`
		Label     string `json:"label"`
		Custom    bool   `json:"custom"`
		Queryable bool   `json:"queryable"`
	} `json:"sobjects"`
}

// TypeMapping is one Salesforce field type and the kind it maps to.
type TypeMapping struct {
	Type string        // Salesforce's type name in a describe ("picklist")
	Kind upstream.Kind // provider-neutral kind
	Note string        // what a user should know, "" if nothing
}

// typeMappings is the single source of the Salesforce type → kind mapping.
var typeMappings = []TypeMapping{
	{"id", upstream.KindID, "the 18-character record id: always the `id text UNIQUE` column"},
	{"reference", upstream.KindReference, "the 18-character id of the referenced record; no foreign key"},
	{"string", upstream.KindText, ""},
	{"textarea", upstream.KindText, ""},
	{"picklist", upstream.KindText, "values are not checked locally; Salesforce rejects invalid ones on write"},
	{"email", upstream.KindText, ""},
	{"phone", upstream.KindText, ""},
	{"url", upstream.KindText, ""},
	{"combobox", upstream.KindText, ""},
	{"encryptedstring", upstream.KindText, "as the credential sees it (possibly masked)"},
	{"multipicklist", upstream.KindTextArray, "Salesforce's `;`-joined value, split"},
	{"boolean", upstream.KindBool, ""},
	{"int", upstream.KindInt, ""},
	{"long", upstream.KindBigInt, ""},
	{"double", upstream.KindDecimal, ""},
	{"currency", upstream.KindDecimal, "in the record's currency"},
	{"percent", upstream.KindDecimal, "50 means 50%"},
	{"date", upstream.KindDate, ""},
	{"datetime", upstream.KindTimestamp, ""},
	{"time", upstream.KindTime, ""},
	{"address", upstream.KindJSON, "compound, read-only; its components (BillingCity, ...) are normal columns"},
	{"location", upstream.KindJSON, "compound, read-only; its components (..._Latitude__s, ...) are normal columns"},
	{"base64", upstream.KindBinary, "base64 blobs are not synced by default"},
	{"anyType, complexvalue, others", upstream.KindUnknown, "not synced; listed in _sync_columns with the reason"},
}

// kinds indexes typeMappings by type name.
var kinds = func() map[string]upstream.Kind {
	m := make(map[string]upstream.Kind, len(typeMappings))
	for _, t := range typeMappings {
		if t.Kind != upstream.KindUnknown {
			m[t.Type] = t.Kind
		}
	}
	return m
}()

// TypeMappings lists the Salesforce field types and their kinds, for
// documentation (the README's type table).
func TypeMappings() []TypeMapping { return append([]TypeMapping(nil), typeMappings...) }

// KindOf maps a Salesforce field type ("picklist", "currency", ...) to its
// provider-neutral kind; unmapped types (anyType, complexvalue, ...) are
// upstream.KindUnknown.
func KindOf(sfType string) upstream.Kind {
	if k, ok := kinds[sfType]; ok {
		return k
	}
	return upstream.KindUnknown
}

// ParseDescribe decodes a Salesforce sObject describe
// (GET /services/data/vXX.X/sobjects/{Object}/describe) into an upstream.Object.
// Fields whose type tether does not sync carry a NotSynced reason.
func ParseDescribe(body []byte) (*upstream.Object, error) {
	var d describeBody
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("decode describe: %w", err)
	}
	if d.Name == "" {
		return nil, fmt.Errorf("decode describe: no object name")
	}
	obj := &upstream.Object{
		Name:       d.Name,
		Label:      d.Label,
		Custom:     d.Custom,
		Queryable:  d.Queryable,
		Createable: d.Createable,
		Updateable: d.Updateable,
		Deletable:  d.Deletable,
		Fields:     make([]upstream.Field, 0, len(d.Fields)),
	}
	for _, f := range d.Fields {
		if f.Name == "" {
			return nil, fmt.Errorf("decode describe %s: a field has no name", d.Name)
		}
		obj.Fields = append(obj.Fields, convertField(f))
	}
	return obj, nil
}

func convertField(f describeField) upstream.Field {
	out := upstream.Field{
		Name:         f.Name,
		Label:        f.Label,
		Kind:         KindOf(f.Type),
		SourceType:   f.Type,
		Length:       f.Length,
		Precision:    f.Precision,
		Scale:        f.Scale,
		Createable:   f.Createable,
		Updateable:   f.Updateable,
		Nillable:     f.Nillable,
		Calculated:   f.Calculated,
		ReferenceTo:  append([]string(nil), f.ReferenceTo...),
		Restricted:   f.RestrictedPicklist,
		ExternalID:   f.ExternalID,
		DefaultOnNew: f.DefaultedOnCreate,
	}
	if out.Precision == 0 && f.Digits > 0 {
		// int and long report their size in "digits", not "precision".
		out.Precision = f.Digits
	}
	if f.CompoundFieldName != nil {
		out.Compound = *f.CompoundFieldName
	}
	for _, p := range f.PicklistValues {
		if p.Active {
			out.Picklist = append(out.Picklist, p.Value)
		}
	}
	switch out.Kind {
	case upstream.KindBinary:
		out.NotSynced = "base64 blobs are not synced by default"
	case upstream.KindUnknown:
		out.NotSynced = fmt.Sprintf("Salesforce type %q has no PostgreSQL mapping", f.Type)
	case upstream.KindJSON:
		// Compound fields are read-only views of their component fields,
		// which are synced (and written) as normal columns.
		out.Createable, out.Updateable = false, false
	}
	if out.NotSynced == "" && f.DeprecatedAndHidden {
		out.NotSynced = "deprecated and hidden by Salesforce"
	}
	return out
}

// ParseGlobal decodes the global describe (GET /services/data/vXX.X/sobjects)
// into one summary per object, in Salesforce's order.
func ParseGlobal(body []byte) ([]upstream.ObjectSummary, error) {
	var g globalBody
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, fmt.Errorf("decode global describe: %w", err)
	}
	out := make([]upstream.ObjectSummary, 0, len(g.SObjects))
	for _, o := range g.SObjects {
		out = append(out, upstream.ObjectSummary{Name: o.Name, Label: o.Label, Custom: o.Custom, Queryable: o.Queryable})
	}
	return out, nil
}
