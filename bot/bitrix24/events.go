package bitrix24

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/viza-app/viza/bot/chat"
	"github.com/viza-app/viza/storage"
)

// form reads PHP's bracketed keys (data[PARAMS][MESSAGE]) of a v1 event.
type form url.Values

func (f form) get(path ...string) string {
	return url.Values(f).Get(path[0] + bracket(path[1:]))
}

func bracket(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("[" + p + "]")
	}
	return b.String()
}

// children lists the keys one level below prefix: for data[COMMAND] the
// command ids, for data[PARAMS][FILES] the files' ids.
func (f form) children(prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for k := range f {
		rest, ok := strings.CutPrefix(k, prefix+"[")
		if !ok {
			continue
		}
		child, _, _ := strings.Cut(rest, "]")
		if !seen[child] {
			seen[child] = true
			out = append(out, child)
		}
	}
	sort.Strings(out)
	return out
}

// event translates a stored event into the conversation layer's terms.
// The sender is the user the portal names in an event whose
// application_token held (v1) or that the bot fetched itself (v2), never a
// button's parameters.
func (t *Transport) event(ctx context.Context, st stored) (chat.Event, bool) {
	if st.Kind == "v2" {
		return t.eventV2(ctx, st)
	}
	q, err := url.ParseQuery(st.Form)
	if err != nil {
		return chat.Event{}, false
	}
	f := form(q)
	user := f.get("data", "USER", "ID")
	if user == "" || user == "0" {
		return chat.Event{}, false
	}
	dialog := f.get("data", "PARAMS", "DIALOG_ID")
	if dialog == "" {
		dialog = user
	}
	if dialog != user {
		// A mention in a group chat: requests, remarks and sheets are
		// private, so the bot talks in the person's own dialog only.
		t.log.Info("bitrix24 event from a group chat ignored", "dialog", dialog)
		return chat.Event{}, false
	}
	t.noteChat(dialog, f.get("data", "PARAMS", "CHAT_ID"))
	ev := chat.Event{User: user, Conv: dialog, Lang: strings.ToLower(f.get("data", "PARAMS", "LANGUAGE"))}
	switch q.Get("event") {
	case "ONIMBOTMESSAGEADD":
		ev.Text = f.get("data", "PARAMS", "MESSAGE")
		for _, id := range f.children("data[PARAMS][FILES]") {
			size, _ := strconv.ParseInt(f.get("data", "PARAMS", "FILES", id, "size"), 10, 64)
			fileID := f.get("data", "PARAMS", "FILES", id, "id")
			if fileID == "" {
				fileID = id
			}
			ev.File = t.fileRef(ctx, v2File{ID: flexID(fileID), Name: f.get("data", "PARAMS", "FILES", id, "name"), Size: flexInt(size),
				Extension: f.get("data", "PARAMS", "FILES", id, "extension")})
			break
		}
		if ev.File == nil {
			// Only the ids (data[PARAMS][FILE_ID][]): the rest from the
			// portal's disk.
			ids := q["data[PARAMS][FILE_ID][]"]
			for _, k := range f.children("data[PARAMS][FILE_ID]") {
				ids = append(ids, f.get("data", "PARAMS", "FILE_ID", k))
			}
			for _, id := range ids {
				if id = strings.TrimSpace(id); id != "" && id != "0" {
					ev.File = t.fileRef(ctx, v2File{ID: flexID(id)})
					break
				}
			}
		}
		if ev.File == nil && strings.HasPrefix(strings.TrimSpace(ev.Text), "/") {
			return chat.Event{}, false // a command: its ONIMCOMMANDADD carries it
		}
		return ev, true
	case "ONIMCOMMANDADD":
		for _, id := range f.children("data[COMMAND]") {
			name := f.get("data", "COMMAND", id, "COMMAND")
			params := f.get("data", "COMMAND", id, "COMMAND_PARAMS")
			if name == buttonCommand {
				ev.Tap = &chat.Tap{ID: dialog + "|" + user, Action: params, Message: f.get("data", "COMMAND", id, "MESSAGE_ID")}
				return ev, true
			}
			ev.Command, ev.Args = strings.ToLower(strings.TrimPrefix(name, "/")), strings.TrimSpace(params)
			return ev, true
		}
	case "ONIMBOTJOINCHAT":
		ev.Command = "start" // the person opened the bot's chat
		return ev, true
	}
	return chat.Event{}, false
}

