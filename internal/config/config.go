// Package config loads tether's settings: a YAML file (default tether.yaml
// when present) with environment overrides under the TETHER_* names fixed in
// DESIGN.md. Every value is checked at load; a broken value is refused with
// its key (the YAML path or the environment name) and the reason, for example
//
//	TETHER_BATCH_SIZE: must be between 1 and 200, got "500"
//	batch.wait: not a Go duration: "1 sec"
//
// Usage:
//
//	cfg, err := config.Load(flagPath, os.Getenv) // flagPath "" → ./tether.yaml if present
//	if err != nil { return err }
//	if err := cfg.RequireDatabase(); err != nil { return err }
//	log.Info().Interface("config", cfg.Redacted()).Msg("starting")
//	objects := cfg.ResolveObjects(describedNames) // the explicit list, plus every __c when IncludeCustom
package config

import (
	"bytes"
	_ "embed" // Example
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"
)

// Example is a commented tether.yaml listing every key with its default and
// its environment name (e.g. for `tether config` or the README).
//
//go:embed example.yaml
var Example string

// DefaultFile is the configuration file read when no path is given and it exists.
const DefaultFile = "tether.yaml"

// DefaultObjects are the standard objects synced when none are configured
// (every readable custom object is added as well, see Config.IncludeCustom).
var DefaultObjects = []string{"Account", "Contact", "Lead", "Opportunity", "User"}

// CustomObjectsToken in an object list (YAML or TETHER_OBJECTS) means "every
// custom object the credential can read"; "default" expands to DefaultObjects
// plus that token.
const CustomObjectsToken = "*__c"

// Echo modes (EchoMode); "" picks origin when the role may use replication
// origins, else message.
const (
	EchoAuto    = ""
	EchoOrigin  = "origin"
	EchoMessage = "message"
)

// Log formats (LogFormat); "" picks console when stderr is a terminal, else json.
const (
	LogAuto    = ""
	LogJSON    = "json"
	LogConsole = "console"
)

// Config is every tether setting. Load returns it with defaults filled in and
// every value checked.
type Config struct {
	// File is the YAML file that was read ("" when none).
	File string `json:"file,omitempty"`

	DatabaseURL string `json:"database_url"`
	Schema      string `json:"schema"`
	// Objects are the API names to sync. Load fills in DefaultObjects when
	// none are configured.
	Objects []string `json:"objects"`
	// IncludeCustom adds every custom object (__c) the credential can read
	// to Objects. True by default when no objects are configured; an
	// explicit list turns it off unless it names "*__c" (or include_custom: true).
	IncludeCustom bool `json:"include_custom"`

	Salesforce Salesforce `json:"salesforce"`
	Rate       Rate       `json:"rate"`
	// DailyLimitShare (0,1] is the share of the org's daily API limit
	// tether's reads may use.
	DailyLimitShare float64 `json:"daily_limit_share"`
	Batch           Batch   `json:"batch"`
	// PollInterval is the pause between two polls of the same table.
	PollInterval time.Duration `json:"poll_interval"`
	// HTTPAddr is where /health, /metrics and /status listen ("" disables).
	HTTPAddr string `json:"http_addr"`
	// LogFormat is json, console, or "" (console on a terminal, else json).
	LogFormat string `json:"log_format"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `json:"log_level"`

	Slot        string `json:"slot"`
	Publication string `json:"publication"`
	Origin      string `json:"origin"`
	// EchoMode is "" (auto), "origin" or "message"; see replication.EchoMode.
	EchoMode string `json:"echo_mode"`
}

// Salesforce holds the OAuth2 credential and API settings.
type Salesforce struct {
	LoginURL     string `json:"login_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
	APIVersion   string `json:"api_version"`
}

// Rate is the shared request limiter's setting: AllowedRequests per PeriodMS,
// at most MaxConcurrent at once (0 = unlimited for either count).
type Rate struct {
	AllowedRequests int `json:"allowed_requests"`
	PeriodMS        int `json:"period_ms"`
	MaxConcurrent   int `json:"max_concurrent"`
}

// Period is PeriodMS as a duration.
func (r Rate) Period() time.Duration { return time.Duration(r.PeriodMS) * time.Millisecond }

// Batch is the writer's batching: up to Size changes, waiting at most Wait.
type Batch struct {
	Size int           `json:"size"`
	Wait time.Duration `json:"wait"`
}

