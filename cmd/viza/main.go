// Command viza is the Viza service and its administration commands:
//
//	viza serve [-config viza.yaml] [--demo]   run the service
//	viza check-config [-config viza.yaml]     validate the configuration only
//	viza verify [-config viza.yaml]           walk the audit hash chain
//	viza backup [-config viza.yaml] FILE      consistent copy of the live database
//	viza sheet NUMBER -o FILE.pdf             the approval sheet of a document
//	viza export -o FILE.xlsx [--csv]          the registry of all documents
//	viza verify --doc NUMBER --hash HASH      does a printed sheet still match the record?
//	viza verify --head                        the audit chain's head, an anchor to keep elsewhere
//	viza bitrix24 users                       the portal's users with their ids, for viza.yaml
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
	"github.com/viza-app/viza/storage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: viza <command> [flags]

commands:
  serve          run the service (-config FILE, --demo)
  check-config   validate the configuration and exit
  verify         check the audit hash chain (--head: print its head to keep elsewhere)
  backup FILE    write a consistent copy of the database while the service runs
  login-link P   print a one-time sign-in link (10 minutes) for person P
  sheet NUMBER   write the approval sheet of a document (-o FILE.pdf, -lang ru|en)
  export         write the registry of all documents (-o FILE.xlsx, --csv)
  bitrix24 users list the Bitrix24 portal's users with their ids, e-mails and phones
  version        print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var positional string
	if (cmd == "sheet" || cmd == "bitrix24") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", os.Getenv("VIZA_CONFIG"), "path to viza.yaml (default $VIZA_CONFIG or ./viza.yaml)")
	demo := fs.Bool("demo", false, "run the embedded demo company (no file, no tokens)")
	out := fs.String("o", "", "output file (sheet, export)")
	lang := fs.String("lang", "", "language of the sheet, the registry and the command's messages (default: the company's)")
	asCSV := fs.Bool("csv", false, "export as CSV instead of XLSX")
	docNumber := fs.String("doc", "", "verify: the document number printed on the sheet")
	docHash := fs.String("hash", "", "verify: the hash printed in the sheet's footer")
	head := fs.Bool("head", false, "verify: print the audit chain's head (ID:HASH), an anchor to keep outside the database")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(stderr)
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "viza", buildVersion())
		return 0
	case "check-config":
		cfg, _, err := loadConfig(*cfgPath, *demo)
		if err != nil {
			fmt.Fprintln(stderr, err)
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
			fmt.Fprintln(stderr, err)
			return 1
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
			if *docNumber != "" {
				return m.reports().VerifyDocument(ctx, *docNumber, *docHash, m.language(*lang), stdout)
			}
			return m.Verify(ctx, stdout, m.language(*lang))
		})
	case "login-link":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: viza login-link [-config FILE] PERSON")
			return 2
		}
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			public := m.Config.HTTP.PublicURL
			if public == "" {
				public = "http://" + m.Config.HTTP.Listen
			}
			if err := m.initWeb(ctx, public, false); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			link, err := m.Web.LoginLink(ctx, flows.PersonID(fs.Arg(0)), web.LoginTTL)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, link)
			return 0
		})
	case "sheet", "export":
		if (cmd == "sheet" && positional == "") || *out == "" {
			fmt.Fprintln(stderr, "usage: viza sheet NUMBER -o FILE.pdf | viza export -o FILE.xlsx [--csv]")
			return 2
		}
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			if err := m.writeReport(ctx, cmd, positional, *lang, *asCSV, *out); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, cliText(m.language(*lang))("cli.written", map[string]any{"File": *out}))
			return 0
		})
	case "bitrix24":
		if positional != "users" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, "usage: viza bitrix24 users [-config FILE]")
			return 2
		}
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			m.Log = log
			return m.bitrix24Users(ctx, m.language(*lang), stdout, stderr)
		})
	case "backup":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "usage: viza backup [-config FILE] OUTPUT.db")
			return 2
		}
		return withDB(ctx, *cfgPath, *demo, stderr, func(m *Main) int {
			if err := m.DB.Backup(ctx, fs.Arg(0)); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			fmt.Fprintln(stdout, cliText(m.language(*lang))("cli.backup_written", map[string]any{"File": fs.Arg(0)}))
			return 0
		})
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func withDB(ctx context.Context, cfgPath string, demo bool, stderr io.Writer, f func(*Main) int) int {
	cfg, _, err := loadConfig(cfgPath, demo)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	m, err := OpenStorage(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer m.DB.Close()
	m.Log = newLogger(stderr)
	if err := m.useAuditKey(ctx, false); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return f(m)
}

// loadConfig finds the configuration: -config, $VIZA_CONFIG, ./viza.yaml,
// or the embedded demo.
func loadConfig(path string, demo bool) (*config.Config, string, error) {
	if demo {
		cfg, err := config.Demo()
		return cfg, "", err
	}
	if path == "" {
		if _, err := os.Stat("viza.yaml"); err != nil {
			return nil, "", errors.New("no configuration: pass -config FILE, set VIZA_CONFIG, put viza.yaml here, or use --demo")
		}
		path = "viza.yaml"
	}
	cfg, err := config.Load(path)
	return cfg, path, err
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
