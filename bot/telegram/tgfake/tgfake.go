// Package tgfake is a local Telegram Bot API server for tests. It speaks the
// real wire format (JSON, urlencoded and multipart requests; the
// {"ok":…,"result":…} envelope; error_code and parameters.retry_after),
// long-polls getUpdates, serves getFile and downloads, records every call,
// and can enforce Telegram's flood limits with 429 answers.
package tgfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// BotID is the fake bot's own user id.
const BotID = 7000000001

// Call is one request the bot made.
type Call struct {
	Method string
	Params map[string]string
	Files  map[string][]byte // multipart file fields
	At     time.Time
	Status int
}

// User is a Telegram user as tests describe it.
type User struct {
	ID        int64
	FirstName string
	Language  string
}

// Sent is a message the bot sent (or edited) in a chat.
type Sent struct {
	MessageID int64
	ChatID    int64
	Text      string // text, or caption for documents, as the person reads it
	Entities  []Entity
	Raw       string // text as sent, before parse_mode
	Markup    string // reply_markup JSON as sent
	FileID    string // for documents
	FileName  string
	Edits     int
}

// Bold lists the parts of the text shown in bold.
func (m Sent) Bold() []string { return m.styled("bold") }

func (m Sent) styled(kind string) []string {
	u := utf16.Encode([]rune(m.Text))
	var out []string
	for _, e := range m.Entities {
		if e.Type == kind && e.Offset+e.Length <= len(u) {
			out = append(out, string(utf16.Decode(u[e.Offset:e.Offset+e.Length])))
		}
	}
	return out
}

// formatted applies parse_mode the way the Bot API does: the text people
// read and its entities.
func formatted(text, mode string) (string, []Entity, *apiError) {
	switch mode {
	case "":
		return text, nil, nil
	case "HTML":
		plain, ents, err := ParseHTML(text)
		if err != nil {
			return "", nil, &apiError{code: 400, desc: "Bad Request: " + err.Error()}
		}
		return plain, ents, nil
	}
	return "", nil, &apiError{code: 400, desc: "Bad Request: unsupported parse_mode " + mode}
}

type file struct {
	id, uniqueID, path, name string
	data                     []byte
}

// Server is the fake Bot API.
type Server struct {
	Token string
	URL   string
	srv   *httptest.Server

	mu          sync.Mutex
	menuButton  string // the Mini App URL the menu button opens
	cond        *sync.Cond
	updates     []json.RawMessage
	updateIDs   []int64
	nextUpdate  int64
	nextMessage int64
	nextFile    int
	calls       []Call
	files       map[string]*file
	filesByPath map[string]*file
	messages    map[int64]*Sent // by message id
	callbacks   map[string]bool // callback query id → answered
	history     map[int64]json.RawMessage
	webhook     string
	failNext    []failure

	// Flood limits, when Limits is on: at most one message per second in
	// a chat and Global per second overall.
	Limits     bool
	Global     int
	lastInChat map[int64]time.Time
	recent     []time.Time
	limited    int
}

type failure struct {
	method     string
	chatID     int64
	code       int
	desc       string
	retryAfter int
}

// FailNextTooMany makes the next call of method answer 429 with
// parameters.retry_after.
func (s *Server) FailNextTooMany(method string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, failure{method, 0, 429, fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), retryAfter})
}

// New starts a fake Bot API for token.
func New(token string) *Server { return NewAt(token, nil) }

