package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tether.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no tether.yaml here
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "" {
		t.Errorf("File = %q, want none", c.File)
	}
	want := Default()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load with nothing = %+v, want %+v", c, want)
	}
	if c.Schema != "salesforce" || c.Salesforce.APIVersion != "62.0" || c.Salesforce.LoginURL != "https://login.salesforce.com" ||
		c.Rate != (Rate{1, 3000, 1}) || c.DailyLimitShare != 0.9 || c.Batch.Size != 200 || c.Batch.Wait != time.Second ||
		c.Slot != "tether" || c.Publication != "tether" || c.Origin != "tether" || c.EchoMode != "" || !c.IncludeCustom ||
		!reflect.DeepEqual(c.Objects, []string{"Account", "Contact", "Lead", "Opportunity", "User"}) {
		t.Errorf("defaults wrong: %+v", c)
	}
	if c.Rate.Period() != 3*time.Second {
		t.Errorf("Period = %s", c.Rate.Period())
	}
}

func TestDefaultFileInWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("schema: sf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Schema != "sf" || c.File != DefaultFile {
		t.Errorf("schema %q file %q", c.Schema, c.File)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), envMap(nil)); err == nil {
		t.Error("an explicit missing file must be an error")
	}
}

const fullYAML = `
database_url: postgres://app:s3cret-pw@db.example.com:5432/app?sslmode=require
schema: crm
objects: [Account, Contact, Invoice__c]
salesforce:
  login_url: https://test.salesforce.com/
  client_id: cid
  client_secret: csecret
  refresh_token: rtoken
  api_version: "61.0"
rate:
  allowed_requests: 5
  period_ms: 1000
  max_concurrent: 2
daily_limit_share: 0.5
batch:
  size: 50
  wait: 250ms
poll_interval: 10s
http_addr: ":9090"
log_format: console
log_level: debug
slot: tether_slot
publication: tether_pub
origin: tether_origin
echo_mode: message
`

