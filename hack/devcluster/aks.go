package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshops/meshops/test/armemu"
	"github.com/meshops/meshops/test/armemu/armclient"
	"github.com/meshops/meshops/test/controlplane"
)

// The ARM emulator of `make cluster-up MESH=aks` runs as one more
// background process of the cluster ("armemu"), this same program with the
// armemu command. Its files live in DIR/armemu: config.json (written by up,
// read by the emulator), ca.crt and connection.json (written by the
// emulator once it listens); DIR/azure.env is for people and meshops.
const armemuProcess = "armemu"

// armemuConfig is what up hands to the emulator process. The client
// secret is in it, so the file is 0600 like the kubeconfig's keys.
type armemuConfig struct {
	Connection armemu.Connection `json:"connection"`
	// Latency of every operation kind, so the LRO is visible in dev.
	Latency time.Duration `json:"latency"`
	// NeverReadyRevisions are installed broken when ARM asks for them
	// (controlplane.Options.NeverReadyRevisions).
	NeverReadyRevisions []string `json:"neverReadyRevisions,omitempty"`
}

func armemuDir(dir string) string { return filepath.Join(dir, "armemu") }

// startARMEmulator starts the emulator process for cluster, waits until
// it serves, writes DIR/azure.env and installs revisions through ARM with
// the real SDK: the first of opts.Revisions, then a canary to the second if
// there is one, exactly as a client of AKS would.
func startARMEmulator(ctx context.Context, cluster *controlplane.Cluster, opts controlplane.Options, latency time.Duration) (armemu.Connection, error) {
	revisions := opts.Revisions
	if len(revisions) > 2 {
		return armemu.Connection{}, fmt.Errorf("MESH=aks installs at most two revisions (one canary), not %d: %s", len(revisions), strings.Join(revisions, " "))
	}
	dir := armemuDir(cluster.StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return armemu.Connection{}, err
	}
	d := armemu.DefaultOptions()
	cfg := armemuConfig{Latency: latency, NeverReadyRevisions: opts.NeverReadyRevisions, Connection: armemu.Connection{
		CAFile: filepath.Join(dir, "ca.crt"), TenantID: d.TenantID, SubscriptionID: d.SubscriptionID,
		ResourceGroup: d.ResourceGroup, ClusterName: d.ClusterName, Location: d.Location,
		ClientID: d.Clients[0].ID, ClientSecret: d.Clients[0].Secret,
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		return armemu.Connection{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		return armemu.Connection{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return armemu.Connection{}, err
	}
	// In this folder, the repository: the emulator finds the cached istiod
	// and istioctl through it.
	wd, err := os.Getwd()
	if err != nil {
		return armemu.Connection{}, err
	}
	fmt.Println("starting the ARM emulator (test/armemu)")
	if err := cluster.StartProcess(armemuProcess, wd, exe, []string{"armemu", "--dir", cluster.StateDir}, nil); err != nil {
		return armemu.Connection{}, err
	}
	conn, err := waitConnection(ctx, cluster, filepath.Join(dir, "connection.json"), 30*time.Second)
	if err != nil {
		return armemu.Connection{}, err
	}
	if err := conn.WriteEnvFile(filepath.Join(cluster.StateDir, "azure.env")); err != nil {
		return armemu.Connection{}, err
	}
	if len(revisions) == 0 {
		return conn, nil
	}
	mc, err := armclient.ManagedClusters(conn, nil)
	if err != nil {
		return armemu.Connection{}, err
	}
	for i := range revisions {
		want := revisions[:i+1]
		fmt.Printf("ARM: PUT serviceMeshProfile.istio.revisions=[%s] and wait for the operation\n", strings.Join(want, ", "))
		if _, err := armclient.SetRevisions(ctx, mc, conn, want, time.Second); err != nil {
			return armemu.Connection{}, fmt.Errorf("installing revisions %v through the ARM emulator (log: %s): %w", want, cluster.LogFile(armemuProcess), err)
		}
	}
	return conn, nil
}

// waitConnection waits for the emulator to write where it listens.
func waitConnection(ctx context.Context, cluster *controlplane.Cluster, path string, timeout time.Duration) (armemu.Connection, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var conn armemu.Connection
			if err := json.Unmarshal(data, &conn); err != nil {
				return conn, fmt.Errorf("%s: %w", path, err)
			}
			return conn, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return armemu.Connection{}, err
		}
		if !cluster.Running(armemuProcess) {
			return armemu.Connection{}, fmt.Errorf("the ARM emulator exited (log: %s)", cluster.LogFile(armemuProcess))
		}
		if time.Now().After(deadline) {
			return armemu.Connection{}, fmt.Errorf("the ARM emulator did not start in %s (log: %s)", timeout, cluster.LogFile(armemuProcess))
		}
		select {
		case <-ctx.Done():
			return armemu.Connection{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runARMEmulator is the emulator process: it serves until SIGTERM (from
// cluster-down), changing the cluster in DIR through InstallRevision and
// RemoveRevision.
func runARMEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("armemu", flag.ExitOnError)
	dir := fs.String("dir", ".dev", "state folder of the cluster")
	_ = fs.Parse(args)
	data, err := os.ReadFile(filepath.Join(armemuDir(*dir), "config.json"))
	if err != nil {
		return err
	}
	var cfg armemuConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(armemuDir(*dir), "config.json"), err)
	}
	cluster, err := controlplane.Attach(controlplane.Options{StateDir: *dir, Log: os.Stdout, NeverReadyRevisions: cfg.NeverReadyRevisions})
	if err != nil {
		return err
	}
	c := cfg.Connection
	opts := armemu.DefaultOptions()
	opts.TenantID, opts.SubscriptionID, opts.ResourceGroup, opts.ClusterName, opts.Location = c.TenantID, c.SubscriptionID, c.ResourceGroup, c.ClusterName, c.Location
	opts.Clients = []armemu.Client{{ID: c.ClientID, Secret: c.ClientSecret}}
	opts.Mesh = cluster
	opts.Latency = map[armemu.Operation]time.Duration{}
	for _, op := range armemu.Operations() {
		opts.Latency[op] = cfg.Latency
	}
	srv, err := armemu.Start(opts, armemu.ServerOptions{CAFile: c.CAFile})
	if err != nil {
		return err
	}
	defer srv.Close()
	conn := srv.Connection()
	out, err := json.Marshal(conn)
	if err != nil {
		return err
	}
	// Written last and renamed into place: up reads it as the sign that
	// the emulator serves.
	tmp := filepath.Join(armemuDir(*dir), "connection.json.tmp")
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(armemuDir(*dir), "connection.json")); err != nil {
		return err
	}
	fmt.Printf("ARM emulator serving %s (subscription %s, resource group %s, cluster %s)\n", srv.URL, c.SubscriptionID, c.ResourceGroup, c.ClusterName)
	<-ctx.Done()
	fmt.Println("ARM emulator stopping")
	return nil
}
