// Command viza is the Viza service and its administration commands:
//
//	viza serve [-config viza.yaml] [--demo]   run the service
//	viza check-config [-config viza.yaml]     validate the configuration only
//	viza verify [-config viza.yaml]           walk the audit hash chain
//	viza backup [-config viza.yaml] FILE      consistent copy of the live database
//	viza seal [-config viza.yaml]             key the audit chain of a database written before audit keys (once, knowingly)
//	viza migrate --from viza.db --to URL      copy SQLite into PostgreSQL, then verify
//	viza sheet NUMBER -o FILE.pdf             the approval sheet of a document
//	viza export -o FILE.xlsx [--csv]          the registry of all documents
//	viza verify --doc NUMBER --hash HASH      does a printed sheet still match the record?
//	viza verify --head                        the audit chain's head, an anchor to keep elsewhere
//	viza verify --since-checkpoint            only what was written since the last verification
//	viza bitrix24 users                       the portal's users with their ids, for viza.yaml
//	viza bitrix24 reinstall                   take a new installation of the local application (for an hour)
//	viza api-key create NAME --scope write    a key for an integration (also list, revoke)
//	viza webhooks retry                       send again the webhook events that failed for good
//	viza version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/storage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	pdfChild(os.Stdin, os.Stdout, os.Stderr)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// command is one of viza's commands: the flags it takes and the
// positional argument it wants. Its usage and every flag's help are in
// the catalogues (cli.cmd.<name>, cli.flag.<name>).
type command struct {
	name  string
	flags []string
	arg   string // the positional argument's placeholder, "" for none
	// forms are the ways the command is called, when there is more than
	// one or a flag is required; its usage lists each.
	forms []string
}

var commands = []command{
	{"serve", []string{"config", "demo", "listen"}, "", nil},
	{"check-config", []string{"config", "demo", "lang"}, "", nil},
	{"verify", []string{"config", "demo", "lang", "doc", "hash", "head", "since-checkpoint", "sheet"}, "",
		[]string{"verify", "verify --since-checkpoint", "verify --head", "verify --doc NUMBER --hash HASH", "verify --sheet FILE.pdf"}},
	{"backup", []string{"config", "demo", "lang"}, "OUT.db", nil},
	{"seal", []string{"config", "demo", "lang"}, "", nil},
	{"migrate", []string{"config", "demo", "lang", "from", "to"}, "", []string{"migrate [--from data/viza.db] [--to postgres://…]"}},
	{"login-link", []string{"config", "demo", "lang"}, "PERSON", nil},
	{"sheet", []string{"config", "demo", "lang", "o", "f"}, "NUMBER", []string{"sheet NUMBER -o FILE.pdf [-f]"}},
	{"export", []string{"config", "demo", "lang", "o", "csv", "f"}, "", []string{"export -o FILE.xlsx [-f]", "export --csv -o FILE.csv [-f]"}},
	{"bitrix24", []string{"config", "demo", "lang"}, "users | reinstall", []string{"bitrix24 users", "bitrix24 reinstall"}},
	{"api-key", []string{"config", "demo", "lang", "scope", "types"}, "create NAME | list | revoke ID | rotate-links",
		[]string{"api-key create NAME --scope read|start|write [--types contract,…]", "api-key list", "api-key revoke ID|NAME", "api-key rotate-links"}},
	{"webhooks", []string{"config", "demo", "lang"}, "retry", nil},
	{"version", nil, "", nil},
}

// options are the flags given, whichever command took them.
type options struct {
	config, out, lang, doc, hash, scope, types, listen, from, to, sheet string
	demo, csv, head, sinceCheckpoint, force                             bool
}

// usageLang is the language of usage texts, read before any
// configuration: VIZA_LANG, else the locale's (LANG), else English.
func usageLang() string {
	for _, v := range []string{os.Getenv("VIZA_LANG"), os.Getenv("LC_ALL"), os.Getenv("LANG")} {
		if strings.HasPrefix(v, "ru") {
			return "ru"
		}
		if v != "" && v != "C" && v != "POSIX" && !strings.HasPrefix(v, "C.") {
			return "en"
		}
	}
	return "en"
}

