package configs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

	// Limits bound what the load reads and builds; zero fields take their
	// defaults (DefaultLimits).
	Limits Limits
}

// DefaultOptions returns options that load the repo in the current folder
// with its meshops.yaml, if any.
func DefaultOptions() Options {
	return Options{RepoPath: ".", SettingsFile: DefaultSettingsFile, Limits: DefaultLimits()}
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
	// budget is what is left of the load's limits, for validate's parse of
	// the mesh config inside ConfigMaps.
	budget *budget
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
	settingsFile, ok := localPath(opts.SettingsFile)
	if !ok {
		return nil, fmt.Errorf("settings file %q: not a path inside the config repo (write it relative to the repo root, without ..)", clip(opts.SettingsFile))
	}
	b := newBudget(opts.Limits)
	repo, err := openRepo(opts.RepoPath, b)
	if err != nil {
		return nil, err
	}
	defer repo.Close()

	var probs Problems
	c := &Config{RepoPath: opts.RepoPath, Settings: DefaultSettings(), Values: map[string]any{}, budget: b}

	lines, ps, err := readSettings(repo, settingsFile, &c.Settings)
	if err != nil {
		return nil, err
	}
	probs = append(probs, ps...)
	c.settingsLines = lines
	applyOverrides(&c.Settings, opts)
	probs = append(probs, checkSettings(c.Settings, lines)...)
	valuesOK, manifestsOK, ps := checkRepoPaths(&c.Settings, opts, lines)
	probs = append(probs, ps...)

	c.pattern, err = mesh.ParseRevisionPattern(c.Settings.Extensions.RevisionPattern)
	if err != nil {
		// Reported by checkSettings; go on with the default so the rest
		// of the repo is still checked.
		c.pattern = mesh.DefaultPattern()
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	// Without values nothing about svc.istio is known; validate then skips
	// the checks that need it rather than report their absence again.
	c.istioLines = &istioLines{file: c.Settings.firstValues(), failed: map[string]bool{"svc.istio": true}}
	if valuesOK {
		vals, ps, err := loadValues(repo, c.Settings)
		if err != nil {
			return nil, err
		}
		probs = append(probs, ps...)
		if vals != nil {
			c.values = vals
			c.Values = vals.Map()
			var ip Problems
			c.Istio, c.istioLines, ip = readIstio(vals, c.pattern)
			probs = append(probs, ip...)
			c.AKS, ip = resolveAKS(vals, c.Settings, c.settingsLines)
			probs = append(probs, ip...)
		}
	}

	c.noManifests = true
	if manifestsOK {
		manifests, ps, missing, err := loadManifests(ctx, repo, c.Settings.Manifests, c.Istio.VersionNames())
		if err != nil {
			return nil, err
		}
		c.noManifests = missing
		probs = append(probs, ps...)
		c.Manifests = manifests
	}

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

// checkRepoPaths refuses a values file or manifests folder that is not a
// path inside the repo (absolute, or climbing out with ..), whether
// meshops.yaml or the caller's options named it; it cleans the paths it
// accepts. The refused path is quoted (it is the setting itself, not
// anything it leads to), cut short.
func checkRepoPaths(s *Settings, o Options, lines *settingsLines) (valuesOK, manifestsOK bool, probs Problems) {
	check := func(p *string, field string, byCaller bool, what string) bool {
		clean, ok := localPath(*p)
		if ok {
			*p = clean
			return true
		}
		file, line, from := lines.file, lines.line(field), "meshops.yaml"
		if byCaller {
			file, line, from = "", 0, "the caller's options"
		}
		probs = append(probs, Problem{File: file, Line: line, Field: field,
			Message: fmt.Sprintf("refused: %s %q (from %s) is not a path inside the config repo: meshops reads nothing outside the repo", what, clip(*p), from),
			Fix:     "write " + field + " relative to the repo root, without .. or a leading /"})
		return false
	}
	valuesOK = true
	valuesByCaller := o.Values != "" || len(o.ValuesFiles) > 0
	for i := range s.Values {
		if !check(&s.Values[i], "values", valuesByCaller, "the values file") {
			valuesOK = false
		}
	}
	manifestsOK = check(&s.Manifests, "manifests", o.Manifests != "", "the manifests folder")
	return valuesOK, manifestsOK, probs
}

// readValuesFile reads one values file named by the settings, inside the
// repo; a missing or refused file is a problem, with nil data.
func readValuesFile(repo *repoFS, file string) ([]byte, Problems, error) {
	info, err := repo.stat(file)
	var ref *refusal
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, Problems{{File: file, Message: "values file not found",
			Fix: "create it, or point values in meshops.yaml (or --values) at the values file"}}, nil
	case errors.As(err, &ref):
		return nil, Problems{ref.problem()}, nil
	case err == nil && info.IsDir():
		return nil, Problems{{File: file, Message: "the values file is a folder",
			Fix: "point values in meshops.yaml (or --values) at the values file, e.g. config/config.yaml"}}, nil
	}
	data, err := repo.readFile(file)
	if errors.As(err, &ref) {
		return nil, Problems{ref.problem()}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read values: %w", err)
	}
	return data, nil, nil
}
