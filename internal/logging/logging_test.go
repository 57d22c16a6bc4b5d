package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestJSONByDefaultWithComponent(t *testing.T) {
	var buf bytes.Buffer
	for _, format := range []string{"", "auto", "json"} {
		buf.Reset()
		l := Component(New(format, &buf), "capture")
		l.Info().Int("n", 3).Msg("captured")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("format %q: not JSON: %q", format, buf.String())
		}
		if line["component"] != "capture" || line["message"] != "captured" || line["level"] != "info" || line["time"] == nil || line["n"] != float64(3) {
			t.Errorf("format %q: line %v", format, line)
		}
	}
}

func TestConsole(t *testing.T) {
	var buf bytes.Buffer
	l := Component(New("console", &buf), "writer")
	l.Warn().Str("table", "contact").Msg("batch failed")
	out := buf.String()
	if json.Valid(buf.Bytes()) || !strings.Contains(out, "batch failed") || !strings.Contains(out, "component=writer") || !strings.Contains(out, "table=contact") {
		t.Errorf("console line: %q", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colours on a non-terminal: %q", out)
	}
	if IsTerminal(&buf) || IsTerminal(NewRedactor(&buf)) {
		t.Error("a buffer is not a terminal")
	}
}

func TestRedactor(t *testing.T) {
	var buf bytes.Buffer
	red := NewRedactor(&buf)
	red.AddSecret("tok-ABCDEF123", "pw\"with\\quote", "", "ab") // empty and short ones ignored
	l := Component(New("json", red), "salesforce")

	l.Info().Str("token", "tok-ABCDEF123").Msg("refreshed")
	l.Error().Err(errors.New(`dial: password "pw"with\quote" rejected`)).Msg("connect")
	l.Info().Str("note", "ab abc").Msg("short words stay")
	l.Info().Msg("Bearer tok-ABCDEF123tok-ABCDEF123 twice")

	out := buf.String()
	for _, leak := range []string{"tok-ABCDEF123", `pw\"with\\quote`, `pw"with\quote`} {
		if strings.Contains(out, leak) {
			t.Errorf("secret %q leaked:\n%s", leak, out)
		}
	}
	if strings.Count(out, Mask) != 4 {
		t.Errorf("want 4 masks, got %d:\n%s", strings.Count(out, Mask), out)
	}
	if !strings.Contains(out, "ab abc") {
		t.Errorf("short secret masked ordinary text:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("masking broke JSON: %q", line)
		}
	}
	if red.Unwrap() != &buf {
		t.Error("Unwrap")
	}
}

func TestRedactorConsoleAndConcurrency(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	red := NewRedactor(lockedWriter{&mu, &buf})
	l := New("console", red)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := fmt.Sprintf("secret-%03d-xyz", i)
			red.AddSecret(s)
			for j := 0; j < 50; j++ {
				l.Info().Msgf("value %s", s)
			}
		}(i)
	}
	wg.Wait()
	if strings.Contains(buf.String(), "-xyz") {
		t.Errorf("a secret leaked after AddSecret returned")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestParseLevel(t *testing.T) {
	var buf bytes.Buffer
	lvl, err := ParseLevel("warn")
	if err != nil {
		t.Fatal(err)
	}
	l := New("json", &buf).Level(lvl)
	l.Info().Msg("hidden")
	l.Warn().Msg("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level filter: %q", buf.String())
	}
	if lvl, _ := ParseLevel(""); lvl.String() != "info" {
		t.Errorf("default level %s", lvl)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("accepted a bad level")
	}
}
