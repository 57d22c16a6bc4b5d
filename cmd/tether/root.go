package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tether-sync/tether/internal/app"
	"github.com/tether-sync/tether/internal/config"
	"github.com/tether-sync/tether/internal/logging"
	"github.com/tether-sync/tether/internal/metrics"
)

// errUsage marks bad usage or a broken configuration (exit code 2).
var errUsage = errors.New("usage")

type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{u.err, errUsage} }

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type globalFlags struct {
	configPath string
}

func newRoot() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "tether",
		Short: "Two-way sync between Salesforce and a PostgreSQL database you own",
		Long: `tether mirrors Salesforce objects as PostgreSQL tables, captures the changes your
application makes to them from a logical replication slot, and writes them back to
Salesforce in batches, auditing every write in _sync_write_log.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration, 3 preflight failed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "YAML configuration file (default tether.yaml when present)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(g), newSetupCmd(g), newCheckCmd(g), newStatusCmd(g), newResyncCmd(g),
		newSimCmd(), newDemoCmd(g), newVersionCmd(),
	)
	return root
}

// loadEnv reads the configuration and builds the logger; a broken value is a usage error.
func loadEnv(g *globalFlags) (*app.Env, error) {
	cfg, err := config.Load(g.configPath, os.Getenv)
	if err != nil {
		return nil, usageError{err}
	}
	return envFor(cfg), nil
}

func envFor(cfg *config.Config) *app.Env {
	red := logging.NewRedactor(os.Stderr)
	red.AddSecret(cfg.Secrets()...)
	log := logging.New(cfg.LogFormat, red)
	if lvl, err := logging.ParseLevel(cfg.LogLevel); err == nil {
		log = log.Level(lvl)
	}
	return &app.Env{
		Cfg:       cfg,
		Log:       log,
		Metrics:   metrics.New(),
		Out:       os.Stdout,
		AddSecret: red.AddSecret,
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "tether", version)
			return nil
		},
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}
