package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
)

// bitrix24Users prints the portal's users with their ids, names, e-mails
// and phones, and who of them viza.yaml already names, so that an
// administrator can fill in `bitrix24:` for each person.
func (m *Main) bitrix24Users(ctx context.Context, lang string, stdout, stderr io.Writer) int {
	say := cliText(lang)
	if m.Config.Bitrix24 == nil {
		fmt.Fprintln(stderr, say("cli.b24_off", nil))
		return 1
	}
	client, _, err := m.bitrix24Client(ctx, m.Config.Bitrix24)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if client == nil {
		fmt.Fprintln(stderr, say("cli.b24_off", nil))
		return 1
	}
	users, err := bitrix24.Users(ctx, client)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	linked := map[string]string{}
	for _, p := range m.Config.People {
		if p.Bitrix24 != "" {
			linked[p.Bitrix24] = p.ID
		}
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, say("cli.b24_users_header", nil))
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.ID, strings.TrimSpace(u.Name+" "+u.LastName), u.Email, u.Phone, linked[u.ID])
	}
	w.Flush()
	fmt.Fprintln(stdout, say("cli.b24_users_hint", nil))
	return 0
}

// bitrix24Reinstall opens the installation handler for a new installation
// of the local application for an hour: the one kept is replaced when the
// portal's administrator installs (or reinstalls) the application. The
// running service needs no restart: the installation wakes the channel.
func (m *Main) bitrix24Reinstall(ctx context.Context, lang string, stdout, stderr io.Writer) int {
	say := cliText(lang)
	if m.Config.Bitrix24 == nil || m.Config.Bitrix24.ClientID == "" {
		fmt.Fprintln(stderr, say("cli.b24_not_app", nil))
		return 1
	}
	until, err := bitrix24.OpenReinstall(ctx, m.DB, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	public := strings.TrimSuffix(m.Config.HTTP.PublicURL, "/")
	if public == "" {
		public = "http://" + m.Config.HTTP.Listen
	}
	fmt.Fprintln(stdout, say("cli.b24_reinstall", map[string]any{"Until": until.In(m.Engine.Directory().Location).Format("15:04"),
		"Handler": public + "/bitrix24/install"}))
	return 0
}
