package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// Every command resolves its settings one way (loadSettings): for each
// key, its flag on the command line, else MIXFT_<KEY> in the environment,
// else the key in the --config YAML file, else the flag's default. A
// command's keys are its flags' names with "_" for "-" (--batch-size is
// batch_size). Every value, whatever its source, is decoded by
// config.Decode (a flag's text too: bindSettings puts a settingValue in
// front of each flag), so "3.0" means the same as a flag, in MIXFT_*, in a
// file and in a sweep. The value lands in the flag, so the option field
// the flag is bound to holds the resolved setting. This file also checks
// the file's keys against the command's, reads their line numbers, and
// records where each value came from for error messages. A fresh viper
// instance per invocation does the layering; it never converts a value.

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

// settingValue is a flag's value decoded by config.Decode: the flag's own
// pflag.Value receives the decoded value in its canonical text.
type settingValue struct {
	pflag.Value
	// key is the flag's settings key, kind its config kind.
	key, kind string
	// given counts the times the command line gave the flag.
	given int
}

// Set decodes a value given on the command line.
func (v *settingValue) Set(s string) error {
	v.given++
	return v.set(config.Text(s))
}

// set decodes n and stores it; the error is a *config.FieldError of the
// key (without its source).
func (v *settingValue) set(n *yaml.Node) error {
	x, err := config.Decode(v.kind, n)
	if fe, ok := err.(*config.FieldError); ok {
		fe.Key = v.key
	}
	if err != nil {
		return err
	}
	var texts []string
	switch x := x.(type) {
	case []string:
		texts = x
	case float64:
		texts = []string{strconv.FormatFloat(x, 'g', -1, 64)}
	default:
		texts = []string{fmt.Sprint(x)}
	}
	for _, t := range texts {
		if err := v.Value.Set(t); err != nil {
			return &config.FieldError{Key: v.key, Value: strconv.Quote(t), Expected: config.Expected(v.kind)}
		}
	}
	return nil
}

// boolSetting is the settingValue of a boolean flag; pflag's help knows
// it by IsBoolFlag.
type boolSetting struct{ *settingValue }

// IsBoolFlag implements pflag's boolFlag.
func (boolSetting) IsBoolFlag() bool { return true }

// settingOf is the settingValue of a flag bindSettings finished.
func settingOf(f *pflag.Flag) *settingValue {
	if b, ok := f.Value.(boolSetting); ok {
		return b.settingValue
	}
	return f.Value.(*settingValue)
}

// kindOfFlag is the config kind of a pflag value type.
var kindOfFlag = map[string]string{"string": config.KindString, "int": config.KindInt, "uint64": config.KindUint64,
	"float64": config.KindFloat64, "bool": config.KindBool, "duration": config.KindDuration, "stringArray": config.KindList}

// bindSettings finishes a command's flags; call it after the last one is
// defined. It adds --config, puts a settingValue in front of every flag
// (each value is decoded by config.Decode), and makes the flag parser
// accept "_" for "-" (--batch_size, as run_glue spells its flags) and the
// Hugging Face names of the settings the command takes (config.Aliases:
// --learning-rate or --learning_rate for --lr, --task_name for --task):
// the same flag under another spelling, so giving both is giving it twice.
// A bad or unknown flag's error names it (flagError).
func bindSettings(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String(configFlag, "", "YAML file of settings (keys as flag names with _ for -; MIXFT_CONFIG)")
	names := map[string]bool{}
	f.VisitAll(func(fl *pflag.Flag) {
		names[fl.Name] = true
		if fl.Name == configFlag {
			return
		}
		kind, ok := kindOfFlag[fl.Value.Type()]
		if !ok {
			panic("mixft: flag --" + fl.Name + " of type " + fl.Value.Type() + " has no config kind")
		}
		v := &settingValue{Value: fl.Value, key: key(fl.Name), kind: kind}
		switch {
		case kind == config.KindBool:
			fl.Value = boolSetting{v}
		case kind == config.KindList && fl.DefValue == "[]":
			fl.Value, fl.DefValue = v, "" // no "(default [])" in the help
		default:
			fl.Value = v
		}
	})
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		n := flagName(name)
		if c := flagName(config.Canonical(key(n))); c != n && names[c] {
			n = c
		}
		return pflag.NormalizedName(n)
	})
	cmd.SetFlagErrorFunc(flagError)
}

// flagError completes the parser's error of a flag: a bad value is a
// *config.FieldError naming the flag; an unknown flag gets the nearest of
// the command's flags.
func flagError(cmd *cobra.Command, err error) error {
	var fe *config.FieldError
	var iv *pflag.InvalidValueError
	if errors.As(err, &fe) && errors.As(err, &iv) {
		fe.Source = "flag --" + iv.GetFlag().Name
		return fe
	}
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && ne.GetSpecifiedName() != "" {
		keys, aliases := commandKeys(cmd)
		valid := append(sortedKeys(keys), sortedKeys(aliases)...)
		if s := config.Suggest(key(ne.GetSpecifiedName()), valid); s != "" {
			return fmt.Errorf("%v (did you mean --%s?)", err, flagName(s))
		}
	}
	return err
}

// commandKeys maps each settings key of cmd to its flag, and each
// Hugging Face name of one of them (config.Aliases) to the key it stands
// for.
func commandKeys(cmd *cobra.Command) (keys map[string]*pflag.Flag, aliases map[string]string) {
	keys, aliases = map[string]*pflag.Flag{}, map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && f.Name != configFlag {
			keys[key(f.Name)] = f
		}
	})
	for _, a := range config.Aliases {
		if keys[a.Key] != nil {
			aliases[a.Name] = a.Key
		}
	}
	return keys, aliases
}

