package salesforce

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tether-sync/tether/upstream"
)

func readDescribe(t *testing.T, name string) *upstream.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "describe", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := ParseDescribe(b)
	if err != nil {
		t.Fatalf("ParseDescribe(%s): %v", name, err)
	}
	return obj
}

// recordedObjects are the describes recorded from a real org.
var recordedObjects = []string{"Account", "Case", "Contact", "Custom__c", "Lead", "Opportunity", "OpportunityContactRole"}

func TestKindOf(t *testing.T) {
	cases := map[string]upstream.Kind{
		"id": upstream.KindID, "reference": upstream.KindReference,
		"string": upstream.KindText, "textarea": upstream.KindText, "picklist": upstream.KindText,
		"email": upstream.KindText, "phone": upstream.KindText, "url": upstream.KindText,
		"combobox": upstream.KindText, "encryptedstring": upstream.KindText,
		"multipicklist": upstream.KindTextArray, "boolean": upstream.KindBool,
		"int": upstream.KindInt, "long": upstream.KindBigInt,
		"double": upstream.KindDecimal, "currency": upstream.KindDecimal, "percent": upstream.KindDecimal,
		"date": upstream.KindDate, "datetime": upstream.KindTimestamp, "time": upstream.KindTime,
		"base64": upstream.KindBinary, "address": upstream.KindJSON, "location": upstream.KindJSON,
		"anyType": upstream.KindUnknown, "complexvalue": upstream.KindUnknown, "": upstream.KindUnknown,
	}
	for in, want := range cases {
		if got := KindOf(in); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDescribeRecorded(t *testing.T) {
	wantFields := map[string]int{"Account": 68, "Case": 35, "Contact": 59, "Custom__c": 3, "Lead": 54, "Opportunity": 40, "OpportunityContactRole": 11}
	for _, name := range recordedObjects {
		t.Run(name, func(t *testing.T) {
			obj := readDescribe(t, name)
			if obj.Name != name {
				t.Errorf("Name = %q", obj.Name)
			}
			if !obj.Queryable || !obj.Createable || !obj.Updateable || !obj.Deletable {
				t.Errorf("object flags: %+v", obj)
			}
			if obj.Custom != strings.HasSuffix(name, "__c") {
				t.Errorf("Custom = %v", obj.Custom)
			}
			if len(obj.Fields) != wantFields[name] {
				t.Errorf("%d fields, want %d", len(obj.Fields), wantFields[name])
			}
			id := obj.Field("Id")
			if id == nil || id.Kind != upstream.KindID || id.Createable || id.Updateable || id.Nillable {
				t.Errorf("Id field: %+v", id)
			}
			for _, f := range obj.Fields {
				if f.Kind == upstream.KindUnknown {
					t.Errorf("field %s: type %q unmapped", f.Name, f.SourceType)
				}
				if f.Kind != KindOf(f.SourceType) {
					t.Errorf("field %s: kind %s for %s", f.Name, f.Kind, f.SourceType)
				}
				if f.Label == "" {
					t.Errorf("field %s: no label", f.Name)
				}
				if f.Kind == upstream.KindJSON && (f.Createable || f.Updateable) {
					t.Errorf("compound %s is writable", f.Name)
				}
				if f.Compound != "" && obj.Field(f.Compound) == nil {
					t.Errorf("field %s: compound %s not in describe", f.Name, f.Compound)
				}
				if f.NotSynced != "" {
					t.Errorf("field %s not synced: %s", f.Name, f.NotSynced)
				}
			}
		})
	}
}

func TestParseDescribeAccountDetails(t *testing.T) {
	a := readDescribe(t, "Account")
	check := func(name string, fn func(f *upstream.Field) bool, what string) {
		t.Helper()
		f := a.Field(name)
		if f == nil {
			t.Fatalf("no field %s", name)
		}
		if !fn(f) {
			t.Errorf("%s: want %s, got %+v", name, what, *f)
		}
	}
	check("BillingAddress", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindJSON && f.SourceType == "address" && !f.Createable && !f.Updateable && f.Compound == ""
	}, "read-only json compound")
	check("BillingCity", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindText && f.Compound == "BillingAddress" && f.Createable && f.Updateable && f.Length == 40 && f.Nillable
	}, "writable text component of BillingAddress")
	check("BillingLatitude", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindDecimal && f.Precision == 18 && f.Scale == 15 && f.Compound == "BillingAddress"
	}, "decimal(18,15)")
	check("NumberOfEmployees", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindInt && f.Precision == 8
	}, "int with 8 digits")
	check("AnnualRevenue", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindDecimal && f.SourceType == "currency" && f.Precision == 18
	}, "currency decimal")
	check("Type", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindText && slices.Contains(f.Picklist, "Prospect") && len(f.Picklist) == 7 && !f.Restricted
	}, "picklist with 7 active values")
	check("OwnerId", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindReference && slices.Equal(f.ReferenceTo, []string{"User"}) && f.DefaultOnNew
	}, "reference to User, defaulted on create")
	check("SystemModstamp", func(f *upstream.Field) bool {
		return f.Kind == upstream.KindTimestamp && !f.Createable && !f.Updateable
	}, "read-only timestamp")
	check("IsDeleted", func(f *upstream.Field) bool { return f.Kind == upstream.KindBool && !f.Nillable }, "bool")

	o := readDescribe(t, "Opportunity")
	if f := o.Field("ExpectedRevenue"); f == nil || f.Createable || f.Updateable || f.Scale != 2 {
		t.Errorf("ExpectedRevenue: want read-only currency(18,2), got %+v", f)
	}
	if f := o.Field("CloseDate"); f == nil || f.Kind != upstream.KindDate {
		t.Errorf("CloseDate: %+v", f)
	}
	if f := o.Field("Probability"); f == nil || f.Kind != upstream.KindDecimal || f.SourceType != "percent" {
		t.Errorf("Probability: %+v", f)
	}
}

