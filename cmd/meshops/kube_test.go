package main

import (
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// In a pod with no kubeconfig, client-go uses the service account only
// when the flags leave the config at its defaults: a default written into
// the overrides (as --request-timeout's once was) sends meshops run to
// http://localhost:8080 instead.
func TestWithoutAKubeconfigTheFlagsLeaveRoomForTheInClusterConfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	g := &globalFlags{kube: newKubeFlags()}
	cfg, err := g.kube.ToRESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	if !rules.IsDefaultConfig(cfg) {
		t.Errorf("the flags' defaults changed the config (%+v): client-go would not fall back to the in-cluster config", cfg)
	}
}
