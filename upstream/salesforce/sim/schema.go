package sim

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// The standard objects' describes are recorded from a real org (see
// describe/*.json, copied from the project's shared fixtures) and embedded so
// the simulator does not depend on files at run time.
//
//go:embed describe/*.json
var describeFS embed.FS

// fieldDef is one field of an object, parsed from (or built like) a describe.
type fieldDef struct {
	Name        string
	Label       string
	Type        string
	Length      int
	Precision   int
	Scale       int
	Createable  bool
	Updateable  bool
	Nillable    bool
	Defaulted   bool // defaultedOnCreate
	Calculated  bool
	Compound    string // compoundFieldName of a component
	Picklist    []string
	PickDefault string
	Restricted  bool
	ReferenceTo []string
	Default     any    // defaultValue (booleans)
	Formula     string // for custom formula fields: `A & ' ' & B`
	idx         int
	raw         map[string]any // the describe entry
	interned    map[string]any // boxed picklist values, shared by records
}

// objectDef is one sObject: its describe and its records.
type objectDef struct {
	Name      string
	Label     string
	KeyPrefix string
	Custom    bool
	spec      *CustomObject  // how a custom object added at run time was declared (for snapshots)
	raw       map[string]any // describe without fields
	fields    []*fieldDef
	byLower   map[string]*fieldDef
	compounds map[string][]*fieldDef // address field → its components
	table
}

func (o *objectDef) field(name string) *fieldDef { return o.byLower[strings.ToLower(name)] }

func (o *objectDef) index() {
	o.byLower = map[string]*fieldDef{}
	o.compounds = map[string][]*fieldDef{}
	for i, f := range o.fields {
		f.idx = i
		o.byLower[strings.ToLower(f.Name)] = f
		if f.Compound != "" {
			o.compounds[f.Compound] = append(o.compounds[f.Compound], f)
		}
	}
}

func asString(v any) string { s, _ := v.(string); return s }
func asBool(v any) bool     { b, _ := v.(bool); return b }
func asInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}

func parseField(raw map[string]any) *fieldDef {
	f := &fieldDef{
		Name:       asString(raw["name"]),
		Label:      asString(raw["label"]),
		Type:       asString(raw["type"]),
		Length:     asInt(raw["length"]),
		Precision:  asInt(raw["precision"]),
		Scale:      asInt(raw["scale"]),
		Createable: asBool(raw["createable"]),
		Updateable: asBool(raw["updateable"]),
		Nillable:   asBool(raw["nillable"]),
		Defaulted:  asBool(raw["defaultedOnCreate"]),
		Calculated: asBool(raw["calculated"]),
		Compound:   asString(raw["compoundFieldName"]),
		Restricted: asBool(raw["restrictedPicklist"]),
		Default:    raw["defaultValue"],
		raw:        raw,
	}
	if pv, ok := raw["picklistValues"].([]any); ok {
		for _, p := range pv {
			m, _ := p.(map[string]any)
			if m == nil || !asBool(m["active"]) {
				continue
			}
			f.Picklist = append(f.Picklist, asString(m["value"]))
			if asBool(m["defaultValue"]) {
				f.PickDefault = asString(m["value"])
			}
		}
	}
	if len(f.Picklist) > 0 {
		f.interned = make(map[string]any, len(f.Picklist))
		for _, p := range f.Picklist {
			f.interned[p] = p
		}
	}
	if rt, ok := raw["referenceTo"].([]any); ok {
		for _, r := range rt {
			f.ReferenceTo = append(f.ReferenceTo, asString(r))
		}
	}
	return f
}

func loadRecorded(name string) (*objectDef, error) {
	b, err := describeFS.ReadFile("describe/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("read describe of %s: %w", name, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode describe of %s: %w", name, err)
	}
	o := &objectDef{Name: name, Label: asString(raw["label"]), KeyPrefix: asString(raw["keyPrefix"]), Custom: asBool(raw["custom"])}
	fl, _ := raw["fields"].([]any)
	delete(raw, "fields")
	// Newer API versions (as in the Contact, Lead and Opportunity recordings)
	// carry these keys; the Account recording is older.
	for k, v := range map[string]any{"associateEntityType": nil, "associateParentEntity": nil, "sobjectDescribeOption": "FULL"} {
		if _, ok := raw[k]; !ok {
			raw[k] = v
		}
	}
	o.raw = raw
	for _, x := range fl {
		o.fields = append(o.fields, parseField(x.(map[string]any)))
	}
	o.index()
	return o, nil
}