// NewAt starts the fake Bot API on l (a platform that comes back at the
// address it was unreachable at); nil listens anywhere on loopback.
func NewAt(token string, l net.Listener) *Server {
	s := &Server{Token: token, files: map[string]*file{}, filesByPath: map[string]*file{}, messages: map[int64]*Sent{},
		callbacks: map[string]bool{}, history: map[int64]json.RawMessage{}, nextUpdate: 100000, nextMessage: 1, lastInChat: map[int64]time.Time{}, Global: 30}
	s.cond = sync.NewCond(&s.mu)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if l != nil {
		s.srv.Listener.Close()
		s.srv.Listener = l
	}
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Close stops the server and wakes long polls.
func (s *Server) Close() {
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// FailNext makes the next call of method (to chatID, or any chat when 0)
// fail with code and description, e.g. 403 "Forbidden: bot was blocked by
// the user".
func (s *Server) FailNext(method string, chatID int64, code int, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, failure{method, chatID, code, desc, 0})
}

// Calls returns the recorded calls of method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Limited counts the 429 answers given.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Chat returns the messages the bot has in a chat, oldest first.
func (s *Server) Chat(chatID int64) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Sent
	for id := int64(1); id < s.nextMessage; id++ {
		if m, ok := s.messages[id]; ok && m.ChatID == chatID {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns one sent message.
func (s *Server) Message(id int64) (Sent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return Sent{}, false
	}
	return *m, true
}

// FileContent returns what the bot uploaded (or a user sent) under fileID.
func (s *Server) FileContent(fileID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok {
		return nil, false
	}
	return f.data, true
}

// Pending counts updates not yet confirmed by getUpdates.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

func (s *Server) addFileLocked(name string, data []byte) *file {
	s.nextFile++
	f := &file{id: fmt.Sprintf("BQACAgIAAxkBAAI%06d", s.nextFile), uniqueID: fmt.Sprintf("AgAD%06d", s.nextFile),
		path: fmt.Sprintf("documents/file_%d", s.nextFile), name: name, data: data}
	s.files[f.id] = f
	s.filesByPath[f.path] = f
	return f
}

// push queues an update built by fill(updateID), like Telegram does.
func (s *Server) push(build func(id int64) map[string]any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpdate++
	id := s.nextUpdate
	raw, _ := json.Marshal(build(id))
	s.history[id] = raw
	s.updates = append(s.updates, raw)
	s.updateIDs = append(s.updateIDs, id)
	s.cond.Broadcast()
	return id
}

// Duplicate queues an update again with its update_id, as Telegram does
// when it did not see the confirmation.
func (s *Server) Duplicate(updateID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw, ok := s.history[updateID]; ok {
		s.updates = append(s.updates, raw)
		s.updateIDs = append(s.updateIDs, updateID)
		s.cond.Broadcast()
	}
}

// Update returns the JSON of an update the helpers built.
func (s *Server) Update(updateID int64) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.history[updateID]
}

func userJSON(u User) map[string]any {
	m := map[string]any{"id": u.ID, "is_bot": false, "first_name": u.FirstName}
	if u.Language != "" {
		m["language_code"] = u.Language
	}
	return m
}

func chatJSON(u User) map[string]any {
	return map[string]any{"id": u.ID, "first_name": u.FirstName, "type": "private"}
}

func (s *Server) newMessageID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextMessage
	s.nextMessage++
	return id
}

func (s *Server) message(u User, fields map[string]any) map[string]any {
	m := map[string]any{"message_id": s.newMessageID(), "date": time.Now().Unix(), "from": userJSON(u), "chat": chatJSON(u)}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

// UserText sends a text message from u; a leading /command gets its
// bot_command entity. It returns the update_id.
func (s *Server) UserText(u User, text string) int64 {
	fields := map[string]any{"text": text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		fields["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": len([]rune(cmd))}}
	}
	msg := s.message(u, fields)
	return s.push(func(id int64) map[string]any { return map[string]any{"update_id": id, "message": msg} })
}

// UserReply sends a text reply to one of the bot's messages.
func (s *Server) UserReply(u User, replyTo int64, text string) int64 {
	msg := s.message(u, map[string]any{"text": text, "reply_to_message": s.replyTarget(replyTo)})
	return s.push(func(id int64) map[string]any { return map[string]any{"update_id": id, "message": msg} })
}

func (s *Server) replyTarget(id int64) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]any{"message_id": id, "date": time.Now().Unix(), "from": map[string]any{"id": BotID, "is_bot": true, "first_name": "Viza"}}
	if sent, ok := s.messages[id]; ok {
		m["chat"] = map[string]any{"id": sent.ChatID, "type": "private"}
		m["text"] = sent.Text
	}
	return m
}

