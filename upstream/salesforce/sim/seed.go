package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sfid"
)

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
		"Radia", "Donald", "Katherine", "John", "Sophie", "Tim", "Hedy", "Niklaus", "Jean", "Guido", "Anita", "Bjarne"}
	lastNames = []string{"Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
		"Dijkstra", "Perlman", "Knuth", "Johnson", "McCarthy", "Wilson", "Berners-Lee", "Lamarr", "Wirth", "Sammet",
		"van Rossum", "Borg", "Stroustrup", "O'Brien", "Müller"}
	companyWords = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay",
		"Soylent", "Cyberdyne", "Tyrell", "Massive", "Dynamic", "Pied Piper", "Aperture", "Gringotts", "Oscorp"}
	companySuffixes = []string{"Inc.", "LLC", "Corp.", "Ltd.", "GmbH", "Group", "Holdings", "Partners"}
	cities          = []struct{ city, state, zip, country string }{
		{"San Francisco", "CA", "94105", "USA"}, {"New York", "NY", "10001", "USA"}, {"Austin", "TX", "73301", "USA"},
		{"Chicago", "IL", "60601", "USA"}, {"Seattle", "WA", "98101", "USA"}, {"London", "", "EC1A 1BB", "United Kingdom"},
		{"Paris", "", "75001", "France"}, {"Berlin", "", "10115", "Germany"}, {"Toronto", "ON", "M5H 2N2", "Canada"},
		{"Sydney", "NSW", "2000", "Australia"},
	}
	streets = []string{"Market St", "Main St", "Broadway", "Mission St", "Elm St", "Oak Ave", "Pine St", "High St"}
	titles  = []string{"CEO", "CTO", "VP Sales", "Engineer", "Director of Operations", "Buyer", "Account Manager", "Analyst"}
	depts   = []string{"Engineering", "Sales", "Marketing", "Finance", "Operations", "Support"}
)

func (s *Server) pick(list []string) string { return list[s.rng.Intn(len(list))] }

func (s *Server) phone() string {
	return fmt.Sprintf("(%03d) %03d-%04d", 200+s.rng.Intn(700), 200+s.rng.Intn(700), s.rng.Intn(10000))
}