// printUsage writes the list of commands.
func printUsage(w io.Writer) {
	say := cliText(usageLang())
	fmt.Fprintln(w, say("cli.usage", nil))
	for _, c := range commands {
		name := c.name
		if c.arg != "" {
			name += " " + c.arg
		}
		fmt.Fprintf(w, "  %-22s %s\n", name, say("cli.cmd."+c.name, nil))
	}
}

// flagSet makes a command's flags, with their help in the usage language.
func (c command) flagSet(o *options, w io.Writer) *flag.FlagSet {
	say := cliText(usageLang())
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(w)
	for _, f := range c.flags {
		help := say("cli.flag."+f, nil)
		switch f {
		case "config":
			fs.StringVar(&o.config, f, os.Getenv("VIZA_CONFIG"), help)
		case "demo":
			fs.BoolVar(&o.demo, f, false, help)
		case "lang":
			fs.StringVar(&o.lang, f, "", help)
		case "o":
			fs.StringVar(&o.out, f, "", help)
		case "csv":
			fs.BoolVar(&o.csv, f, false, help)
		case "f":
			fs.BoolVar(&o.force, f, false, help)
		case "listen":
			fs.StringVar(&o.listen, f, os.Getenv("VIZA_HTTP_LISTEN"), help)
		case "doc":
			fs.StringVar(&o.doc, f, "", help)
		case "hash":
			fs.StringVar(&o.hash, f, "", help)
		case "sheet":
			fs.StringVar(&o.sheet, f, "", help)
		case "head":
			fs.BoolVar(&o.head, f, false, help)
		case "since-checkpoint":
			fs.BoolVar(&o.sinceCheckpoint, f, false, help)
		case "from":
			fs.StringVar(&o.from, f, "", help)
		case "to":
			fs.StringVar(&o.to, f, "", help)
		case "scope":
			fs.StringVar(&o.scope, f, "read", help)
		case "types":
			fs.StringVar(&o.types, f, "", help)
		}
	}
	fs.Usage = func() {
		w := fs.Output()
		name := c.name
		if c.arg != "" {
			name += " " + c.arg
		}
		if len(c.forms) == 0 {
			fmt.Fprintln(w, say("cli.usage_of", map[string]any{"Command": name}))
		}
		for _, form := range c.forms {
			fmt.Fprintln(w, say("cli.usage_of", map[string]any{"Command": form}))
		}
		fmt.Fprintln(w, "  "+say("cli.cmd."+c.name, nil))
		fs.PrintDefaults()
	}
	return fs
}

// parse reads a command's flags wherever they stand, before or after its
// positional argument, and returns the positional arguments.
//
// The flag package says what went wrong in English before the usage; that
// line is replaced by the same in the usage language, then the usage.
func parse(fs *flag.FlagSet, args []string, w io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(w)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(w)
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(w, flagError(err))
			}
			fs.Usage()
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// flagError says a flag mistake in the usage language.
func flagError(err error) string {
	say := cliText(usageLang())
	msg := err.Error()
	for _, known := range []struct{ prefix, id string }{
		{"flag provided but not defined: ", "cli.unknown_flag"},
		{"flag needs an argument: ", "cli.flag_needs_value"},
	} {
		if name, ok := strings.CutPrefix(msg, known.prefix); ok {
			return say(known.id, map[string]any{"Flag": name})
		}
	}
	return say("cli.bad_flag", map[string]any{"Error": msg})
}