// Default returns the configuration with every default and nothing from a
// file or the environment.
func Default() *Config {
	return &Config{
		Schema:        "salesforce",
		Objects:       append([]string(nil), DefaultObjects...),
		IncludeCustom: true,
		Salesforce: Salesforce{
			LoginURL:   "https://login.salesforce.com",
			APIVersion: "62.0",
		},
		Rate:            Rate{AllowedRequests: 1, PeriodMS: 3000, MaxConcurrent: 1},
		DailyLimitShare: 0.9,
		Batch:           Batch{Size: 200, Wait: time.Second},
		PollInterval:    30 * time.Second,
		HTTPAddr:        "127.0.0.1:8080",
		LogFormat:       LogAuto,
		LogLevel:        "info",
		Slot:            "tether",
		Publication:     "tether",
		Origin:          "tether",
		EchoMode:        EchoAuto,
	}
}

// fileConfig mirrors the YAML file. Every leaf is a string so that one parser
// per setting checks both the file and the environment the same way (YAML
// scalars such as 200 or 0.9 decode into strings as written).
type fileConfig struct {
	DatabaseURL   *string    `yaml:"database_url"`
	Schema        *string    `yaml:"schema"`
	Objects       stringList `yaml:"objects"`
	IncludeCustom *string    `yaml:"include_custom"`
	Salesforce    struct {
		LoginURL     *string `yaml:"login_url"`
		ClientID     *string `yaml:"client_id"`
		ClientSecret *string `yaml:"client_secret"`
		RefreshToken *string `yaml:"refresh_token"`
		APIVersion   *string `yaml:"api_version"`
	} `yaml:"salesforce"`
	Rate struct {
		AllowedRequests *string `yaml:"allowed_requests"`
		PeriodMS        *string `yaml:"period_ms"`
		MaxConcurrent   *string `yaml:"max_concurrent"`
	} `yaml:"rate"`
	DailyLimitShare *string `yaml:"daily_limit_share"`
	Batch           struct {
		Size *string `yaml:"size"`
		Wait *string `yaml:"wait"`
	} `yaml:"batch"`
	PollInterval *string `yaml:"poll_interval"`
	HTTPAddr     *string `yaml:"http_addr"`
	LogFormat    *string `yaml:"log_format"`
	LogLevel     *string `yaml:"log_level"`
	Slot         *string `yaml:"slot"`
	Publication  *string `yaml:"publication"`
	Origin       *string `yaml:"origin"`
	EchoMode     *string `yaml:"echo_mode"`
}

// stringList is a YAML list of strings that also accepts one comma-separated
// string, like TETHER_OBJECTS.
type stringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Split(n.Value, ",")
		return nil
	}
	var out []string
	if err := n.Decode(&out); err != nil {
		return err
	}
	*l = out
	return nil
}

// setting is one configurable value: its YAML path, its environment name,
// where it sits in fileConfig, and how a string becomes a checked value.
type setting struct {
	key   string // YAML path, e.g. "batch.size"
	env   string // environment name, e.g. "TETHER_BATCH_SIZE"
	file  func(f *fileConfig) *string
	apply func(c *Config, v string) error
}

