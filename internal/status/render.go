package status

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// BarWidth is the width of a backfill progress bar in characters.
const BarWidth = 20

// Render writes the report as human text: health, tables (with a progress
// bar for each running backfill), write log, capture, API usage.
func (r *Report) Render(w io.Writer) error {
	var b strings.Builder
	now := r.GeneratedAt
	fmt.Fprintf(&b, "tether status: schema %s, %s\n", r.Schema, now.UTC().Format("2006-01-02 15:04:05 MST"))
	if r.Leader != nil {
		fmt.Fprintf(&b, "leader: %s pid %d since %s\n", r.Leader.Host, r.Leader.PID, ago(now, r.Leader.Since))
	}

	fmt.Fprintf(&b, "\nHealth: %s\n", r.Overall)
	if len(r.Health) == 0 {
		b.WriteString("  (nothing reported yet)\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, e := range r.Health {
			fmt.Fprintf(tw, "  %s\t%s\tsince %s\t%s\n", e.Component, e.Status, ago(now, e.Since), oneLine(e.Message))
		}
		tw.Flush()
	}

	b.WriteString("\nTables\n")
	if len(r.Tables) == 0 {
		b.WriteString("  (none yet: run `tether setup`)\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  TABLE\tOBJECT\tROWS\tBACKFILL\tLAST POLL\tNEWEST CHANGE\tOPEN WRITES")
		for _, t := range r.Tables {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Table, t.Object, rowsText(t), backfillText(t),
				ago(now, deref(t.LastPollAt)), ago(now, deref(t.LastChangeAt)), thousands(t.OpenWrites))
		}
		tw.Flush()
	}

	b.WriteString("\nWrite log\n  ")
	for i, s := range WriteStates {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %s", s, thousands(r.WriteLog.Counts[s]))
	}
	b.WriteString("\n")
	if r.WriteLog.OldestOpenAt != nil {
		fmt.Fprintf(&b, "  oldest open entry: %s\n", ago(now, *r.WriteLog.OldestOpenAt))
	}
	if len(r.WriteLog.LatestFailures) > 0 {
		b.WriteString("  latest failures:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, f := range r.WriteLog.LatestFailures {
			code := "-"
			if f.APIResult != nil {
				code = strconv.Itoa(*f.APIResult)
			}
			id := f.APIID
			if id == "" && f.RowID != nil {
				id = "row " + strconv.FormatInt(*f.RowID, 10)
			}
			fmt.Fprintf(tw, "    #%d\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Table, f.Action, id, code, ago(now, f.UpdatedAt), oneLine(f.APIMessage))
		}
		tw.Flush()
		b.WriteString("  retry with: UPDATE " + r.Schema + "._sync_write_log SET state = 'new' WHERE state = 'failed' AND ...\n")
	}

	b.WriteString("\nCapture\n")
	if len(r.Capture) == 0 {
		b.WriteString("  (no checkpoint yet)\n")
	}
	for _, c := range r.Capture {
		state := "missing"
		if c.SlotExists {
			state = "inactive"
			if c.Active {
				state = "active"
			}
		}
		lag := "unknown"
		if c.LagBytes != nil {
			lag = bytesText(*c.LagBytes)
		}
		fmt.Fprintf(&b, "  slot %s: %s, lag %s, checkpoint %s (%s)\n", c.Slot, state, lag, c.CheckpointLSN, ago(now, c.CheckpointAt))
	}

	b.WriteString("\nSalesforce API\n")
	if r.API == nil || r.API.Max <= 0 {
		b.WriteString("  usage not recorded yet\n")
	} else {
		fmt.Fprintf(&b, "  %s of %s requests used today (%.0f%%), as of %s\n", thousands(int64(r.API.Used)), thousands(int64(r.API.Max)),
			100*float64(r.API.Used)/float64(r.API.Max), ago(now, r.API.UpdatedAt))
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings\n")
		for _, x := range r.Warnings {
			fmt.Fprintf(&b, "  ! %s\n", x)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func rowsText(t Table) string {
	switch {
	case t.Rows < 0:
		return "missing"
	case t.RowsEstimated:
		return "~" + thousands(t.Rows)
	}
	return thousands(t.Rows)
}

func backfillText(t Table) string {
	switch t.Backfill {
	case "done":
		return "done"
	case "running":
		p := t.Progress()
		if p < 0 {
			return "running, " + thousands(t.BackfillDone) + " so far"
		}
		return fmt.Sprintf("%s %3.0f%% %s/%s", Bar(p, BarWidth), 100*p, thousands(t.BackfillDone), thousands(t.BackfillTotal))
	}
	return t.Backfill
}

// Bar draws a progress bar of width characters for p in [0,1]: [#####-----].
func Bar(p float64, width int) string {
	if p < 0 {
		p = 0
	}
	if p > 1 {
		p = 1
	}
	n := int(p*float64(width) + 0.5)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

// ago renders how long before now t was ("never" for the zero time).
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// thousands formats n with comma separators: 1234567 → "1,234,567".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