// fieldSpec is a compact way to declare a field of a built object.
type fieldSpec struct {
	name, label, typ string
	length           int
	flags            string // c createable, u updateable, n nillable, d defaultedOnCreate, k calculated, r restricted, x externalId, q unique, N nameField
	ref              []string
	picklist         []string
	pickDefault      string
	def              any
	precision, scale int
	formula          string
}

var soapTypes = map[string]string{
	"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
	"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
	"datetime": "xsd:dateTime", "time": "xsd:time", "base64": "xsd:base64Binary", "address": "urn:address",
	"location": "urn:location",
}

// buildField turns a spec into a describe entry shaped like the recorded ones.
func buildField(tmpl map[string]any, s fieldSpec, custom bool) *fieldDef {
	raw := make(map[string]any, len(tmpl))
	for k, v := range tmpl {
		raw[k] = v
	}
	has := func(c byte) bool { return strings.IndexByte(s.flags, c) >= 0 }
	soap := soapTypes[s.typ]
	if soap == "" {
		soap = "xsd:string"
	}
	length := s.length
	byteLength := length * 3
	switch s.typ {
	case "id", "reference":
		length, byteLength = 18, 18
	}
	raw["name"] = s.name
	raw["label"] = s.label
	raw["type"] = s.typ
	raw["soapType"] = soap
	raw["length"] = length
	raw["byteLength"] = byteLength
	raw["createable"] = has('c')
	raw["updateable"] = has('u')
	raw["nillable"] = has('n')
	raw["defaultedOnCreate"] = has('d')
	raw["calculated"] = has('k')
	raw["restrictedPicklist"] = has('r')
	raw["externalId"] = has('x')
	raw["unique"] = has('q')
	raw["nameField"] = has('N')
	raw["idLookup"] = s.typ == "id" || has('x') || has('q')
	raw["custom"] = custom
	raw["precision"] = s.precision
	raw["scale"] = s.scale
	raw["digits"] = 0
	if s.typ == "int" {
		raw["digits"] = 9
	}
	raw["calculatedFormula"] = nil
	if s.formula != "" {
		raw["calculatedFormula"] = s.formula
	}
	raw["defaultValue"] = s.def
	raw["compoundFieldName"] = nil
	raw["relationshipName"] = nil
	refs := []any{}
	for _, r := range s.ref {
		refs = append(refs, r)
	}
	raw["referenceTo"] = refs
	if len(s.ref) > 0 {
		rn := strings.TrimSuffix(s.name, "Id")
		if strings.HasSuffix(s.name, "__c") {
			rn = strings.TrimSuffix(s.name, "__c") + "__r"
		}
		raw["relationshipName"] = rn
	}
	pv := []any{}
	for _, p := range s.picklist {
		pv = append(pv, map[string]any{"active": true, "defaultValue": p == s.pickDefault, "label": p, "validFor": nil, "value": p})
	}
	raw["picklistValues"] = pv
	filterable := s.typ != "textarea" || length <= 255
	raw["filterable"] = filterable
	raw["sortable"] = filterable && s.typ != "multipicklist"
	raw["groupable"] = filterable && s.typ != "double" && s.typ != "currency" && s.typ != "percent" && s.typ != "datetime"
	raw["aggregatable"] = filterable
	raw["htmlFormatted"] = false
	raw["caseSensitive"] = false
	raw["autoNumber"] = false
	raw["cascadeDelete"] = false
	raw["dependentPicklist"] = false
	raw["deprecatedAndHidden"] = false
	raw["permissionable"] = has('n') && has('u')
	raw["polymorphicForeignKey"] = len(s.ref) > 1
	raw["namePointing"] = len(s.ref) > 1
	raw["relationshipOrder"] = nil
	raw["inlineHelpText"] = nil
	raw["extraTypeInfo"] = nil
	if s.typ == "textarea" && length > 255 {
		raw["extraTypeInfo"] = "plaintextarea"
	}
	f := parseField(raw)
	f.Formula = s.formula
	f.PickDefault = s.pickDefault
	return f
}

