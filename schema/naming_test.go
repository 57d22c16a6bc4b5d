package schema

import (
	"strings"
	"testing"
)

func TestColumnName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Id", "id"},
		{"FirstName", "first_name"},
		{"BillingCity", "billing_city"},
		{"AccountId", "account_id"},
		{"SystemModstamp", "system_modstamp"},
		{"Region_Code__c", "region_code__c"},
		{"NumberOfEmployees", "number_of_employees"},
		{"SLAExpirationDate__c", "sla_expiration_date__c"},
		{"IsDeleted", "is_deleted"},
		{"HTMLBody", "html_body"},
		{"Address2__c", "address2__c"},
		{"Name", "name"},
		{"CustomField__c", "custom_field__c"},
		{"ns__Invoice_Total__c", "ns__invoice_total__c"},
		{"MailingPostalCode", "mailing_postal_code"},
		{"Jigsaw", "jigsaw"},
		{"SicDesc", "sic_desc"},
		{"X18DigitId__c", "x18_digit_id__c"},
		{"CleanStatus", "clean_status"},
		{"LastCURequestDate", "last_cu_request_date"},
		{"DUNSNumber", "duns_number"},
		{"NaicsCode", "naics_code"},
		{"ABC", "abc"},
		{"a", "a"},
		{"Field1Name", "field1_name"},
		{"Weird-Name", "weird_name"},
		{"Accent\u00e9", "accent_"},
	}
	for _, c := range cases {
		if got := ColumnName(c.in); got != c.want {
			t.Errorf("ColumnName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTableName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Account", "account"},
		{"User", "user"},
		{"Invoice__c", "invoice__c"},
		{"OpportunityContactRole", "opportunitycontactrole"},
		{"ns__Thing__c", "ns__thing__c"},
	}
	for _, c := range cases {
		if got := TableName(c.in); got != c.want {
			t.Errorf("TableName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if q := QuoteIdent(TableName("User")); q != `"user"` {
		t.Errorf("quoted user table = %s", q)
	}
}

func TestLongNames(t *testing.T) {
	long1 := "A_Very_Long_Custom_Field_Name_That_Goes_On_And_On_Forever_Alpha__c"
	long2 := "A_Very_Long_Custom_Field_Name_That_Goes_On_And_On_Forever_Beta__c"
	n1, n2 := ColumnName(long1), ColumnName(long2)
	if len(n1) > MaxIdentLen || len(n2) > MaxIdentLen {
		t.Fatalf("too long: %d %d", len(n1), len(n2))
	}
	if n1 == n2 {
		t.Fatalf("long names collide: %s", n1)
	}
	if !strings.HasPrefix(n1, "a_very_long_custom_field_name") {
		t.Errorf("truncated name lost its prefix: %s", n1)
	}
	if ColumnName(long1) != n1 {
		t.Error("not deterministic")
	}
	a := newNameAllocator()
	a.take(n1)
	got := a.assign(long1)
	if len(got) > MaxIdentLen || !strings.HasSuffix(got, "_2") || got == n1 {
		t.Errorf("suffixed long name = %q (%d bytes)", got, len(got))
	}
	if tn := TableName(strings.Repeat("X", 80) + "__c"); len(tn) > MaxIdentLen {
		t.Errorf("table name %d bytes", len(tn))
	}
}

func TestNameAllocatorCollisions(t *testing.T) {
	a := newNameAllocator()
	a.take("id")
	got := []string{
		a.assign("FirstName"),        // first_name
		a.assign("First_Name"),       // first_name → first_name_2
		a.assign("first_name"),       // → first_name_3
		a.assign("_sync_row_id"),     // reserved → _sync_row_id_2
		a.assign("Sync_Updated_At"),  // sync_updated_at: free
		a.assign("_Sync_Updated_At"), // reserved → _sync_updated_at_2
		a.assign("ID"),               // id taken → id_2
	}
	want := []string{"first_name", "first_name_2", "first_name_3", "_sync_row_id_2", "sync_updated_at", "_sync_updated_at_2", "id_2"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("assign #%d = %q, want %q", i, got[i], want[i])
		}
	}
	a.take("first_name_4")
	if n := a.assign("FirstName"); n != "first_name_5" {
		t.Errorf("after taking _4: %q", n)
	}
}
