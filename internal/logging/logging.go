// Package logging builds tether's zerolog loggers: JSON lines by default, a
// readable console format on a terminal, a "component" field on every line,
// and a Redactor that masks registered secrets in anything written (defense
// in depth: no code should log a secret in the first place).
//
// Usage:
//
//	red := logging.NewRedactor(os.Stderr)
//	red.AddSecret(cfg.Secrets()...)            // client secret, refresh token, DB password
//	log := logging.New(cfg.LogFormat, red)     // "" → console on a terminal, else json
//	capLog := logging.Component(log, "capture") // {"component":"capture",...}
//	red.AddSecret(accessToken)                 // later secrets too
package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Formats accepted by New.
const (
	FormatAuto    = ""
	FormatJSON    = "json"
	FormatConsole = "console"
)

// New returns a logger writing to w: format "json" writes one JSON object per
// line, "console" a human layout, "" (or "auto") console when w is a
// terminal and JSON otherwise. Every line carries a time stamp.
func New(format string, w io.Writer) zerolog.Logger {
	if w == nil {
		w = os.Stderr
	}
	switch strings.ToLower(format) {
	case FormatConsole:
		return zerolog.New(console(w)).With().Timestamp().Logger()
	case FormatAuto, "auto":
		if IsTerminal(w) {
			return zerolog.New(console(w)).With().Timestamp().Logger()
		}
	}
	return zerolog.New(w).With().Timestamp().Logger()
}

func console(w io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !IsTerminal(w)}
}

// ParseLevel turns debug, info, warn or error ("" = info) into a zerolog level:
//
//	lvl, err := logging.ParseLevel(cfg.LogLevel); log = log.Level(lvl)
func ParseLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return zerolog.InfoLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "warn", "warning":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	}
	return zerolog.InfoLevel, fmt.Errorf("log level must be debug, info, warn or error, got %q", s)
}

// Component returns l with the component field set, e.g. "capture".
func Component(l zerolog.Logger, name string) zerolog.Logger {
	return l.With().Str("component", name).Logger()
}

// IsTerminal reports whether w (or the writer it wraps, see Redactor.Unwrap)
// is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// MinSecretLen is the shortest secret a Redactor masks; shorter strings
// would mask ordinary words.
const MinSecretLen = 4

// Mask replaces a secret in log output.
const Mask = "[REDACTED]"

// Redactor is an io.Writer that replaces every registered secret (and its
// JSON-escaped form) with Mask before passing the bytes on. Loggers write one
// line per Write call, so a secret is never split across calls. It is safe
// for concurrent use.
type Redactor struct {
	out     io.Writer
	mu      sync.RWMutex
	secrets map[string]bool // guarded by mu; only AddSecret touches it
	list    [][]byte        // copy-on-write snapshot of secrets for Write
	rep     *strings.Replacer
}

// NewRedactor wraps w.
func NewRedactor(w io.Writer) *Redactor {
	return &Redactor{out: w, secrets: map[string]bool{}}
}

// AddSecret registers secrets to mask; empty and very short values
// (< MinSecretLen) are ignored.
func (r *Redactor) AddSecret(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			continue
		}
		forms := []string{s}
		if b, err := json.Marshal(s); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != s {
				forms = append(forms, esc)
			}
		}
		for _, f := range forms {
			if !r.secrets[f] {
				r.secrets[f] = true
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret containing another is masked whole.
	all := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	list := make([][]byte, 0, len(all))
	for _, s := range all {
		pairs = append(pairs, s, Mask)
		list = append(list, []byte(s))
	}
	r.rep = strings.NewReplacer(pairs...)
	r.list = list
}

// Write implements io.Writer; it reports len(p) on success even when masking
// changed the length.
func (r *Redactor) Write(p []byte) (int, error) {
	r.mu.RLock()
	rep := r.rep
	list := r.list
	r.mu.RUnlock()
	if rep != nil && containsAny(p, list) {
		if _, err := io.WriteString(r.out, rep.Replace(string(p))); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return r.out.Write(p)
}

func containsAny(p []byte, list [][]byte) bool {
	for _, s := range list {
		if bytes.Contains(p, s) {
			return true
		}
	}
	return false
}

// Unwrap returns the wrapped writer.
func (r *Redactor) Unwrap() io.Writer { return r.out }
