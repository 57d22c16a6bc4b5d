package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// refresh exchanges a refresh token at the token endpoint and returns the
// access token (or fails the test with the answer).
func refresh(t *testing.T, base string, cr Credentials) string {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {cr.ClientID},
		"client_secret": {cr.ClientSecret}, "refresh_token": {cr.RefreshToken}}
	res, err := http.PostForm(base+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %v", res.StatusCode, body)
	}
	tok, _ := body["access_token"].(string)
	return tok
}

func totalSize(t *testing.T, c *client, endpoint, soql string) int {
	t.Helper()
	r := c.do("GET", "/services/data/v62.0/"+endpoint+"?q="+url.QueryEscape(soql), nil)
	if r.status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", endpoint, soql, r.status, r.body)
	}
	var body struct {
		TotalSize int `json:"totalSize"`
	}
	r.json(t, &body)
	return body.TotalSize
}

// TestSnapshotRoundTrip saves a simulator with standard and custom objects,
// live, updated, soft- and hard-deleted records, loads it into a new server
// and checks what a client sees over HTTP.
func TestSnapshotRoundTrip(t *testing.T) {
	clock := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	s1, c1 := start(t, Options{Seed: 3, RandSeed: 7, Now: clock, ClientID: "snap-client", ClientSecret: "snap-secret"})
	if err := s1.AddCustomObject(CustomObject{Name: "Invoice__c", Fields: []CustomField{
		{Name: "Amount__c", Type: "currency"},
		{Name: "Due__c", Type: "date"},
		{Name: "Sent__c", Type: "datetime"},
		{Name: "Paid__c", Type: "boolean"},
		{Name: "Status__c", Type: "picklist", Picklist: []string{"Open", "Closed"}, Restricted: true},
		{Name: "Account__c", Type: "reference", ReferenceTo: "Account"},
		{Name: "Label__c", Type: "string", Formula: "Status__c & ' ' & Name"},
	}}); err != nil {
		t.Fatal(err)
	}
	acct := s1.Records("Account")[0]["Id"].(string)
	inv, err := s1.Create("Invoice__c", map[string]any{"Name": "INV-1", "Amount__c": 12.5, "Due__c": "2026-01-31",
		"Sent__c": "2026-01-02T03:04:05.678Z", "Paid__c": true, "Status__c": "Open", "Account__c": acct})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.SeedObject("Invoice__c", 2); err != nil {
		t.Fatal(err)
	}
	s1.Advance(time.Minute)
	contact, err := s1.Create("Contact", map[string]any{"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s1.Advance(time.Minute)
	if err := s1.Update("Contact", contact, map[string]any{"Title": "Countess"}); err != nil {
		t.Fatal(err)
	}
	contacts := s1.Records("Contact")
	soft := contacts[0]["Id"].(string)
	if err := s1.Delete("Contact", soft); err != nil {
		t.Fatal(err)
	}
	hard := s1.Records("Account")[1]["Id"].(string)
	if err := s1.HardDelete("Account", hard); err != nil {
		t.Fatal(err)
	}
	s1.Advance(2 * time.Minute)
	// usage: a few API requests
	if n := totalSize(t, c1, "query", "SELECT Id FROM Contact"); n != len(contacts)-1 {
		t.Fatalf("before save: %d live contacts, want %d", n, len(contacts)-1)
	}
	wantRec := map[string]resp{}
	for _, p := range []string{"Contact/" + contact, "Contact/" + soft, "Invoice__c/" + inv, "Account/" + acct} {
		wantRec[p] = c1.do("GET", "/services/data/v62.0/sobjects/"+p, nil)
	}
	wantCounts := map[string][2]int{}
	for _, o := range []string{"Account", "Contact", "Lead", "Opportunity", "User", "Invoice__c"} {
		wantCounts[o] = [2]int{totalSize(t, c1, "query", "SELECT Id FROM "+o), totalSize(t, c1, "queryAll", "SELECT Id FROM "+o)}
	}
	creds1 := s1.Credentials()
	used1, max1 := s1.Usage()

	var snap bytes.Buffer
	if err := s1.Save(&snap); err != nil {
		t.Fatal(err)
	}
	// the control endpoint serves the same snapshot
	if r := c1.do("POST", "/_sim/snapshot", nil); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"format":"`+snapshotFormat+`"`)) {
		t.Fatalf("POST /_sim/snapshot: %d %.200s", r.status, r.body)
	}

	s2 := New(Options{Seed: 1, RandSeed: 99}) // different seed data and credentials: Load replaces them
	if err := s2.Load(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	base, err := s2.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	creds2 := s2.Credentials()
	if creds2.ClientID != "snap-client" || creds2.ClientSecret != "snap-secret" || creds2.RefreshToken != creds1.RefreshToken {
		t.Fatalf("credentials not restored: %+v", creds2)
	}
	if !s2.Now().Equal(s1.Now()) {
		t.Errorf("clock %v, want %v", s2.Now(), s1.Now())
	}
	if used2, max2 := s2.Usage(); used2 != used1 || max2 != max1 {
		t.Errorf("usage %d/%d, want %d/%d", used2, max2, used1, max1)
	}
	// an access token from before the snapshot is not valid; the old refresh token is
	c2 := &client{t: t, srv: s2, base: base, token: creds1.AccessToken}
	if r := c2.do("GET", "/services/data/v62.0/sobjects/Contact/"+contact, nil); r.status != http.StatusUnauthorized {
		t.Errorf("old access token: %d, want 401", r.status)
	}
	c2.token = refresh(t, base, creds1)

	for o, want := range wantCounts {
		got := [2]int{totalSize(t, c2, "query", "SELECT Id FROM "+o), totalSize(t, c2, "queryAll", "SELECT Id FROM "+o)}
		if got != want {
			t.Errorf("%s: query/queryAll %v, want %v", o, got, want)
		}
	}
	for p, want := range wantRec {
		got := c2.do("GET", "/services/data/v62.0/sobjects/"+p, nil)
		var g, w any
		got.json(t, &g)
		want.json(t, &w)
		if got.status != want.status || !reflect.DeepEqual(g, w) {
			t.Errorf("GET %s after load: %d %v\nwant %d %v", p, got.status, g, want.status, w)
		}
	}
	var inv2 map[string]any
	c2.do("GET", "/services/data/v62.0/sobjects/Invoice__c/"+inv, nil).json(t, &inv2)
	if inv2["Sent__c"] != "2026-01-02T03:04:05.678+0000" || inv2["Amount__c"] != 12.5 || inv2["Label__c"] != "Open INV-1" {
		t.Errorf("invoice after load: %v", inv2)
	}
	r1, _ := s1.Get("Contact", contact)
	r2, _ := s2.Get("Contact", contact)
	if !reflect.DeepEqual(r1, r2) || r2["Title"] != "Countess" || r2["SystemModstamp"] == r2["CreatedDate"] {
		t.Errorf("contact after load: %v\nwant %v", r2, r1)
	}

	// getDeleted reports both deletions
	now := s2.Now()
	q := url.Values{"start": {fmtTime(now.Add(-24 * time.Hour))}, "end": {fmtTime(now)}}
	for obj, id := range map[string]string{"Account": hard, "Contact": soft} {
		r := c2.do("GET", "/services/data/v62.0/sobjects/"+obj+"/deleted?"+q.Encode(), nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), id) {
			t.Errorf("getDeleted %s: %d %s, want %s", obj, r.status, r.body, id)
		}
	}
	if r := c2.do("GET", "/services/data/v62.0/sobjects/Account/"+hard, nil); r.status != http.StatusNotFound {
		t.Errorf("hard-deleted account: %d, want 404", r.status)
	}

	// a new record gets a fresh id: the one the saved server would have given next
	for _, obj := range []string{"Account", "Invoice__c"} {
		fields := map[string]any{"Name": "After load"}
		r := c2.do("POST", "/services/data/v62.0/sobjects/"+obj, fields)
		if r.status != http.StatusCreated {
			t.Fatalf("create %s after load: %d %s", obj, r.status, r.body)
		}
		var created struct{ ID string }
		r.json(t, &created)
		want, err := s1.Create(obj, fields)
		if err != nil {
			t.Fatal(err)
		}
		if created.ID != want || created.ID == hard {
			t.Errorf("%s created after load: id %s, want %s", obj, created.ID, want)
		}
		if live, del := s2.Count(obj); live+del != wantCounts[obj][1]+1 {
			t.Errorf("%s: %d records after a create, want %d", obj, live+del, wantCounts[obj][1]+1)
		}
	}
	// a custom object added after load gets a new key prefix
	if err := s2.AddCustomObject(CustomObject{Name: "Shipment__c"}); err != nil {
		t.Fatal(err)
	}
	if err := s1.AddCustomObject(CustomObject{Name: "Shipment__c"}); err != nil {
		t.Fatal(err)
	}
	if a, b := s1.object("Shipment__c").KeyPrefix, s2.object("Shipment__c").KeyPrefix; a != b || a == s2.object("Invoice__c").KeyPrefix {
		t.Errorf("new custom object prefix %s, want %s", b, a)
	}

	// saving the loaded server gives the same state again
	var again bytes.Buffer
	if err := s2.Save(&again); err != nil {
		t.Fatal(err)
	}
	s3 := New(Options{})
	if err := s3.Load(&again); err != nil {
		t.Fatal(err)
	}
	if a, b := fmt.Sprint(s2.Stats()), fmt.Sprint(s3.Stats()); a != b {
		t.Errorf("second round trip: %s, want %s", b, a)
	}
}

// TestSnapshotBadFiles: a wrong or corrupt file is refused with a clear
// error and the server keeps its state.
func TestSnapshotBadFiles(t *testing.T) {
	src := New(Options{Seed: 2, RandSeed: 3})
	var good bytes.Buffer
	if err := src.Save(&good); err != nil {
		t.Fatal(err)
	}
	valid := good.String()
	s := New(Options{Seed: 1, RandSeed: 5})
	before := s.Credentials().RefreshToken
	stats := fmt.Sprint(s.Stats())
	cases := map[string]struct{ body, want string }{
		"empty":      {"", "decode"},
		"truncated":  {valid[:len(valid)/2], "decode"},
		"not json":   {"PGDMP\x00\x01", "decode"},
		"other json": {`{"hello":"world"}`, "not a simulator snapshot"},
		"version":    {strings.Replace(valid, `"version":1`, `"version":99`, 1), "unsupported version 99"},
		"bad id":     {strings.Replace(valid, `"id":"003`, `"id":"00X`, 1), "invalid"},
		"bad field":  {strings.Replace(valid, `"LastName":`, `"NoSuchField__c":`, 1), "unknown or computed field"},
	}
	for name, c := range cases {
		err := s.Load(strings.NewReader(c.body))
		if err == nil || !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrSnapshot with %q", name, err, c.want)
		}
	}
	if s.Credentials().RefreshToken != before || fmt.Sprint(s.Stats()) != stats {
		t.Error("a failed Load changed the server")
	}
	if err := s.Load(strings.NewReader(valid)); err != nil {
		t.Fatal(err)
	}
	if s.Credentials().RefreshToken != src.Credentials().RefreshToken || fmt.Sprint(s.Stats()) != fmt.Sprint(src.Stats()) {
		t.Error("Load of the valid snapshot did not take")
	}
}