// v2 event data, the parts Viza reads. In webhook mode every scalar
// arrives as a string, in fetch mode with its JSON type
// (chat-bots-v2/imbot.v2/events/events.md), so ids are read as either.
type v2Data struct {
	Message struct {
		ID     flexID                     `json:"id"`
		ChatID flexID                     `json:"chatId"`
		Text   string                     `json:"text"`
		Params map[string]json.RawMessage `json:"params"`
		Files  json.RawMessage            `json:"files"`
	} `json:"message"`
	Chat struct {
		ID       flexID `json:"id"`
		DialogID string `json:"dialogId"`
	} `json:"chat"`
	DialogID string `json:"dialogId"`
	User     struct {
		ID flexID `json:"id"`
	} `json:"user"`
	Command struct {
		Command string `json:"command"`
		Params  string `json:"params"`
		Context string `json:"context"`
	} `json:"command"`
	Files    json.RawMessage `json:"files"`
	Language string          `json:"language"`
}

// flexID is an id sent as a number or as a string.
type flexID string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexID(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return nil // neither: no id, read defensively
	}
	*f = flexID(n.String())
	return nil
}

func (f flexID) valid() bool { return f != "" && f != "0" }

// flexInt is a number sent as a number or as a string.
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var id flexID
	id.UnmarshalJSON(b)
	n, _ := strconv.ParseInt(string(id), 10, 64)
	*f = flexInt(n)
	return nil
}

// v2File is a file of a message as far as the documentation's File entity
// and what portals send agree: an id, and perhaps its name and size.
type v2File struct {
	ID        flexID  `json:"id"`
	Name      string  `json:"name"`
	Extension string  `json:"extension"`
	Size      flexInt `json:"size"`
}

