package salesforce

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tether-sync/tether/upstream"
)

func TestEncodeValue(t *testing.T) {
	obj := testObject()
	ts := time.Date(2024, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 2*3600))
	cases := []struct {
		field string
		v     any
		want  any
	}{
		{"LastName", nil, nil},
		{"LastName", "Smith", "Smith"},
		{"Hobbies__c", []string{"golf", "chess"}, "golf;chess"},
		{"Hobbies__c", []string{}, ""},
		{"Hobbies__c", []any{"a", "b"}, "a;b"},
		{"Score__c", json.Number("12.50"), json.Number("12.50")},
		{"Score__c", "7.5", json.Number("7.5")},
		{"Age__c", json.Number("42"), json.Number("42")},
		{"LastName", json.Number("42"), "42"},
		{"Birthdate", ts, "2024-03-04"},
		{"Seen__c", ts, "2024-03-04T03:06:07.000Z"},
		{"Alarm__c", time.Date(0, 1, 1, 9, 30, 0, 0, time.UTC), "09:30:00.000Z"},
		{"DoNotCall", true, true},
		{"Nope__c", ts, "2024-03-04T03:06:07.000Z"},
	}
	for _, c := range cases {
		got, err := EncodeValue(obj.Field(c.field), c.v)
		if err != nil {
			t.Errorf("EncodeValue(%s, %#v): %v", c.field, c.v, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("EncodeValue(%s, %#v) = %#v, want %#v", c.field, c.v, got, c.want)
		}
	}
	for _, bad := range []struct {
		field string
		v     any
	}{
		{"Hobbies__c", []string{"a;b"}},
		{"Score__c", json.Number("1e")},
		{"Hobbies__c", []any{1}},
	} {
		if _, err := EncodeValue(obj.Field(bad.field), bad.v); err == nil {
			t.Errorf("EncodeValue(%s, %#v) accepted a bad value", bad.field, bad.v)
		}
	}
}

func TestEncodeCollection(t *testing.T) {
	obj := testObject()
	body, err := EncodeCollection(obj, upstream.OpUpdate, []upstream.Change{
		{ID: "003000000000001AAA", Fields: map[string]any{"LastName": "A", "Hobbies__c": []string{"x", "y"}, "Score__c": json.Number("1.10"), "Birthdate": nil, "Id": "ignored"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"allOrNone":false,"records":[{"Birthdate":null,"Hobbies__c":"x;y","Id":"003000000000001AAA","LastName":"A","Score__c":1.10,"attributes":{"type":"Contact"}}]}`
	if string(body) != want {
		t.Fatalf("\n got %s\nwant %s", body, want)
	}
	body, err = EncodeCollection(obj, upstream.OpCreate, []upstream.Change{{Fields: map[string]any{"LastName": "B"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"allOrNone":false,"records":[{"LastName":"B","attributes":{"type":"Contact"}}]}`; string(body) != want {
		t.Fatalf("got %s", body)
	}
	if _, err := EncodeCollection(obj, upstream.OpUpdate, []upstream.Change{{Fields: map[string]any{"LastName": "B"}}}); err == nil {
		t.Fatal("update without id accepted")
	}
}

func TestConvertResults(t *testing.T) {
	raw := []collectionResult{}
	body := `[
	 {"id":"003000000000001AAA","success":true,"errors":[]},
	 {"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]},
	 {"id":"003000000000003AAA","success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]},
	 {"id":"003000000000004AAA","success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED","message":"entity is deleted","fields":[]}]},
	 {"id":"003000000000005AAA","success":false,"errors":[{"statusCode":"INVALID_CROSS_REFERENCE_KEY","message":"invalid cross reference id","fields":[]}]}
	]`
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	changes := []upstream.Change{{ID: "003000000000001AAA"}, {ID: "003000000000002AAA"}, {ID: "003000000000003AAA"}, {ID: "003000000000004AAA"}, {ID: "003000000000005AAA"}}
	for _, tc := range []struct {
		op     upstream.Op
		okStat int
		gone5  bool
	}{{upstream.OpUpdate, 200, false}, {upstream.OpDelete, 204, true}} {
		res := convertResults(tc.op, changes, raw)
		if !res[0].OK || res[0].Status != tc.okStat || res[0].ID != "003000000000001AAA" {
			t.Errorf("%s ok: %+v", tc.op, res[0])
		}
		if res[1].OK || res[1].Status != 400 || res[1].ID != "003000000000002AAA" || res[1].Transient || res[1].Gone ||
			res[1].Message() != "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] (fields: LastName)" {
			t.Errorf("%s validation: %+v", tc.op, res[1])
		}
		if !res[2].Transient || res[2].Gone {
			t.Errorf("%s lock: %+v", tc.op, res[2])
		}
		if !res[3].Gone || res[3].Status != 404 {
			t.Errorf("%s deleted: %+v", tc.op, res[3])
		}
		if res[4].Gone != tc.gone5 {
			t.Errorf("%s cross reference: %+v", tc.op, res[4])
		}
	}
	res := convertResults(upstream.OpCreate, make([]upstream.Change, 5), raw)
	if res[0].Status != 201 || res[3].Gone {
		t.Errorf("create: %+v", res)
	}
}

func TestDecodeRecordAndPage(t *testing.T) {
	obj := testObject()
	rec, err := DecodeRecord(obj, []byte(`{"attributes":{"type":"Contact","url":"/x"},"Id":"003000000000001AAA","Score__c":12.50,"Age__c":7,
		"Hobbies__c":"golf;chess","MailingAddress":{"city":"Paris","street":null},"DoNotCall":false,"LastName":null,
		"Account":{"attributes":{"type":"Account"},"Name":"Acme"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := upstream.Record{
		"Id": "003000000000001AAA", "Score__c": json.Number("12.50"), "Age__c": json.Number("7"),
		"Hobbies__c": []string{"golf", "chess"}, "MailingAddress": map[string]any{"city": "Paris", "street": nil},
		"DoNotCall": false, "LastName": nil, "Account": map[string]any{"Name": "Acme"},
	}
	if !reflect.DeepEqual(rec, want) {
		t.Fatalf("got %#v", rec)
	}

	page, err := decodePage(nil, fixture(t, "query_paginated_first_page_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 || page.Next != "/services/data/v26.0/query/01gD" || len(page.Records) != 1 ||
		page.Records[0]["Text_Label"] != "First Page" || page.Records[0]["attributes"] != nil {
		t.Fatalf("first page %+v", page)
	}
	page, err = decodePage(nil, fixture(t, "query_paginated_last_page_response.json"))
	if err != nil || page.Next != "" || page.Records[0]["Text_Label"] != "Last Page" {
		t.Fatalf("last page %+v %v", page, err)
	}

	page, err = decodePage(obj, []byte(`{"totalSize":2,"done":true,"records":[
	 {"attributes":{},"Id":"a","SystemModstamp":"2024-01-02T03:04:05.000+0000","IsDeleted":false},
	 {"attributes":{},"Id":"b","SystemModstamp":"2024-01-02T03:04:06.000+0000","IsDeleted":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(page.Deleted, []bool{false, true}) || page.Last.ID != "b" ||
		!page.Last.Stamp.Equal(time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)) {
		t.Fatalf("page %+v", page)
	}
}
