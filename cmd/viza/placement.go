package main

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// placement names the person a Bitrix24 portal vouches for on the page it
// opens inside itself, and the page: the inbox from the menu, the
// documents with a company from its card's tab.
func (m *Main) placement(ctx context.Context, form url.Values) (flows.PersonID, string, error) {
	v, err := bitrix24.VerifyPlacement(ctx, m.b24API, m.DB, form)
	if errors.Is(err, bitrix24.ErrPlacementRefused) {
		m.Log.Warn("bitrix24 placement visit refused", "reason", err)
		return "", "", web.ErrNotFromPlatform
	}
	if err != nil {
		return "", "", err
	}
	p, ok := m.Engine.Directory().ByIdentity(bitrix24.Name, v.User)
	if !ok {
		m.Log.Warn("bitrix24 placement visit by a portal user the directory does not know", "user", v.User)
		return "", "", flows.Errorf(flows.KindForbidden, "unknown_person", "bitrix24 user %s", v.User)
	}
	next := "/inbox"
	if v.Placement == bitrix24.PlacementCompanyTab && v.Company > 0 {
		next = "/dashboard"
		if title, err := bitrix24.CompanyTitle(ctx, m.b24App, v.Company); err != nil {
			m.Log.Warn("bitrix24 company of a card", "company", v.Company, "err", err)
		} else if title != "" {
			next = "/dashboard?q=" + url.QueryEscape(title)
		}
	}
	return p.ID, next, nil
}

// bindPlacements registers Viza's pages with the portal, once the channel
// is up (after the installation, when the application is new) and each
// time this replica leads; placement.get keeps it from binding twice.
func (m *Main) bindPlacements(ctx context.Context) error {
	handler := strings.TrimRight(m.Web.PublicURL, "/") + "/bitrix24/app"
	titles := map[string]string{}
	for _, lang := range []string{"ru", "en"} {
		titles[lang] = messages.Say(lang, "bitrix24.placement_title", nil).String()
	}
	if err := bitrix24.BindPlacements(ctx, m.b24App, handler, titles, m.Engine.Directory().Language); err != nil {
		m.Log.Warn("bitrix24 placements not all bound; Viza's pages open in the portal where they are", "err", err)
	}
	return nil
}