// buildObject makes an object describe from the Account describe's top level
// (its keys and shapes) and a list of field specs.
func buildObject(base *objectDef, name, label, plural, prefix string, custom bool, specs []fieldSpec) *objectDef {
	raw := make(map[string]any, len(base.raw))
	for k, v := range base.raw {
		raw[k] = v
	}
	raw["name"] = name
	raw["label"] = label
	raw["labelPlural"] = plural
	raw["keyPrefix"] = prefix
	raw["custom"] = custom
	raw["customSetting"] = false
	raw["childRelationships"] = []any{}
	raw["recordTypeInfos"] = []any{}
	raw["namedLayoutInfos"] = []any{}
	raw["supportedScopes"] = []any{map[string]any{"label": "All " + strings.ToLower(plural), "name": "everything"}, map[string]any{"label": "My " + strings.ToLower(plural), "name": "mine"}}
	raw["mergeable"] = false
	raw["feedEnabled"] = false
	raw["mruEnabled"] = true
	raw["undeletable"] = true
	raw["deletable"] = true
	raw["createable"] = true
	raw["updateable"] = true
	o := &objectDef{Name: name, Label: label, KeyPrefix: prefix, Custom: custom, raw: raw}
	tmpl := base.fields[0].raw
	for _, s := range specs {
		isCustom := custom && strings.HasSuffix(s.name, "__c") || !custom && strings.HasSuffix(s.name, "__c")
		o.fields = append(o.fields, buildField(tmpl, s, isCustom))
	}
	o.index()
	return o
}

func auditSpecs(ownerRef []string) (head, tail []fieldSpec) {
	head = []fieldSpec{
		{name: "Id", label: "Record ID", typ: "id", flags: "d"},
	}
	tail = []fieldSpec{
		{name: "CreatedDate", label: "Created Date", typ: "datetime", flags: "d"},
		{name: "CreatedById", label: "Created By ID", typ: "reference", flags: "d", ref: []string{"User"}},
		{name: "LastModifiedDate", label: "Last Modified Date", typ: "datetime", flags: "d"},
		{name: "LastModifiedById", label: "Last Modified By ID", typ: "reference", flags: "d", ref: []string{"User"}},
		{name: "SystemModstamp", label: "System Modstamp", typ: "datetime", flags: "d"},
	}
	return head, tail
}

