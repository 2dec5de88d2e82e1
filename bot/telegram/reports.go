package telegram

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
)

// listPage is how much of the table one message holds: Telegram allows
// 4,096 characters; the rest is for the header and the page line.
const listPage = 3500

func (c *Channel) sendFile(ctx context.Context, p flows.PersonID, chat int64, name string, data []byte, caption string) error {
	if err := c.wait(ctx, chat); err != nil {
		return err
	}
	_, err := c.bot.SendDocument(ctx, &bot.SendDocumentParams{ChatID: chat, Caption: caption,
		Document: &models.InputFileUpload{Filename: name, Data: bytes.NewReader(data)}})
	return c.sendErr(p, err)
}

func sheetName(number string) string { return "sheet_" + strings.ReplaceAll(number, "/", "-") + ".pdf" }

// sendSheet sends a document's approval sheet.
func (c *Channel) sendSheet(ctx context.Context, p flows.PersonID, chat int64, d *flows.Document, lang string) error {
	if c.cfg.Reports == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := c.cfg.Reports.Sheet(ctx, d, lang, &buf); err != nil {
		return err
	}
	return c.sendFile(ctx, p, chat, sheetName(d.Number), buf.Bytes(), c.t(lang, "tg.sheet_caption", map[string]any{"Number": d.Number}))
}

func (c *Channel) onSheet(ctx context.Context, p *flows.Person, lang string, chat int64, number string) {
	if number == "" {
		c.reply(ctx, p.ID, chat, c.t(lang, "tg.usage_number", nil), nil)
		return
	}
	d, err := c.eng.Document(ctx, p.ID, number)
	if err == nil {
		err = c.sendSheet(ctx, p.ID, chat, d, lang)
	}
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
	}
}

func (c *Channel) onExport(ctx context.Context, p *flows.Person, lang string, chat int64) {
	if c.cfg.Reports == nil {
		return
	}
	docs, err := c.cfg.Reports.Visible(ctx, p.ID)
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	var buf bytes.Buffer
	if err := c.cfg.Reports.Registry(ctx, docs, lang, false, &buf); err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	name := "registry_" + c.clock.Now().In(c.eng.Directory().Location).Format("2006-01-02") + ".xlsx"
	if err := c.sendFile(ctx, p.ID, chat, name, buf.Bytes(), c.t(lang, "tg.export_caption", map[string]any{"Count": len(docs)})); err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
	}
}

// matches applies a /list filter: "-" all, "a" active, "o" overdue, "m"
// mine, "t.<type>" one type.
func matches(d *flows.Document, filter string, p flows.PersonID, now time.Time) bool {
	switch {
	case filter == "a":
		return !d.IsFinal()
	case filter == "o":
		for _, t := range d.OpenTasks() {
			if !t.Due.IsZero() && now.After(t.Due) {
				return true
			}
		}
		return false
	case filter == "m":
		return d.IsParticipant(p)
	case strings.HasPrefix(filter, "t."):
		return d.TypeID == filter[2:]
	}
	return true
}

