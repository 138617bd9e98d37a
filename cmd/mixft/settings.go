package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/mixft/mixft/internal/config"
	"github.com/mixft/mixft/internal/fsutil"
)

// Every command resolves its settings one way (loadSettings), with one
// viper instance per invocation: for each key, its flag on the command
// line, else MIXFT_<KEY> in the environment, else the key in the --config
// YAML file, else the flag's default. A command's keys are its flags'
// names with "_" for "-" (--batch-size is batch_size). The value lands in
// the flag, so the option field the flag is bound to holds the resolved
// setting. Viper chooses the value; this file checks the file's keys
// against the command's, reads their line numbers, and records where each
// value came from for error messages.

// common is what every command's options hold besides its own settings.
type common struct {
	// settings records where each setting came from.
	settings *settings
	// stdout and stderr are the command's output streams.
	stdout, stderr io.Writer
}

// load resolves cmd's settings into its flags and keeps its streams.
func (c *common) load(cmd *cobra.Command) error {
	s, err := loadSettings(cmd)
	if err != nil {
		return err
	}
	c.settings, c.stdout, c.stderr = s, cmd.OutOrStdout(), cmd.ErrOrStderr()
	return nil
}

// warn prints one warning line on the command's stderr.
func (c *common) warn(msg string) { fmt.Fprintf(c.stderr, "mixft: warning: %s\n", msg) }

// runE is the RunE of a command without arguments: it resolves o's
// settings (o embeds common), then runs runF(o).
func runE[O interface{ load(*cobra.Command) error }](o O, runF func(O) error) func(*cobra.Command, []string) error {
	return runArgsE(o, func([]string) {}, runF)
}

// runArgsE is runE for a command with arguments, which setArgs stores in o
// (cobra has checked their number).
func runArgsE[O interface{ load(*cobra.Command) error }](o O, setArgs func([]string), runF func(O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.load(cmd); err != nil {
			return err
		}
		setArgs(args)
		return runF(o)
	}
}

// settings records where a command's settings came from.
type settings struct {
	// file is the --config file, "" when none was given.
	file string
	// from maps each key given by a flag, the environment or the file to
	// where ("flag --lr", "environment variable MIXFT_LR", "config file
	// run.yaml line 3 key learning_rate").
	from map[string]string
}

// key is the settings key of a flag: "--batch-size" is "batch_size".
func key(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// flagName is the flag of a settings key: "batch_size" is "batch-size".
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// envName is the environment variable of a settings key.
func envName(key string) string { return "MIXFT_" + strings.ToUpper(key) }

// configFlag is the flag naming the YAML file of settings.
const configFlag = "config"

// aliasOf annotates an alias flag with the key it stands for.
const aliasOf = "mixft-alias-of"

// addConfigFlag gives a command the --config flag.
func addConfigFlag(cmd *cobra.Command) {
	cmd.Flags().String(configFlag, "", "YAML file of settings (keys as flag names with _ for -; MIXFT_CONFIG)")
}

// addAliasFlags gives a command that takes run settings the Hugging Face
// TrainingArguments names of them (config.Aliases) as hidden flags
// (--learning-rate for --lr) and YAML keys (learning_rate).
func addAliasFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	for _, a := range config.Aliases {
		target := f.Lookup(flagName(a.Key))
		if target == nil {
			continue
		}
		f.AddFlag(&pflag.Flag{
			Name: flagName(a.Name), Value: target.Value, DefValue: target.DefValue, NoOptDefVal: target.NoOptDefVal,
			Usage:       "Hugging Face name of --" + target.Name,
			Hidden:      true,
			Annotations: map[string][]string{aliasOf: {a.Key}},
		})
	}
}

// flagKey is the settings key a flag sets: its own, or for an alias flag
// the key it stands for.
func flagKey(f *pflag.Flag) string {
	if k := f.Annotations[aliasOf]; len(k) == 1 {
		return k[0]
	}
	return key(f.Name)
}

// commandKeys maps each settings key of cmd to its flag, and each alias
// to the key it stands for.
func commandKeys(cmd *cobra.Command) (keys map[string]*pflag.Flag, aliases map[string]string) {
	keys, aliases = map[string]*pflag.Flag{}, map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Name == "help" || f.Name == configFlag:
		case len(f.Annotations[aliasOf]) == 1:
			aliases[key(f.Name)] = flagKey(f)
		default:
			keys[key(f.Name)] = f
		}
	})
	return keys, aliases
}

