package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
)

// MaxIdentLen is PostgreSQL's identifier limit (NAMEDATALEN-1) in bytes.
const MaxIdentLen = 63

// System columns every synced table has besides its field columns.
const (
	ColID        = "id"               // the provider's record id (text UNIQUE)
	ColRowID     = "_sync_row_id"     // stable local key (identity primary key)
	ColUpdatedAt = "_sync_updated_at" // when tether last applied the provider's version
)

// reservedColumns are names no field other than the id field may take.
var reservedColumns = map[string]bool{ColRowID: true, ColUpdatedAt: true}

// TableName is the PostgreSQL table for a provider object: its API name in
// lower case ("Account" → "account", "Invoice__c" → "invoice__c", "User" →
// "user", which SQL must quote). Names longer than 63 bytes are truncated with
// a short hash of the full name.
func TableName(object string) string {
	return fitIdent(strings.ToLower(cleanIdent(object)), object, "")
}

// ColumnName is the natural snake_case column name of a field: "FirstName" →
// "first_name", "AccountId" → "account_id", "HTMLBody" → "html_body",
// "Region_Code__c" → "region_code__c", "SLAExpirationDate__c" →
// "sla_expiration_date__c", "Address2__c" → "address2__c". Underscores the
// field already has are kept (a double underscore stays double). Names longer
// than 63 bytes are truncated with a short hash of the full name.
//
// ColumnName does not resolve collisions: the name a column actually has is
// assigned once by SyncTable (suffix _2, _3, ... on a collision) and recorded
// in _sync_columns; read it from there (Table.ColumnForField), never recompute it.
func ColumnName(field string) string {
	return fitIdent(snake(cleanIdent(field)), field, "")
}

// cleanIdent replaces anything but letters, digits and underscores with "_".
func cleanIdent(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, s)
}

// snake converts one identifier to snake_case, keeping existing underscores.
func snake(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		parts[i] = snakeWord(p)
	}
	return strings.Join(parts, "_")
}

// snakeWord splits a CamelCase word (no underscores) at case boundaries:
// lower or digit → Upper starts a word, and the last capital of an acronym
// followed by a lower-case letter starts a word ("HTMLBody" → "html_body").
func snakeWord(w string) string {
	rs := []rune(w)
	var b strings.Builder
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// fitIdent returns name+suffix, cutting name so the whole fits in 63 bytes;
// a cut name ends in "_" plus 8 hex digits of the hash of full (the original
// provider name), so two long names that share a prefix stay apart.
func fitIdent(name, full, suffix string) string {
	if len(name)+len(suffix) <= MaxIdentLen {
		return name + suffix
	}
	sum := sha256.Sum256([]byte(full))
	tag := "_" + hex.EncodeToString(sum[:4])
	keep := MaxIdentLen - len(suffix) - len(tag)
	return strings.TrimRight(name[:keep], "_") + tag + suffix
}

// nameAllocator hands out column names that are unique within one table.
type nameAllocator struct {
	used map[string]bool
}

func newNameAllocator() *nameAllocator {
	a := &nameAllocator{used: map[string]bool{}}
	for n := range reservedColumns {
		a.used[n] = true
	}
	return a
}

// take marks a name as used (an existing mapping or a column already in the table).
func (a *nameAllocator) take(name string) { a.used[name] = true }

// assign returns the natural name of field, or it with _2, _3, ... when that
// is already used, and marks the result used.
func (a *nameAllocator) assign(field string) string {
	base := snake(cleanIdent(field))
	name := fitIdent(base, field, "")
	for n := 2; a.used[name]; n++ {
		name = fitIdent(base, field, "_"+strconv.Itoa(n))
	}
	a.used[name] = true
	return name
}
