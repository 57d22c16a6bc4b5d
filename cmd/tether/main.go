// Command tether keeps a PostgreSQL database in two-way sync with Salesforce.
//
//	tether run      fetch, capture and write back (sets up what is missing)
//	tether setup    schema, tables, publication, slot, origin; prints grants
//	tether check    preflight checks
//	tether status   tables, backfill, write log, health, API usage
//	tether sim      the Salesforce simulator
//	tether demo     embedded PostgreSQL + simulator + run
//	tether version
//
// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration,
// 3 a preflight check failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tether-sync/tether/internal/app"
)

// Exit codes a script can rely on.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitPreflight = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(execute(ctx, os.Args[1:]))
}

func execute(ctx context.Context, args []string) int {
	cmd := newRoot()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "tether:", err)
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, app.ErrPreflight):
		return exitPreflight
	default:
		return exitFailure
	}
}
