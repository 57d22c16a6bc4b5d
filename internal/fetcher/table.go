package fetcher

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// column is one synced column as the fetcher writes it.
type column struct {
	Name  string                 // PostgreSQL column name
	Field string                 // provider field name
	Conv  func(any) (any, error) // provider value → value pgx can write (nil: as is)
}

// table is what the fetcher needs to know about one synced table. It is
// built from a *schema.Table (see fromSchema) so that the SQL here does not
// depend on how schema/ stores its mapping.
type table struct {
	Schema string
	Name   string // table name in PostgreSQL ("contact")
	Object string // provider object ("Contact")
	Cols   []column
	idCol  int // index in Cols of the column holding the record id
	// noDeletes: records of this object cannot be deleted upstream, so there
	// is no deleted-records feed to read.
	noDeletes bool
}

// qualified is the quoted schema.table name.
func (t *table) qualified() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// sys quotes a system table of the same schema.
func (t *table) sys(name string) string { return pgx.Identifier{t.Schema, name}.Sanitize() }

// fields lists the provider fields to read.
func (t *table) fields() []string {
	out := make([]string, 0, len(t.Cols))
	for _, c := range t.Cols {
		out = append(out, c.Field)
	}
	return out
}

// colNames lists the column names, in Cols order.
func (t *table) colNames() []string {
	out := make([]string, 0, len(t.Cols))
	for _, c := range t.Cols {
		out = append(out, c.Name)
	}
	return out
}

// validate checks that the table has an id column and no column tether
// manages itself.
func (t *table) validate() error {
	t.idCol = -1
	for i, c := range t.Cols {
		switch c.Name {
		case "id":
			t.idCol = i
		case "_sync_row_id", "_sync_updated_at":
			return fmt.Errorf("table %s: column %s is managed by tether and cannot be synced", t.Name, c.Name)
		}
	}
	if t.idCol < 0 {
		return fmt.Errorf("table %s: no id column among the synced columns", t.Name)
	}
	return nil
}

// quotedList renders `prefix."a", prefix."b"` for the columns.
func (t *table) quotedList(prefix string) string {
	var b strings.Builder
	for i, c := range t.Cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(pgx.Identifier{c.Name}.Sanitize())
	}
	return b.String()
}
