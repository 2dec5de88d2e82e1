package main

import (
	"context"
	"strconv"

	"github.com/viza-app/viza/bot/telegram"
	"github.com/viza-app/viza/bot/web"
	"github.com/viza-app/viza/flows"
)

// miniApp names the person a Telegram Mini App's initData vouches for:
// signed with this bot's token, fresh, and a Telegram user the directory
// links to a person.
func (m *Main) miniApp(_ context.Context, initData string) (flows.PersonID, error) {
	u, err := telegram.ValidateInitData(initData, m.tgToken, m.Clock.Now(), telegram.MaxInitDataAge)
	if err != nil {
		m.Log.Warn("mini app sign-in refused", "reason", err)
		return "", web.ErrNotFromPlatform
	}
	p, ok := m.Engine.Directory().ByIdentity(telegram.Name, strconv.FormatInt(u.ID, 10))
	if !ok {
		m.Log.Warn("mini app sign-in by a Telegram user the directory does not know", "user", u.ID)
		return "", flows.Errorf(flows.KindForbidden, "unknown_person", "telegram user %d", u.ID)
	}
	return p.ID, nil
}
