package sfid

import "testing"

func TestRealIDs(t *testing.T) {
	for _, id := range []string{"005i0000002MUqLAAW", "01254000001upcKAAQ", "0057e00000RmwSWAAZ", "003q000000KvQ1tAAF", "a00D0000008pQRAIA2"} {
		if !Valid(id) {
			t.Errorf("Valid(%q) = false", id)
		}
		if got := To18(id[:15]); got != id {
			t.Errorf("To18(%q) = %q, want %q", id[:15], got, id)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, id := range []string{"", "005i0000002MUqL", "005i0000002MUqLAAX", "005i0000002MUqLAA!", "005i0000002MUqLAAWx"} {
		if Valid(id) {
			t.Errorf("Valid(%q) = true", id)
		}
	}
	if !Valid("005i0000002MUqLaaw") {
		t.Error("suffix must be case-insensitive")
	}
	if To18("short") != "" {
		t.Error("To18 of a short id")
	}
	if n, err := Normalize("005i0000002MUqL"); err != nil || n != "005i0000002MUqLAAW" {
		t.Errorf("Normalize = %q, %v", n, err)
	}
	if _, err := Normalize("005i0000002MUqLAAB"); err == nil {
		t.Error("Normalize accepted a bad suffix")
	}
}

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for n := uint64(0); n < 5000; n += 7 {
		id := New("001", "Dn", n)
		if !Valid(id) || Prefix(id) != "001" || seen[id] {
			t.Fatalf("New(%d) = %q", n, id)
		}
		seen[id] = true
	}
	if New("001", "Dn", 61) >= New("001", "Dn", 62) {
		t.Fatal("ids must sort in creation order")
	}
}