// UserDocument sends a file from u, optionally as a reply (replyTo > 0).
// size overrides the reported file_size (to test Telegram's 20 MB limit).
func (s *Server) UserDocument(u User, name, mimeType string, data []byte, caption string, replyTo int64, size int64) int64 {
	s.mu.Lock()
	f := s.addFileLocked(name, data)
	s.mu.Unlock()
	if size == 0 {
		size = int64(len(data))
	}
	fields := map[string]any{"document": map[string]any{"file_id": f.id, "file_unique_id": f.uniqueID, "file_name": name,
		"mime_type": mimeType, "file_size": size}}
	if caption != "" {
		fields["caption"] = caption
	}
	if replyTo > 0 {
		fields["reply_to_message"] = s.replyTarget(replyTo)
	}
	msg := s.message(u, fields)
	return s.push(func(id int64) map[string]any { return map[string]any{"update_id": id, "message": msg} })
}

// UserContact shares a contact; userID is the contact's user_id (0: none).
func (s *Server) UserContact(u User, phone string, userID int64) int64 {
	c := map[string]any{"phone_number": phone, "first_name": u.FirstName}
	if userID != 0 {
		c["user_id"] = userID
	}
	msg := s.message(u, map[string]any{"contact": c})
	return s.push(func(id int64) map[string]any { return map[string]any{"update_id": id, "message": msg} })
}

// UserTap presses an inline button under one of the bot's messages and
// returns the update id and the callback query id.
func (s *Server) UserTap(u User, messageID int64, data string) (int64, string) {
	target := s.replyTarget(messageID)
	var cbID string
	upd := s.push(func(id int64) map[string]any {
		cbID = "cbq" + strconv.FormatInt(id, 10)
		s.callbacks[cbID] = false // push holds s.mu
		return map[string]any{"update_id": id, "callback_query": map[string]any{
			"id": cbID, "from": userJSON(u), "message": target, "chat_instance": "1628661761791766620", "data": data}}
	})
	return upd, cbID
}

// Answered reports whether a callback query was answered.
func (s *Server) Answered(cbID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callbacks[cbID]
}

type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if p, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+s.Token+"/"); ok {
		s.mu.Lock()
		f, found := s.filesByPath[p]
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Write(f.data)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, _ := strings.Cut(rest, "/")
	if !ok || token != s.Token {
		writeErr(w, apiError{code: 401, desc: "Unauthorized"})
		return
	}
	params, files, err := parseParams(r)
	if err != nil {
		writeErr(w, apiError{code: 400, desc: "Bad Request: " + err.Error()})
		return
	}
	call := Call{Method: method, Params: params, Files: files, At: time.Now()}
	var result any
	var aerr *apiError
	if method == "getUpdates" {
		result, aerr = s.getUpdates(r.Context(), params)
	} else {
		s.mu.Lock()
		result, aerr = s.handleLocked(method, params, files)
		s.mu.Unlock()
	}
	call.Status = 200
	if aerr != nil {
		call.Status = aerr.code
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if aerr != nil {
		writeErr(w, *aerr)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func writeErr(w http.ResponseWriter, e apiError) {
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.desc}
	if e.retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": e.retryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.code)
	json.NewEncoder(w).Encode(body)
}

func parseParams(r *http.Request) (map[string]string, map[string][]byte, error) {
	params := map[string]string{}
	files := map[string][]byte{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("can't parse JSON: %w", err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				params[k] = s
			} else {
				b, _ := json.Marshal(v)
				params[k] = string(b)
			}
		}
	case "application/x-www-form-urlencoded":
		body, _ := io.ReadAll(r.Body)
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, err
		}
		for k, v := range vals {
			params[k] = v[0]
		}
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, ctParams["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			data, _ := io.ReadAll(p)
			if p.FileName() != "" {
				files[p.FormName()] = data
				params[p.FormName()+"#filename"] = p.FileName()
			} else {
				params[p.FormName()] = string(data)
			}
		}
	}
	return params, files, nil
}