// accepts reports whether the positional arguments fit the command.
func (c command) accepts(pos []string) bool {
	switch c.name {
	case "bitrix24":
		return len(pos) == 1 && (pos[0] == "users" || pos[0] == "reinstall")
	case "api-key":
		return (len(pos) == 1 && (pos[0] == "list" || pos[0] == "rotate-links")) || (len(pos) == 2 && (pos[0] == "create" || pos[0] == "revoke") && pos[1] != "")
	case "webhooks":
		return len(pos) == 1 && pos[0] == "retry"
	}
	if c.arg == "" {
		return len(pos) == 0
	}
	return len(pos) == 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			for _, c := range commands {
				if c.name == args[1] {
					c.flagSet(&options{}, stdout).Usage()
					return 0
				}
			}
		}
		printUsage(stdout)
		return 0
	}
	cmd, args := args[0], args[1:]
	var spec *command
	for i := range commands {
		if commands[i].name == cmd {
			spec = &commands[i]
		}
	}
	if spec == nil {
		fmt.Fprintln(stderr, cliText(usageLang())("cli.unknown_command", map[string]any{"Command": cmd}))
		printUsage(stderr)
		return 2
	}
	var o options
	fs := spec.flagSet(&o, stderr)
	pos, err := parse(fs, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if !spec.accepts(pos) {
		fs.Usage()
		return 2
	}
	positional := ""
	if len(pos) > 0 {
		positional = pos[0]
	}
	if o.lang != "" && o.lang != "ru" && o.lang != "en" {
		fmt.Fprintln(stderr, cliText(usageLang())("cli.bad_lang", map[string]any{"Lang": o.lang}))
		return 2
	}
	if o.demo && o.config != "" {
		// The demo is a company of its own with its own data folder: mixing
		// it with a real configuration would be neither, so say which to drop.
		fmt.Fprintln(stderr, cliText(usageLang())("cli.demo_with_config", map[string]any{"Config": o.config}))
		return 2
	}
	cfgPath, demo, out, lang, asCSV, docNumber, docHash, head := &o.config, &o.demo, &o.out, &o.lang, &o.csv, &o.doc, &o.hash, &o.head
	log := newLogger(stderr)
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "viza", buildVersion())
		return 0
	case "check-config":
		cfg, _, err := loadConfig(*cfgPath, *demo)
		if err != nil {
			printConfigError(stderr, err, o.lang)
			return 1
		}
		l := *lang
		if l == "" {
			l = cfg.Language
		}
		fmt.Fprintln(stdout, cliText(l)("cli.config_ok", map[string]any{"People": len(cfg.People), "Types": len(cfg.DocumentTypes)}))
		return 0
	case "serve":
		cfg, path, err := loadConfig(*cfgPath, *demo)
		if err != nil {
			printConfigError(stderr, err, o.lang)
			return 1
		}
		if o.listen != "" {
			cfg.HTTP.Listen = o.listen
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		m, err := NewMain(ctx, cfg, path, log)
		if err != nil {
			log.Error("start", "err", err)
			return 1
		}
		if *demo {
			if err := m.seedDemo(ctx, stdout); err != nil {
				log.Error("demo", "err", err)
			}
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				m.Reload()
			}
		}()
		runErr := m.Run(ctx)
		if err := m.Close(); err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		if runErr != nil {
			log.Error("run", "err", runErr)
			return 1
		}
		return 0
	case "verify":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			if *head {
				id, hash, err := m.DB.Head(ctx)
				if err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				fmt.Fprintln(stdout, storage.FormatAnchor(id, hash))
				return 0
			}
			if (*docNumber == "") != (*docHash == "") {
				fmt.Fprintln(stderr, cliText(m.language(*lang))("cli.verify_doc_and_hash", nil))
				return 2
			}
			if *docNumber != "" {
				return m.reports().VerifyDocument(ctx, *docNumber, *docHash, m.language(*lang), stdout)
			}
			if o.sheet != "" {
				return m.reports().VerifySheet(ctx, o.sheet, m.language(*lang), stdout)
			}
			return m.Verify(ctx, stdout, stderr, m.language(*lang), o.sinceCheckpoint)
		})
	case "login-link":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			public := m.Config.HTTP.PublicURL
			if public == "" {
				public = "http://" + m.Config.HTTP.Listen
			}
			if err := m.initWeb(ctx, public, false); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			if _, ok := m.Engine.Directory().Person(flows.PersonID(positional)); !ok {
				fmt.Fprintln(stderr, cliText(m.language(*lang))("cli.unknown_person", map[string]any{"Person": positional}))
				return 1
			}
			link, err := m.Web.LoginLink(ctx, flows.PersonID(positional), web.LoginTTL)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, link)
			return 0
		})
	case "sheet", "export":
		if *out == "" {
			fs.Usage()
			return 2
		}
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			say := cliText(m.language(*lang))
			if _, err := os.Stat(*out); err == nil && !o.force {
				fmt.Fprintln(stderr, say("cli.file_exists", map[string]any{"File": *out}))
				return 1
			}
			if err := m.writeReport(ctx, cmd, positional, *lang, *asCSV, *out); err != nil {
				if flows.ErrorKind(err) == flows.KindNotFound {
					fmt.Fprintln(stderr, say("cli.no_document", map[string]any{"Number": positional}))
					return 1
				}
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, cliText(m.language(*lang))("cli.written", map[string]any{"File": *out}))
			return 0
		})
	case "bitrix24":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			m.Log = log
			if pos[0] == "reinstall" {
				return m.bitrix24Reinstall(ctx, m.language(*lang), stdout, stderr)
			}
			return m.bitrix24Users(ctx, m.language(*lang), stdout, stderr)
		})
	case "api-key":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			return m.apiKeyCommand(ctx, pos, o.scope, o.types, m.language(*lang), stdout, stderr)
		})
	case "webhooks":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			return m.webhooksRetry(ctx, m.language(*lang), stdout, stderr)
		})
	case "migrate":
		return migrateCommand(ctx, o, stdout, stderr)
	case "seal":
		return withDBSeal(ctx, *cfgPath, *demo, stderr, storage.SealNow, func(m *Main) int {
			say := cliText(m.language(*lang))
			if m.DB.SealFrom() == 0 {
				fmt.Fprintln(stderr, say("cli.seal_no_key", map[string]any{"Env": AuditKeyEnv}))
				return 1
			}
			fmt.Fprintln(stdout, say("cli.sealed", map[string]any{"ID": m.DB.SealFrom()}))
			return 0
		})
	case "backup":
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			if m.DB.Shared() {
				fmt.Fprintln(stderr, cliText(m.language(*lang))("cli.backup_postgres", nil))
				return 1
			}
			if err := m.DB.Backup(ctx, positional); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, cliText(m.language(*lang))("cli.backup_written", map[string]any{"File": positional}))
			return 0
		})
	}
	printUsage(stderr)
	return 2
}

