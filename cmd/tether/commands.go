package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tether-sync/tether/internal/app"
	"github.com/tether-sync/tether/internal/status"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Fetch, capture and write back until stopped (sets up what is missing)",
		Long: `run connects to PostgreSQL, serves /health, /metrics and /status on http_addr,
waits to hold the database's leader lock (several tethers may run; one works,
the others take over within seconds when it dies), creates what is missing,
then backfills and polls Salesforce, captures the application's changes and
writes them back. SIGTERM or SIGINT stops it cleanly.`,
		Args: noArgs,
		RunE: withEnv(g, true, func(cmd *cobra.Command, env *app.Env) error {
			return env.Run(cmd.Context(), app.RunOptions{})
		}),
	}
}

func newSetupCmd(g *globalFlags) *cobra.Command {
	var role, appRole string
	var recreateSlot bool
	c := &cobra.Command{
		Use:   "setup",
		Short: "Create the schema, tables, publication, slot and origin (idempotent); print the grants",
		Args:  noArgs,
		RunE: withEnv(g, true, func(cmd *cobra.Command, env *app.Env) error {
			ctx := cmd.Context()
			env.RecreateSlot = recreateSlot
			p, err := env.Provider(ctx)
			if err != nil {
				return err
			}
			res, guard, _, err := env.Setup(ctx, p)
			if err != nil {
				return err
			}
			guard.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "schema %s: %d synced tables\n", env.Cfg.Schema, len(res.Tables))
			for _, t := range res.Tables {
				fmt.Fprintf(out, "  %-32s %s (%d columns)\n", t.Name, t.Object, len(t.SyncedColumns()))
			}
			for _, u := range res.Unknown {
				fmt.Fprintf(out, "  skipped %s: not readable with this credential\n", u)
			}
			fmt.Fprintf(out, "publication %s, slot %s, origin %s (own writes marked by %s)\n\n",
				env.Cfg.Publication, env.Cfg.Slot, env.Cfg.Origin, res.EchoMode)
			fmt.Fprint(out, app.Grants(databaseName(env.Cfg.DatabaseURL), role, env.Cfg.Schema, appRole))
			return nil
		}),
	}
	c.Flags().StringVar(&role, "role", "tether", "role name used in the printed grants")
	c.Flags().StringVar(&appRole, "app-role", "app_user", "application role used in the printed grants")
	c.Flags().BoolVar(&recreateSlot, "recreate-slot", false, "replace a replication slot tether used before that was dropped or invalidated (changes made meanwhile are not captured)")
	return c
}

// withEnv loads the configuration (a broken value is a usage error, exit 2),
// requires the database URL and, when salesforce is set, the credential, runs
// fn and closes what it opened.
func withEnv(g *globalFlags, salesforce bool, fn func(*cobra.Command, *app.Env) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		env, err := loadEnv(g)
		if err != nil {
			return err
		}
		defer env.Close()
		req := env.Cfg.RequireDatabase()
		if salesforce {
			req = errors.Join(req, env.Cfg.RequireSalesforce())
		}
		if req != nil {
			return usageError{req}
		}
		return fn(cmd, env)
	}
}

func databaseName(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Path != "" {
		return strings.TrimPrefix(u.Path, "/")
	}
	for _, kv := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(kv, "dbname="); ok {
			return v
		}
	}
	return "your_database"
}

func newResyncCmd(g *globalFlags) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "resync [--all] [OBJECT...]",
		Short: "Read objects' tables again from Salesforce (the running tether starts at its next turn)",
		Long: `resync asks tether to read every record of the named objects (API or table names)
again, as a backfill does, and to remove rows whose records Salesforce no longer has
(rows your application inserted that are not created yet are kept). Unsent local
changes are still protected. The running tether takes the request at its next turn
of each table; if none runs, the next one does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all {
				return usageError{errors.New("name the objects to resync, or --all")}
			}
			return withEnv(g, false, func(cmd *cobra.Command, env *app.Env) error {
				tables, err := env.RequestResync(cmd.Context(), args, all)
				if errors.Is(err, app.ErrUnknownObject) {
					return usageError{err}
				}
				if err != nil {
					return err
				}
				for _, t := range tables {
					fmt.Fprintf(cmd.OutOrStdout(), "resync of %s requested\n", t)
				}
				return nil
			})(cmd, nil)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "every synced object")
	return c
}

func newCheckCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Preflight: wal_level, privileges, slot and publication, replica identity, Salesforce credential",
		Args:  noArgs,
		RunE: withEnv(g, false, func(cmd *cobra.Command, env *app.Env) error {
			results, err := env.Check(cmd.Context())
			for _, r := range results {
				mark := "ok  "
				if !r.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-22s %s\n", mark, r.Name, r.Message)
			}
			return err
		}),
	}
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Tables, backfill progress, lag; write log by state and latest failures; health; API usage",
		Args:  noArgs,
		RunE: withEnv(g, false, func(cmd *cobra.Command, env *app.Env) error {
			ctx := cmd.Context()
			if err := env.Connect(ctx); err != nil {
				return err
			}
			rep, err := status.Collect(ctx, env.Pool, env.Cfg.Schema)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.Render(cmd.OutOrStdout())
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
