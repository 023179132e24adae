package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newReportCmd(a *app) *cobra.Command {
	return &cobra.Command{Use: "report FILE.json", Short: "Render a report", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented yet") }}
}

func newCompareCmd(a *app) *cobra.Command {
	return &cobra.Command{Use: "compare A.json B.json", Short: "Compare reports", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented yet") }}
}
