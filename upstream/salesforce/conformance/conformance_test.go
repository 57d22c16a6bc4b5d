// Package conformance checks the Salesforce simulator against jsforce, a
// real Salesforce client library, driven over HTTP from Node.js.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

// expectContacts makes the query cross one 2000-record page boundary.
const expectContacts = 2345

func TestJSForceConformance(t *testing.T) {
	if _, err := os.Stat("node_modules/jsforce/package.json"); err != nil {
		msg := "node_modules/jsforce is missing: run scripts/ensure-deps.sh (npm ci in upstream/salesforce/conformance)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed")
		}
		t.Skip("node is not installed")
	}
	srv := sim.New(sim.Options{RandSeed: 1})
	if err := srv.SeedObject("Account", 20); err != nil {
		t.Fatal(err)
	}
	if err := srv.SeedObject("Contact", expectContacts); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cr := srv.Credentials()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "conformance.js")
	var env []string
	for _, kv := range os.Environ() {
		k := strings.ToLower(strings.SplitN(kv, "=", 2)[0])
		if k == "http_proxy" || k == "https_proxy" || k == "all_proxy" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env,
		"INSTANCE_URL="+cr.InstanceURL, "LOGIN_URL="+cr.LoginURL, "ACCESS_TOKEN="+cr.AccessToken,
		"REFRESH_TOKEN="+cr.RefreshToken, "CLIENT_ID="+cr.ClientID, "CLIENT_SECRET="+cr.ClientSecret,
		"EXPECT_CONTACTS="+strconv.Itoa(expectContacts), "NO_PROXY=127.0.0.1,localhost")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	passed, failed := 0, 0
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ok - "):
			passed++
			t.Log(line)
		case strings.HasPrefix(line, "not ok - "):
			failed++
			t.Error(line)
		default:
			t.Log(line)
		}
	}
	if runErr != nil && failed == 0 {
		t.Fatalf("node conformance.js: %v", runErr)
	}
	if passed == 0 {
		t.Fatal("no check ran")
	}
	t.Logf("%d checks passed; requests by endpoint: %v", passed, srv.Requests())
}