// settings lists every scalar setting; objects (a list) is handled apart.
var settings = []setting{
	{"database_url", "TETHER_DATABASE_URL", func(f *fileConfig) *string { return f.DatabaseURL }, func(c *Config, v string) (err error) {
		c.DatabaseURL, err = parseDatabaseURL(v)
		return
	}},
	{"schema", "TETHER_SCHEMA", func(f *fileConfig) *string { return f.Schema }, identifier(func(c *Config) *string { return &c.Schema })},
	{"include_custom", "TETHER_INCLUDE_CUSTOM", func(f *fileConfig) *string { return f.IncludeCustom }, func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		c.IncludeCustom = b
		return nil
	}},
	{"salesforce.login_url", "TETHER_SALESFORCE_LOGIN_URL", func(f *fileConfig) *string { return f.Salesforce.LoginURL }, func(c *Config, v string) (err error) {
		c.Salesforce.LoginURL, err = parseHTTPURL(v)
		return
	}},
	{"salesforce.client_id", "TETHER_SALESFORCE_CLIENT_ID", func(f *fileConfig) *string { return f.Salesforce.ClientID }, secret(func(c *Config) *string { return &c.Salesforce.ClientID })},
	{"salesforce.client_secret", "TETHER_SALESFORCE_CLIENT_SECRET", func(f *fileConfig) *string { return f.Salesforce.ClientSecret }, secret(func(c *Config) *string { return &c.Salesforce.ClientSecret })},
	{"salesforce.refresh_token", "TETHER_SALESFORCE_REFRESH_TOKEN", func(f *fileConfig) *string { return f.Salesforce.RefreshToken }, secret(func(c *Config) *string { return &c.Salesforce.RefreshToken })},
	{"salesforce.api_version", "TETHER_SALESFORCE_API_VERSION", func(f *fileConfig) *string { return f.Salesforce.APIVersion }, func(c *Config, v string) (err error) {
		c.Salesforce.APIVersion, err = parseAPIVersion(v)
		return
	}},
	{"rate.allowed_requests", "TETHER_RATE_ALLOWED_REQUESTS", func(f *fileConfig) *string { return f.Rate.AllowedRequests }, intRange(0, 1_000_000, func(c *Config) *int { return &c.Rate.AllowedRequests })},
	{"rate.period_ms", "TETHER_RATE_PERIOD_MS", func(f *fileConfig) *string { return f.Rate.PeriodMS }, intRange(1, 86_400_000, func(c *Config) *int { return &c.Rate.PeriodMS })},
	{"rate.max_concurrent", "TETHER_RATE_MAX_CONCURRENT", func(f *fileConfig) *string { return f.Rate.MaxConcurrent }, intRange(0, 1000, func(c *Config) *int { return &c.Rate.MaxConcurrent })},
	{"daily_limit_share", "TETHER_DAILY_LIMIT_SHARE", func(f *fileConfig) *string { return f.DailyLimitShare }, func(c *Config, v string) error {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(x > 0 && x <= 1) {
			return fmt.Errorf("must be a number greater than 0 and at most 1, got %q", v)
		}
		c.DailyLimitShare = x
		return nil
	}},
	{"batch.size", "TETHER_BATCH_SIZE", func(f *fileConfig) *string { return f.Batch.Size }, intRange(1, 200, func(c *Config) *int { return &c.Batch.Size })},
	{"batch.wait", "TETHER_BATCH_WAIT", func(f *fileConfig) *string { return f.Batch.Wait }, duration(0, time.Hour, func(c *Config) *time.Duration { return &c.Batch.Wait })},
	{"poll_interval", "TETHER_POLL_INTERVAL", func(f *fileConfig) *string { return f.PollInterval }, duration(time.Millisecond, 24*time.Hour, func(c *Config) *time.Duration { return &c.PollInterval })},
	{"http_addr", "TETHER_HTTP_ADDR", func(f *fileConfig) *string { return f.HTTPAddr }, func(c *Config, v string) (err error) {
		c.HTTPAddr, err = parseAddr(v)
		return
	}},
	{"log_format", "TETHER_LOG_FORMAT", func(f *fileConfig) *string { return f.LogFormat }, oneOf([]string{LogJSON, LogConsole}, "auto", func(c *Config) *string { return &c.LogFormat })},
	{"log_level", "TETHER_LOG_LEVEL", func(f *fileConfig) *string { return f.LogLevel }, oneOf([]string{"debug", "info", "warn", "error"}, "", func(c *Config) *string { return &c.LogLevel })},
	{"slot", "TETHER_SLOT", func(f *fileConfig) *string { return f.Slot }, identifier(func(c *Config) *string { return &c.Slot })},
	{"publication", "TETHER_PUBLICATION", func(f *fileConfig) *string { return f.Publication }, identifier(func(c *Config) *string { return &c.Publication })},
	{"origin", "TETHER_ORIGIN", func(f *fileConfig) *string { return f.Origin }, identifier(func(c *Config) *string { return &c.Origin })},
	{"echo_mode", "TETHER_ECHO_MODE", func(f *fileConfig) *string { return f.EchoMode }, oneOf([]string{EchoOrigin, EchoMessage}, "auto", func(c *Config) *string { return &c.EchoMode })},
}

// EnvNames lists every environment name Load reads, in a stable order.
func EnvNames() []string {
	out := []string{"TETHER_OBJECTS"}
	for _, s := range settings {
		out = append(out, s.env)
	}
	sort.Strings(out)
	return out
}

