package chat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/messages"
	"github.com/viza-app/viza/messages/rich"
	"github.com/viza-app/viza/storage"
)

// memFile is a file made in memory (a sheet, an export) for SendFile.
func memFile(name string, data []byte, caption rich.Text) File {
	return File{Name: name, Size: int64(len(data)), Caption: caption,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func (m *Messenger) sendFile(ctx context.Context, p flows.PersonID, conv string, f File) error {
	_, err := m.wire.SendFile(ctx, conv, f)
	return m.sendFailed(p, err)
}

func sheetName(number string) string { return "sheet_" + strings.ReplaceAll(number, "/", "-") + ".pdf" }

// sendSheet sends a document's approval sheet.
func (m *Messenger) sendSheet(ctx context.Context, p flows.PersonID, conv string, d *flows.Document, lang string) error {
	if m.Reports == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := m.Reports.Sheet(ctx, d, lang, &buf); err != nil {
		return err
	}
	return m.sendFile(ctx, p, conv, memFile(sheetName(d.Number), buf.Bytes(), m.t(lang, "chat.sheet_caption", map[string]any{"Number": d.Number})))
}

func (m *Messenger) onSheet(ctx context.Context, p *flows.Person, lang, conv, number string) {
	if number == "" {
		m.text(ctx, p.ID, conv, m.t(lang, "chat.usage_number", nil))
		return
	}
	d, err := m.Engine.Document(ctx, p.ID, number)
	if err == nil {
		err = m.sendSheet(ctx, p.ID, conv, d, lang)
	}
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
	}
}

func (m *Messenger) onExport(ctx context.Context, p *flows.Person, lang, conv string) {
	if m.Reports == nil {
		return
	}
	reader := p.ID
	if m.Engine.Directory().IsViewer(p.ID) {
		reader = ""
	}
	// A large register takes seconds: say so before the file comes.
	m.text(ctx, p.ID, conv, m.t(lang, "chat.export_preparing", nil))
	var buf bytes.Buffer
	n, err := m.Reports.Registry(ctx, reader, lang, false, &buf, nil)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	name := "registry_" + m.Clock.Now().In(m.Engine.Directory().Location).Format("2006-01-02") + ".xlsx"
	if err := m.sendFile(ctx, p.ID, conv, memFile(name, buf.Bytes(), m.t(lang, "chat.export_caption", map[string]any{"Count": n}))); err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
	}
}

// listBudget is how much of a message one page of the table may fill; the
// rest is for the header and the page line.
func (m *Messenger) listBudget() int {
	if m.caps.MaxText <= 0 {
		return 3500
	}
	return m.caps.MaxText * 7 / 8
}

// listPage is how many documents one page of the table shows: a page is
// read by its query, so it costs its documents, not the register.
const listPage = 15

// showList sends (or, from a button, edits) one page of the table of
// documents the person may see.
// listCountLimit is how far /list counts what matches.
const listCountLimit = 1000

func (m *Messenger) showList(ctx context.Context, p *flows.Person, lang, conv, filter string, page int, edit string) {
	now := m.Clock.Now()
	q := storage.DocQuery{Limit: listPage}
	if !m.Engine.Directory().IsViewer(p.ID) {
		q.Reader = p.ID
	}
	switch {
	case filter == "a":
		q.Active = true
	case filter == "o":
		q.OverdueAt = now
	case filter == "m":
		q.Reader = p.ID
	case strings.HasPrefix(filter, "t."):
		q.Type = filter[2:]
	}
	// Counted up to a limit: a viewer's whole register is not counted at
	// every /list.
	total, more, err := m.Store.CountDocumentsUpTo(ctx, q, listCountLimit)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	pageCount := max(1, (total+listPage-1)/listPage)
	page = min(max(page, 0), pageCount-1)
	q.Offset = page * listPage
	docs, err := m.Store.DocumentPage(ctx, q)
	if err != nil {
		m.replyErr(ctx, p.ID, conv, lang, err)
		return
	}
	r := m.renderer()
	// A page stops short of the message's limit; titles differ in length,
	// and a line that would not fit is left for the card.
	var lines []rich.Text
	size, budget := 0, m.listBudget()
	for _, d := range docs {
		ln := r.ListLine(d, lang, now)
		if size+ln.Len() > budget && len(lines) > 0 {
			break
		}
		lines = append(lines, ln)
		size += ln.Len() + 1
	}
	header := "chat.list_header"
	if more {
		header = "chat.list_header_many"
	}
	text := m.t(lang, header, map[string]any{"Count": total, "Filter": m.s(lang, "chat.filter."+filterKey(filter), nil)})
	if len(lines) == 0 {
		text = rich.Concat(text, rich.Plain("\n"), m.t(lang, "chat.list_empty", nil))
	} else {
		text = rich.Concat(text, rich.Plain("\n\n"), rich.Join(lines, "\n"))
	}
	if pageCount > 1 {
		text = rich.Concat(text, rich.Plain("\n\n"), m.t(lang, "chat.list_page", map[string]any{"Page": page + 1, "Pages": pageCount}))
	}
	var rows [][]Button
	var row []Button
	for _, f := range []string{"a", "o", "m", "-"} {
		row = append(row, Button{Label: m.s(lang, "chat.filter."+filterKey(f), nil), Action: "ls:" + f + ":0"})
	}
	rows = append(rows, row)
	row = nil
	for _, t := range m.Engine.Directory().Types {
		row = append(row, Button{Label: messages.Localized(t.Name, lang), Action: "ls:t." + t.ID + ":0"})
		if len(row) == 3 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	var nav []Button
	if page > 0 {
		nav = append(nav, Button{Label: "◀", Action: fmt.Sprintf("ls:%s:%d", filter, page-1)})
	}
	if page < pageCount-1 {
		nav = append(nav, Button{Label: "▶", Action: fmt.Sprintf("ls:%s:%d", filter, page+1)})
	}
	if len(nav) > 0 {
		rows = append(rows, nav)
	}
	msg := Message{Text: text, Buttons: rows}
	if edit != "" {
		if err := m.edit(ctx, p.ID, conv, edit, msg); err != nil {
			m.log.Warn("edit list", "err", err)
		}
		return
	}
	m.reply(ctx, p.ID, conv, msg)
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
func (m *Messenger) onQuestion(ctx context.Context, p *flows.Person, lang, conv, text string) bool {
	q := strings.TrimSpace(text)
	if d, err := m.Engine.Document(ctx, p.ID, q); err == nil {
		m.sendCard(ctx, p, lang, conv, d)
		return true
	}
	if len([]rune(q)) < 3 {
		return false
	}
	// Candidates by counterparty, then only those the person may see; the
	// search reads one column, not every document.
	docs, err := m.Store.DocumentsByCounterparty(ctx, q, 50)
	if err != nil {
		m.log.Warn("counterparty search", "err", err)
		return false
	}
	found := 0
	for _, d := range docs {
		if !m.Engine.MayRead(d, p.ID) {
			continue
		}
		m.text(ctx, p.ID, conv, m.renderer().Card(d, lang, m.Clock.Now()))
		if found++; found == 5 {
			break
		}
	}
	return found > 0
}