func TestFileAndEnvironment(t *testing.T) {
	p := writeFile(t, fullYAML)
	c, err := Load(p, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:          p,
		DatabaseURL:   "postgres://app:s3cret-pw@db.example.com:5432/app?sslmode=require",
		Schema:        "crm",
		Objects:       []string{"Account", "Contact", "Invoice__c"},
		IncludeCustom: false,
		Salesforce: Salesforce{LoginURL: "https://test.salesforce.com", ClientID: "cid", ClientSecret: "csecret",
			RefreshToken: "rtoken", APIVersion: "61.0"},
		Rate:            Rate{5, 1000, 2},
		DailyLimitShare: 0.5,
		Batch:           Batch{50, 250 * time.Millisecond},
		PollInterval:    10 * time.Second,
		HTTPAddr:        ":9090",
		LogFormat:       "console",
		LogLevel:        "debug",
		Slot:            "tether_slot", Publication: "tether_pub", Origin: "tether_origin", EchoMode: "message",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}

	// Every environment name overrides the file.
	env := map[string]string{
		"TETHER_DATABASE_URL":             "postgres://other@localhost/x",
		"TETHER_SCHEMA":                   "sf2",
		"TETHER_OBJECTS":                  "Lead, Opportunity,*__c",
		"TETHER_SALESFORCE_LOGIN_URL":     "http://127.0.0.1:8787",
		"TETHER_SALESFORCE_CLIENT_ID":     "cid2",
		"TETHER_SALESFORCE_CLIENT_SECRET": "cs2",
		"TETHER_SALESFORCE_REFRESH_TOKEN": "rt2",
		"TETHER_SALESFORCE_API_VERSION":   "62.0",
		"TETHER_RATE_ALLOWED_REQUESTS":    "0",
		"TETHER_RATE_PERIOD_MS":           "3000",
		"TETHER_RATE_MAX_CONCURRENT":      "4",
		"TETHER_DAILY_LIMIT_SHARE":        "1",
		"TETHER_BATCH_SIZE":               "1",
		"TETHER_BATCH_WAIT":               "0s",
		"TETHER_POLL_INTERVAL":            "1m",
		"TETHER_HTTP_ADDR":                "0.0.0.0:8080",
		"TETHER_LOG_FORMAT":               "json",
		"TETHER_LOG_LEVEL":                "WARN",
		"TETHER_SLOT":                     "s",
		"TETHER_PUBLICATION":              "p",
		"TETHER_ORIGIN":                   "o",
		"TETHER_ECHO_MODE":                "auto",
	}
	c, err = Load(p, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	want = &Config{
		File:          p,
		DatabaseURL:   "postgres://other@localhost/x",
		Schema:        "sf2",
		Objects:       []string{"Lead", "Opportunity"},
		IncludeCustom: true,
		Salesforce: Salesforce{LoginURL: "http://127.0.0.1:8787", ClientID: "cid2", ClientSecret: "cs2",
			RefreshToken: "rt2", APIVersion: "62.0"},
		Rate:            Rate{0, 3000, 4},
		DailyLimitShare: 1,
		Batch:           Batch{1, 0},
		PollInterval:    time.Minute,
		HTTPAddr:        "0.0.0.0:8080",
		LogFormat:       "json",
		LogLevel:        "warn",
		Slot:            "s", Publication: "p", Origin: "o", EchoMode: "",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	// Every documented name is read.
	for _, n := range []string{"TETHER_DATABASE_URL", "TETHER_SCHEMA", "TETHER_OBJECTS", "TETHER_SALESFORCE_LOGIN_URL",
		"TETHER_SALESFORCE_CLIENT_ID", "TETHER_SALESFORCE_CLIENT_SECRET", "TETHER_SALESFORCE_REFRESH_TOKEN",
		"TETHER_SALESFORCE_API_VERSION", "TETHER_RATE_ALLOWED_REQUESTS", "TETHER_RATE_PERIOD_MS",
		"TETHER_RATE_MAX_CONCURRENT", "TETHER_DAILY_LIMIT_SHARE", "TETHER_BATCH_SIZE", "TETHER_BATCH_WAIT",
		"TETHER_POLL_INTERVAL", "TETHER_HTTP_ADDR", "TETHER_LOG_FORMAT"} {
		found := false
		for _, e := range EnvNames() {
			found = found || e == n
		}
		if !found {
			t.Errorf("EnvNames lacks %s", n)
		}
	}
}

func TestBrokenValues(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		env, value, want string
	}{
		{"TETHER_BATCH_SIZE", "500", `TETHER_BATCH_SIZE: must be between 1 and 200, got "500"`},
		{"TETHER_BATCH_SIZE", "0", `TETHER_BATCH_SIZE: must be between 1 and 200, got "0"`},
		{"TETHER_BATCH_SIZE", "ten", `TETHER_BATCH_SIZE: must be between 1 and 200, got "ten"`},
		{"TETHER_BATCH_WAIT", "1 sec", `TETHER_BATCH_WAIT: not a Go duration: "1 sec"`},
		{"TETHER_BATCH_WAIT", "-1s", `TETHER_BATCH_WAIT: must be between`},
		{"TETHER_POLL_INTERVAL", "30", `TETHER_POLL_INTERVAL: not a Go duration: "30"`},
		{"TETHER_SCHEMA", "Sales Force", `TETHER_SCHEMA: must be a lower-case identifier`},
		{"TETHER_SCHEMA", "x;drop", `TETHER_SCHEMA: must be a lower-case identifier`},
		{"TETHER_SLOT", "my-slot", `TETHER_SLOT: must be a lower-case identifier`},
		{"TETHER_PUBLICATION", strings.Repeat("a", 64), `TETHER_PUBLICATION: must be a lower-case identifier`},
		{"TETHER_SALESFORCE_API_VERSION", "62", `TETHER_SALESFORCE_API_VERSION: must be a Salesforce API version like 62.0, got "62"`},
		{"TETHER_SALESFORCE_LOGIN_URL", "login.salesforce.com", `TETHER_SALESFORCE_LOGIN_URL: must be an http(s) URL`},
		{"TETHER_SALESFORCE_LOGIN_URL", "ftp://x", `TETHER_SALESFORCE_LOGIN_URL: must be an http(s) URL`},
		{"TETHER_DAILY_LIMIT_SHARE", "0", `TETHER_DAILY_LIMIT_SHARE: must be a number greater than 0 and at most 1, got "0"`},
		{"TETHER_DAILY_LIMIT_SHARE", "1.5", `TETHER_DAILY_LIMIT_SHARE: must be a number greater than 0 and at most 1`},
		{"TETHER_RATE_ALLOWED_REQUESTS", "-1", `TETHER_RATE_ALLOWED_REQUESTS: must be between 0 and`},
		{"TETHER_RATE_PERIOD_MS", "0", `TETHER_RATE_PERIOD_MS: must be between 1 and`},
		{"TETHER_RATE_MAX_CONCURRENT", "x", `TETHER_RATE_MAX_CONCURRENT: must be between 0 and`},
		{"TETHER_HTTP_ADDR", "8080", `TETHER_HTTP_ADDR: must be host:port or :port`},
		{"TETHER_HTTP_ADDR", ":http", `TETHER_HTTP_ADDR: must be host:port or :port with a port`},
		{"TETHER_LOG_FORMAT", "text", `TETHER_LOG_FORMAT: must be one of json, console, auto, got "text"`},
		{"TETHER_LOG_LEVEL", "verbose", `TETHER_LOG_LEVEL: must be one of debug, info, warn, error, got "verbose"`},
		{"TETHER_ECHO_MODE", "both", `TETHER_ECHO_MODE: must be one of origin, message, auto`},
		{"TETHER_OBJECTS", "Account,Con tact", `TETHER_OBJECTS: not an API name: "Con tact"`},
		{"TETHER_OBJECTS", "Account;Contact", `TETHER_OBJECTS: not an API name: "Account;Contact"`},
		{"TETHER_OBJECTS", " , ", `TETHER_OBJECTS: must name at least one object`},
		{"TETHER_DATABASE_URL", "postgres://u:hunter2@host:notaport/db", `TETHER_DATABASE_URL: not a valid PostgreSQL connection string`},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := Load("", envMap(map[string]string{tc.env: tc.value}))
			if err == nil {
				t.Fatalf("accepted %s=%q", tc.env, tc.value)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func TestSecretsNeverEchoed(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := Load("", envMap(map[string]string{"TETHER_SALESFORCE_CLIENT_SECRET": "abc def-zzqq"}))
	if err == nil || strings.Contains(err.Error(), "zzqq") || !strings.Contains(err.Error(), "TETHER_SALESFORCE_CLIENT_SECRET") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown key", "schema: x\nbatchsize: 5\n", []string{"field batchsize not found"}},
		{"unknown nested key", "batch:\n  sise: 5\n", []string{"field sise not found"}},
		{"bad duration", "batch:\n  wait: 1 sec\n", []string{`batch.wait: not a Go duration: "1 sec"`}},
		{"several at once", "batch:\n  size: 500\nschema: A-B\n", []string{`batch.size: must be between 1 and 200, got "500"`, `schema: must be a lower-case identifier`}},
		{"bad share", "daily_limit_share: 0\n", []string{`daily_limit_share: must be a number greater than 0`}},
		{"bad objects", "objects: [\"Bad Name\"]\n", []string{`objects: not an API name: "Bad Name"`}},
		{"not yaml", "schema: [unclosed\n", []string{"config "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := Load(p, envMap(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "fileConfig") {
				t.Errorf("error names a Go type: %q", err)
			}
		})
	}
	// An empty file is the defaults.
	c, err := Load(writeFile(t, ""), envMap(nil))
	if err != nil || c.Schema != "salesforce" {
		t.Fatalf("empty file: %v %+v", err, c)
	}
}

func TestObjects(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		env        string
		want       []string
		wantCustom bool
	}{
		{"Account", []string{"Account"}, false},
		{"Account,account,Contact", []string{"Account", "Contact"}, false},
		{"*__c", nil, true},
		{"default", []string{"Account", "Contact", "Lead", "Opportunity", "User"}, true},
		{"Invoice__c, ns__Thing__c", []string{"Invoice__c", "ns__Thing__c"}, false},
	}
	for _, tc := range cases {
		c, err := Load("", envMap(map[string]string{"TETHER_OBJECTS": tc.env}))
		if err != nil {
			t.Fatalf("%q: %v", tc.env, err)
		}
		if !reflect.DeepEqual(c.Objects, tc.want) || c.IncludeCustom != tc.wantCustom {
			t.Errorf("%q: objects %v custom %v, want %v %v", tc.env, c.Objects, c.IncludeCustom, tc.want, tc.wantCustom)
		}
	}
	// A comma-separated string works in YAML too.
	c, err := Load(writeFile(t, "objects: Account, Invoice__c\n"), envMap(nil))
	if err != nil || !reflect.DeepEqual(c.Objects, []string{"Account", "Invoice__c"}) {
		t.Fatalf("objects as a string: %v %+v", err, c)
	}
	// include_custom overrides what the list implies.
	c, err = Load(writeFile(t, "objects: [Account]\ninclude_custom: true\n"), envMap(nil))
	if err != nil || !c.IncludeCustom {
		t.Fatalf("include_custom: %v %+v", err, c)
	}
	got := c.ResolveObjects([]string{"Account", "Zeta__c", "Case", "Alpha__c", "Account"})
	if want := []string{"Account", "Alpha__c", "Zeta__c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveObjects = %v, want %v", got, want)
	}
	c.IncludeCustom = false
	if got := c.ResolveObjects([]string{"Zeta__c"}); !reflect.DeepEqual(got, []string{"Account"}) {
		t.Errorf("ResolveObjects without custom = %v", got)
	}
}

func TestRedacted(t *testing.T) {
	cases := []struct{ dsn, want string }{
		{"postgres://app:s3cret@db:5432/app?sslmode=disable", "postgres://app:********@db:5432/app?sslmode=disable"},
		{"postgresql://app@db/app", "postgresql://app@db/app"},
		{"postgres://app@db/app?password=s3cret", "postgres://app@db/app?password=xxxxx"},
		{"host=db user=app password=s3cret dbname=app", "host=db user=app password=******** dbname=app"},
		{"host=db password='s3 cret' dbname=app", "host=db password=******** dbname=app"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := RedactDSN(tc.dsn); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}

	c := Default()
	c.DatabaseURL = "postgres://app:pw-XYZZY@db/app"
	c.Salesforce.ClientID = "client-id-visible"
	c.Salesforce.ClientSecret = "SECRET-CS"
	c.Salesforce.RefreshToken = "SECRET-RT"
	r := c.Redacted()
	b, _ := json.Marshal(r)
	for _, s := range []string{"XYZZY", "SECRET-CS", "SECRET-RT"} {
		if strings.Contains(string(b), s) {
			t.Errorf("Redacted leaks %s: %s", s, b)
		}
	}
	if !strings.Contains(string(b), "client-id-visible") {
		t.Errorf("client id should stay visible: %s", b)
	}
	if c.Salesforce.ClientSecret != "SECRET-CS" {
		t.Error("Redacted modified the original")
	}
	if got := c.Secrets(); !reflect.DeepEqual(got, []string{"SECRET-CS", "SECRET-RT", "pw-XYZZY"}) {
		t.Errorf("Secrets = %v", got)
	}
}

func TestRequire(t *testing.T) {
	c := Default()
	if err := c.RequireDatabase(); err == nil || !strings.Contains(err.Error(), "TETHER_DATABASE_URL") {
		t.Errorf("RequireDatabase = %v", err)
	}
	err := c.RequireSalesforce()
	for _, n := range []string{"TETHER_SALESFORCE_CLIENT_ID", "TETHER_SALESFORCE_CLIENT_SECRET", "TETHER_SALESFORCE_REFRESH_TOKEN"} {
		if err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("RequireSalesforce = %v, want %s", err, n)
		}
	}
}

func TestExampleLoadsAsDefaults(t *testing.T) {
	c, err := Load(writeFile(t, Example), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = c.File
	want.DatabaseURL = "postgres://tether:secret@localhost:5432/app?sslmode=disable"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example.yaml differs from the defaults:\n got %+v\nwant %+v", c, want)
	}
	for _, n := range EnvNames() {
		if !strings.Contains(Example, n) {
			t.Errorf("example.yaml does not mention %s", n)
		}
	}
}
