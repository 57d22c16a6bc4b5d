package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tether-sync/tether/upstream/salesforce/sim"
)

func newSimCmd() *cobra.Command {
	var (
		addr     string
		seed     int
		randSeed int64
	)
	c := &cobra.Command{
		Use:   "sim",
		Short: "Run the Salesforce simulator; prints its credentials as one JSON line",
		Long: `sim serves a Salesforce REST API (v62.0; OAuth2 refresh, describe, SOQL query and
queryAll with paging, sObject Collections, getUpdated/getDeleted, limits) from memory,
seeded with --seed sample records per object. It prints one JSON line with
instance_url, login_url, client_id, client_secret, refresh_token and access_token,
then serves until stopped. Its control surface for tests is under /_sim/.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seed < 0 {
				return usageError{fmt.Errorf("--seed must be 0 or more, got %d", seed)}
			}
			srv := sim.New(sim.Options{Seed: seed, RandSeed: randSeed})
			if _, err := srv.Start(addr); err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			defer srv.Close()
			b, _ := json.Marshal(srv.Credentials())
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			<-cmd.Context().Done()
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	c.Flags().IntVar(&seed, "seed", 100, "sample records per object")
	c.Flags().Int64Var(&randSeed, "rand-seed", 1, "seed of the sample data generator")
	return c
}