// loadSettings resolves cmd's settings into its flags. A fresh viper
// instance decides each value: the command line (a flag or its alias, not
// both), then MIXFT_<KEY> (an empty variable counts as unset), then the
// --config file (or MIXFT_CONFIG), then the flag's default. What viper
// cannot do is done here: the file's keys must all be keys of cmd (checked
// on its YAML nodes, which give line numbers), and each value viper takes
// from the environment or the file is set into its flag, recording where
// it came from. A bad value is a *config.FieldError naming that source;
// unknown keys are one *unknownKeysError.
func loadSettings(cmd *cobra.Command) (*settings, error) {
	s := &settings{from: map[string]string{}}
	keys, aliases := commandKeys(cmd)
	given := map[string]*pflag.Flag{}
	var conflict error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		k := flagKey(f)
		if _, ok := keys[k]; !ok || conflict != nil {
			return
		}
		if prev, ok := given[k]; ok {
			conflict = fmt.Errorf("flag --%s and flag --%s are one setting (%s); give one", prev.Name, f.Name, aliasNote(k))
			return
		}
		given[k] = f
	})
	if conflict != nil {
		return nil, conflict
	}
	v := viper.New()
	v.SetEnvPrefix("MIXFT")
	v.AutomaticEnv()
	// Each key is bound to its flag, or to the alias flag given instead (it
	// shares the flag's value); an unchanged flag is the key's default.
	// BindPFlag fails only on a nil flag.
	for k, f := range keys {
		if g := given[k]; g != nil {
			f = g
		}
		_ = v.BindPFlag(k, f)
	}
	file := map[string]fileEntry{}
	if f := cmd.Flags().Lookup(configFlag); f != nil {
		_ = v.BindPFlag(configFlag, f)
		s.file = v.GetString(configFlag)
	}
	if s.file != "" {
		entries, err := readConfigFile(s.file)
		if err != nil {
			return nil, err
		}
		if err := checkFileKeys(cmd, s.file, entries, keys, aliases); err != nil {
			return nil, err
		}
		// Viper gets the file's values as written (a Hugging Face name
		// under the key it stands for): output_dir: 0755 stays "0755", not
		// the number YAML would make of it.
		layer := map[string]any{}
		for _, e := range entries {
			k := cmp.Or(aliases[e.key], e.key)
			file[k] = e
			layer[k] = e.values
		}
		if err := v.MergeConfigMap(layer); err != nil {
			return nil, fmt.Errorf("config file %s: %v", s.file, err)
		}
	}
	for _, k := range sortedKeys(keys) {
		// Where viper's value comes from, in viper's order.
		e, inFile := file[k]
		switch {
		case given[k] != nil:
			s.from[k] = "flag --" + given[k].Name
		case os.Getenv(envName(k)) != "":
			src, values := "environment variable "+envName(k), []string{v.GetString(k)}
			if isList(keys[k]) {
				values = strings.Split(values[0], "\n")
			}
			if err := setFlag(keys[k], k, src, values); err != nil {
				return nil, err
			}
			s.from[k] = src
		case inFile:
			src := fmt.Sprintf("config file %s line %d key %s", s.file, e.line, e.key)
			if e.err == "" && e.list && !isList(keys[k]) {
				e.err = "a list"
			}
			if e.err != "" {
				return nil, &config.FieldError{Key: k, Value: e.err, Source: src, Expected: expected(keys[k])}
			}
			if err := setFlag(keys[k], k, src, v.GetStringSlice(k)); err != nil {
				return nil, err
			}
			s.from[k] = src
		}
	}
	return s, nil
}

// aliasNote says which Hugging Face name stands for key.
func aliasNote(k string) string {
	for _, a := range config.Aliases {
		if a.Key == k {
			return a.Name + " is the Hugging Face name of " + k
		}
	}
	return k
}

// isList reports whether a flag takes a list of values.
func isList(f *pflag.Flag) bool { return f.Value.Type() == "stringArray" }

