package schema

import "github.com/tether-sync/tether/upstream"

// PostgreSQL column types tether creates, as written in DDL and recorded in
// _sync_columns.pg_type.
const (
	PGText        = "text"
	PGTextArray   = "text[]"
	PGBoolean     = "boolean"
	PGInteger     = "integer"
	PGBigInt      = "bigint"
	PGNumeric     = "numeric"
	PGDate        = "date"
	PGTimestamptz = "timestamptz"
	PGTime        = "time"
	PGJSONB       = "jsonb"
)

// TypeRow is one line of the published type mapping.
type TypeRow struct {
	Kind   upstream.Kind
	PGType string // "" when the kind is not synced
	Notes  string
}

// typeRows is the single source of the kind → PostgreSQL type mapping.
var typeRows = []TypeRow{
	{upstream.KindID, PGText, "the record id; the column is always `id text UNIQUE`"},
	{upstream.KindReference, PGText, "the id of the referenced record; no foreign key"},
	{upstream.KindText, PGText, "length is not enforced locally; checked upstream on write"},
	{upstream.KindTextArray, PGTextArray, "a multi-select value, one element per selected value"},
	{upstream.KindBool, PGBoolean, ""},
	{upstream.KindInt, PGInteger, ""},
	{upstream.KindBigInt, PGBigInt, ""},
	{upstream.KindDecimal, PGNumeric, "exact: no floating-point rounding"},
	{upstream.KindDate, PGDate, ""},
	{upstream.KindTimestamp, PGTimestamptz, "stored as an instant; the provider's UTC offset is not kept"},
	{upstream.KindTime, PGTime, "time of day without zone"},
	{upstream.KindJSON, PGJSONB, "compound values (address, location): read-only, their components are normal columns"},
	{upstream.KindBinary, "", "not synced by default (recorded in _sync_columns with synced=false)"},
	{upstream.KindUnknown, "", "not synced (recorded in _sync_columns with synced=false and the reason)"},
}

// TypeTable returns the kind → PostgreSQL type mapping, for documentation.
func TypeTable() []TypeRow { return append([]TypeRow(nil), typeRows...) }

// PGTypeOf returns the PostgreSQL type for a kind, or "" when fields of that
// kind are not synced.
func PGTypeOf(k upstream.Kind) string {
	for _, r := range typeRows {
		if r.Kind == k {
			return r.PGType
		}
	}
	return ""
}

// notSyncedReason says why a field gets no column, or "" if it does.
func notSyncedReason(f *upstream.Field) string {
	if f.NotSynced != "" {
		return f.NotSynced
	}
	if PGTypeOf(f.Kind) == "" {
		switch f.Kind {
		case upstream.KindBinary:
			return "binary values are not synced by default"
		default:
			return "type " + f.SourceType + " (" + string(f.Kind) + ") has no PostgreSQL mapping"
		}
	}
	return ""
}
