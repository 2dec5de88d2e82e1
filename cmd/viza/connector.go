package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/viza-app/viza/bot/api"
	"github.com/viza-app/viza/bot/webhooks"
	"github.com/viza-app/viza/config"
	"github.com/viza-app/viza/flows"
)

// connector builds the HTTP API and the webhook sender of the
// configuration.
func (m *Main) connector(ctx context.Context, cfg *config.Config, publicURL string) (*api.Server, *webhooks.Sender, error) {
	ttl, err := time.ParseDuration(cfg.API.LinkTTL)
	if err != nil {
		return nil, nil, fmt.Errorf("api.link_ttl: %w", err) // validated with the configuration
	}
	srv := &api.Server{Engine: m.Engine, Store: m.DB, Files: m.Files, Clock: m.Clock, Log: m.Log, PublicURL: publicURL, Compare: m.Compare,
		Stats: m.Stats, RequestsPerMinute: cfg.API.RequestsPerMinute, LinkTTL: ttl,
		Sheet: func(ctx context.Context, d *flows.Document, lang string, w io.Writer) error {
			return m.reports().Sheet(ctx, d, lang, w)
		}}
	if m.DB.DerivedKey("api-links") != nil {
		// Derived from the audit key, which the database does not hold.
		srv.LinkKey = func(gen int64) []byte { return m.DB.DerivedKey(fmt.Sprintf("api-links:%d", gen)) }
	}
	if err := srv.Init(ctx); err != nil {
		return nil, nil, fmt.Errorf("connector api: %w", err)
	}
	if len(cfg.Webhooks) == 0 {
		return srv, nil, nil
	}
	s := &webhooks.Sender{Store: m.DB, Links: srv, LinkTTL: ttl, Clock: m.Clock, Log: m.Log, Compare: m.Compare}
	for i, w := range cfg.Webhooks {
		raw, err := config.Secret(w.SecretEnv)
		if err != nil {
			return nil, nil, err
		}
		if raw == "" {
			return nil, nil, fmt.Errorf("webhooks[%d] (%s): the signing secret is not set: put whsec_… in %s", i, webhooks.Redact(w.URL), w.SecretEnv)
		}
		key, err := webhooks.ParseSecret(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("webhooks[%d] (%s): %s: %w", i, webhooks.Redact(w.URL), w.SecretEnv, err)
		}
		types, err := m.subscriptionTypes(ctx, w)
		if err != nil {
			return nil, nil, fmt.Errorf("webhooks[%d] (%s): %w", i, webhooks.Redact(w.URL), err)
		}
		s.Subs = append(s.Subs, webhooks.Subscription{URL: w.URL, Events: w.Events, Types: types, Secret: key, AllowPrivate: w.AllowPrivate})
	}
	if err := s.Subscribe(ctx); err != nil {
		return nil, nil, fmt.Errorf("webhook subscriptions: %w", err)
	}
	m.Log.Info("webhooks on", "subscriptions", len(s.Subs))
	return srv, s, nil
}

// subscriptionTypes are the document types a subscription gets: its own
// types, within those of the connector key it is made for. A subscription
// for a key restricted to some types may not ask for others, and without
// types of its own it gets the key's.
func (m *Main) subscriptionTypes(ctx context.Context, w config.Webhook) ([]string, error) {
	if w.APIKey == "" {
		return w.Types, nil
	}
	keys, err := m.DB.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.Name != w.APIKey || !k.RevokedAt.IsZero() {
			continue
		}
		if len(k.Types) == 0 {
			return w.Types, nil
		}
		if len(w.Types) == 0 {
			return k.Types, nil
		}
		for _, t := range w.Types {
			if !slices.Contains(k.Types, t) {
				return nil, fmt.Errorf("type %q is more than the key %q may see (%s)", t, k.Name, strings.Join(k.Types, ", "))
			}
		}
		return w.Types, nil
	}
	return nil, fmt.Errorf("no connector key named %q (viza api-key list)", w.APIKey)
}

// apiKeyCommand runs "viza api-key create|list|revoke".
func (m *Main) apiKeyCommand(ctx context.Context, pos []string, scope, types, lang string, stdout, stderr io.Writer) int {
	say := cliText(lang)
	now := time.Now()
	switch pos[0] {
	case "rotate-links":
		gen, err := api.RotateLinkKey(ctx, m.DB)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, say("cli.links_rotated", map[string]any{"Generation": gen}))
		return 0
	case "create":
		if !slices.Contains(api.Scopes, scope) {
			fmt.Fprintln(stderr, say("cli.bad_scope", map[string]any{"Scope": scope}))
			return 2
		}
		var list []string
		known := make([]string, 0, len(m.Config.DocumentTypes))
		for _, t := range m.Config.DocumentTypes {
			known = append(known, t.ID)
		}
		for _, t := range strings.Split(types, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			if !slices.Contains(known, t) {
				fmt.Fprintln(stderr, say("cli.bad_type", map[string]any{"Type": t, "Types": strings.Join(known, ", ")}))
				return 2
			}
			list = append(list, t)
		}
		key, k, err := m.DB.CreateAPIKey(ctx, pos[1], scope, list, now)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		m.Log.Info("api key created", "id", k.ID, "name", k.Name, "scope", k.Scope, "types", k.Types)
		fmt.Fprintln(stdout, say("cli.api_key_created", map[string]any{"Name": k.Name, "Scope": k.Scope, "Types": strings.Join(list, ", ")}))
		fmt.Fprintln(stdout, key)
		return 0
	case "list":
		keys, err := m.DB.APIKeys(ctx)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, say("cli.api_key_header", nil))
		for _, k := range keys {
			types := strings.Join(k.Types, ",")
			if types == "" {
				types = say("cli.api_key_all_types", nil)
			}
			revoked := "—"
			if k.Revoked() {
				revoked = k.RevokedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scope, types, k.CreatedAt.Format("2006-01-02 15:04"), revoked)
		}
		tw.Flush()
		return 0
	case "revoke":
		ok, err := m.DB.RevokeAPIKey(ctx, pos[1], now)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if !ok {
			fmt.Fprintln(stderr, say("cli.api_key_unknown", map[string]any{"Key": pos[1]}))
			return 1
		}
		m.Log.Info("api key revoked", "key", pos[1])
		fmt.Fprintln(stdout, say("cli.api_key_revoked", map[string]any{"Key": pos[1]}))
		return 0
	}
	return 2
}

// webhooksRetry runs "viza webhooks retry".
func (m *Main) webhooksRetry(ctx context.Context, lang string, stdout, stderr io.Writer) int {
	n, err := m.DB.RetryFailedWebhooks(ctx, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, cliText(lang)("cli.webhooks_retried", map[string]any{"Count": n}))
	return 0
}
