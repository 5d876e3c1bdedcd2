package main

import (
	"github.com/spf13/cobra"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/revisions/aks"
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
	fl.StringArrayVar(&f.opts.ValuesFiles, "values", nil, "values file, relative to --repo-path (default from meshops.yaml, else config/config.yaml); repeat to merge overlays over it in order")
	fl.StringVar(&f.opts.Manifests, "manifests", "", "manifests folder, relative to --repo-path (default from meshops.yaml, else mesh)")
	fl.StringVar(&f.opts.Cloud, "cloud", "", "cloud whose layer of the values applies")
	fl.StringVar(&f.opts.Environment, "environment", "", "environment whose layer of the values applies")
	fl.StringVar(&f.opts.Region, "region", "", "region whose layer of the values applies")
}

// aksFlags say where the aks revision provider finds the cluster and ARM;
// each falls back to its environment variable, then to meshops.yaml.
type aksFlags struct {
	subscription, resourceGroup, cluster, armEndpoint string
}

func (f *aksFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.subscription, "aks-subscription", "", "aks provider: the cluster's subscription (default $"+aks.EnvSubscriptionID+", else meshops.yaml)")
	fl.StringVar(&f.resourceGroup, "aks-resource-group", "", "aks provider: the cluster's resource group (default $"+aks.EnvResourceGroup+", else meshops.yaml)")
	fl.StringVar(&f.cluster, "aks-cluster", "", "aks provider: the AKS cluster's name (default $"+aks.EnvCluster+", else meshops.yaml)")
	fl.StringVar(&f.armEndpoint, "arm-endpoint", "", "aks provider: Azure Resource Manager's URL, for sovereign clouds and tests (default $"+aks.EnvARMEndpoint+", else the public cloud's)")
}

// overrides are the environment with the flags over it.
func (f *aksFlags) overrides() aks.Options {
	o := aks.OptionsFromEnv(aks.Options{})
	for _, v := range []struct{ dst, src *string }{
		{&o.SubscriptionID, &f.subscription}, {&o.ResourceGroup, &f.resourceGroup},
		{&o.Cluster, &f.cluster}, {&o.ARMEndpoint, &f.armEndpoint},
	} {
		if *v.src != "" {
			*v.dst = *v.src
		}
	}
	return o
}