// filesIn reads a list of files or of file ids, as an array or keyed by id.
func filesIn(raw json.RawMessage) []v2File {
	if len(raw) == 0 {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		var byKey map[string]json.RawMessage
		if json.Unmarshal(raw, &byKey) != nil {
			var one flexID // a single id
			if one.UnmarshalJSON(raw); one.valid() {
				return []v2File{{ID: one}}
			}
			return nil
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []v2File
		for _, k := range keys {
			f := fileOf(byKey[k])
			if !f.ID.valid() {
				f.ID = flexID(k)
			}
			out = append(out, f)
		}
		return out
	}
	var out []v2File
	for _, item := range list {
		if f := fileOf(item); f.ID.valid() {
			out = append(out, f)
		}
	}
	return out
}

// fileOf reads one file: an object, or a bare id.
func fileOf(raw json.RawMessage) v2File {
	var f v2File
	if json.Unmarshal(raw, &f) == nil && (f.ID.valid() || f.Name != "") {
		return f
	}
	var id flexID
	id.UnmarshalJSON(raw)
	return v2File{ID: id}
}

// file finds a message's file wherever a portal puts it — the
// documentation says only that params hold "attach, keyboard, files, and
// others" — under params.FILE_ID, FILES, files or fileId, message.files or
// the event's files, and joins what each place says of it.
func (d *v2Data) file() (v2File, bool) {
	var all []v2File
	for _, k := range []string{"FILE_ID", "fileId", "FILES", "files"} {
		all = append(all, filesIn(d.Message.Params[k])...)
	}
	all = append(all, filesIn(d.Message.Files)...)
	all = append(all, filesIn(d.Files)...)
	if len(all) == 0 {
		return v2File{}, false
	}
	f := all[0]
	for _, x := range all[1:] {
		if x.ID != f.ID {
			continue
		}
		if f.Name == "" {
			f.Name = x.Name
		}
		if f.Extension == "" {
			f.Extension = x.Extension
		}
		if f.Size == 0 {
			f.Size = x.Size
		}
	}
	return f, true
}

func (t *Transport) eventV2(ctx context.Context, st stored) (chat.Event, bool) {
	var d v2Data
	if err := json.Unmarshal(st.Data, &d); err != nil || !d.User.ID.valid() {
		return chat.Event{}, false
	}
	user := string(d.User.ID)
	dialog := d.Chat.DialogID
	if dialog == "" {
		dialog = d.DialogID
	}
	if dialog == "" {
		dialog = user
	}
	if dialog != user {
		t.log.Info("bitrix24 event from a group chat ignored", "dialog", dialog)
		return chat.Event{}, false
	}
	ev := chat.Event{User: user, Conv: dialog, Lang: strings.ToLower(d.Language)}
	switch st.Type {
	case "ONIMBOTV2MESSAGEADD":
		ev.Text = d.Message.Text
		if f, ok := d.file(); ok {
			ev.File = t.fileRef(ctx, f)
			return ev, true
		}
		if strings.HasPrefix(strings.TrimSpace(ev.Text), "/") {
			return chat.Event{}, false // a command: its ONIMBOTV2COMMANDADD carries it
		}
		return ev, true
	case "ONIMBOTV2COMMANDADD":
		name := strings.ToLower(strings.TrimPrefix(d.Command.Command, "/"))
		if name == buttonCommand {
			// "The message with the command": not promised to be the card
			// the button was on, so the layer checks it.
			ev.Tap = &chat.Tap{ID: dialog + "|" + user, Action: d.Command.Params, Message: string(d.Message.ID), MessageMaybe: true}
			return ev, true
		}
		ev.Command, ev.Args = name, strings.TrimSpace(d.Command.Params)
		return ev, true
	case "ONIMBOTV2JOINCHAT":
		ev.Command = "start"
		return ev, true
	}
	return chat.Event{}, false
}

// fileRef is a file as the layer takes it. What the event did not say of
// its name or size is asked of the portal (disk.file.get) before the
// layer's file policy judges it: an unnamed, unsized file would be
// refused for nothing.
func (t *Transport) fileRef(ctx context.Context, f v2File) *chat.FileRef {
	if (f.Name == "" || f.Size == 0) && t.c != nil {
		var meta struct {
			Name string  `json:"NAME"`
			Size flexInt `json:"SIZE"`
		}
		if err := t.c.Call(ctx, "disk.file.get", map[string]any{"id": string(f.ID)}, &meta); err != nil {
			t.log.Warn("bitrix24 file's name and size not found", "file", f.ID, "err", t.c.Redact(err.Error()))
		} else {
			if f.Name == "" {
				f.Name = meta.Name
			}
			if f.Size == 0 {
				f.Size = meta.Size
			}
		}
	}
	if f.Extension == "" {
		if i := strings.LastIndexByte(f.Name, '.'); i >= 0 {
			f.Extension = f.Name[i+1:]
		}
	}
	return &chat.FileRef{Ref: string(f.ID), Name: f.Name, Size: int64(f.Size), MIME: mimeOf(f.Extension)}
}

func mimeOf(ext string) string {
	switch strings.ToLower(ext) {
	case "pdf":
		return "application/pdf"
	case "docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case "doc":
		return "application/msword"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "xls":
		return "application/vnd.ms-excel"
	case "odt":
		return "application/vnd.oasis.opendocument.text"
	case "rtf":
		return "application/rtf"
	case "txt":
		return "text/plain"
	case "jpg", "jpeg":
		return "image/jpeg"
	case "png":
		return "image/png"
	case "zip":
		return "application/zip"
	}
	return "application/octet-stream"
}

// eventKey identifies a v1 event by what it says, leaving out the tokens
// that come with it: classic events carry no id of their own, and the
// same event posted twice must be applied once.
func eventKey(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if strings.HasPrefix(k, "auth[") || strings.Contains(k, "token]") || strings.Contains(k, "[AUTH]") ||
			strings.Contains(k, "[expires") || strings.Contains(k, "[client_endpoint]") || k == "event_handler_id" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		io.WriteString(h, k+"="+strings.Join(q[k], ",")+"\n")
	}
	return "v1:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Handler receives classic imbot events at /bitrix24/events. An event is
// trusted only when its auth[application_token] is the stored one; it is
// stored before the portal is answered (Bitrix24 never sends an event
// again), and handled after.
func (t *Transport) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		q, err := url.ParseQuery(string(body))
		if err != nil || q.Get("event") == "" {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		want := t.applicationToken(r.Context())
		got := q.Get("auth[application_token]")
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			t.log.Warn("bitrix24 event refused: wrong application_token", "event", q.Get("event"), "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if why := t.otherPortal(ctx, q); why != "" {
			// The token matched, yet the event names another portal than
			// the one that installed the application.
			t.log.Warn("bitrix24 event refused: "+why, "event", q.Get("event"), "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		b, _ := json.Marshal(stored{Kind: "v1", Form: string(body)})
		fresh, err := t.store.InboxPut(ctx, Name, []storage.InboxItem{{ID: eventKey(q), Payload: b}})
		if err != nil {
			t.log.Error("store bitrix24 event", "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if len(fresh) == 0 {
			t.log.Info("bitrix24 event seen before; applied once", "event", q.Get("event"))
		}
		t.Wake()
		w.WriteHeader(http.StatusOK)
	})
}

// otherPortal says why an event does not come from the portal the
// application was installed on (its member_id and domain, kept at
// installation), or "". Without an installation (an inbound webhook)
// there is nothing to hold it against.
func (t *Transport) otherPortal(ctx context.Context, q url.Values) string {
	for _, k := range []string{"member_id", "domain"} {
		want, ok, err := t.store.StateGet(ctx, Name, k)
		if err != nil || !ok || want == "" {
			continue
		}
		if got := q.Get("auth[" + k + "]"); !strings.EqualFold(got, want) {
			return "its " + k + " is not the installation's"
		}
	}
	return ""
}

// applicationToken is the token events must carry: from the environment,
// else the one the portal gave at installation.
func (t *Transport) applicationToken(ctx context.Context) string {
	if t.cfg.ApplicationToken != "" {
		return t.cfg.ApplicationToken
	}
	v, _, _ := t.store.StateGet(ctx, Name, "application_token")
	return v
}
