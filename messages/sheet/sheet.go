// Package sheet renders the approval sheet (лист согласования) as a PDF: the
// document's particulars, every version with its SHA-256, every decision of
// every round with who, when (with the time zone) and the comments, the
// remarks and how they were closed, and on every page the hash of the
// document's last audit event so that `viza verify --doc` can tell whether
// the record changed since the sheet was printed.
package sheet

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/viza-app/viza/compare"
	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/locales"
	"github.com/viza-app/viza/messages"
)

// The sheet's keywords name its document and the last event of the record
// it was printed from, as name=value separated by spaces: PDF readers split
// keywords on commas, colons or spaces as they find them.
const (
	KeywordNumber = "viza-number="
	KeywordHash   = "viza-hash="
)

// Input is everything a sheet shows besides the document.
type Input struct {
	Doc      *flows.Document
	Lang     string
	Renderer messages.Renderer // names and the company's time zone
	Now      time.Time         // "generated at"
	LastHash string            // hash of the document's last audit event
	// Changes are what each version changed against the one before it,
	// by the later version's number: a round of a new version says how
	// many places changed.
	Changes map[int]compare.Comparison
}

const (
	fontSize  = 8.5
	lineH     = 4.2
	marginMM  = 12.0
	bottomMM  = 16.0
	cellPadMM = 1.2
)

type column struct {
	title string
	width float64 // share of the usable width
}

type pdf struct {
	*fpdf.Fpdf
	in     Input
	l      *locales.Localizer
	usable float64
}

// Render writes the sheet to w.
func Render(w io.Writer, in Input) error {
	l, err := locales.For(in.Lang)
	if err != nil {
		return err
	}
	f := fpdf.New("P", "mm", "A4", "")
	// Each render gets its own copy of the font bytes: fpdf parses and
	// subsets them per document, and sharing one slice between concurrent
	// renders is what made the archived gofpdf racy.
	f.AddUTF8FontFromBytes("go", "", slices.Clone(goregular.TTF))
	f.AddUTF8FontFromBytes("go", "B", slices.Clone(gobold.TTF))
	f.SetMargins(marginMM, marginMM, marginMM)
	f.SetAutoPageBreak(false, bottomMM)
	f.SetCreationDate(in.Now)
	f.SetModificationDate(in.Now)
	f.SetCatalogSort(true)
	f.AliasNbPages("{nb}")
	in.Renderer = in.Renderer.In(in.Lang)
	pw, _ := f.GetPageSize()
	p := &pdf{Fpdf: f, in: in, l: l, usable: pw - 2*marginMM}
	f.SetFooterFunc(p.footer)
	f.SetTitle(l.T("sheet.title", nil)+" "+in.Doc.Number, true)
	// What `viza verify --sheet` reads back to find the record the sheet
	// was printed from (the footer says the same to a person).
	f.SetKeywords(KeywordNumber+in.Doc.Number+" "+KeywordHash+in.LastHash, true)
	f.AddPage()
	p.header()
	p.versions()
	for _, r := range in.Doc.Rounds {
		p.round(r)
	}
	p.signatures()
	p.remarks()
	if f.Err() {
		return fmt.Errorf("render sheet of %s: %w", in.Doc.Number, f.Error())
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("write sheet of %s: %w", in.Doc.Number, err)
	}
	return nil
}

func (p *pdf) t(id string, data any) string { return p.l.T(id, data) }

// person is a name with the job title beside it, as a printed sheet that
// a director signs needs: "Пётр Петров, Главный юрист".
func (p *pdf) person(id flows.PersonID) string {
	name := p.in.Renderer.Name(id)
	if who, ok := p.in.Renderer.Dir.Person(id); ok && who.Title != "" {
		name += ", " + who.Title
	}
	return name
}

func (p *pdf) footer() {
	p.SetY(-bottomMM + 4)
	p.SetFont("go", "", 7)
	text := p.t("sheet.footer", map[string]any{"At": p.in.Renderer.FormatTime(p.in.Now), "Page": p.PageNo(), "Pages": "{nb}", "Hash": p.in.LastHash})
	for _, line := range p.wrap(text, p.usable) {
		p.CellFormat(p.usable, 3.2, line, "", 1, "C", false, 0, "")
	}
}