// setFlag sets a flag from text (the environment, the file): each of
// values in turn (one for a flag that is not a list). Integer settings
// take numbers with no fraction written as floats (num_train_epochs: 3.0).
func setFlag(f *pflag.Flag, k, src string, values []string) error {
	for _, v := range values {
		text := v
		if t := f.Value.Type(); t == "int" || t == "uint64" {
			if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				text = strconv.FormatFloat(x, 'f', -1, 64)
			}
		}
		if err := f.Value.Set(text); err != nil {
			return &config.FieldError{Key: k, Value: strconv.Quote(v), Source: src, Expected: expected(f)}
		}
	}
	return nil
}

// expected says what a flag's kind of value is.
func expected(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "int":
		return "an integer"
	case "uint64":
		return "a non-negative integer"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "stringArray":
		return "a string or a list of strings"
	case "duration":
		return "a duration such as 30s or 2m"
	}
	return "a string"
}

// fileEntry is one key of a --config file.
type fileEntry struct {
	key  string
	line int
	// values is the value as written: one scalar, or a list's items.
	values []string
	// list: the value is a YAML list; err describes a value no flag takes
	// ("a map"), "" when fine.
	list bool
	err  string
}

// readConfigFile reads a YAML map of settings. A run's config.yaml (a file
// with a requested: map, config.RequestedKey) works as one: the requested:
// map (the settings the run was given where they differ from the resolved
// ones above it) replaces those keys, so the file gives the settings the
// run was started with, as --resume with --output-dir alone takes them
// (train.ResumeDefaults); its resume and overwrite, which say how that
// process was started, are left out.
func readConfigFile(path string) ([]fileEntry, error) {
	raw, err := fsutil.ReadFile(path, fsutil.MaxConfig)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config file %s: %v", path, pe.Err)
		}
		return nil, fmt.Errorf("config file %v", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("config file %s: not valid YAML: %s", path, oneLine(err.Error()))
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: expected a map of key: value (line %d)", path, top.Line)
	}
	var entries, requested []fileEntry
	runConfig := false
	for i := 0; i < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		if kn.Value == config.RequestedKey && vn.Kind == yaml.MappingNode {
			runConfig = true
			for j := 0; j < len(vn.Content); j += 2 {
				requested = append(requested, fileEntryOf(vn.Content[j], vn.Content[j+1]))
			}
			continue
		}
		entries = append(entries, fileEntryOf(kn, vn))
	}
	if runConfig {
		entries = slices.DeleteFunc(entries, func(e fileEntry) bool { return e.key == "resume" || e.key == "overwrite" })
	}
	for _, r := range requested {
		i := slices.IndexFunc(entries, func(e fileEntry) bool { return e.key == r.key })
		if i < 0 {
			entries = append(entries, r)
		} else {
			entries[i] = r
		}
	}
	return entries, nil
}

