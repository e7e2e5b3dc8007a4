package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cspm-es/cspm-es/platform/config"
	"github.com/cspm-es/cspm-es/platform/logging"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (or found a broken chain)
	exitUsage   = 2 // bad command line or configuration
)

// command is a node of the CLI tree: a group (subs) or a leaf (build).
type command struct {
	name        string
	summary     string // one line, for the parent's listing
	args        string // synopsis after the flags, e.g. "--stream ID"
	maxArgs     int    // positional arguments the command takes (flags may come before or after them)
	description string // paragraph shown by -h
	groups      config.Group
	// build registers the command's own flags and returns its body.
	build func(fs *flag.FlagSet) runFunc
	subs  []*command
}

type runFunc func(ctx context.Context, inv *invocation) error

// invocation is what a command body gets: configuration parsed once, a
// logger, the standard streams and the environment lookup.
type invocation struct {
	cfg    config.Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	env    config.LookupEnv
	args   []string // positional arguments (at most the command's maxArgs)
}

// exitError makes a command end with a given code; its message (if any) is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad command line: printed with a hint, exit 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func root() *command {
	return &command{
		name:    "cspm",
		summary: "cloud security posture management, event-sourced",
		description: "cspm is one binary: `serve` runs the service; `worker` runs scan jobs;\n" +
			"`db` and `events` inspect the database registry and audit the event store;\n" +
			"`projections` shows and rebuilds the read models of a running server; `keys`\n" +
			"issues, lists and revokes API keys; `kb embed` embeds the knowledge base's chunks.",
		subs: []*command{serveCommand(), workerCommand(), importCommand(), importLegacyCommand(), dbCommand(), eventsCommand(), projectionsCommand(), keysCommand(), catalogsCommand(), kbCommand(),
			privacyCommand(),    // privacy.go: crypto-shredding
			retentionCommand()}, // retention.go: policies, the retention cycle, archival
	}
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) int {
	r := root()
	// "help [command...]" is an alias of "command... -h".
	if len(args) > 0 && args[0] == "help" {
		args = append(args[1:], "-h")
	}
	return r.execute(ctx, []string{r.name}, args, stdout, stderr, env)
}

func (c *command) execute(ctx context.Context, path []string, args []string, stdout, stderr io.Writer, env config.LookupEnv) int {
	if c.build == nil {
		return c.dispatch(ctx, path, args, stdout, stderr, env)
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below, once
	body := c.build(fs)
	loader := config.Register(fs, c.groups)
	fs.Usage = func() { c.printUsage(fs.Output(), path, fs) }

	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		fmt.Fprintf(stderr, "Run '%s -h' for usage.\n", fs.Name())
		return exitUsage
	}
	if len(positional) > c.maxArgs {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), positional[c.maxArgs])
		fmt.Fprintf(stderr, "Run '%s -h' for usage.\n", fs.Name())
		return exitUsage
	}
	cfg, err := loader.Load(env)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n", fs.Name())
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  - %s\n", line)
		}
		return exitUsage
	}
	inv := &invocation{
		cfg:    cfg,
		log:    logging.FromConfig(stderr, cfg),
		stdout: stdout,
		stderr: stderr,
		env:    env,
		args:   positional,
	}
	if err := body(ctx, inv); err != nil {
		code := exitFailure
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if ee == nil || ee.err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		}
		if code == exitUsage {
			fmt.Fprintf(stderr, "Run '%s -h' for usage.\n", fs.Name())
		}
		return code
	}
	return exitOK
}

// parseInterspersed parses flags given before, between and after the
// positional arguments, which it returns ("--" ends the flags).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func (c *command) dispatch(ctx context.Context, path []string, args []string, stdout, stderr io.Writer, env config.LookupEnv) int {
	name := strings.Join(path, " ")
	if len(args) == 0 {
		c.printGroupUsage(stderr, path)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		c.printGroupUsage(stdout, path)
		return exitOK
	}
	for _, sub := range c.subs {
		if sub.name == args[0] {
			return sub.execute(ctx, append(path, sub.name), args[1:], stdout, stderr, env)
		}
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "%s: flag %s given before a command\n", name, args[0])
	} else {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", name, args[0])
	}
	fmt.Fprintf(stderr, "Run '%s -h' for usage.\n", name)
	return exitUsage
}

func (c *command) printGroupUsage(w io.Writer, path []string) {
	name := strings.Join(path, " ")
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n%s\n\nCommands:\n", name, c.description)
	for _, leaf := range c.leaves(nil) {
		fmt.Fprintf(w, "  %-16s %s\n", strings.Join(leaf.path, " "), leaf.cmd.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags", name)
	if len(path) == 1 {
		fmt.Fprint(w, " (or 'cspm help <command>')")
	}
	fmt.Fprintln(w, ".")
}

type leaf struct {
	path []string
	cmd  *command
}

func (c *command) leaves(prefix []string) []leaf {
	var out []leaf
	for _, s := range c.subs {
		p := append(append([]string(nil), prefix...), s.name)
		if s.build != nil {
			out = append(out, leaf{p, s})
		} else {
			out = append(out, s.leaves(p)...)
		}
	}
	return out
}

func (c *command) printUsage(w io.Writer, path []string, fs *flag.FlagSet) {
	synopsis := strings.Join(path, " ") + " [flags]"
	if c.args != "" {
		synopsis = strings.Join(path, " ") + " " + c.args + " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, c.description)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nEvery flag with an (env ...) may also be set by that environment variable; a flag wins.")
}
