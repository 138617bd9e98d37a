package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/mixft/mixft/internal/fsutil"
)

// settings resolves a command's settings: flags > MIXFT_* env > YAML file
// (--config) > defaults. Getters record the first bad value and name its
// key and source; err returns it.
type settings struct {
	v       *viper.Viper
	cmd     *cobra.Command
	file    string
	fileSet map[string]bool
	err     error
}

// key is the settings key of a flag: "--batch-size" is "batch_size".
func key(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// flagName is the flag of a settings key: "batch_size" is "batch-size".
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// addConfigFlag gives a command the --config flag.
func addConfigFlag(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "YAML file of settings (keys as flag names with _ for -)")
}

// loadSettings binds the command's flags, the environment and the YAML file.
func loadSettings(cmd *cobra.Command) (*settings, error) {
	s := &settings{v: viper.New(), cmd: cmd, fileSet: map[string]bool{}}
	s.v.SetEnvPrefix("MIXFT")
	s.v.AutomaticEnv()
	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "config" || bindErr != nil {
			return
		}
		bindErr = s.v.BindPFlag(key(f.Name), f)
	})
	if bindErr != nil {
		return nil, bindErr
	}
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("MIXFT_CONFIG")
	}
	if path == "" {
		return s, nil
	}
	fv := viper.New()
	fv.SetConfigType("yaml")
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config file %s: %v", path, pe.Err)
		}
		return nil, fmt.Errorf("config file %v", err)
	}
	if err := fv.ReadConfig(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("config file %s: not valid YAML: %s", path, oneLine(err.Error()))
	}
	known := knownKeys(cmd.Root())
	for _, k := range fv.AllKeys() {
		top := strings.SplitN(k, ".", 2)[0]
		if !known[k] && !known[top] {
			return nil, fmt.Errorf("config file %s: unknown key %q (expected one of %s)", path, k, strings.Join(sortedKeys(known), ", "))
		}
		s.fileSet[k] = true
	}
	if err := s.v.MergeConfigMap(fv.AllSettings()); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	s.file = path
	return s, nil
}

// knownKeys is every settings key of every command, so one YAML file can
// serve finetune, eval and predict.
func knownKeys(root *cobra.Command) map[string]bool {
	keys := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && f.Name != "config" {
				keys[key(f.Name)] = true
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return keys
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// source names where a key's value came from, for error messages.
func (s *settings) source(k string) string {
	if f := s.cmd.Flags().Lookup(flagName(k)); f != nil && f.Changed {
		return "flag --" + f.Name
	}
	env := "MIXFT_" + strings.ToUpper(k)
	if _, ok := os.LookupEnv(env); ok {
		return "environment variable " + env
	}
	if s.fileSet[k] {
		return "config file " + s.file + " key " + k
	}
	return "default of " + k
}

// isSet reports whether a key was given by a flag, the environment or the file.
func (s *settings) isSet(k string) bool { return s.source(k) != "default of "+k }

func (s *settings) fail(k string, val any, want string) {
	if s.err == nil {
		s.err = fmt.Errorf("%s: %q is not %s", s.source(k), fmt.Sprint(val), want)
	}
}

// String returns a string setting.
func (s *settings) String(k string) string {
	v, err := cast.ToStringE(s.v.Get(k))
	if err != nil {
		s.fail(k, s.v.Get(k), "a string")
	}
	return v
}

// Int returns an integer setting.
func (s *settings) Int(k string) int {
	raw := s.v.Get(k)
	v, err := cast.ToIntE(raw)
	if err != nil {
		s.fail(k, raw, "an integer")
	}
	return v
}

// Uint64 returns a non-negative integer setting.
func (s *settings) Uint64(k string) uint64 {
	raw := s.v.Get(k)
	v, err := cast.ToInt64E(raw)
	if err != nil || v < 0 {
		s.fail(k, raw, "a non-negative integer")
	}
	return uint64(v)
}

// Float64 returns a floating-point setting.
func (s *settings) Float64(k string) float64 {
	raw := s.v.Get(k)
	v, err := cast.ToFloat64E(raw)
	if err != nil {
		s.fail(k, raw, "a number")
	}
	return v
}

// Bool returns a boolean setting.
func (s *settings) Bool(k string) bool {
	raw := s.v.Get(k)
	v, err := cast.ToBoolE(raw)
	if err != nil {
		s.fail(k, raw, "true or false")
	}
	return v
}

// Choice returns a string setting that must be one of choices.
func (s *settings) Choice(k string, choices ...string) string {
	v := s.String(k)
	if !slices.Contains(choices, v) {
		s.fail(k, v, "one of "+strings.Join(choices, ", "))
	}
	return v
}

// Require records an error when a string setting is empty.
func (s *settings) Require(k, v string) {
	if v == "" && s.err == nil {
		s.err = fmt.Errorf("--%s is required (or MIXFT_%s, or %s: in the --config file)", flagName(k), strings.ToUpper(k), k)
	}
}

// Err is the first bad setting met by a getter.
func (s *settings) Err() error { return s.err }