// fileEntryOf is the fileEntry of one key and its value.
func fileEntryOf(kn, vn *yaml.Node) fileEntry {
	e := fileEntry{key: kn.Value, line: kn.Line}
	if vn.Kind == yaml.AliasNode && vn.Alias != nil {
		vn = vn.Alias
	}
	switch {
	case vn.Kind == yaml.ScalarNode && vn.ShortTag() == "!!null":
		e.err = "nothing"
	case vn.Kind == yaml.ScalarNode:
		e.values = []string{vn.Value}
	case vn.Kind == yaml.SequenceNode:
		e.list = true
		if len(vn.Content) == 0 {
			e.err = "an empty list"
		}
		for _, item := range vn.Content {
			if item.Kind != yaml.ScalarNode {
				e.err = "a list of lists or maps"
			} else if item.ShortTag() == "!!null" && e.err == "" {
				e.err = "a list with an empty item"
			}
			e.values = append(e.values, item.Value)
		}
	default:
		e.err = "a map"
	}
	return e
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// unknownKeysError is a --config file with keys its command does not take.
type unknownKeysError struct {
	file, command string
	keys          []unknownKey
	// valid are the command's keys; aliases its Hugging Face names.
	valid, aliases []string
}

// unknownKey is one key of the file the command does not take.
type unknownKey struct {
	key  string
	line int
	// suggestion is the command's key nearest to key, "" when none is
	// near; elsewhere lists the other commands that take key.
	suggestion string
	elsewhere  []string
}

func (e *unknownKeysError) Error() string {
	parts := make([]string, len(e.keys))
	for i, k := range e.keys {
		hint := fmt.Sprintf("line %d", k.line)
		if k.suggestion != "" {
			hint += "; did you mean " + k.suggestion + "?"
		}
		if len(k.elsewhere) > 0 {
			hint += "; a key of " + strings.Join(k.elsewhere, ", ")
		}
		parts[i] = fmt.Sprintf("unknown key %q (%s)", k.key, hint)
	}
	takes := "no keys"
	if len(e.valid) > 0 {
		takes = strings.Join(e.valid, ", ")
	}
	msg := fmt.Sprintf("config file %s: %s; %s takes %s", e.file, strings.Join(parts, ", "), e.command, takes)
	if len(e.aliases) > 0 {
		msg += " and the Hugging Face names " + strings.Join(e.aliases, ", ")
	}
	return msg
}

// checkFileKeys reports every key of the file that cmd does not take (one
// *unknownKeysError), then a setting given twice (under its name and its
// alias, or twice under one).
func checkFileKeys(cmd *cobra.Command, path string, entries []fileEntry, keys map[string]*pflag.Flag, aliases map[string]string) error {
	valid, names := sortedKeys(keys), sortedKeys(aliases)
	uk := &unknownKeysError{file: path, command: cmd.CommandPath(), valid: valid, aliases: names}
	for _, e := range entries {
		_, isKey := keys[e.key]
		_, isAlias := aliases[e.key]
		if !isKey && !isAlias {
			uk.keys = append(uk.keys, unknownKey{key: e.key, line: e.line,
				suggestion: config.Suggest(e.key, append(slices.Clone(valid), names...)), elsewhere: commandsTaking(cmd, e.key)})
		}
	}
	if len(uk.keys) > 0 {
		return uk
	}
	seen := map[string]fileEntry{}
	for _, e := range entries {
		k := e.key
		if a, ok := aliases[k]; ok {
			k = a
		}
		if prev, ok := seen[k]; ok && prev.key == e.key {
			return fmt.Errorf("config file %s: %s is given twice (lines %d and %d); give it once", path, k, prev.line, e.line)
		} else if ok {
			return fmt.Errorf("config file %s: %s (line %d) and %s (line %d) are one setting (%s); give one", path, prev.key, prev.line, e.key, e.line, aliasNote(k))
		}
		seen[k] = e
	}
	return nil
}

// commandsTaking lists the commands other than cmd that take key k.
func commandsTaking(cmd *cobra.Command, k string) []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if keys, aliases := commandKeys(c); c != cmd && (keys[k] != nil || aliases[k] != "") {
			out = append(out, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd.Root())
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// isSet reports whether a key was given by a flag, the environment or the
// file.
func (s *settings) isSet(k string) bool {
	if s == nil {
		return false
	}
	_, ok := s.from[k]
	return ok
}

// source names where a key's value came from, for error messages.
func (s *settings) source(k string) string {
	if s.isSet(k) {
		return s.from[k]
	}
	return "default of " + k
}

// fieldError completes err when it is a *config.FieldError of one of the
// command's own settings: the source of a bad value, how to give a missing
// one. Other errors pass through. (A wrapped one keeps the message it was
// wrapped with; complete it first.)
func (s *settings) fieldError(err error) error {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Missing {
		give := fmt.Sprintf("give --%s, %s or %s: in the --config file", flagName(fe.Key), envName(fe.Key), fe.Key)
		if fe.Expected != "" {
			give = fe.Expected + "; " + give
		}
		fe.Expected = give
	} else if fe.Source == "" {
		fe.Source = s.source(fe.Key)
	}
	return err
}

// bad is the error of a value v of key that is not what the key expects.
func (s *settings) bad(k string, v any, expected string) error {
	return s.fieldError(&config.FieldError{Key: k, Value: fmt.Sprint(v), Expected: expected})
}

// require is the error of the first of the key, value pairs whose value
// is empty; nil when none is.
func (s *settings) require(kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			return s.fieldError(&config.FieldError{Key: kv[i], Missing: true})
		}
	}
	return nil
}

// choice is the error of a value v of key that is not one of choices.
func (s *settings) choice(k, v string, choices ...string) error {
	if slices.Contains(choices, v) {
		return nil
	}
	return s.bad(k, strconv.Quote(v), "one of "+strings.Join(choices, ", "))
}