func (p *pdf) header() {
	d := p.in.Doc
	r := p.in.Renderer
	p.SetFont("go", "B", 14)
	p.CellFormat(p.usable, 8, p.t("sheet.title", nil), "", 1, "C", false, 0, "")
	p.SetFont("go", "", 10)
	p.CellFormat(p.usable, 6, r.Dir.Company, "", 1, "C", false, 0, "")
	p.Ln(2)
	amount := "—"
	if d.HasAmount {
		amount = messages.Amount(d.AmountMinor, d.Currency, p.in.Lang)
	}
	finished := "—"
	if !d.FinishedAt.IsZero() {
		finished = r.FormatTime(d.FinishedAt)
	}
	counterparty := d.Counterparty
	if counterparty == "" {
		counterparty = "—"
	}
	rows := [][2]string{
		{p.t("sheet.number", nil), d.Number},
		{p.t("sheet.type", nil), messages.Localized(d.TypeName, p.in.Lang)},
		{p.t("sheet.doc_title", nil), d.Title},
		{p.t("sheet.counterparty", nil), counterparty},
		{p.t("sheet.amount", nil), amount},
		{p.t("sheet.initiator", nil), p.person(d.Initiator)},
		{p.t("sheet.started", nil), r.FormatTime(d.CreatedAt)},
		{p.t("sheet.finished", nil), finished},
		{p.t("sheet.state", nil), messages.State(d.State, p.in.Lang)},
	}
	cols := []column{{width: 0.25}, {width: 0.75}}
	for _, row := range rows {
		p.row(cols, []string{row[0], row[1]}, nil, false)
	}
}

func (p *pdf) heading(text string) {
	// Keep a heading with its table's header and first row.
	if p.GetY()+30 > p.pageBottom() {
		p.AddPage()
	}
	p.Ln(3)
	p.SetFont("go", "B", 11)
	p.CellFormat(p.usable, 7, text, "", 1, "L", false, 0, "")
}

// changes says, under a round's heading, what its version changed
// against the version before it — once, in the version's first round.
func (p *pdf) changes(r flows.Round) {
	c, ok := p.in.Changes[r.Version]
	if !ok || c.From == 0 {
		return
	}
	for _, earlier := range p.in.Doc.Rounds {
		if earlier.No < r.No && earlier.Version == r.Version {
			return
		}
	}
	var text string
	switch {
	case c.Status == compare.StatusOK:
		text = p.t("sheet.changes", map[string]any{"From": c.From, "Places": p.l.Plural("diff.places", len(c.Changes))})
	default:
		text = p.t("sheet.changes_na", map[string]any{"From": c.From, "Why": p.t("sheet.changes_why."+c.Status, nil)})
	}
	if c.Revisions > 0 {
		text += " " + p.t("sheet.changes_revisions", map[string]any{"N": c.Revisions})
	}
	p.SetFont("go", "", fontSize)
	p.MultiCell(p.usable, lineH, text, "", "L", false)
	p.Ln(1)
}

func (p *pdf) pageBottom() float64 {
	_, ph := p.GetPageSize()
	return ph - bottomMM
}

func (p *pdf) versions() {
	d := p.in.Doc
	p.heading(p.t("sheet.versions", nil))
	cols := []column{{p.t("sheet.col.no", nil), 0.05}, {p.t("sheet.col.file", nil), 0.17}, {p.t("sheet.col.size", nil), 0.08},
		{p.t("sheet.col.sha", nil), 0.26}, {p.t("sheet.col.uploader", nil), 0.13}, {p.t("sheet.col.when", nil), 0.13}, {p.t("sheet.col.comment", nil), 0.18}}
	p.tableHeader(cols)
	for _, v := range d.Versions {
		no := fmt.Sprint(v.No)
		if v.Scan {
			no += " " + p.t("sheet.scan", nil)
		}
		p.row(cols, []string{no, v.FileName, messages.Size(v.Size, p.in.Lang), v.SHA256, p.person(v.UploadedBy),
			p.in.Renderer.FormatTime(v.At), v.Comment}, cols, false)
	}
}

type line struct {
	stage                             int // route order first
	at                                time.Time
	name, who, outcome, when, comment string
}