// showList sends (or, from a button, edits) one page of the table of
// documents the person may see.
func (c *Channel) showList(ctx context.Context, p *flows.Person, lang string, chat int64, filter string, page int, edit int) {
	if c.cfg.Reports == nil {
		return
	}
	docs, err := c.cfg.Reports.Visible(ctx, p.ID)
	if err != nil {
		c.replyErr(ctx, p.ID, chat, lang, err)
		return
	}
	now := c.clock.Now()
	r := c.renderer()
	var lines []string
	for _, d := range docs {
		if matches(d, filter, p.ID, now) {
			lines = append(lines, r.ListLine(d, lang, now))
		}
	}
	// Pages are cut by size, not by count: titles differ in length.
	var pages [][]string
	var cur []string
	size := 0
	for _, ln := range lines {
		if size+len([]rune(ln)) > listPage && len(cur) > 0 {
			pages, cur, size = append(pages, cur), nil, 0
		}
		cur = append(cur, ln)
		size += len([]rune(ln)) + 1
	}
	if len(cur) > 0 || len(pages) == 0 {
		pages = append(pages, cur)
	}
	page = min(max(page, 0), len(pages)-1)
	text := c.t(lang, "tg.list_header", map[string]any{"Count": len(lines), "Filter": c.t(lang, "tg.filter."+filterKey(filter), nil)})
	if len(lines) == 0 {
		text += "\n" + c.t(lang, "tg.list_empty", nil)
	} else {
		text += "\n\n" + strings.Join(pages[page], "\n")
	}
	if len(pages) > 1 {
		text += "\n\n" + c.t(lang, "tg.list_page", map[string]any{"Page": page + 1, "Pages": len(pages)})
	}
	kb := &models.InlineKeyboardMarkup{}
	row := []models.InlineKeyboardButton{}
	for _, f := range []string{"a", "o", "m", "-"} {
		row = append(row, models.InlineKeyboardButton{Text: c.t(lang, "tg.filter."+filterKey(f), nil), CallbackData: callbackData("ls", f+":0")})
	}
	kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	row = nil
	for _, t := range c.eng.Directory().Types {
		row = append(row, models.InlineKeyboardButton{Text: messages.Localized(t.Name, lang), CallbackData: callbackData("ls", "t."+t.ID+":0")})
		if len(row) == 3 {
			kb.InlineKeyboard, row = append(kb.InlineKeyboard, row), nil
		}
	}
	if len(row) > 0 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, row)
	}
	var nav []models.InlineKeyboardButton
	if page > 0 {
		nav = append(nav, models.InlineKeyboardButton{Text: "◀", CallbackData: callbackData("ls", fmt.Sprintf("%s:%d", filter, page-1))})
	}
	if page < len(pages)-1 {
		nav = append(nav, models.InlineKeyboardButton{Text: "▶", CallbackData: callbackData("ls", fmt.Sprintf("%s:%d", filter, page+1))})
	}
	if len(nav) > 0 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, nav)
	}
	if edit != 0 {
		if err := c.edit(ctx, p.ID, chat, edit, text, kb); err != nil {
			c.log.Warn("edit list", "err", err)
		}
		return
	}
	c.reply(ctx, p.ID, chat, text, kb)
}

func filterKey(f string) string {
	switch {
	case f == "a":
		return "active"
	case f == "o":
		return "overdue"
	case f == "m":
		return "mine"
	case strings.HasPrefix(f, "t."):
		return "type"
	}
	return "all"
}

func parseListRef(ref string) (string, int) {
	i := strings.LastIndex(ref, ":")
	if i < 0 {
		return "-", 0
	}
	page, _ := strconv.Atoi(ref[i+1:])
	return ref[:i], page
}

// onQuestion answers free text that is a document number or a
// counterparty's name with the matching cards. False when nothing matches.
func (c *Channel) onQuestion(ctx context.Context, p *flows.Person, lang string, chat int64, text string) bool {
	q := strings.TrimSpace(text)
	if d, err := c.eng.Document(ctx, p.ID, q); err == nil {
		c.sendCard(ctx, p, lang, chat, d)
		return true
	}
	if len([]rune(q)) < 3 {
		return false
	}
	// Candidates by counterparty, then only those the person may see; the
	// search reads one column, not every document.
	docs, err := c.store.DocumentsByCounterparty(ctx, q, 50)
	if err != nil {
		c.log.Warn("counterparty search", "err", err)
		return false
	}
	found := 0
	for _, d := range docs {
		if !c.eng.MayRead(d, p.ID) {
			continue
		}
		c.reply(ctx, p.ID, chat, c.renderer().Card(d, lang, c.clock.Now()), nil)
		if found++; found == 5 {
			break
		}
	}
	return found > 0
}
