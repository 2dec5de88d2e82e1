package bitrix24

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Viza's pages inside the portal (b24restdocs api-reference/widgets): an
// item of the left menu, and a tab on a company's card listing the
// documents with that counterparty.
const (
	PlacementMenu       = "LEFT_MENU"
	PlacementCompanyTab = "CRM_COMPANY_DETAIL_TAB"
)

// ErrPlacementRefused is a placement's visit the portal does not vouch
// for: another portal, or a token it does not take.
var ErrPlacementRefused = errors.New("bitrix24: the portal does not vouch for this visit")

// BindPlacements registers handler for Viza's placements, once: what
// placement.get lists already is left as it is, so installing again, or
// every connection, binds nothing twice. titles are the item's names by
// language ("ru", "en"); lang is the portal's default. A portal without
// CRM refuses the company tab: that is logged by the caller, the menu
// still bound.
func BindPlacements(ctx context.Context, c *Client, handler string, titles map[string]string, lang string) error {
	var bound []struct {
		Placement string `json:"placement"`
		Handler   string `json:"handler"`
	}
	if err := c.Call(ctx, "placement.get", map[string]any{}, &bound); err != nil {
		return fmt.Errorf("bitrix24: list placements: %w", err)
	}
	var errs []error
	for _, p := range []string{PlacementMenu, PlacementCompanyTab} {
		already := false
		for _, b := range bound {
			already = already || (b.Placement == p && b.Handler == handler)
		}
		if already {
			continue
		}
		langAll := map[string]any{}
		for l, t := range titles {
			langAll[l] = map[string]string{"TITLE": t}
		}
		if err := c.Call(ctx, "placement.bind", map[string]any{"PLACEMENT": p, "HANDLER": handler, "TITLE": titles[lang],
			"LANG_ALL": langAll}, nil); err != nil {
			errs = append(errs, fmt.Errorf("bitrix24: bind %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Visit is a placement's page opened by a portal user.
type Visit struct {
	User      string // the portal user's id, as user.current says
	Placement string
	// Company is the CRM company whose card the tab is on (0 elsewhere).
	Company int64
}

// VerifyPlacement checks what the portal posted to a placement's handler
// (b24restdocs widgets/_includes/widget_data.md): it must name the portal
// the application was installed on (member_id and domain kept at
// installation), and its AUTH_ID must be a token the configured portal
// takes — user.current there, never at the DOMAIN the form names, says
// whose it is.
func VerifyPlacement(ctx context.Context, restURL string, store Store, form url.Values) (Visit, error) {
	for _, k := range []string{"member_id", "domain"} {
		want, ok, err := store.StateGet(ctx, Name, k)
		if err != nil {
			return Visit{}, err
		}
		field := map[string]string{"member_id": "member_id", "domain": "DOMAIN"}[k]
		if !ok || want == "" || !strings.EqualFold(form.Get(field), want) {
			return Visit{}, fmt.Errorf("%w: its %s is not the installation's", ErrPlacementRefused, k)
		}
	}
	token := form.Get("AUTH_ID")
	if token == "" {
		return Visit{}, fmt.Errorf("%w: no AUTH_ID", ErrPlacementRefused)
	}
	c, err := NewClient(ClientConfig{RESTURL: restURL, UserToken: token}, nil)
	if err != nil {
		return Visit{}, err
	}
	c.MaxWait = 0
	var me struct {
		ID flexID `json:"ID"`
	}
	if err := c.Call(ctx, "user.current", map[string]any{}, &me); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && !ae.Temporary() {
			return Visit{}, fmt.Errorf("%w: %v", ErrPlacementRefused, c.RedactErr(err))
		}
		return Visit{}, c.RedactErr(err)
	}
	if me.ID == "" || me.ID == "0" {
		return Visit{}, fmt.Errorf("%w: user.current names nobody", ErrPlacementRefused)
	}
	v := Visit{User: string(me.ID), Placement: form.Get("PLACEMENT")}
	if v.Placement == PlacementCompanyTab {
		var opts struct {
			ID flexInt `json:"ID"`
		}
		if json.Unmarshal([]byte(form.Get("PLACEMENT_OPTIONS")), &opts) == nil {
			v.Company = int64(opts.ID)
		}
	}
	return v, nil
}

// CompanyTitle is a CRM company's name (crm.company.get), to list the
// documents with it as the counterparty.
func CompanyTitle(ctx context.Context, c *Client, id int64) (string, error) {
	var company struct {
		Title string `json:"TITLE"`
	}
	if err := c.Call(ctx, "crm.company.get", map[string]any{"id": id}, &company); err != nil {
		return "", fmt.Errorf("bitrix24: company %d: %w", id, err)
	}
	return company.Title, nil
}