// round lists what happened in one round, in route order: decisions,
// carried approvals, tasks closed without a decision, tasks still open,
// skipped stages with why in words, and — while the round runs — the
// stages not reached yet, so that a sheet printed midway shows the whole
// route. The last column is left blank for a signature on the printed copy.
func (p *pdf) round(r flows.Round) {
	d := p.in.Doc
	rn := p.in.Renderer
	p.heading(p.t("sheet.round", map[string]any{"Round": r.No, "Version": r.Version}))
	p.changes(r)
	cols := []column{{p.t("sheet.col.stage", nil), 0.16}, {p.t("sheet.col.approver", nil), 0.2}, {p.t("sheet.col.decision", nil), 0.15},
		{p.t("sheet.col.when", nil), 0.12}, {p.t("sheet.col.comment", nil), 0.25}, {p.t("sheet.col.signature", nil), 0.12}}
	p.tableHeader(cols)
	stageName := func(i int) string {
		name := messages.StageName(p.l, d.Stages[i], p.in.Lang)
		if n, _ := d.StagePosition(i); n > 0 {
			return fmt.Sprintf("%d. %s", n, name)
		}
		return name
	}
	who := func(actor, forWhom flows.PersonID) string {
		s := p.person(actor)
		if forWhom != "" && forWhom != actor {
			s += " (" + p.t("sheet.for", map[string]any{"Name": p.person(forWhom)}) + ")"
		}
		return s
	}
	var lines []line
	reached := map[int]bool{}
	for _, s := range d.Stages {
		if s.Skipped {
			lines = append(lines, line{stage: s.Index, at: r.StartedAt, name: stageName(s.Index), who: "—",
				outcome: p.t("sheet.skipped", nil), comment: p.t("sheet.reason."+s.SkipReason, map[string]any{"When": messages.StageCondition(s, p.in.Lang)})})
		}
	}
	decided := map[int64]bool{}
	for _, dc := range d.Decisions {
		if dc.Round == r.No && flows.IsRouteChange(dc.Kind) {
			// Who changed the route, whom it concerned and why, in the
			// stage it changed; the stage is not reached by it.
			lines = append(lines, line{stage: dc.Stage, at: dc.At, name: stageName(dc.Stage), who: who(dc.Actor, ""),
				outcome: p.decision(dc), when: rn.FormatTime(dc.At), comment: dc.Comment})
			continue
		}
		if dc.Round != r.No || dc.TaskID == 0 {
			continue
		}
		reached[dc.Stage] = true
		decided[dc.TaskID] = decided[dc.TaskID] || dc.Kind != flows.ActionComment
		lines = append(lines, line{stage: dc.Stage, at: dc.At, name: stageName(dc.Stage), who: whoOf(dc, who),
			outcome: p.decision(dc), when: rn.FormatTime(dc.At), comment: dc.Comment})
	}
	for _, t := range d.Tasks {
		if t.Round != r.No {
			continue
		}
		reached[t.Stage] = true
		if decided[t.ID] || t.CloseReason == flows.CloseReassigned {
			continue
		}
		ln := line{stage: t.Stage, at: t.ClosedAt, name: stageName(t.Stage), who: who(t.Assignee, t.OnBehalfOf), when: rn.FormatTime(t.ClosedAt)}
		switch {
		case t.Carried:
			ln.outcome = p.t("sheet.carried", nil)
		case t.State == flows.TaskOpen:
			ln.at, ln.outcome, ln.when = t.OpenedAt.Add(time.Hour*24*365*100), p.t("sheet.open_task", nil), ""
		default:
			ln.outcome = p.t("sheet.closed."+t.CloseReason, nil)
		}
		lines = append(lines, ln)
	}
	if r.Outcome == "" && (d.State == flows.StateInApproval || d.State == flows.StateSigning) {
		for _, s := range d.Stages {
			if s.Skipped || reached[s.Index] || s.Index < r.Stage {
				continue
			}
			var names []string
			for _, a := range s.Approvers {
				names = append(names, p.person(a))
			}
			lines = append(lines, line{stage: s.Index, at: r.StartedAt, name: stageName(s.Index), who: strings.Join(names, "; "),
				outcome: p.t("sheet.planned", nil)})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int {
		if a.stage != b.stage {
			return a.stage - b.stage
		}
		return a.at.Compare(b.at)
	})
	for _, ln := range lines {
		p.row(cols, []string{ln.name, ln.who, ln.outcome, ln.when, ln.comment, ""}, cols, false)
	}
}

// decision names what a person did; a signing task's "done" is a signature.
func (p *pdf) decision(dc flows.Decision) string {
	return messages.DecisionOn(p.l, p.in.Doc, dc, p.person)
}

// remarks lists the blocking remarks and how each was closed. A
// non-blocking remark is the comment of an approval or a plain comment,
// already printed in its round; printing it again would read as two.
// signatures lists the electronic signatures verified at sign stages
// signed by upload: whose certificate, which version, when made and by
// whom checked. The files themselves are beside the versions.
func (p *pdf) signatures() {
	d := p.in.Doc
	if len(d.Signatures) == 0 {
		return
	}
	rn := p.in.Renderer
	p.heading(p.t("sheet.signatures", nil))
	cols := []column{{p.t("sheet.col.no", nil), 0.05}, {p.t("sheet.col.owner", nil), 0.25}, {p.t("sheet.col.certificate", nil), 0.27},
		{p.t("sheet.col.signed", nil), 0.13}, {p.t("sheet.col.checked", nil), 0.30}}
	p.tableHeader(cols)
	for _, s := range d.Signatures {
		signed := ""
		if !s.SignedAt.IsZero() {
			signed = rn.FormatTime(s.SignedAt)
		}
		p.row(cols, []string{fmt.Sprint(s.Version), s.Owner, p.t("sheet.certificate", map[string]any{"Serial": s.Serial, "Issuer": s.Issuer}),
			signed, p.t("sheet.checked", map[string]any{"Verifier": s.Verifier, "At": rn.FormatTime(s.At), "By": p.person(s.By), "InDSS": s.Method == flows.SignDSS,
				"SHA": s.SHA256})}, cols, false)
	}
}

func (p *pdf) remarks() {
	d := p.in.Doc
	var blocking []flows.Remark
	for _, r := range d.Remarks {
		if r.Blocking {
			blocking = append(blocking, r)
		}
	}
	if len(blocking) == 0 {
		return
	}
	rn := p.in.Renderer
	p.heading(p.t("sheet.remarks", nil))
	cols := []column{{p.t("sheet.col.author", nil), 0.22}, {p.t("sheet.col.when", nil), 0.15},
		{p.t("sheet.col.text", nil), 0.36}, {p.t("sheet.col.closed", nil), 0.27}}
	p.tableHeader(cols)
	for _, r := range blocking {
		closed := p.t("sheet.still_open", nil)
		if !r.ClosedAt.IsZero() {
			closed = p.t("sheet.closed_by", map[string]any{"Name": rn.Name(r.Owner), "Version": r.ClosedVersion, "At": rn.FormatTime(r.ClosedAt)})
		}
		author := p.person(r.Author)
		if r.Owner != r.Author {
			author += " (" + p.t("sheet.for", map[string]any{"Name": p.person(r.Owner)}) + ")"
		}
		p.row(cols, []string{author, rn.FormatTime(r.At) + " · v" + fmt.Sprint(r.Version), r.Text, closed}, cols, false)
	}
}

func (p *pdf) tableHeader(cols []column) {
	p.SetFillColor(230, 230, 230)
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	p.row(cols, titles, nil, true)
}

// row draws one table row with every cell wrapped to its width. When the
// row does not fit, it goes on a new page after the repeated header.
func (p *pdf) row(cols []column, cells []string, header []column, bold bool) {
	style := ""
	if bold {
		style = "B"
	}
	p.SetFont("go", style, fontSize)
	wrapped := make([][]string, len(cols))
	lines := 1
	for i, c := range cols {
		wrapped[i] = p.wrap(cells[i], c.width*p.usable-2*cellPadMM)
		lines = max(lines, len(wrapped[i]))
	}
	h := float64(lines)*lineH + 2*cellPadMM
	if p.GetY()+h > p.pageBottom() {
		p.AddPage()
		if header != nil {
			p.tableHeader(header)
			p.SetFont("go", style, fontSize)
		}
	}
	x0, y0 := p.GetX(), p.GetY()
	x := x0
	for i, c := range cols {
		w := c.width * p.usable
		fill := ""
		if bold && header == nil && len(cols) > 2 {
			fill = "F"
		}
		p.Rect(x, y0, w, h, "D"+fill)
		for j, ln := range wrapped[i] {
			p.SetXY(x+cellPadMM, y0+cellPadMM+float64(j)*lineH)
			p.CellFormat(w-2*cellPadMM, lineH, ln, "", 0, "L", false, 0, "")
		}
		x += w
	}
	p.SetXY(x0, y0+h)
}

// wrap breaks text into lines that fit width, breaking at spaces and, for
// words longer than a line (a SHA-256, a long file name), inside the word.
func (p *pdf) wrap(text string, width float64) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		cur := ""
		for _, word := range strings.Fields(para) {
			for p.GetStringWidth(word) > width {
				cut := fitPrefix(p, word, width)
				if cur != "" {
					out = append(out, cur)
					cur = ""
				}
				out = append(out, word[:cut])
				word = word[cut:]
			}
			switch {
			case cur == "":
				cur = word
			case p.GetStringWidth(cur+" "+word) <= width:
				cur += " " + word
			default:
				out = append(out, cur)
				cur = word
			}
		}
		out = append(out, cur)
	}
	return out
}

// fitPrefix is the byte length of the longest prefix of word, cut at a rune
// boundary, that fits width (at least one rune, so wrapping always ends).
func fitPrefix(p *pdf, word string, width float64) int {
	cut := 0
	for i, r := range word {
		next := i + utf8.RuneLen(r)
		if p.GetStringWidth(word[:next]) > width && cut > 0 {
			break
		}
		cut = next
	}
	return cut
}

// whoOf names who decided: for a decision on timeout nobody did, and the
// line names the task's holder, the decision saying "on timeout".
func whoOf(dc flows.Decision, who func(actor, forWhom flows.PersonID) string) string {
	if dc.Timeout {
		return who(dc.For, "")
	}
	return who(dc.Actor, dc.For)
}
