package bitrix24_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/bitrix24"
	"github.com/viza-app/viza/bot/bitrix24/b24fake"
)

// TestBindPlacementsOnce: binding at every installation or connection
// registers each placement once.
func TestBindPlacementsOnce(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"})
	defer fake.Close()
	db := openDB(t)
	c, o := oauthClient(t, fake, db)
	ctx := context.Background()
	access, refresh := fake.Install(time.Hour)
	if err := o.Set(ctx, bitrix24.Tokens{Access: access, Refresh: refresh, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{"ru": "Согласования", "en": "Approvals"}
	for range 2 {
		if err := bitrix24.BindPlacements(ctx, c, "https://viza.example.ru/bitrix24/app", titles, "ru"); err != nil {
			t.Fatal(err)
		}
	}
	got := fake.Placements()
	if len(got) != 2 || got[0] != [2]string{bitrix24.PlacementMenu, "https://viza.example.ru/bitrix24/app"} ||
		got[1][0] != bitrix24.PlacementCompanyTab {
		t.Fatalf("placements %v", got)
	}
}

// TestVerifyPlacement: a visit is believed only when the configured
// portal takes its AUTH_ID, and names the installation's portal.
func TestVerifyPlacement(t *testing.T) {
	fake := b24fake.New(true, b24fake.User{ID: 1, Name: "Анна"}, b24fake.User{ID: 12, Name: "Пётр"})
	defer fake.Close()
	db := openDB(t)
	ctx := context.Background()
	domain := strings.TrimPrefix(fake.URL, "http://")
	for k, v := range map[string]string{"member_id": b24fake.MemberID, "domain": domain} {
		if err := db.StatePut(ctx, bitrix24.Name, k, v); err != nil {
			t.Fatal(err)
		}
	}
	form := func(auth, member, dom, placement, options string) url.Values {
		return url.Values{"AUTH_ID": {auth}, "member_id": {member}, "DOMAIN": {dom}, "PLACEMENT": {placement},
			"PLACEMENT_OPTIONS": {options}, "PROTOCOL": {"1"}, "LANG": {"ru"}}
	}
	petrov := fake.UserToken(12, time.Hour)
	v, err := bitrix24.VerifyPlacement(ctx, fake.RESTURL, db, form(petrov, b24fake.MemberID, domain, bitrix24.PlacementMenu, ""))
	if err != nil || v.User != "12" || v.Placement != bitrix24.PlacementMenu {
		t.Fatalf("%+v %v", v, err)
	}
	v, err = bitrix24.VerifyPlacement(ctx, fake.RESTURL, db, form(petrov, b24fake.MemberID, domain, bitrix24.PlacementCompanyTab, `{"ID":"3"}`))
	if err != nil || v.Company != 3 {
		t.Fatalf("company tab: %+v %v", v, err)
	}
	for name, f := range map[string]url.Values{
		"a forged token":   form("usr-forged", b24fake.MemberID, domain, bitrix24.PlacementMenu, ""),
		"another portal":   form(petrov, "0000", domain, bitrix24.PlacementMenu, ""),
		"another domain":   form(petrov, b24fake.MemberID, "evil.example", bitrix24.PlacementMenu, ""),
		"no token":         form("", b24fake.MemberID, domain, bitrix24.PlacementMenu, ""),
		"an expired token": form(fake.UserToken(12, -time.Second), b24fake.MemberID, domain, bitrix24.PlacementMenu, ""),
	} {
		if _, err := bitrix24.VerifyPlacement(ctx, fake.RESTURL, db, f); !errors.Is(err, bitrix24.ErrPlacementRefused) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