func TestParseDescribeUnsyncedTypes(t *testing.T) {
	body := `{"name":"Doc__c","label":"Doc","custom":true,"queryable":true,"createable":true,"updateable":true,"deletable":false,
	"fields":[
	 {"name":"Id","label":"Id","type":"id","compoundFieldName":null,"picklistValues":[]},
	 {"name":"Body__c","label":"Body","type":"base64","createable":true,"updateable":true},
	 {"name":"Any__c","label":"Any","type":"anyType"},
	 {"name":"Tags__c","label":"Tags","type":"multipicklist","restrictedPicklist":true,"createable":true,
	  "picklistValues":[{"active":true,"value":"a"},{"active":false,"value":"old"},{"active":true,"value":"b"}]},
	 {"name":"Big__c","label":"Big","type":"long","digits":18},
	 {"name":"Where__c","label":"Where","type":"location","createable":true,"updateable":true},
	 {"name":"Ext__c","label":"Ext","type":"string","externalId":true,"length":80},
	 {"name":"Total__c","label":"Total","type":"currency","calculated":true,"precision":16,"scale":2},
	 {"name":"Gone__c","label":"Gone","type":"string","deprecatedAndHidden":true}
	]}`
	obj, err := ParseDescribe([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Custom || obj.Deletable {
		t.Errorf("object flags %+v", obj)
	}
	if f := obj.Field("Body__c"); f.Kind != upstream.KindBinary || f.NotSynced != "base64 blobs are not synced by default" {
		t.Errorf("Body__c: %+v", f)
	}
	if f := obj.Field("Any__c"); f.Kind != upstream.KindUnknown || !strings.Contains(f.NotSynced, "anyType") {
		t.Errorf("Any__c: %+v", f)
	}
	if f := obj.Field("Tags__c"); f.Kind != upstream.KindTextArray || !slices.Equal(f.Picklist, []string{"a", "b"}) || !f.Restricted {
		t.Errorf("Tags__c: %+v", f)
	}
	if f := obj.Field("Big__c"); f.Kind != upstream.KindBigInt || f.Precision != 18 {
		t.Errorf("Big__c: %+v", f)
	}
	if f := obj.Field("Where__c"); f.Kind != upstream.KindJSON || f.Createable || f.Updateable {
		t.Errorf("Where__c: %+v", f)
	}
	if f := obj.Field("Ext__c"); !f.ExternalID || f.Length != 80 || f.NotSynced != "" {
		t.Errorf("Ext__c: %+v", f)
	}
	if f := obj.Field("Total__c"); !f.Calculated || f.Createable || f.Kind != upstream.KindDecimal || f.Precision != 16 || f.Scale != 2 {
		t.Errorf("Total__c: %+v", f)
	}
	if f := obj.Field("Gone__c"); f.NotSynced == "" {
		t.Errorf("Gone__c: %+v", f)
	}
}

func TestParseDescribeErrors(t *testing.T) {
	for _, body := range []string{``, `{`, `{"fields":[]}`, `{"name":"X","fields":[{"type":"string"}]}`, `[]`} {
		if _, err := ParseDescribe([]byte(body)); err == nil {
			t.Errorf("ParseDescribe(%q): no error", body)
		}
	}
}

func TestParseGlobal(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "describe", "_global.json"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ParseGlobal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 100 {
		t.Fatalf("only %d objects", len(objs))
	}
	byName := map[string]upstream.ObjectSummary{}
	for _, o := range objs {
		if o.Name == "" {
			t.Fatalf("object without name: %+v", o)
		}
		byName[o.Name] = o
	}
	for _, name := range []string{"Account", "Contact", "Lead", "Opportunity", "User"} {
		o, ok := byName[name]
		if !ok || !o.Queryable || o.Custom || o.Label == "" {
			t.Errorf("%s: %+v (present %v)", name, o, ok)
		}
	}
	if _, err := ParseGlobal([]byte(`nope`)); err == nil {
		t.Error("ParseGlobal(nope): no error")
	}
}
