// Package sfid handles Salesforce record ids: the 15-character case-sensitive
// form, the 18-character case-insensitive form with its checksum suffix, and
// generation of new ids for a key prefix (as the simulator does).
package sfid

import (
	"fmt"
	"strings"
)

const suffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// Suffix returns the three checksum characters Salesforce appends to a
// 15-character id to make it case-insensitive. id must hold at least 15
// characters; only the first 15 count.
func Suffix(id string) string {
	var b [3]byte
	for chunk := 0; chunk < 3; chunk++ {
		n := 0
		for i := 0; i < 5; i++ {
			c := id[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		b[chunk] = suffixAlphabet[n]
	}
	return string(b[:])
}

// To18 returns the 18-character form of a 15- or 18-character id (for an
// 18-character id the suffix is recomputed from the first 15 characters), or
// "" when id is not a well-formed id.
func To18(id string) string {
	if len(id) != 15 && len(id) != 18 {
		return ""
	}
	for i := 0; i < 15; i++ {
		if !isAlnum(id[i]) {
			return ""
		}
	}
	return id[:15] + Suffix(id)
}

// Valid reports whether id is an 18-character id whose suffix matches its
// first 15 characters (case-insensitively, as Salesforce accepts it).
func Valid(id string) bool {
	if len(id) != 18 {
		return false
	}
	for i := 0; i < 18; i++ {
		if !isAlnum(id[i]) {
			return false
		}
	}
	return strings.EqualFold(id[15:], Suffix(id))
}

// Normalize accepts a 15- or 18-character id and returns its canonical
// 18-character form. An 18-character id must carry a matching suffix.
func Normalize(id string) (string, error) {
	switch len(id) {
	case 15:
		if s := To18(id); s != "" {
			return s, nil
		}
	case 18:
		if Valid(id) {
			return id[:15] + Suffix(id), nil
		}
	}
	return "", fmt.Errorf("malformed id %q", id)
}

// Prefix returns the key prefix (first three characters) of an id, or "".
func Prefix(id string) string {
	if len(id) < 3 {
		return ""
	}
	return id[:3]
}

// New builds the 18-character id of the n-th record of a key prefix: the
// three-character prefix, a two-character instance code, a reserved "0",
// n in base 62 over nine characters, and the checksum suffix.
func New(prefix, instance string, n uint64) string {
	if len(prefix) != 3 || len(instance) != 2 {
		panic(fmt.Sprintf("sfid.New: bad prefix %q or instance %q", prefix, instance))
	}
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	id15 := prefix + instance + "0" + string(digits[:])
	return id15 + Suffix(id15)
}
