package slack

import (
	"context"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages/rich"
)

// PersonOf implements chat.Identifier: a Slack user not named in viza.yaml
// is found by the e-mail address of their Slack profile, and kept.
func (t *Transport) PersonOf(ctx context.Context, dir *flows.Directory, user string) (*flows.Person, bool) {
	if v, ok, err := t.store.StateGet(ctx, Name, "person:"+user); err == nil && ok {
		if v == "" {
			return nil, false
		}
		return dir.Person(flows.PersonID(v))
	}
	var u *slack.User
	err := t.call(ctx, "users.info", "", func(ctx context.Context) error {
		var err error
		u, err = t.api.GetUserInfoContext(ctx, user)
		return err
	})
	if err != nil {
		t.log.Info("users.info failed", "user", user, "err", t.redact(err))
		return nil, false
	}
	if why := t.strange(u); why != "" {
		t.log.Warn("slack user not matched by e-mail", "user", user, "why", why)
		return nil, false
	}
	p, ok := dir.ByEmail(u.Profile.Email)
	if !ok {
		return nil, false
	}
	t.keepLink(ctx, user, p.ID)
	return p, true
}

// UserOf implements chat.Identifier with users.lookupByEmail, kept.
func (t *Transport) UserOf(ctx context.Context, p *flows.Person) (string, bool) {
	if v, ok, err := t.store.StateGet(ctx, Name, "user:"+string(p.ID)); err == nil && ok {
		return v, v != ""
	}
	if p.Email == "" {
		return "", false
	}
	var u *slack.User
	err := t.call(ctx, "users.lookupByEmail", "", func(ctx context.Context) error {
		var err error
		u, err = t.api.GetUserByEmailContext(ctx, p.Email)
		return err
	})
	if err != nil {
		t.log.Info("no Slack user for the e-mail", "person", p.ID, "err", t.redact(err))
		return "", false
	}
	if why := t.strange(u); why != "" {
		t.log.Warn("slack user with the person's e-mail not taken", "person", p.ID, "user", u.ID, "why", why)
		return "", false
	}
	t.keepLink(ctx, u.ID, p.ID)
	return u.ID, true
}

// strange says why a Slack user may not be taken for a person by the
// e-mail of their profile, or "": a member of another organisation (a
// Slack Connect stranger, another team outside our enterprise) can write
// any address into a profile, and a bot or a deleted user is nobody's. The
// address must be confirmed.
func (t *Transport) strange(u *slack.User) string {
	switch {
	case u.IsStranger:
		return "stranger"
	case u.IsBot || u.IsAppUser || u.IsWorkflowBot:
		return "bot"
	case u.Deleted:
		return "deleted"
	case !t.ours(u.TeamID, u.Enterprise.EnterpriseID):
		return "another team"
	case !u.IsEmailConfirmed:
		return "e-mail not confirmed"
	}
	return ""
}

// Knows implements chat.Identifier.
func (t *Transport) Knows(p *flows.Person) bool { return p.Email != "" }

func (t *Transport) keepLink(ctx context.Context, user string, p flows.PersonID) {
	if err := t.store.StatePut(ctx, Name, "person:"+user, string(p)); err != nil {
		t.log.Warn("keep slack user", "err", err)
	}
	if err := t.store.StatePut(ctx, Name, "user:"+string(p), user); err != nil {
		t.log.Warn("keep slack user", "err", err)
	}
}

// locale is a user's Slack language, a hint for people the bot does not
// know yet; it is asked only then.
func (t *Transport) locale(ctx context.Context, user string) string {
	if _, ok, _ := t.store.StateGet(ctx, Name, "person:"+user); ok {
		return ""
	}
	var u *slack.User
	if err := t.call(ctx, "users.info", "", func(ctx context.Context) error {
		var err error
		u, err = t.api.GetUserInfoContext(ctx, user, slack.GetUserInfoOptionIncludeLocale(true))
		return err
	}); err != nil {
		return ""
	}
	return strings.ToLower(u.Locale)
}

// HomeChanged implements chat.HomeTransport: the user's Home tab is
// published again soon, at the pace views.publish allows.
func (t *Transport) HomeChanged(user string) {
	select {
	case t.homeDirty <- user:
	default:
		t.log.Warn("home refresh queue full; a tab shows older tasks until the next change", "user", user)
	}
}

// homeLoop publishes the Home tabs that changed, each once however many
// changes came meanwhile.
func (t *Transport) homeLoop(ctx context.Context) error {
	for {
		var user string
		select {
		case <-ctx.Done():
			return nil
		case user = <-t.homeDirty:
		}
		dirty := map[string]bool{user: true}
	drain:
		for {
			select {
			case u := <-t.homeDirty:
				dirty[u] = true
			default:
				break drain
			}
		}
		for u := range dirty {
			if err := t.publishHome(ctx, u); err != nil && ctx.Err() == nil {
				t.log.Warn("publish home", "user", u, "err", err)
			}
		}
	}
}

func (t *Transport) publishHome(ctx context.Context, user string) error {
	if t.m == nil {
		return nil
	}
	h, ok := t.m.Home(ctx, user)
	if !ok {
		return nil
	}
	var bl []slack.Block
	add := func(text rich.Text) {
		if !text.IsZero() {
			bl = append(bl, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, Mrkdwn(text), false, false), nil, nil))
		}
	}
	add(h.Header)
	add(h.Web)
	add(h.NoTasks)
	for i, task := range h.Tasks {
		bl = append(bl, slack.NewDividerBlock())
		for _, b := range blocks(task) {
			// Block ids are unique within a view.
			switch x := b.(type) {
			case *slack.SectionBlock:
				x.BlockID = x.BlockID + "_" + strconv.Itoa(i)
			case *slack.ContextBlock:
				x.BlockID = x.BlockID + "_" + strconv.Itoa(i)
			case *slack.ActionBlock:
				x.BlockID = x.BlockID + "_" + strconv.Itoa(i)
				for _, e := range x.Elements.ElementSet {
					if btn, ok := e.(*slack.ButtonBlockElement); ok {
						btn.ActionID = btn.ActionID + "_" + strconv.Itoa(i)
					}
				}
			}
			bl = append(bl, b)
		}
		if len(bl) > 95 {
			break // a view holds 100 blocks
		}
	}
	if !h.Documents.IsZero() {
		bl = append(bl, slack.NewDividerBlock())
		add(h.Documents)
	}
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: bl}}
	return t.apiErr(t.call(ctx, "views.publish", "", func(ctx context.Context) error {
		_, err := t.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	}))
}