// loadSettings resolves cmd's settings into its flags: for each key, the
// command line (where a setting given twice, under one spelling or two,
// is an error), then MIXFT_<KEY> or MIXFT_<HUGGING FACE NAME> (an empty
// variable counts as unset), then the --config file (or MIXFT_CONFIG),
// then the flag's default. The file's keys must all be keys of cmd
// (checked on its YAML nodes, which give line numbers). A bad value is a
// *config.FieldError naming its source; unknown keys are one
// *unknownKeysError.
func loadSettings(cmd *cobra.Command) (*settings, error) {
	s := &settings{from: map[string]string{}}
	keys, aliases := commandKeys(cmd)
	for _, k := range sortedKeys(keys) {
		if v := settingOf(keys[k]); v.given > 1 && v.kind != config.KindList {
			return nil, fmt.Errorf("flag --%s: given %d times on the command line (%s); give it once", keys[k].Name, v.given, spellings(k))
		}
	}
	if f := cmd.Flags().Lookup(configFlag); f != nil {
		s.file = cmp.Or(f.Value.String(), os.Getenv(envName(configFlag)))
	}
	// Viper layers the sources, in its own order: a flag given on the
	// command line, then the environment, then the file, then the flag's
	// default. It only chooses; config.Decode turns the chosen text or
	// YAML node into the value (settingValue.set).
	v := viper.New()
	envs := map[string]string{}
	for _, k := range sortedKeys(keys) {
		// BindPFlag and BindEnv fail only on a nil flag or no name.
		_ = v.BindPFlag(k, keys[k])
		env, err := fromEnv(k, aliases)
		if err != nil {
			return nil, err
		}
		if env != "" {
			_ = v.BindEnv(k, env)
			envs[k] = env
		}
	}
	if s.file != "" {
		entries, err := readConfigFile(s.file)
		if err != nil {
			return nil, err
		}
		if err := checkFileKeys(cmd, s.file, entries, keys, aliases); err != nil {
			return nil, err
		}
		layer := map[string]any{}
		for _, e := range entries {
			layer[cmp.Or(aliases[e.key], e.key)] = e
		}
		if err := v.MergeConfigMap(layer); err != nil {
			return nil, fmt.Errorf("config file %s: %v", s.file, err)
		}
	}
	for _, k := range sortedKeys(keys) {
		f := keys[k]
		if f.Changed {
			s.from[k] = "flag --" + f.Name
			continue
		}
		var src string
		var n *yaml.Node
		switch x := v.Get(k).(type) {
		case fileEntry:
			src, n = fmt.Sprintf("config file %s line %d key %s", s.file, x.line, x.key), x.value
		case string:
			if envs[k] == "" {
				continue // the flag's default
			}
			src, n = "environment variable "+envs[k], config.Text(x)
			if settingOf(f).kind == config.KindList {
				n = &yaml.Node{Kind: yaml.SequenceNode}
				for _, item := range strings.Split(x, "\n") {
					n.Content = append(n.Content, config.Text(item))
				}
			}
		default:
			continue // the flag's default
		}
		if err := settingOf(f).set(n); err != nil {
			if fe, ok := err.(*config.FieldError); ok {
				fe.Source = src
			}
			return nil, err
		}
		s.from[k] = src
	}
	return s, nil
}

// fromEnv is the environment variable that gives key k (MIXFT_<KEY>, or
// MIXFT_<NAME> of a Hugging Face name of it); "" when none is set (or set
// empty). Two set for one key are an error.
func fromEnv(k string, aliases map[string]string) (env string, err error) {
	names := []string{k}
	for _, a := range sortedKeys(aliases) {
		if aliases[a] == k {
			names = append(names, a)
		}
	}
	for _, n := range names {
		if os.Getenv(envName(n)) != "" {
			if env != "" {
				return "", fmt.Errorf("environment variables %s and %s are one setting (%s); set one", env, envName(n), aliasNote(k))
			}
			env = envName(n)
		}
	}
	return env, nil
}

// spellings names the flags that set key k: --k and its Hugging Face names.
func spellings(k string) string {
	out := []string{"--" + flagName(k)}
	for _, a := range config.Aliases {
		if a.Key == k {
			out = append(out, "--"+flagName(a.Name))
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return "as " + strings.Join(out, " or ")
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

// fileEntry is one key of a --config file.
type fileEntry struct {
	key   string
	line  int
	value *yaml.Node
}

// readConfigFile reads a YAML map of settings (merge keys expanded,
// config.Entries). A run's config.yaml (a file with a requested: map,
// config.RequestedKey) works as one: the requested: map (the settings the
// run was given where they differ from the resolved ones above it)
// replaces those keys, so the file gives the settings the run was started
// with, as --resume with --output-dir alone takes them
// (rundir.ResumeDefaults); its resume and overwrite, which say how that
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
	all, err := config.Entries(top)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, err)
	}
	var entries, requested []fileEntry
	runConfig := false
	for _, e := range all {
		if e.Key == config.RequestedKey && e.Value.Kind == yaml.MappingNode {
			runConfig = true
			req, err := config.Entries(e.Value)
			if err != nil {
				return nil, fmt.Errorf("config file %s: %v", path, err)
			}
			for _, r := range req {
				requested = append(requested, fileEntry{r.Key, r.Line, r.Value})
			}
			continue
		}
		entries = append(entries, fileEntry{e.Key, e.Line, e.Value})
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