func (s *Server) getUpdates(ctx context.Context, p map[string]string) (any, *apiError) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	deadline := time.Now().Add(time.Duration(timeout) * time.Second)
	stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer stop()
	t := time.AfterFunc(time.Until(deadline), func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer t.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook != "" {
		return nil, &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	for {
		// Updates below offset are confirmed and forgotten.
		for len(s.updateIDs) > 0 && s.updateIDs[0] < offset {
			s.updates, s.updateIDs = s.updates[1:], s.updateIDs[1:]
		}
		if len(s.updates) > 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		s.cond.Wait()
	}
	n := min(limit, len(s.updates))
	out := make([]json.RawMessage, n)
	copy(out, s.updates[:n])
	return out, nil
}

func (s *Server) takeFailureLocked(method string, chatID int64) *apiError {
	for i, f := range s.failNext {
		if f.method == method && (f.chatID == 0 || f.chatID == chatID) {
			s.failNext = append(s.failNext[:i], s.failNext[i+1:]...)
			if f.code == 429 {
				s.limited++
			}
			return &apiError{code: f.code, desc: f.desc, retryAfter: f.retryAfter}
		}
	}
	return nil
}

// floodLocked applies Telegram's limits to a message-sending call.
func (s *Server) floodLocked(chatID int64) *apiError {
	if !s.Limits {
		return nil
	}
	now := time.Now()
	if last, ok := s.lastInChat[chatID]; ok && now.Sub(last) < time.Second {
		s.limited++
		return &apiError{code: 429, desc: "Too Many Requests: retry after 1", retryAfter: 1}
	}
	cut := 0
	for cut < len(s.recent) && now.Sub(s.recent[cut]) >= time.Second {
		cut++
	}
	s.recent = s.recent[cut:]
	if len(s.recent) >= s.Global {
		s.limited++
		wait := int(math.Ceil(time.Second.Seconds() - now.Sub(s.recent[0]).Seconds()))
		return &apiError{code: 429, desc: fmt.Sprintf("Too Many Requests: retry after %d", max(wait, 1)), retryAfter: max(wait, 1)}
	}
	s.lastInChat[chatID] = now
	s.recent = append(s.recent, now)
	return nil
}

func (s *Server) handleLocked(method string, p map[string]string, files map[string][]byte) (any, *apiError) {
	chatID, _ := strconv.ParseInt(p["chat_id"], 10, 64)
	if f := s.takeFailureLocked(method, chatID); f != nil {
		return nil, f
	}
	switch method {
	case "getMe":
		return map[string]any{"id": BotID, "is_bot": true, "first_name": "Viza", "username": "viza_test_bot"}, nil
	case "setMyCommands", "deleteMyCommands":
		if method == "setMyCommands" && !json.Valid([]byte(p["commands"])) {
			return nil, &apiError{code: 400, desc: "Bad Request: can't parse commands JSON object"}
		}
		return true, nil
	case "setWebhook":
		s.webhook = p["url"]
		return true, nil
	case "setChatMenuButton":
		// Bot API: menu_button is a MenuButton object; a web_app one
		// needs text and web_app.url, and the URL must be HTTPS.
		var mb struct {
			Type   string `json:"type"`
			Text   string `json:"text"`
			WebApp struct {
				URL string `json:"url"`
			} `json:"web_app"`
		}
		if err := json.Unmarshal([]byte(p["menu_button"]), &mb); err != nil {
			return nil, &apiError{code: 400, desc: "Bad Request: can't parse menu button JSON object"}
		}
		if mb.Type == "web_app" && (mb.Text == "" || !strings.HasPrefix(mb.WebApp.URL, "https://")) {
			return nil, &apiError{code: 400, desc: "Bad Request: BUTTON_URL_INVALID"}
		}
		s.menuButton = mb.WebApp.URL
		return true, nil
	case "deleteWebhook":
		s.webhook = ""
		return true, nil
	case "answerCallbackQuery":
		id := p["callback_query_id"]
		answered, known := s.callbacks[id]
		if !known || answered {
			return nil, &apiError{code: 400, desc: "Bad Request: query is too old and response timeout expired or query ID is invalid"}
		}
		if len([]rune(p["text"])) > 200 {
			return nil, &apiError{code: 400, desc: "Bad Request: text is too long"}
		}
		s.callbacks[id] = true
		return true, nil
	case "sendMessage":
		text, ents, perr := formatted(p["text"], p["parse_mode"])
		if perr != nil {
			return nil, perr
		}
		if n := len(utf16.Encode([]rune(text))); n == 0 || n > 4096 {
			return nil, &apiError{code: 400, desc: "Bad Request: message text is empty or too long"}
		}
		if err := checkMarkup(p["reply_markup"]); err != nil {
			return nil, err
		}
		if e := s.floodLocked(chatID); e != nil {
			return nil, e
		}
		return s.storeLocked(&Sent{ChatID: chatID, Text: text, Entities: ents, Raw: p["text"], Markup: p["reply_markup"]}), nil
	case "sendDocument":
		caption, ents, perr := formatted(p["caption"], p["parse_mode"])
		if perr != nil {
			return nil, perr
		}
		if len(utf16.Encode([]rune(caption))) > 1024 {
			return nil, &apiError{code: 400, desc: "Bad Request: message caption is too long"}
		}
		if err := checkMarkup(p["reply_markup"]); err != nil {
			return nil, err
		}
		var f *file
		if data, ok := files["document"]; ok {
			f = s.addFileLocked(p["document#filename"], data)
		} else if existing, ok := s.files[p["document"]]; ok {
			f = existing
		} else {
			return nil, &apiError{code: 400, desc: "Bad Request: wrong file identifier/HTTP URL specified"}
		}
		if e := s.floodLocked(chatID); e != nil {
			return nil, e
		}
		return s.storeLocked(&Sent{ChatID: chatID, Text: caption, Entities: ents, Raw: p["caption"], Markup: p["reply_markup"], FileID: f.id, FileName: f.name}), nil
	case "editMessageText", "editMessageReplyMarkup":
		id, _ := strconv.ParseInt(p["message_id"], 10, 64)
		m, ok := s.messages[id]
		if !ok || m.ChatID != chatID {
			return nil, &apiError{code: 400, desc: "Bad Request: message to edit not found"}
		}
		if err := checkMarkup(p["reply_markup"]); err != nil {
			return nil, err
		}
		text, ents, raw := m.Text, m.Entities, m.Raw
		if method == "editMessageText" {
			var perr *apiError
			if text, ents, perr = formatted(p["text"], p["parse_mode"]); perr != nil {
				return nil, perr
			}
			raw = p["text"]
		}
		markup := normalizeMarkup(p["reply_markup"])
		if raw == m.Raw && markup == normalizeMarkup(m.Markup) {
			return nil, &apiError{code: 400, desc: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}
		}
		if e := s.floodLocked(chatID); e != nil {
			return nil, e
		}
		m.Text, m.Entities, m.Raw, m.Markup = text, ents, raw, p["reply_markup"]
		m.Edits++
		return messageJSON(m), nil
	case "getFile":
		f, ok := s.files[p["file_id"]]
		if !ok {
			return nil, &apiError{code: 400, desc: "Bad Request: invalid file_id"}
		}
		if len(f.data) > 20<<20 {
			return nil, &apiError{code: 400, desc: "Bad Request: file is too big"}
		}
		return map[string]any{"file_id": f.id, "file_unique_id": f.uniqueID, "file_size": len(f.data), "file_path": f.path}, nil
	}
	return nil, &apiError{code: 404, desc: "Not Found: method not found"}
}

func (s *Server) storeLocked(m *Sent) map[string]any {
	m.MessageID = s.nextMessage
	s.nextMessage++
	s.messages[m.MessageID] = m
	return messageJSON(m)
}

func messageJSON(m *Sent) map[string]any {
	out := map[string]any{"message_id": m.MessageID, "date": time.Now().Unix(),
		"from": map[string]any{"id": BotID, "is_bot": true, "first_name": "Viza"},
		"chat": map[string]any{"id": m.ChatID, "type": "private"}}
	if m.FileID != "" {
		out["document"] = map[string]any{"file_id": m.FileID, "file_unique_id": "u" + m.FileID, "file_name": m.FileName}
		if m.Text != "" {
			out["caption"] = m.Text
		}
	} else {
		out["text"] = m.Text
	}
	if len(m.Entities) > 0 {
		key := "entities"
		if m.FileID != "" {
			key = "caption_entities"
		}
		out[key] = m.Entities
	}
	if m.Markup != "" {
		var mk any
		if json.Unmarshal([]byte(m.Markup), &mk) == nil {
			out["reply_markup"] = mk
		}
	}
	return out
}

func normalizeMarkup(s string) string {
	var v any
	if s == "" || json.Unmarshal([]byte(s), &v) != nil {
		return ""
	}
	if m, ok := v.(map[string]any); ok {
		if kb, ok := m["inline_keyboard"].([]any); ok && len(kb) == 0 {
			return ""
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// checkMarkup enforces what Telegram enforces on inline keyboards:
// callback_data of 1–64 bytes and exactly one action per button (the
// library's always-present empty copy_text does not count).
func checkMarkup(raw string) *apiError {
	if raw == "" {
		return nil
	}
	var mk struct {
		InlineKeyboard [][]map[string]any `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &mk); err != nil {
		return &apiError{code: 400, desc: "Bad Request: can't parse reply keyboard markup JSON object"}
	}
	for _, row := range mk.InlineKeyboard {
		for _, b := range row {
			actions := 0
			for k, v := range b {
				switch k {
				case "text", "icon_custom_emoji_id", "style":
				case "copy_text":
					if m, ok := v.(map[string]any); ok && m["text"] != "" && m["text"] != nil {
						actions++
					}
				default:
					actions++
				}
			}
			if data, ok := b["callback_data"].(string); ok && (len(data) == 0 || len(data) > 64) {
				return &apiError{code: 400, desc: "Bad Request: BUTTON_DATA_INVALID"}
			}
			// A web_app button opens a Mini App: an HTTPS address only.
			if wa, ok := b["web_app"].(map[string]any); ok {
				if u, _ := wa["url"].(string); !strings.HasPrefix(u, "https://") {
					return &apiError{code: 400, desc: "Bad Request: BUTTON_URL_INVALID"}
				}
			}
			if actions != 1 {
				return &apiError{code: 400, desc: "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"}
			}
		}
	}
	return nil
}

// WaitMessage waits until the bot has a message in chat whose text
// contains substr and that matches no earlier call, and returns it.
func (s *Server) WaitMessage(chat int64, substr string, timeout time.Duration) (Sent, error) {
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Chat(chat)
		for i := len(msgs) - 1; i >= 0; i-- {
			if strings.Contains(msgs[i].Text, substr) {
				return msgs[i], nil
			}
		}
		if time.Now().After(deadline) {
			var texts []string
			for _, m := range msgs {
				texts = append(texts, fmt.Sprintf("#%d %q", m.MessageID, m.Text))
			}
			return Sent{}, fmt.Errorf("no message with %q in chat %d after %s; chat has:\n%s", substr, chat, timeout, strings.Join(texts, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Until polls cond until it holds or timeout passes.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// WebApps lists the Mini App addresses of a message's inline keyboard.
func (m Sent) WebApps() []string {
	var mk struct {
		InlineKeyboard [][]struct {
			WebApp *struct {
				URL string `json:"url"`
			} `json:"web_app"`
		} `json:"inline_keyboard"`
	}
	json.Unmarshal([]byte(m.Markup), &mk)
	var out []string
	for _, row := range mk.InlineKeyboard {
		for _, b := range row {
			if b.WebApp != nil {
				out = append(out, b.WebApp.URL)
			}
		}
	}
	return out
}

// Buttons lists the callback_data of a message's inline keyboard.
func (m Sent) Buttons() []string {
	var mk struct {
		InlineKeyboard [][]struct {
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	json.Unmarshal([]byte(m.Markup), &mk)
	var out []string
	for _, row := range mk.InlineKeyboard {
		for _, b := range row {
			out = append(out, b.CallbackData)
		}
	}
	return out
}

// Button returns the first callback_data that starts with prefix.
func (m Sent) Button(prefix string) string {
	for _, b := range m.Buttons() {
		if strings.HasPrefix(b, prefix) {
			return b
		}
	}
	return ""
}

// MenuButton is the URL the bot's menu button opens as a Mini App.
func (s *Server) MenuButton() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.menuButton
}
