package replication

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestAppendValue(t *testing.T) {
	e := newValueEncoder()
	tests := []struct {
		oid  uint32
		text string
		want string
	}{
		{pgtype.BoolOID, "t", `true`},
		{pgtype.BoolOID, "f", `false`},
		{pgtype.Int4OID, "-42", `-42`},
		{pgtype.Int8OID, "9223372036854775807", `9223372036854775807`},
		{pgtype.NumericOID, "1234.5000", `1234.5000`},
		{pgtype.NumericOID, "NaN", `"NaN"`},
		{pgtype.NumericOID, "-Infinity", `"-Infinity"`},
		{pgtype.Float8OID, "1e+100", `1e+100`},
		{pgtype.Float8OID, "Infinity", `"Infinity"`},
		{pgtype.DateOID, "2024-02-29", `"2024-02-29"`},
		{pgtype.TimestamptzOID, "2024-05-06 07:08:09.123456+00", `"2024-05-06T07:08:09.123456Z"`},
		{pgtype.TimestamptzOID, "2024-05-06 07:08:09+05:30", `"2024-05-06T01:38:09Z"`},
		{pgtype.TimestamptzOID, "infinity", `"infinity"`},
		{pgtype.TimestampOID, "2024-05-06 07:08:09.5", `"2024-05-06T07:08:09.5"`},
		{pgtype.TimeOID, "13:14:15", `"13:14:15"`},
		{pgtype.JSONBOID, `{"a": [1, 2]}`, `{"a": [1, 2]}`},
		{pgtype.TextOID, "line\nbreak \"q\" \\ \x01", `"line\nbreak \"q\" \\ \u0001"`},
		{pgtype.TextArrayOID, `{a,"b c",NULL,"d\"e","NULL"}`, `["a","b c",null,"d\"e","NULL"]`},
		{pgtype.TextArrayOID, `{}`, `[]`},
		{pgtype.Int4ArrayOID, `{1,2,NULL}`, `[1,2,null]`},
		{pgtype.TextArrayOID, `{{a,b},{c,d}}`, `"{{a,b},{c,d}}"`},
		{pgtype.UUIDOID, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", `"6ba7b810-9dad-11d1-80b4-00c04fd430c8"`},
	}
	for _, tt := range tests {
		got := string(e.appendValue(nil, tt.oid, []byte(tt.text)))
		if got != tt.want {
			t.Errorf("oid %d %q: got %s, want %s", tt.oid, tt.text, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("oid %d %q: invalid JSON %s", tt.oid, tt.text, got)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-1": true, "1.50": true, "1e5": true, "1E-5": true, "-0.0": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "NaN": false, "1e": false, "Infinity": false,
	} {
		if got := isJSONNumber([]byte(s)); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "é ü 日本", "\x00\x1f\t\n\r\"\\", "bad \xff utf8"} {
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Errorf("%q → %s: %v", s, out, err)
			continue
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("%q → %s → %q", s, out, back)
		}
	}
}

func TestParsePGDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"60s": time.Minute, "1min": time.Minute, "500ms": 500 * time.Millisecond, "0": 0, "2h": 2 * time.Hour, "1500": 1500 * time.Millisecond,
	} {
		got, err := parsePGDuration(s)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := parsePGDuration("soon"); err == nil {
		t.Error("soon accepted")
	}
}

func TestCopyText(t *testing.T) {
	got := string(copyText(nil, []byte("a\tb\nc\rd\\e")))
	if got != `a\tb\nc\rd\\e` {
		t.Errorf("got %q", got)
	}
}
