package main

import (
	"github.com/spf13/cobra"

	"github.com/tether-sync/tether/internal/app"
)

func newDemoCmd(g *globalFlags) *cobra.Command {
	opts := app.DemoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "An embedded PostgreSQL plus the Salesforce simulator plus tether run",
		Long: `demo starts PostgreSQL (wal_level=logical) under --dir, so a second run resumes,
the Salesforce simulator seeded with sample records, and tether run against both,
then prints the connection string and three SQL statements to try.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			opts.Env = envFor
			return app.Demo(cmd.Context(), opts)
		},
	}
	c.Flags().StringVar(&opts.Dir, "dir", ".tether/demo", "data directory (PostgreSQL and the simulator's records)")
	c.Flags().StringVar(&opts.SimAddr, "sim-addr", "127.0.0.1:8787", "simulator address (a free port when busy)")
	c.Flags().StringVar(&opts.HTTPAddr, "http-addr", "127.0.0.1:8080", "tether's HTTP address (a free port when busy)")
	c.Flags().IntVar(&opts.Seed, "seed", 1000, "sample records per object on the first run")
	return c
}