func withDB(ctx context.Context, cfgPath string, demo bool, stderr io.Writer, f func(*Main) int) int {
	return withDBSeal(ctx, cfgPath, demo, stderr, storage.SealNever, f)
}

// withDBSeal opens the record for a command, the audit key used as policy
// says (only `viza seal` may seal).
func withDBSeal(ctx context.Context, cfgPath string, demo bool, stderr io.Writer, policy storage.SealPolicy, f func(*Main) int) int {
	cfg, _, err := loadConfig(cfgPath, demo)
	if err != nil {
		printConfigError(stderr, err, "")
		return 1
	}
	m, err := OpenStorage(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer m.DB.Close()
	m.Log = newLogger(stderr)
	if err := m.useAuditKeyWith(ctx, false, policy); err != nil {
		if errors.Is(err, storage.ErrSealMissing) {
			fmt.Fprintln(stderr, cliText(m.language(""))("cli.seal_missing", nil))
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	return f(m)
}

var errNoConfig = errors.New("no configuration: pass -config FILE, set VIZA_CONFIG, put viza.yaml here, or use --demo")

// loadConfig finds the configuration: -config, $VIZA_CONFIG, ./viza.yaml,
// or the embedded demo.
func loadConfig(path string, demo bool) (*config.Config, string, error) {
	if demo {
		cfg, err := config.Demo()
		return cfg, "", err
	}
	if path == "" {
		if _, err := os.Stat("viza.yaml"); err != nil {
			return nil, "", errNoConfig
		}
		path = "viza.yaml"
	}
	cfg, err := config.Load(path)
	return cfg, path, err
}

// printConfigError says what is wrong with the configuration: every
// problem with its line under a counted heading in the reader's language.
func printConfigError(w io.Writer, err error, lang string) {
	if lang == "" {
		lang = usageLang()
	}
	say := cliText(lang)
	var ps *config.Problems
	if !errors.As(err, &ps) {
		if errors.Is(err, errNoConfig) {
			fmt.Fprintln(w, say("cli.no_config", nil))
			return
		}
		fmt.Fprintln(w, err)
		return
	}
	count := len(ps.List)
	if l, err := locales.For(lang); err == nil {
		fmt.Fprintln(w, say("cli.config_problems", map[string]any{"File": ps.File, "Problems": l.Plural("problems", count)}))
	}
	for _, line := range ps.Lines(lang) {
		fmt.Fprintln(w, "  "+line)
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "dev-" + s.Value
			}
		}
	}
	return version
}

// newLogger writes text to a terminal and JSON otherwise (journald, Docker).
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("VIZA_LOG_LEVEL") == "debug" {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, opts))
		}
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