var timeZones = []string{"America/Los_Angeles", "America/New_York", "America/Chicago", "Europe/London", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney", "GMT"}
var locales = []string{"en_US", "en_GB", "fr_FR", "de_DE", "ja_JP", "es_ES"}
var languages = []string{"en_US", "fr", "de", "ja", "es"}
var encodings = []string{"UTF-8", "ISO-8859-1", "Shift_JIS"}

// userObject builds the User describe from Salesforce's documented fields
// (no User describe is recorded in the fixtures).
func userObject(base *objectDef) *objectDef {
	head, tail := auditSpecs(nil)
	specs := append(head,
		fieldSpec{name: "Username", label: "Username", typ: "string", length: 80, flags: "cuqx"},
		fieldSpec{name: "LastName", label: "Last Name", typ: "string", length: 80, flags: "cu"},
		fieldSpec{name: "FirstName", label: "First Name", typ: "string", length: 40, flags: "cun"},
		fieldSpec{name: "MiddleName", label: "Middle Name", typ: "string", length: 40, flags: "cun"},
		fieldSpec{name: "Suffix", label: "Suffix", typ: "string", length: 40, flags: "cun"},
		fieldSpec{name: "Name", label: "Full Name", typ: "string", length: 121, flags: "N"},
		fieldSpec{name: "CompanyName", label: "Company Name", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Division", label: "Division", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Department", label: "Department", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Title", label: "Title", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Street", label: "Street", typ: "textarea", length: 255, flags: "cun"},
		fieldSpec{name: "City", label: "City", typ: "string", length: 40, flags: "cun"},
		fieldSpec{name: "State", label: "State/Province", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "PostalCode", label: "Zip/Postal Code", typ: "string", length: 20, flags: "cun"},
		fieldSpec{name: "Country", label: "Country", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Latitude", label: "Latitude", typ: "double", flags: "cun", precision: 18, scale: 15},
		fieldSpec{name: "Longitude", label: "Longitude", typ: "double", flags: "cun", precision: 18, scale: 15},
		fieldSpec{name: "GeocodeAccuracy", label: "Geocode Accuracy", typ: "picklist", length: 40, flags: "cunr",
			picklist: []string{"Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip", "Neighborhood", "City", "County", "State", "Unknown"}},
		fieldSpec{name: "Address", label: "Address", typ: "address", flags: "n"},
		fieldSpec{name: "Email", label: "Email", typ: "email", length: 128, flags: "cu"},
		fieldSpec{name: "EmailPreferencesAutoBcc", label: "AutoBcc", typ: "boolean", flags: "cud", def: false},
		fieldSpec{name: "SenderEmail", label: "Email Sender Address", typ: "email", length: 80, flags: "cun"},
		fieldSpec{name: "SenderName", label: "Email Sender Name", typ: "string", length: 80, flags: "cun"},
		fieldSpec{name: "Signature", label: "Email Signature", typ: "textarea", length: 1333, flags: "cun"},
		fieldSpec{name: "Phone", label: "Phone", typ: "phone", length: 40, flags: "cun"},
		fieldSpec{name: "Fax", label: "Fax", typ: "phone", length: 40, flags: "cun"},
		fieldSpec{name: "MobilePhone", label: "Mobile", typ: "phone", length: 40, flags: "cun"},
		fieldSpec{name: "Alias", label: "Alias", typ: "string", length: 8, flags: "cu"},
		fieldSpec{name: "CommunityNickname", label: "Nickname", typ: "string", length: 40, flags: "cudq"},
		fieldSpec{name: "IsActive", label: "Active", typ: "boolean", flags: "cud", def: true},
		fieldSpec{name: "TimeZoneSidKey", label: "Time Zone", typ: "picklist", length: 40, flags: "cur", picklist: timeZones},
		fieldSpec{name: "UserRoleId", label: "Role ID", typ: "reference", flags: "cun", ref: []string{"UserRole"}},
		fieldSpec{name: "LocaleSidKey", label: "Locale", typ: "picklist", length: 40, flags: "cur", picklist: locales},
		fieldSpec{name: "ReceivesInfoEmails", label: "Info Emails", typ: "boolean", flags: "cud", def: false},
		fieldSpec{name: "EmailEncodingKey", label: "Email Encoding", typ: "picklist", length: 40, flags: "cur", picklist: encodings},
		fieldSpec{name: "ProfileId", label: "Profile ID", typ: "reference", flags: "cu", ref: []string{"Profile"}},
		fieldSpec{name: "UserType", label: "User Type", typ: "picklist", length: 40, flags: "nr",
			picklist: []string{"Standard", "PowerPartner", "CspLitePortal", "CustomerSuccess", "PowerCustomerSuccess", "CsnOnly", "Guest"}},
		fieldSpec{name: "LanguageLocaleKey", label: "Language", typ: "picklist", length: 40, flags: "cur", picklist: languages},
		fieldSpec{name: "EmployeeNumber", label: "Employee Number", typ: "string", length: 20, flags: "cun"},
		fieldSpec{name: "DelegatedApproverId", label: "Delegated Approver ID", typ: "reference", flags: "cun", ref: []string{"Group", "User"}},
		fieldSpec{name: "ManagerId", label: "Manager ID", typ: "reference", flags: "cun", ref: []string{"User"}},
		fieldSpec{name: "LastLoginDate", label: "Last Login", typ: "datetime", flags: "n"},
		fieldSpec{name: "LastPasswordChangeDate", label: "Last Password Change or Reset", typ: "datetime", flags: "n"},
	)
	specs = append(specs, tail...)
	specs = append(specs,
		fieldSpec{name: "FederationIdentifier", label: "SAML Federation ID", typ: "string", length: 512, flags: "cun"},
		fieldSpec{name: "AboutMe", label: "About Me", typ: "textarea", length: 1000, flags: "cun"},
		fieldSpec{name: "IsProfilePhotoActive", label: "Has Profile Photo", typ: "boolean", flags: "d", def: false},
		fieldSpec{name: "LastViewedDate", label: "Last Viewed Date", typ: "datetime", flags: "n"},
		fieldSpec{name: "LastReferencedDate", label: "Last Referenced Date", typ: "datetime", flags: "n"},
	)
	o := buildObject(base, "User", "User", "Users", "005", false, specs)
	// Compound Address like the recorded objects.
	for _, n := range []string{"Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy"} {
		f := o.field(n)
		f.Compound = "Address"
		f.raw["compoundFieldName"] = "Address"
	}
	o.raw["mergeable"] = false
	o.raw["deletable"] = false
	o.raw["undeletable"] = false
	o.raw["searchable"] = true
	o.index()
	return o
}

// CustomField declares one field of a custom object added at run time.
type CustomField struct {
	Name       string   `json:"name"`  // API name, must end in __c
	Label      string   `json:"label"` // defaults to the name
	Type       string   `json:"type"`  // Salesforce type: string, textarea, email, phone, url, picklist, multipicklist, boolean, int, double, currency, percent, date, datetime, time, reference
	Length     int      `json:"length,omitempty"`
	Precision  int      `json:"precision,omitempty"`
	Scale      int      `json:"scale,omitempty"`
	Required   bool     `json:"required,omitempty"`
	Picklist   []string `json:"picklist,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	// ReferenceTo names the object a reference field points to.
	ReferenceTo string `json:"referenceTo,omitempty"`
	ExternalID  bool   `json:"externalId,omitempty"`
	Unique      bool   `json:"unique,omitempty"`
	// Formula makes the field a read-only formula (calculated): field names
	// and 'literals' joined by &, e.g. `First__c & ' ' & Last__c`.
	Formula string `json:"formula,omitempty"`
}

// CustomObject declares a custom object (Name ends in __c) added at run
// time, with the standard fields every custom object has plus Fields.
type CustomObject struct {
	Name   string        `json:"name"`
	Label  string        `json:"label"`
	Fields []CustomField `json:"fields"`
}

func customObject(base *objectDef, prefix string, c CustomObject) (*objectDef, error) {
	if !strings.HasSuffix(c.Name, "__c") {
		return nil, fmt.Errorf("custom object name %q must end in __c", c.Name)
	}
	label := c.Label
	if label == "" {
		label = strings.ReplaceAll(strings.TrimSuffix(c.Name, "__c"), "_", " ")
	}
	specs := []fieldSpec{
		{name: "Id", label: "Record ID", typ: "id", flags: "d"},
		{name: "OwnerId", label: "Owner ID", typ: "reference", flags: "cud", ref: []string{"Group", "User"}},
		{name: "IsDeleted", label: "Deleted", typ: "boolean", flags: "d", def: false},
		{name: "Name", label: label + " Name", typ: "string", length: 80, flags: "cundN"},
		{name: "CreatedDate", label: "Created Date", typ: "datetime", flags: "d"},
		{name: "CreatedById", label: "Created By ID", typ: "reference", flags: "d", ref: []string{"User"}},
		{name: "LastModifiedDate", label: "Last Modified Date", typ: "datetime", flags: "d"},
		{name: "LastModifiedById", label: "Last Modified By ID", typ: "reference", flags: "d", ref: []string{"User"}},
		{name: "SystemModstamp", label: "System Modstamp", typ: "datetime", flags: "d"},
		{name: "LastActivityDate", label: "Last Activity Date", typ: "date", flags: "n"},
		{name: "LastViewedDate", label: "Last Viewed Date", typ: "datetime", flags: "n"},
		{name: "LastReferencedDate", label: "Last Referenced Date", typ: "datetime", flags: "n"},
	}
	seen := map[string]bool{}
	for _, s := range specs {
		seen[strings.ToLower(s.name)] = true
	}
	for _, f := range c.Fields {
		if !strings.HasSuffix(f.Name, "__c") {
			return nil, fmt.Errorf("custom field name %q must end in __c", f.Name)
		}
		if seen[strings.ToLower(f.Name)] {
			return nil, fmt.Errorf("duplicate field %q", f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		typ := f.Type
		if typ == "" {
			typ = "string"
		}
		if _, ok := customTypes[typ]; !ok {
			return nil, fmt.Errorf("field %s: unsupported type %q", f.Name, typ)
		}
		s := fieldSpec{name: f.Name, label: f.Label, typ: typ, length: f.Length, precision: f.Precision, scale: f.Scale, formula: f.Formula, picklist: f.Picklist}
		if s.label == "" {
			s.label = strings.ReplaceAll(strings.TrimSuffix(f.Name, "__c"), "_", " ")
		}
		if s.length == 0 {
			s.length = customTypes[typ]
		}
		if (typ == "double" || typ == "currency" || typ == "percent") && s.precision == 0 {
			s.precision, s.scale = 18, 2
		}
		if f.ReferenceTo != "" {
			s.ref = []string{f.ReferenceTo}
		} else if typ == "reference" {
			return nil, fmt.Errorf("reference field %s needs referenceTo", f.Name)
		}
		switch {
		case f.Formula != "":
			s.flags = "kn"
		case typ == "boolean":
			s.flags = "cud"
			s.def = false
		case f.Required:
			s.flags = "cu"
		default:
			s.flags = "cun"
		}
		if f.Restricted {
			s.flags += "r"
		}
		if f.ExternalID {
			s.flags += "x"
		}
		if f.Unique {
			s.flags += "q"
		}
		specs = append(specs, s)
	}
	o := buildObject(base, c.Name, label, label+"s", prefix, true, specs)
	return o, nil
}

// customTypes lists the types a custom field may have, with default lengths.
var customTypes = map[string]int{
	"string": 255, "textarea": 32768, "email": 80, "phone": 40, "url": 255, "picklist": 255,
	"multipicklist": 4099, "boolean": 0, "int": 0, "double": 0, "currency": 0, "percent": 0,
	"date": 0, "datetime": 0, "time": 0, "reference": 18, "long": 0,
}

// describeJSON renders the object's describe for API version ver at instance.
func (o *objectDef) describeJSON(ver, instance string) map[string]any {
	out := make(map[string]any, len(o.raw)+1)
	for k, v := range o.raw {
		out[k] = v
	}
	out["urls"] = o.urls(ver, instance)
	fields := make([]any, len(o.fields))
	for i, f := range o.fields {
		fields[i] = f.raw
	}
	out["fields"] = fields
	return out
}

func (o *objectDef) urls(ver, instance string) map[string]any {
	p := "/services/data/v" + ver + "/sobjects/" + o.Name
	return map[string]any{
		"compactLayouts":   p + "/describe/compactLayouts",
		"rowTemplate":      p + "/{ID}",
		"approvalLayouts":  p + "/describe/approvalLayouts",
		"uiDetailTemplate": instance + "/{ID}",
		"uiEditTemplate":   instance + "/{ID}/e",
		"defaultValues":    p + "/defaultValues?recordTypeId&fields",
		"listviews":        p + "/listviews",
		"describe":         p + "/describe",
		"uiNewRecord":      instance + "/" + o.KeyPrefix + "/e",
		"quickActions":     p + "/quickActions",
		"layouts":          p + "/describe/layouts",
		"sobject":          p,
	}
}

// globalKeys are the keys of one entry of GET /sobjects (as recorded).
var globalKeys = []string{"activateable", "associateEntityType", "associateParentEntity", "createable", "custom",
	"customSetting", "deepCloneable", "deletable", "deprecatedAndHidden", "feedEnabled", "hasSubtypes", "isInterface",
	"isSubtype", "keyPrefix", "label", "labelPlural", "layoutable", "mergeable", "mruEnabled", "name", "queryable",
	"replicateable", "retrieveable", "searchable", "triggerable", "undeletable", "updateable", "urls"}

func (o *objectDef) globalJSON(ver string) map[string]any {
	out := map[string]any{}
	for _, k := range globalKeys {
		out[k] = o.raw[k]
	}
	p := "/services/data/v" + ver + "/sobjects/" + o.Name
	out["urls"] = map[string]any{
		"compactLayouts":  p + "/describe/compactLayouts",
		"rowTemplate":     p + "/{ID}",
		"approvalLayouts": p + "/describe/approvalLayouts",
		"listviews":       p + "/listviews",
		"describe":        p + "/describe",
		"quickActions":    p + "/quickActions",
		"layouts":         p + "/describe/layouts",
		"sobject":         p,
	}
	return out
}

func sortedNames(m map[string]*objectDef) []string {
	names := make([]string, 0, len(m))
	for _, o := range m {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	return names
}