// Load reads the YAML file at path ("" means DefaultFile if it exists), then
// applies the environment overrides read through env (nil means os.Getenv;
// an empty value counts as unset). It returns every broken value at once,
// each as "<key>: <reason>".
func Load(path string, env func(string) string) (*Config, error) {
	if env == nil {
		env = os.Getenv
	}
	c := Default()
	var errs []error

	var f fileConfig
	explicit := path != ""
	if !explicit {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // an empty file is an empty configuration
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = yamlTypeRe.ReplaceAllString(msg, "")
			return nil, fmt.Errorf("config %s: %s", path, msg)
		}
		c.File = path
		var ferrs []error
		if f.Objects != nil {
			objs, custom, err := parseObjects(f.Objects)
			if err != nil {
				ferrs = append(ferrs, fmt.Errorf("objects: %w", err))
			} else {
				c.Objects, c.IncludeCustom = objs, custom
			}
		}
		for _, s := range settings {
			if p := s.file(&f); p != nil {
				if err := s.apply(c, *p); err != nil {
					ferrs = append(ferrs, fmt.Errorf("%s: %w", s.key, err))
				}
			}
		}
		if len(ferrs) > 0 {
			errs = append(errs, fmt.Errorf("config %s: %w", path, errors.Join(ferrs...)))
		}
	}

	if v := env("TETHER_OBJECTS"); v != "" {
		objs, custom, err := parseObjects(strings.Split(v, ","))
		if err != nil {
			errs = append(errs, fmt.Errorf("TETHER_OBJECTS: %w", err))
		} else {
			c.Objects, c.IncludeCustom = objs, custom
		}
	}
	for _, s := range settings {
		if v := env(s.env); v != "" {
			if err := s.apply(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// yamlTypeRe strips Go type names from yaml.v3's messages ("field foo not
// found in type config.fileConfig" → "field foo not found").
var yamlTypeRe = regexp.MustCompile(` in type [A-Za-z0-9_.\[\]*]+`)

// RequireDatabase reports a missing database URL.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("database_url (TETHER_DATABASE_URL): required")
	}
	return nil
}

// RequireSalesforce reports missing Salesforce credentials, naming each.
func (c *Config) RequireSalesforce() error {
	var errs []error
	for _, m := range []struct{ v, key, env string }{
		{c.Salesforce.ClientID, "salesforce.client_id", "TETHER_SALESFORCE_CLIENT_ID"},
		{c.Salesforce.ClientSecret, "salesforce.client_secret", "TETHER_SALESFORCE_CLIENT_SECRET"},
		{c.Salesforce.RefreshToken, "salesforce.refresh_token", "TETHER_SALESFORCE_REFRESH_TOKEN"},
	} {
		if m.v == "" {
			errs = append(errs, fmt.Errorf("%s (%s): required", m.key, m.env))
		}
	}
	return errors.Join(errs...)
}

// ResolveObjects returns the API names to sync given the names the provider
// describes as readable: the configured Objects, plus every custom object
// (name ending in "__c") when IncludeCustom, in order and without duplicates.
func (c *Config) ResolveObjects(available []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range c.Objects {
		if !seen[strings.ToLower(o)] {
			seen[strings.ToLower(o)] = true
			out = append(out, o)
		}
	}
	if c.IncludeCustom {
		custom := []string{}
		for _, o := range available {
			if strings.HasSuffix(o, "__c") && !seen[strings.ToLower(o)] {
				seen[strings.ToLower(o)] = true
				custom = append(custom, o)
			}
		}
		sort.Strings(custom)
		out = append(out, custom...)
	}
	return out
}

// Secrets returns the non-empty secret values (client secret, refresh token,
// database password) for a log redactor.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.Salesforce.ClientSecret, c.Salesforce.RefreshToken, dsnPassword(c.DatabaseURL)} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Mask replaces a secret in printed configuration.
const Mask = "********"

// Redacted returns a copy safe to print or log: the client secret and refresh
// token masked, the password inside DatabaseURL masked.
func (c *Config) Redacted() *Config {
	r := *c
	r.Objects = append([]string(nil), c.Objects...)
	if r.Salesforce.ClientSecret != "" {
		r.Salesforce.ClientSecret = Mask
	}
	if r.Salesforce.RefreshToken != "" {
		r.Salesforce.RefreshToken = Mask
	}
	r.DatabaseURL = RedactDSN(c.DatabaseURL)
	return &r
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)

// RedactDSN masks the password in a PostgreSQL connection string (URL or
// keyword/value form, including a password= query parameter).
func RedactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			if u.User != nil {
				if _, ok := u.User.Password(); ok {
					u.User = url.UserPassword(u.User.Username(), "xxxxx")
				}
			}
			q := u.Query()
			if q.Has("password") {
				q.Set("password", "xxxxx")
				u.RawQuery = q.Encode()
			}
			return strings.Replace(u.String(), ":xxxxx@", ":"+Mask+"@", 1)
		}
		// Unparseable URL: mask everything between "://user:" and "@".
		if i := strings.Index(dsn, "://"); i >= 0 {
			rest := dsn[i+3:]
			if at := strings.LastIndex(rest, "@"); at >= 0 {
				cred := rest[:at]
				if c := strings.Index(cred, ":"); c >= 0 {
					return dsn[:i+3] + cred[:c+1] + Mask + rest[at:]
				}
			}
		}
		return dsn
	}
	return kvPassword.ReplaceAllString(dsn, "${1}"+Mask)
}

