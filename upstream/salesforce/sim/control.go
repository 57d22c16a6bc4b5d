package sim

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"
)

// serveControl answers the /_sim/ control surface (not counted, no auth):
//
//	GET    /_sim/credentials                  the Credentials JSON
//	GET    /_sim/objects                      object names and record counts
//	POST   /_sim/objects                      add a custom object (CustomObject JSON)
//	POST   /_sim/seed                         {"object":"Account","count":100}
//	POST   /_sim/records/{Object}             create as another user → {"id":...}
//	GET    /_sim/records/{Object}             live records
//	GET    /_sim/records/{Object}/{id}        one record (also deleted)
//	PATCH  /_sim/records/{Object}/{id}        update as another user
//	DELETE /_sim/records/{Object}/{id}[?hard=true]
//	POST   /_sim/records/{Object}/{id}/undelete  restore from the recycle bin
//	POST   /_sim/records/{Object}/{id}/touch     move SystemModstamp only (a system update)
//	GET    /_sim/clock                        {"now":...}
//	POST   /_sim/clock                        {"now":"2024-01-02T03:04:05Z"} and/or {"advance":"1h"}
//	POST   /_sim/faults                       {"fail":{"status":503,"n":2},"delay":{"duration":"2s","n":1},
//	                                           "drop":1,"dropAfterCommit":1,"lock":{"id":"001...","n":2}}
//	POST   /_sim/tokens/expire | /_sim/refresh/revoke | /_sim/refresh/restore
//	POST   /_sim/limits                       {"max":15000,"used":100}
//	GET    /_sim/requests | DELETE /_sim/requests   counts by endpoint key; reset
//	GET    /_sim/log                          the request log
//	GET|POST /_sim/snapshot                   the whole state (Save's JSON; Load reads it)
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim/"), "/")
	parts := strings.Split(path, "/")
	bad := func(err error) {
		status := http.StatusBadRequest
		if errors.Is(err, ErrNotFound) {
			status = http.StatusNotFound
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
	}
	ok := func() { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) }
	decode := func(v any) bool {
		if err := decodeBody(r, v); err != nil {
			bad(err)
			return false
		}
		return true
	}
	switch {
	case path == "credentials":
		writeJSON(w, http.StatusOK, s.Credentials())
	case path == "objects" && r.Method == http.MethodGet:
		out := map[string]map[string]int{}
		for _, n := range s.Objects() {
			live, del := s.Count(n)
			out[n] = map[string]int{"live": live, "deleted": del}
		}
		writeJSON(w, http.StatusOK, out)
	case path == "objects" && r.Method == http.MethodPost:
		var c CustomObject
		if !decode(&c) {
			return
		}
		if err := s.AddCustomObject(c); err != nil {
			bad(err)
			return
		}
		ok()
	case path == "seed":
		var body struct {
			Object string `json:"object"`
			Count  int    `json:"count"`
		}
		if !decode(&body) {
			return
		}
		if err := s.SeedObject(body.Object, body.Count); err != nil {
			bad(err)
			return
		}
		ok()
	case parts[0] == "records" && len(parts) == 2:
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.Records(parts[1]))
		case http.MethodPost:
			var body map[string]any
			if !decode(&body) {
				return
			}
			id, err := s.Create(parts[1], body)
			if err != nil {
				bad(err)
				return
			}
			writeJSON(w, http.StatusCreated, map[string]string{"id": id})
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	case parts[0] == "records" && len(parts) == 4 && parts[3] == "touch" && r.Method == http.MethodPost:
		if err := s.Touch(parts[1], parts[2]); err != nil {
			bad(err)
			return
		}
		ok()
	case parts[0] == "records" && len(parts) == 4 && parts[3] == "undelete" && r.Method == http.MethodPost:
		if err := s.Undelete(parts[1], parts[2]); err != nil {
			bad(err)
			return
		}
		ok()
	case parts[0] == "records" && len(parts) == 3:
		switch r.Method {
		case http.MethodGet:
			rec, found := s.Get(parts[1], parts[2])
			if !found {
				bad(ErrNotFound)
				return
			}
			writeJSON(w, http.StatusOK, rec)
		case http.MethodPatch:
			var body map[string]any
			if !decode(&body) {
				return
			}
			if err := s.Update(parts[1], parts[2], body); err != nil {
				bad(err)
				return
			}
			ok()
		case http.MethodDelete:
			var err error
			if r.URL.Query().Get("hard") == "true" {
				err = s.HardDelete(parts[1], parts[2])
			} else {
				err = s.Delete(parts[1], parts[2])
			}
			if err != nil {
				bad(err)
				return
			}
			ok()
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	case path == "clock":
		if r.Method == http.MethodPost {
			var body struct {
				Now     string `json:"now"`
				Advance string `json:"advance"`
			}
			if !decode(&body) {
				return
			}
			if body.Now != "" {
				t, err := parseDateTime(body.Now)
				if err != nil {
					bad(err)
					return
				}
				s.SetNow(t)
			}
			if body.Advance != "" {
				d, err := time.ParseDuration(body.Advance)
				if err != nil {
					bad(err)
					return
				}
				s.Advance(d)
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"now": fmtTime(s.Now())})
	case path == "faults":
		var body struct {
			Fail *struct {
				Status int `json:"status"`
				N      int `json:"n"`
			} `json:"fail"`
			Delay *struct {
				Duration string `json:"duration"`
				N        int    `json:"n"`
			} `json:"delay"`
			Drop            int `json:"drop"`
			DropAfterCommit int `json:"dropAfterCommit"`
			Lock            *struct {
				ID string `json:"id"`
				N  int    `json:"n"`
			} `json:"lock"`
		}
		if !decode(&body) {
			return
		}
		if body.Fail != nil {
			s.FailNext(body.Fail.Status, body.Fail.N)
		}
		if body.Delay != nil {
			d, err := time.ParseDuration(body.Delay.Duration)
			if err != nil {
				bad(err)
				return
			}
			s.DelayNext(d, body.Delay.N)
		}
		if body.Drop > 0 {
			s.DropNext(body.Drop)
		}
		if body.DropAfterCommit > 0 {
			s.DropAfterCommitNext(body.DropAfterCommit)
		}
		if body.Lock != nil {
			s.LockRecord(body.Lock.ID, body.Lock.N)
		}
		ok()
	case path == "tokens/expire":
		s.ExpireTokens()
		ok()
	case path == "refresh/revoke":
		s.RevokeRefreshToken()
		ok()
	case path == "refresh/restore":
		s.RestoreRefreshToken()
		ok()
	case path == "limits":
		if r.Method == http.MethodPost {
			var body struct {
				Max  *int `json:"max"`
				Used *int `json:"used"`
			}
			if !decode(&body) {
				return
			}
			if body.Max != nil {
				s.SetDailyLimit(*body.Max)
			}
			if body.Used != nil {
				s.SetDailyUsed(*body.Used)
			}
		}
		used, max := s.Usage()
		writeJSON(w, http.StatusOK, map[string]int{"used": used, "max": max})
	case path == "requests":
		if r.Method == http.MethodDelete {
			s.ResetRequests()
		}
		writeJSON(w, http.StatusOK, s.Requests())
	case path == "log":
		writeJSON(w, http.StatusOK, s.RequestLog())
	case path == "snapshot":
		var buf bytes.Buffer
		if err := s.Save(&buf); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint " + r.URL.Path})
	}
}
