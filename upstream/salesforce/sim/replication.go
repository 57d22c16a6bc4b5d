package sim

import (
	"net/http"
	"time"
)

// maxUpdatedIDs is the most ids getUpdated answers (as Salesforce).
const maxUpdatedIDs = 600000

// Windows of the replication API (getUpdated / getDeleted).
const (
	updatedWindow = 30 * 24 * time.Hour
	deletedWindow = 15 * 24 * time.Hour
)

// replicationRange parses start/end, truncated to the minute as Salesforce
// does, and checks them. It returns the range [start, latest) to report.
func (s *Server) replicationRange(w http.ResponseWriter, r *http.Request, window time.Duration) (start, latest, earliest time.Time, ok bool) {
	q := r.URL.Query()
	st, err1 := parseDateTime(q.Get("start"))
	en, err2 := parseDateTime(q.Get("end"))
	if q.Get("start") == "" || q.Get("end") == "" {
		writeError(w, http.StatusBadRequest, "MISSING_ARGUMENT", "start and end are required")
		return
	}
	if err1 != nil || err2 != nil {
		writeError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "start and end must be valid dateTime values")
		return
	}
	now := s.Now()
	start = st.Truncate(time.Minute)
	end := en.Truncate(time.Minute)
	earliest = now.Add(-window).Truncate(time.Minute)
	if en.Before(st) {
		writeError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "endDate must chronologically follow startDate")
		return
	}
	if start.Before(earliest) {
		writeError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate cannot be more than %d days ago", int(window.Hours()/24))
		return
	}
	if start.After(now) {
		writeError(w, http.StatusBadRequest, "INVALID_REPLICATION_DATE", "startDate cannot be in the future")
		return
	}
	latest = end
	if nowMin := now.Truncate(time.Minute); latest.After(nowMin) {
		latest = nowMin
	}
	if latest.Before(start) { // a range inside the current minute covers nothing yet
		latest = start
	}
	return start, latest, earliest, true
}

func (s *Server) handleUpdated(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.object(name)
	if o == nil {
		writeNotFound(w)
		return
	}
	start, latest, _, ok := s.replicationRange(w, r, updatedWindow)
	if !ok {
		return
	}
	ids := []string{}
	lo, hi := start.Unix(), latest.Unix()
	for _, rec := range o.sorted() {
		if rec.stamp >= lo && rec.stamp < hi && !rec.deleted {
			ids = append(ids, rec.id)
		}
	}
	if len(ids) > maxUpdatedIDs {
		writeError(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "too many ids: more than %d records changed in the range; use a smaller range", maxUpdatedIDs)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ids": ids, "latestDateCovered": fmtTime(latest)})
}

func (s *Server) handleDeleted(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.object(name)
	if o == nil {
		writeNotFound(w)
		return
	}
	start, latest, earliest, ok := s.replicationRange(w, r, deletedWindow)
	if !ok {
		return
	}
	type entry struct {
		ID          string `json:"id"`
		DeletedDate string `json:"deletedDate"`
	}
	out := []entry{}
	lo, hi := start.Unix(), latest.Unix()
	for _, d := range o.deletions {
		if d.at >= lo && d.at < hi {
			// an undeleted (restored) record is no longer reported
			if rec := o.byID[d.id]; rec != nil && !rec.deleted {
				continue
			}
			out = append(out, entry{ID: d.id, DeletedDate: fmtTime(unixTime(d.at))})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deletedRecords": out, "earliestDateAvailable": fmtTime(earliest), "latestDateCovered": fmtTime(latest)})
}
