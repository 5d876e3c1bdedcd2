package configs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/meshops/meshops/mesh"
)

// Options say where the config repo is and override what meshops.yaml says.
// The CLI maps its flags onto these fields; the package reads no flags.
type Options struct {
	// RepoPath is the root of the config repo. Default ".".
	RepoPath string
	// SettingsFile is meshops.yaml, relative to RepoPath. The file is
	// optional: without it the defaults of DefaultSettings apply.
	// Default "meshops.yaml".
	SettingsFile string

	// Values, Manifests, Cloud, Environment, Region, RegionShort and Stamp
	// override the same fields of meshops.yaml when not empty (the CLI's
	// --values, --manifests, --cloud, --environment, --region). Values
	// names one values file; ValuesFiles, when not empty, names several,
	// merged in order (--values repeated), and wins over Values.
	Values      string
	ValuesFiles []string
	Manifests   string
	Cloud       string
	Environment string
	Region      string
	RegionShort string
	Stamp       string

	// Override, when set, is called with the settings after meshops.yaml
	// and the fields above were applied, and may change any of them (the
	// restart policy, exemptions, …). The result is checked like the file.
	Override func(*Settings)
}

// DefaultOptions returns options that load the repo in the current folder
// with its meshops.yaml, if any.
func DefaultOptions() Options {
	return Options{RepoPath: ".", SettingsFile: DefaultSettingsFile}
}

// Config is a loaded config repo.
type Config struct {
	// RepoPath is the repo root it was loaded from.
	RepoPath string
	// Settings are meshops.yaml with defaults and overrides applied.
	Settings Settings
	// Istio is what meshops reads from svc.istio (and regionRG).
	Istio Istio
	// Values are the resolved values for this cluster. Keys whose template
	// needs a value meshops was not given (e.g. .ev2) are left out; use
	// LookupValue to learn why one is missing.
	Values map[string]any
	// Manifests are the managed objects, in file order; per-revision
	// documents appear once per revision.
	Manifests []Manifest
	// AKS is the cluster meshops.revisions.aks names, read from the
	// values where it says so; empty fields are left to the caller (flags
	// and the environment, see revisions/aks.OptionsFromEnv).
	AKS AKSCluster

	values        *Values
	pattern       mesh.RevisionPattern
	istioLines    *istioLines
	settingsLines *settingsLines
	// noManifests is set when the manifests folder could not be found:
	// every listed namespace would then "lack" default deny, which says
	// nothing the folder problem does not already say.
	noManifests bool
}

// LookupValue returns the resolved value at path (one key per element) and
// whether it exists; the error is a Problem when the value needs a template
// meshops could not render.
func (c *Config) LookupValue(path ...string) (any, bool, error) {
	if c.values == nil {
		return nil, false, nil
	}
	v, _, found, err := c.values.Lookup(path...)
	return v, found, err
}

// RevisionPattern returns the pattern revision names were parsed with.
func (c *Config) RevisionPattern() mesh.RevisionPattern { return c.pattern }

// Load reads the config repo: meshops.yaml, the values for the cluster
// named by the settings, and the manifests, then checks meshops' rules.
//
// When the repo has problems (bad YAML, wrong types, broken rules) the error
// is a Problems listing all of them, and the Config is returned too, as far
// as it could be built, so that callers can still show it. Other errors
// (an unreadable folder, a cancelled ctx) come with a nil Config.
func Load(ctx context.Context, opts Options) (*Config, error) {
	if opts.RepoPath == "" {
		opts.RepoPath = "."
	}
	if opts.SettingsFile == "" {
		opts.SettingsFile = DefaultSettingsFile
	}
	if info, err := os.Stat(opts.RepoPath); err != nil {
		return nil, fmt.Errorf("config repo: %w", err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("config repo %s: not a folder", opts.RepoPath)
	}

	var probs Problems
	c := &Config{RepoPath: opts.RepoPath, Settings: DefaultSettings(), Values: map[string]any{}}

	lines, ps, err := readSettings(opts.RepoPath, opts.SettingsFile, &c.Settings)
	if err != nil {
		return nil, err
	}
	probs = append(probs, ps...)
	c.settingsLines = lines
	applyOverrides(&c.Settings, opts)
	probs = append(probs, checkSettings(c.Settings, lines)...)

	c.pattern, err = mesh.ParseRevisionPattern(c.Settings.Extensions.RevisionPattern)
	if err != nil {
		// Reported by checkSettings; go on with the default so the rest
		// of the repo is still checked.
		c.pattern = mesh.DefaultPattern()
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	vals, ps, err := loadValues(opts.RepoPath, c.Settings)
	if err != nil {
		return nil, err
	}
	probs = append(probs, ps...)
	// Without values nothing about svc.istio is known; validate then skips
	// the checks that need it rather than report their absence again.
	c.istioLines = &istioLines{file: relPath(opts.RepoPath, valuesPath(opts.RepoPath, c.Settings.firstValues())), failed: map[string]bool{"svc.istio": true}}
	if vals != nil {
		c.values = vals
		c.Values = vals.Map()
		var ip Problems
		c.Istio, c.istioLines, ip = readIstio(vals, c.pattern)
		probs = append(probs, ip...)
		c.AKS, ip = resolveAKS(vals, c.Settings, c.settingsLines)
		probs = append(probs, ip...)
	}

	manifests, ps, missing, err := loadManifests(ctx, opts.RepoPath, c.Settings.Manifests, c.Istio.VersionNames())
	if err != nil {
		return nil, err
	}
	c.noManifests = missing
	probs = append(probs, ps...)
	c.Manifests = manifests

	probs = append(probs, validate(c)...)
	probs.Sort()
	// Only ConfigMaps still have a tree here (buildManifest drops the
	// others), for validate's mesh config check; nothing reads it after.
	for i := range c.Manifests {
		c.Manifests[i].tree = nil
	}
	return c, probs.Err()
}

// applyOverrides puts the caller's non-empty options over the settings.
func applyOverrides(s *Settings, o Options) {
	switch {
	case len(o.ValuesFiles) > 0:
		s.Values = slices.Clone(o.ValuesFiles)
	case o.Values != "":
		s.Values = []string{o.Values}
	}
	for _, f := range []struct {
		dst *string
		val string
	}{
		{&s.Manifests, o.Manifests}, {&s.Cloud, o.Cloud},
		{&s.Environment, o.Environment}, {&s.Region, o.Region},
		{&s.RegionShort, o.RegionShort}, {&s.Stamp, o.Stamp},
	} {
		if f.val != "" {
			*f.dst = f.val
		}
	}
	if o.Override != nil {
		o.Override(s)
	}
}

// valuesPath is a values file named by the settings, as a path on disk.
func valuesPath(repo, file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(repo, filepath.FromSlash(file))
}

// readValuesFile reads one values file named by the settings; a missing
// file is a problem, with nil data.
func readValuesFile(repo, name string) ([]byte, Problems, error) {
	path := valuesPath(repo, name)
	file := relPath(repo, path)
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Problems{{File: file, Message: "values file not found",
			Fix: "create it, or point values in meshops.yaml (or --values) at the values file"}}, nil
	}
	if err == nil && info.IsDir() {
		return nil, Problems{{File: file, Message: "the values file is a folder",
			Fix: "point values in meshops.yaml (or --values) at the values file, e.g. config/config.yaml"}}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read values: %w", err)
	}
	return data, nil, nil
}