// dsnPassword extracts the password of a connection string, "" if none.
func dsnPassword(dsn string) string {
	if dsn == "" {
		return ""
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return pc.Password
}

// --- value parsers ---------------------------------------------------------

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func identifier(field func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if len(v) > 63 || !identRe.MatchString(v) {
			return fmt.Errorf("must be a lower-case identifier (a-z, 0-9, _; at most 63 characters), got %q", v)
		}
		*field(c) = v
		return nil
	}
}

func secret(field func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if strings.ContainsAny(v, " \t\r\n") {
			return errors.New("must not contain whitespace") // never echo the value
		}
		*field(c) = v
		return nil
	}
}

func intRange(lo, hi int, field func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d, got %q", lo, hi, v)
		}
		*field(c) = n
		return nil
	}
}

func duration(lo, hi time.Duration, field func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a Go duration: %q", v)
		}
		if d < lo || d > hi {
			return fmt.Errorf("must be between %s and %s, got %q", lo, hi, v)
		}
		*field(c) = d
		return nil
	}
}

func oneOf(allowed []string, auto string, field func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		orig := v
		v = strings.ToLower(strings.TrimSpace(v))
		if auto != "" && v == auto {
			*field(c) = ""
			return nil
		}
		for _, a := range allowed {
			if v == a {
				*field(c) = v
				return nil
			}
		}
		names := append([]string(nil), allowed...)
		if auto != "" {
			names = append(names, auto)
		}
		return fmt.Errorf("must be one of %s, got %q", strings.Join(names, ", "), orig)
	}
}

var apiVersionRe = regexp.MustCompile(`^[0-9]{2,3}\.[0-9]$`)

func parseAPIVersion(v string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(v), "v")
	if !apiVersionRe.MatchString(s) {
		return "", fmt.Errorf("must be a Salesforce API version like 62.0, got %q", v)
	}
	return s, nil
}

func parseHTTPURL(v string) (string, error) {
	s := strings.TrimRight(strings.TrimSpace(v), "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("must be an http(s) URL like https://login.salesforce.com, got %q", v)
	}
	return s, nil
}

func parseDatabaseURL(v string) (string, error) {
	s := strings.TrimSpace(v)
	if _, err := pgconn.ParseConfig(s); err != nil {
		// pgconn's message may quote the string; report it redacted.
		return "", fmt.Errorf("not a valid PostgreSQL connection string: %q", RedactDSN(s))
	}
	return s, nil
}

func parseAddr(v string) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" || s == "off" || s == "none" {
		return "", nil
	}
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", fmt.Errorf("must be host:port or :port, got %q", v)
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("must be host:port or :port with a port 0-65535, got %q", v)
	}
	return s, nil
}

var objectRe = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_]*[A-Za-z0-9])?$`)

// parseObjects checks a list of API names; "default" expands to
// DefaultObjects plus every custom object, "*__c" means every custom object.
func parseObjects(in []string) ([]string, bool, error) {
	var out []string
	custom := false
	seen := map[string]bool{}
	add := func(o string) {
		if !seen[strings.ToLower(o)] {
			seen[strings.ToLower(o)] = true
			out = append(out, o)
		}
	}
	for _, raw := range in {
		o := strings.TrimSpace(raw)
		switch {
		case o == "":
			continue
		case o == CustomObjectsToken:
			custom = true
		case strings.EqualFold(o, "default"):
			custom = true
			for _, d := range DefaultObjects {
				add(d)
			}
		case !objectRe.MatchString(o) || strings.Contains(o, "___"):
			return nil, false, fmt.Errorf("not an API name: %q", o)
		default:
			add(o)
		}
	}
	if len(out) == 0 && !custom {
		return nil, false, errors.New("must name at least one object")
	}
	return out, custom, nil
}