func emailOf(first, last, domain string, n uint64) string {
	clean := func(x string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(x) {
			if r >= 'a' && r <= 'z' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	return fmt.Sprintf("%s.%s%d@%s", clean(first), clean(last), n, domain)
}

func (s *Server) randomID(o *objectDef) any {
	if o == nil || len(o.recs) == 0 {
		return nil
	}
	for i := 0; i < 5; i++ {
		r := o.recs[s.rng.Intn(len(o.recs))]
		if !r.deleted {
			return r.id
		}
	}
	return nil
}

func (s *Server) picklistValue(o *objectDef, field string) any {
	f := o.field(field)
	if f == nil || len(f.Picklist) == 0 {
		return nil
	}
	return f.Picklist[s.rng.Intn(len(f.Picklist))]
}

func (s *Server) address(o *objectDef, m map[string]any, prefix string) {
	c := cities[s.rng.Intn(len(cities))]
	m[prefix+"Street"] = fmt.Sprintf("%d %s", 1+s.rng.Intn(9999), s.pick(streets))
	m[prefix+"City"] = c.city
	if c.state != "" {
		m[prefix+"State"] = c.state
	}
	m[prefix+"PostalCode"] = c.zip
	m[prefix+"Country"] = c.country
}

// sample builds plausible values for one new record of o.
func (s *Server) sample(o *objectDef) map[string]any {
	n := o.nextN + 1
	first, last := s.pick(firstNames), s.pick(lastNames)
	company := s.pick(companyWords) + " " + s.pick(companySuffixes)
	m := map[string]any{}
	switch o.Name {
	case "Account":
		m["Name"] = fmt.Sprintf("%s %d", company, n)
		m["Type"] = s.picklistValue(o, "Type")
		m["Industry"] = s.picklistValue(o, "Industry")
		m["Rating"] = s.picklistValue(o, "Rating")
		m["AccountSource"] = s.picklistValue(o, "AccountSource")
		m["Phone"] = s.phone()
		m["Website"] = fmt.Sprintf("https://www.%s.example", strings.ToLower(strings.ReplaceAll(strings.Fields(company)[0], " ", "")))
		m["AnnualRevenue"] = float64(100000 * (1 + s.rng.Intn(5000)))
		m["NumberOfEmployees"] = float64(1 + s.rng.Intn(20000))
		s.address(o, m, "Billing")
		if s.rng.Intn(2) == 0 {
			s.address(o, m, "Shipping")
		}
	case "Contact":
		m["FirstName"], m["LastName"] = first, last
		m["Salutation"] = s.picklistValue(o, "Salutation")
		m["Email"] = emailOf(first, last, "example.com", n)
		m["Phone"] = s.phone()
		m["Title"] = s.pick(titles)
		m["Department"] = s.pick(depts)
		m["LeadSource"] = s.picklistValue(o, "LeadSource")
		m["Birthdate"] = time.Date(1950+s.rng.Intn(50), time.Month(1+s.rng.Intn(12)), 1+s.rng.Intn(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		m["AccountId"] = s.randomID(s.objects["Account"])
		s.address(o, m, "Mailing")
	case "Lead":
		m["FirstName"], m["LastName"] = first, last
		m["Company"] = company
		m["Email"] = emailOf(first, last, "example.org", n)
		m["Phone"] = s.phone()
		m["Title"] = s.pick(titles)
		m["Status"] = s.picklistValue(o, "Status")
		m["Industry"] = s.picklistValue(o, "Industry")
		m["Rating"] = s.picklistValue(o, "Rating")
		m["LeadSource"] = s.picklistValue(o, "LeadSource")
		m["AnnualRevenue"] = float64(50000 * (1 + s.rng.Intn(1000)))
		s.address(o, m, "")
	case "Opportunity":
		m["Name"] = fmt.Sprintf("%s - %s %d", company, s.pick([]string{"Renewal", "Expansion", "New Business", "Pilot"}), n)
		m["StageName"] = s.picklistValue(o, "StageName")
		m["CloseDate"] = s.Now().AddDate(0, 0, s.rng.Intn(180)-60).Format("2006-01-02")
		m["Amount"] = float64(1000 * (1 + s.rng.Intn(500)))
		m["Type"] = s.picklistValue(o, "Type")
		m["LeadSource"] = s.picklistValue(o, "LeadSource")
		m["AccountId"] = s.randomID(s.objects["Account"])
	case "User":
		m["FirstName"], m["LastName"] = first, last
		m["Username"] = emailOf(first, last, "tether-sim.example", n)
		m["Email"] = emailOf(first, last, "example.com", n)
		m["Alias"] = strings.ToLower(first[:1] + last)
		if len(m["Alias"].(string)) > 8 {
			m["Alias"] = m["Alias"].(string)[:8]
		}
		m["CommunityNickname"] = fmt.Sprintf("%s%d", strings.ToLower(first), n)
		m["TimeZoneSidKey"] = s.pick(timeZones)
		m["LocaleSidKey"] = "en_US"
		m["EmailEncodingKey"] = "UTF-8"
		m["LanguageLocaleKey"] = "en_US"
		m["ProfileId"] = sfid.New("00e", instanceCode, 1)
		m["Title"] = s.pick(titles)
		m["Department"] = s.pick(depts)
		m["Phone"] = s.phone()
	default:
		for _, f := range o.fields {
			if !f.Createable || f.Name == "OwnerId" {
				continue
			}
			if v := s.sampleByType(o, f, n); v != nil {
				m[f.Name] = v
			}
		}
	}
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
	return m
}

func (s *Server) sampleByType(o *objectDef, f *fieldDef, n uint64) any {
	switch f.Type {
	case "string", "textarea":
		if f.Name == "Name" {
			return fmt.Sprintf("%s %d", o.Label, n)
		}
		v := fmt.Sprintf("%s %s", s.pick(companyWords), s.pick(lastNames))
		if f.Length > 0 && len(v) > f.Length {
			v = v[:f.Length]
		}
		return v
	case "email":
		return emailOf(s.pick(firstNames), s.pick(lastNames), "example.net", n)
	case "phone":
		return s.phone()
	case "url":
		return fmt.Sprintf("https://%s.example/%d", strings.ToLower(s.pick(companyWords)), n)
	case "picklist":
		if len(f.Picklist) > 0 {
			return f.Picklist[s.rng.Intn(len(f.Picklist))]
		}
	case "multipicklist":
		if len(f.Picklist) > 0 {
			return f.Picklist[s.rng.Intn(len(f.Picklist))]
		}
	case "boolean":
		return s.rng.Intn(2) == 0
	case "int":
		return float64(s.rng.Intn(1000))
	case "double", "percent":
		return float64(s.rng.Intn(10000)) / 100
	case "currency":
		return float64(100 * (1 + s.rng.Intn(10000)))
	case "date":
		return s.Now().AddDate(0, 0, -s.rng.Intn(365)).Format("2006-01-02")
	case "datetime":
		return fmtTime(s.Now().Add(-time.Duration(s.rng.Intn(86400*30)) * time.Second))
	case "reference":
		if len(f.ReferenceTo) > 0 {
			return s.randomID(s.object(f.ReferenceTo[0]))
		}
	}
	return nil
}

// seedObjectLocked adds n sample records as the other user; caller holds mu.
func (s *Server) seedObjectLocked(object string, n int) error {
	o := s.object(object)
	for i := 0; i < n; i++ {
		m := s.sample(o)
		owner := s.otherUser
		if users := s.objects["User"]; users != nil && len(users.recs) > 2 && s.rng.Intn(3) == 0 {
			owner = users.recs[s.rng.Intn(len(users.recs))].id
		}
		if owner != "" && o.field("OwnerId") != nil && o.Name != "User" {
			m["OwnerId"] = owner
		}
		if _, werr := s.createLocked(o, m, s.otherUser); werr != nil {
			return fmt.Errorf("seed %s: %w", object, toErr(werr))
		}
	}
	return nil
}

// seedUser creates a named user at construction time and returns its id.
func (s *Server) seedUser(first, last, email, alias string) string {
	o := s.objects["User"]
	id, werr := s.createLocked(o, map[string]any{
		"FirstName": first, "LastName": last, "Email": email, "Username": email, "Alias": alias,
		"CommunityNickname": alias, "TimeZoneSidKey": "America/Los_Angeles", "LocaleSidKey": "en_US",
		"EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US", "ProfileId": sfid.New("00e", instanceCode, 1),
	}, s.apiUser)
	if werr != nil {
		panic(fmt.Sprintf("sim: seed user: %v", toErr(werr)))
	}
	r := o.byID[id]
	if r.createdBy == "" {
		r.createdBy, r.modifiedBy = id, id
	}
	return id
}
