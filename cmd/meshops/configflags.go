package main

import (
	"github.com/spf13/cobra"

	"github.com/meshops/meshops/configs"
)

// configFlags locate the config repo and name the cluster; shared by
// validate, plan, sync and run.
type configFlags struct {
	opts configs.Options
}

func (f *configFlags) register(cmd *cobra.Command) {
	f.opts = configs.DefaultOptions()
	fl := cmd.Flags()
	fl.StringVar(&f.opts.RepoPath, "repo-path", f.opts.RepoPath, "root of the config repo checkout")
	fl.StringVar(&f.opts.SettingsFile, "settings", f.opts.SettingsFile, "meshops settings file, relative to --repo-path (optional)")
	fl.StringVar(&f.opts.Values, "values", "", "values file, relative to --repo-path (default from meshops.yaml, else config/config.yaml)")
	fl.StringVar(&f.opts.Manifests, "manifests", "", "manifests folder, relative to --repo-path (default from meshops.yaml, else mesh)")
	fl.StringVar(&f.opts.Cloud, "cloud", "", "cloud whose layer of the values applies")
	fl.StringVar(&f.opts.Environment, "environment", "", "environment whose layer of the values applies")
	fl.StringVar(&f.opts.Region, "region", "", "region whose layer of the values applies")
}
