// Package b24fake is a fake Bitrix24 portal for tests: the REST methods
// Viza calls, over an inbound webhook (/rest/<user>/<secret>/<method>) or
// an OAuth application (/rest/<method> with auth, tokens that expire and
// an OAuth server that refreshes them), with the {"result": …, "time": …}
// envelope and {"error", "error_description"} failures; the portal's leaky
// bucket enforced with real 503 QUERY_LIMIT_EXCEEDED; Chatbots 2.0 fetch
// with offsets; and classic events posted form-encoded with PHP's bracket
// keys, exactly as the portal's queue server does. Fixtures follow the
// documented ONIMBOTMESSAGEADD, ONIMCOMMANDADD and ONIMBOTV2MESSAGEADD
// payloads (bitrix24/b24restdocs).
package b24fake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// User is a portal user.
type User struct {
	ID       int64
	Name     string
	LastName string
	Email    string
	Phone    string
	Language string // ru | en
}

// Button is a keyboard button as the bot sent it.
type Button struct {
	Text, Command, Params, Color string
}

// File is a file on the portal's disk.
type File struct {
	ID   int64
	Name string
	Data []byte
	Size int64 // what the portal reports, when not the data's
}

// Message is a message in a dialog.
type Message struct {
	ID      int64
	Dialog  string // the user's id for a private dialog with the bot
	FromBot bool
	Text    string // as sent: BB-code
	Attach  string // the ATTACH blocks' text
	Buttons []Button
	System  bool
	File    *File
	Edits   int
}

// Call is one REST call the fake received.
type Call struct {
	Method string
	Params map[string]any
	Status int
	At     time.Time
}

type event struct {
	ID   int64
	Type string
	Data map[string]any
}

// Server is the fake portal.
type Server struct {
	URL              string // the portal, http://127.0.0.1:port
	Webhook          string // an inbound webhook: URL/rest/1/<secret>/
	RESTURL          string // the OAuth application's endpoint: URL/rest/
	OAuthURL         string // the OAuth server's token endpoint
	ClientID         string
	ClientSecret     string
	ApplicationToken string
	// V2 is whether the portal has Chatbots 2.0 (imbot.v2.*).
	V2 bool
	// Minimal makes events carry the documented minimum and no more: a
	// message's files only as params.FILE_ID (classic: FILE_ID[]), and in
	// Chatbots 2.0 every scalar a string, as webhook mode sends them. The
	// name and size are then the bot's to ask disk.file.get for.
	Minimal bool

	srv *httptest.Server

	mu         sync.Mutex
	secret     string
	users      map[int64]*User
	botID      int64
	botToken   string
	fetchBot   bool
	eventToken string // "" : ApplicationToken
	clientID   string
	handlers   map[string]string // v1 event → handler URL
	commands   map[string]int64
	cmdURLs    map[string]string
	msgs       []*Message
	nextID     int64
	events     []event
	eventSeq   int64
	offset     int64 // everything below is confirmed
	files      map[int64]*File
	downloads  map[string]int64
	access     map[string]time.Time // OAuth access token → expiry
	refresh    string
	refreshes  int
	tokenCalls []string         // the method of each call to the OAuth server
	admin      map[string]bool  // access token → its user administers the portal
	tokenUser  map[string]int64 // access token → the portal user it is for (a placement's AUTH_ID)
	placements []map[string]any // placement.bind's registrations, as placement.get lists them
	// installerAdmin: the user who installed the application (and whose
	// refreshed tokens these are) administers the portal.
	installerAdmin bool
	caller         string  // the access token of the call being answered
	level          float64 // the leaky bucket
	leakedAt       time.Time
	rate           float64
	burst          float64
	failNext       map[string][]int
	limited        int
	calls          []Call
	lists          map[string]map[string]any // element code → fields
	companies      []string
}

// New starts a fake portal with users; the bot's portal has Chatbots 2.0
// when v2.
func New(v2 bool, users ...User) *Server {
	s := &Server{V2: v2, secret: "whk" + random(8), users: map[int64]*User{}, handlers: map[string]string{}, commands: map[string]int64{},
		cmdURLs: map[string]string{}, nextID: 1000, files: map[int64]*File{}, downloads: map[string]int64{}, access: map[string]time.Time{}, admin: map[string]bool{}, tokenUser: map[string]int64{},
		rate: 2, burst: 50, failNext: map[string][]int{}, lists: map[string]map[string]any{}, ClientID: "local.66a1b2c3d4e5f6.12345678",
		ClientSecret: "cs" + random(12), ApplicationToken: "831c76b092f9f135d9b6b36c3a720757", leakedAt: time.Now()}
	for _, u := range users {
		s.users[u.ID] = &u
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	s.Webhook = s.URL + "/rest/1/" + s.secret + "/"
	s.RESTURL = s.URL + "/rest/"
	s.OAuthURL = s.URL + "/oauth/token/"
	return s
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// SetBucket sets the leaky bucket: drained rate a second, burst requests.
func (s *Server) SetBucket(rate, burst float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.burst, s.level = rate, burst, 0
}

// FailNext makes the next calls of method fail with these HTTP statuses
// (503 → QUERY_LIMIT_EXCEEDED, 429 → OPERATION_TIME_LIMIT, 401 →
// expired_token, other → INTERNAL_SERVER_ERROR).
func (s *Server) FailNext(method string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], statuses...)
}

// Limited counts the answers that were 503 or 429.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Calls lists the calls of a method ("" for all).
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

// Install hands an OAuth application its tokens, as the portal does when
// the application is installed; the access token lasts ttl.
func (s *Server) Install(ttl time.Duration) (access, refresh string) { return s.InstallAs(ttl, true) }

// InstallAs is Install by a portal user who is (or is not) one of its
// administrators: user.admin answers accordingly with the tokens.
func (s *Server) InstallAs(ttl time.Duration, admin bool) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access, s.refresh = "acc"+random(12), "ref"+random(12)
	s.access[access] = time.Now().Add(ttl)
	s.admin[access] = admin
	s.installerAdmin = admin
	return access, s.refresh
}

// UserToken is the AUTH_ID the portal posts to a placement's page when
// user opens it: an access token for that user, not an administrator's.
func (s *Server) UserToken(user int64, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := "usr" + random(12)
	s.access[token] = time.Now().Add(ttl)
	s.tokenUser[token] = user
	return token
}

// Placements lists placement.bind's registrations: placement and handler.
func (s *Server) Placements() [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]string
	for _, p := range s.placements {
		out = append(out, [2]string{str(p["placement"]), str(p["handler"])})
	}
	return out
}

// MemberID is the portal's member_id, as it posts it.
const MemberID = "bac1cd5c8940947a75e0d71b1a84e348"

// ExpireTokens makes every access token invalid now, as an hour passing
// does.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.access {
		s.access[k] = time.Now().Add(-time.Second)
	}
}

// TokenCalls lists the HTTP method of every call to the OAuth server.
func (s *Server) TokenCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokenCalls...)
}

// Refreshes counts the tokens refreshed.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Dialog lists a user's private dialog with the bot.
func (s *Server) Dialog(user int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	d := strconv.FormatInt(user, 10)
	for _, m := range s.msgs {
		if m.Dialog == d {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns a message by id.
func (s *Server) Message(id int64) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.ID == id {
			return *m, true
		}
	}
	return Message{}, false
}

// Downloads counts the files downloaded.
func (s *Server) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Method == "download" {
			n++
		}
	}
	return n
}

// Pending counts fetch events not yet confirmed.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.ID >= s.offset {
			n++
		}
	}
	return n
}

// Registered reports the bot's id and the commands registered.
func (s *Server) Registered() (int64, map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := map[string]int64{}
	for k, v := range s.commands {
		cmds[k] = v
	}
	return s.botID, cmds
}

// ListElements returns the universal list's elements by code.
func (s *Server) ListElements() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{}
	for k, v := range s.lists {
		out[k] = v
	}
	return out
}

// AddCompany adds a CRM company.
func (s *Server) AddCompany(title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies = append(s.companies, title)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/download/"):
		s.serveDownload(w, r)
	case path == "/oauth/token/":
		s.serveToken(w, r)
	case strings.HasPrefix(path, "/rest/"):
		s.serveREST(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errorBody(code, desc string) map[string]any {
	return map[string]any{"error": code, "error_description": desc}
}

func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/rest/")
	body, _ := io.ReadAll(r.Body)
	params := map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if len(body) > 0 && json.Unmarshal(body, &params) != nil {
			writeJSON(w, 400, errorBody("INVALID_REQUEST", "malformed JSON"))
			return
		}
	} else {
		q, _ := url.ParseQuery(string(body))
		for k := range q {
			params[k] = q.Get(k)
		}
	}
	var method string
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Params: params, At: time.Now(), Status: 200}
	defer func() { s.calls = append(s.calls, call) }()
	if parts := strings.Split(rest, "/"); len(parts) == 3 {
		method = parts[2]
		if parts[0] != "1" || parts[1] != s.secret {
			call.Method, call.Status = method, 401
			writeJSON(w, 401, errorBody("INVALID_CREDENTIALS", "Invalid request credentials"))
			return
		}
		s.caller = ""
	} else {
		method = rest
		token, _ := params["auth"].(string)
		exp, ok := s.access[token]
		switch {
		case !ok:
			call.Method, call.Status = method, 401
			writeJSON(w, 401, errorBody("invalid_token", "Unable to get application by token"))
			return
		case time.Now().After(exp):
			call.Method, call.Status = method, 401
			writeJSON(w, 401, errorBody("expired_token", "The access token provided has expired."))
			return
		}
		delete(params, "auth")
		s.caller = token
	}
	method = strings.TrimSuffix(method, ".json")
	call.Method = method
	// The leaky bucket.
	now := time.Now()
	s.level = max(0, s.level-s.rate*now.Sub(s.leakedAt).Seconds())
	s.leakedAt = now
	if s.level+1 > s.burst {
		s.limited++
		call.Status = 503
		writeJSON(w, 503, errorBody("QUERY_LIMIT_EXCEEDED", "Too many requests"))
		return
	}
	s.level++
	if f := s.failNext[method]; len(f) > 0 {
		status := f[0]
		s.failNext[method] = f[1:]
		call.Status = status
		switch status {
		case 503:
			s.limited++
			writeJSON(w, 503, errorBody("QUERY_LIMIT_EXCEEDED", "Too many requests"))
		case 429:
			s.limited++
			writeJSON(w, 429, errorBody("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."))
		case 401:
			writeJSON(w, 401, errorBody("expired_token", "The access token provided has expired."))
		default:
			writeJSON(w, status, errorBody("INTERNAL_SERVER_ERROR", "Internal server error"))
		}
		return
	}
	result, code, desc := s.handleLocked(method, params)
	if code != "" {
		call.Status = 400
		writeJSON(w, 400, errorBody(code, desc))
		return
	}
	writeJSON(w, 200, map[string]any{"result": result, "time": map[string]any{"start": float64(now.UnixMilli()) / 1000,
		"finish": float64(time.Now().UnixMilli()) / 1000, "duration": 0.01, "processing": 0.005,
		"date_start": now.Format(time.RFC3339), "date_finish": time.Now().Format(time.RFC3339), "operating_reset_at": now.Unix() + 600, "operating": 0}})
}

// serveToken is the OAuth server's renewal as settings/oauth/auto-renewal.md
// documents it: a GET with the parameters in the query string, answered
// with a new pair; the refresh token it was given works only once.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls = append(s.tokenCalls, r.Method)
	if r.Method != http.MethodGet {
		// The documentation names no other method; the fake takes none.
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("invalid_request", "GET expected"))
		return
	}
	q := r.URL.Query()
	if q.Get("grant_type") != "refresh_token" || q.Get("client_id") != s.ClientID || q.Get("client_secret") != s.ClientSecret ||
		q.Get("refresh_token") == "" || q.Get("refresh_token") != s.refresh {
		writeJSON(w, 400, errorBody("invalid_grant", "Invalid refresh token"))
		return
	}
	access := "acc" + random(12)
	s.refresh = "ref" + random(12)
	s.access[access] = time.Now().Add(time.Hour)
	s.admin[access] = s.installerAdmin // the same user's tokens
	s.refreshes++
	writeJSON(w, 200, map[string]any{"access_token": access, "refresh_token": s.refresh, "expires_in": 3600, "expires": time.Now().Add(time.Hour).Unix(),
		"client_endpoint": s.RESTURL, "server_endpoint": s.URL + "/oauth/rest/", "member_id": MemberID,
		"scope": "imbot,im,disk,user,lists,crm", "domain": strings.TrimPrefix(s.URL, "http://"), "status": "L"})
}

func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	id, ok := s.downloads[strings.TrimPrefix(r.URL.Path, "/download/")]
	f := s.files[id]
	s.calls = append(s.calls, Call{Method: "download", At: time.Now(), Status: 200})
	s.mu.Unlock()
	if !ok || f == nil {
		// What a portal shows a browser without a session.
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><body>Authorization</body></html>")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(f.Data)
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "Y"
		}
		return "N"
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func num(v any) int64 {
	n, _ := strconv.ParseInt(str(v), 10, 64)
	return n
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

// botCall checks a bot method's credentials: v2 over a webhook takes the
// botToken given at registration, v1 over a webhook the CLIENT_ID.
func (s *Server) botCallLocked(p map[string]any, v2 bool) (string, string) {
	if v2 {
		if num(p["botId"]) != s.botID || s.botID == 0 {
			return "BOT_NOT_FOUND", "Bot not found"
		}
		if s.botToken != "" && str(p["botToken"]) != s.botToken {
			return "BOT_OWNERSHIP_ERROR", "Bot is registered by another application"
		}
		return "", ""
	}
	if num(p["BOT_ID"]) != s.botID || s.botID == 0 {
		return "BOT_ID_ERROR", "Bot not found"
	}
	if s.clientID != "" && str(p["CLIENT_ID"]) != s.clientID {
		return "ACCESS_DENIED", "Access denied: CLIENT_ID"
	}
	return "", ""
}

func (s *Server) handleLocked(method string, p map[string]any) (any, string, string) {
	if strings.HasPrefix(method, "imbot.v2.") && !s.V2 {
		return nil, "ERROR_METHOD_NOT_FOUND", "Method not found!"
	}
	switch method {
	case "imbot.v2.Revision.get":
		return map[string]any{"revision": 1}, "", ""
	case "imbot.v2.Bot.register":
		f, _ := p["fields"].(map[string]any)
		if str(f["code"]) == "" {
			return nil, "BOT_CODE_REQUIRED", "Bot code is required"
		}
		if t := str(f["botToken"]); len(t) > 40 {
			return nil, "BOT_TOKEN_INVALID_LENGTH", "botToken is longer than 40 characters"
		}
		if s.botID == 0 {
			s.botID, s.botToken = s.id(), str(f["botToken"])
		}
		s.fetchBot = str(f["eventMode"]) != "webhook"
		return map[string]any{"bot": map[string]any{"id": s.botID, "code": str(f["code"]), "type": "bot", "eventMode": str(f["eventMode"])}}, "", ""
	case "imbot.v2.Command.register":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		f, _ := p["fields"].(map[string]any)
		name := strings.TrimPrefix(str(f["command"]), "/")
		if _, ok := s.commands[name]; !ok {
			s.commands[name] = s.id()
		}
		return map[string]any{"command": map[string]any{"id": s.commands[name], "command": "/" + name}}, "", ""
	case "imbot.v2.Event.get":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		if o, ok := p["offset"]; ok {
			s.offset = max(s.offset, num(o))
		}
		limit := int(num(p["limit"]))
		if limit <= 0 {
			limit = 100
		}
		var out []map[string]any
		next := s.offset
		for _, e := range s.events {
			if e.ID < s.offset || len(out) == limit {
				continue
			}
			out = append(out, map[string]any{"eventId": e.ID, "type": e.Type, "date": time.Now().Format(time.RFC3339), "data": e.Data})
			next = e.ID + 1
		}
		more := false
		for _, e := range s.events {
			if e.ID >= next {
				more = true
			}
		}
		if next == 0 {
			next = s.eventSeq + 1
		}
		return map[string]any{"events": out, "nextOffset": next, "hasMore": more}, "", ""
	case "imbot.v2.Chat.Message.send":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		f, _ := p["fields"].(map[string]any)
		m, c, d := s.addLocked(str(p["dialogId"]), f["message"], f["keyboard"], f["attach"], f["system"] == true)
		if c != "" {
			return nil, c, d
		}
		return map[string]any{"id": m.ID, "uuidMap": map[string]any{}}, "", ""
	case "imbot.v2.Chat.Message.update":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		f, _ := p["fields"].(map[string]any)
		if c, d := s.updateLocked(num(p["messageId"]), f["message"], f["keyboard"], f["attach"]); c != "" {
			return nil, c, d
		}
		return map[string]any{"result": true}, "", ""
	case "imbot.v2.File.upload":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		f, _ := p["fields"].(map[string]any)
		data, err := base64.StdEncoding.DecodeString(str(f["content"]))
		if err != nil || str(f["name"]) == "" || len(data) == 0 {
			return nil, "FILE_INVALID_CONTENT", "Invalid base64 content"
		}
		file := &File{ID: s.id(), Name: str(f["name"]), Data: data}
		s.files[file.ID] = file
		m, c, d := s.addLocked(str(p["dialogId"]), f["message"], nil, nil, false)
		if c != "" {
			return nil, c, d
		}
		m.File = file
		return map[string]any{"file": map[string]any{"id": file.ID, "name": file.Name, "size": len(data)}, "messageId": m.ID,
			"dialogId": m.Dialog}, "", ""
	case "imbot.v2.File.download":
		if c, d := s.botCallLocked(p, true); c != "" {
			return nil, c, d
		}
		return s.downloadLinkLocked(num(p["fileId"]), "downloadUrl")
	case "imbot.bot.list":
		out := map[string]any{}
		if s.botID != 0 && str(p["CLIENT_ID"]) == s.clientID {
			out[strconv.FormatInt(s.botID, 10)] = map[string]any{"ID": strconv.FormatInt(s.botID, 10), "CODE": "viza", "TYPE": "B"}
		}
		return out, "", ""
	case "imbot.register":
		if str(p["CODE"]) == "" || str(p["EVENT_MESSAGE_ADD"]) == "" || str(p["EVENT_WELCOME_MESSAGE"]) == "" || str(p["EVENT_BOT_DELETE"]) == "" {
			return nil, "EVENT_MESSAGE_ADD_ERROR", "Handler for event is not specified"
		}
		if s.botID != 0 {
			return nil, "CODE_ERROR", "Bot with this code already exists"
		}
		s.botID, s.clientID = s.id(), str(p["CLIENT_ID"])
		s.handlers["ONIMBOTMESSAGEADD"], s.handlers["ONIMBOTJOINCHAT"] = str(p["EVENT_MESSAGE_ADD"]), str(p["EVENT_WELCOME_MESSAGE"])
		return s.botID, "", ""
	case "imbot.update":
		if c, d := s.botCallLocked(p, false); c != "" {
			return nil, c, d
		}
		f, _ := p["FIELDS"].(map[string]any)
		if u := str(f["EVENT_MESSAGE_ADD"]); u != "" {
			s.handlers["ONIMBOTMESSAGEADD"] = u
		}
		if u := str(f["EVENT_WELCOME_MESSAGE"]); u != "" {
			s.handlers["ONIMBOTJOINCHAT"] = u
		}
		return true, "", ""
	case "imbot.command.register":
		if c, d := s.botCallLocked(p, false); c != "" {
			return nil, c, d
		}
		name := str(p["COMMAND"])
		if name == "" || str(p["EVENT_COMMAND_ADD"]) == "" {
			return nil, "COMMAND_ERROR", "Command or handler is not specified"
		}
		if _, ok := s.commands[name]; ok {
			return nil, "COMMAND_ERROR", "Command already registered"
		}
		s.commands[name] = s.id()
		s.cmdURLs[name] = str(p["EVENT_COMMAND_ADD"])
		return s.commands[name], "", ""
	case "imbot.message.add":
		if c, d := s.botCallLocked(p, false); c != "" {
			return nil, c, d
		}
		kb := p["KEYBOARD"]
		if m, ok := kb.(map[string]any); ok {
			kb = m["BUTTONS"]
		}
		m, c, d := s.addLocked(str(p["DIALOG_ID"]), p["MESSAGE"], kb, p["ATTACH"], str(p["SYSTEM"]) == "Y")
		if c != "" {
			return nil, c, d
		}
		return m.ID, "", ""
	case "imbot.message.update":
		if c, d := s.botCallLocked(p, false); c != "" {
			return nil, c, d
		}
		kb := p["KEYBOARD"]
		if m, ok := kb.(map[string]any); ok {
			kb = m["BUTTONS"]
		}
		if c, d := s.updateLocked(num(p["MESSAGE_ID"]), p["MESSAGE"], kb, p["ATTACH"]); c != "" {
			return nil, c, d
		}
		return true, "", ""
	case "im.dialog.get":
		d := str(p["DIALOG_ID"])
		if _, ok := s.users[num(d)]; !ok {
			return nil, "DIALOG_ID_EMPTY", "Dialog not found"
		}
		return map[string]any{"id": chatOf(d), "dialog_id": d, "type": "private"}, "", ""
	case "im.disk.folder.get":
		return map[string]any{"ID": 500000 + num(p["CHAT_ID"])}, "", ""
	case "disk.folder.uploadfile":
		fc, _ := p["fileContent"].([]any)
		if len(fc) != 2 {
			return nil, "ERROR_ARGUMENT", "fileContent: [name, base64]"
		}
		data, err := base64.StdEncoding.DecodeString(str(fc[1]))
		if err != nil {
			return nil, "ERROR_ARGUMENT", "fileContent is not base64"
		}
		file := &File{ID: s.id(), Name: str(fc[0]), Data: data}
		s.files[file.ID] = file
		return map[string]any{"ID": file.ID, "NAME": file.Name, "SIZE": len(data)}, "", ""
	case "im.disk.file.commit":
		chat := num(p["CHAT_ID"])
		ids, _ := p["FILE_ID"].([]any)
		if len(ids) == 0 || s.files[num(ids[0])] == nil {
			return nil, "FILES_ERROR", "Files not found"
		}
		m, c, d := s.addLocked(strconv.FormatInt(chat-100000, 10), p["MESSAGE"], nil, nil, false)
		if c != "" {
			return nil, c, d
		}
		// Committed as the token's user, not as the bot.
		m.File = s.files[num(ids[0])]
		return true, "", ""
	case "disk.file.get":
		return s.downloadLinkLocked(num(p["id"]), "DOWNLOAD_URL")
	case "user.admin":
		// api-reference/common/users/user-admin.md: whether the user the
		// token is for administers the portal; an inbound webhook's user
		// (1) does.
		if s.caller == "" {
			return true, "", ""
		}
		return s.admin[s.caller], "", ""
	case "user.current":
		// api-reference/user/user-current.md: the user the token is for.
		// An inbound webhook acts as its creator (1).
		id := int64(1)
		if s.caller != "" {
			if u, ok := s.tokenUser[s.caller]; ok {
				id = u
			}
		}
		u, ok := s.users[id]
		if !ok {
			return map[string]any{"ID": strconv.FormatInt(id, 10)}, "", ""
		}
		return map[string]any{"ID": strconv.FormatInt(u.ID, 10), "NAME": u.Name, "LAST_NAME": u.LastName, "EMAIL": u.Email}, "", ""
	case "placement.get":
		// api-reference/widgets/placement-get.md: the application's
		// registrations; only in an application's context.
		if s.caller == "" {
			return nil, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method. Application context required"
		}
		out := []map[string]any{}
		return append(out, s.placements...), "", ""
	case "placement.bind":
		// api-reference/widgets/placement-bind.md: PLACEMENT and HANDLER
		// required; an administrator's application context.
		if s.caller == "" {
			return nil, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method. Application context required"
		}
		if str(p["PLACEMENT"]) == "" || str(p["HANDLER"]) == "" {
			return nil, "ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty"
		}
		s.placements = append(s.placements, map[string]any{"placement": str(p["PLACEMENT"]), "userId": 0, "handler": str(p["HANDLER"]),
			"options": []any{}, "title": str(p["TITLE"]), "description": "", "langAll": p["LANG_ALL"]})
		return true, "", ""
	case "crm.company.get":
		id := num(p["id"])
		if id < 1 || int(id) > len(s.companies) {
			return nil, "NOT_FOUND", "Not found"
		}
		return map[string]any{"ID": strconv.FormatInt(id, 10), "TITLE": s.companies[id-1]}, "", ""
	case "server.time":
		// api-reference/common/system/server-time.md: ISO 8601 in the
		// server's zone.
		return time.Now().Format("2006-01-02T15:04:05-07:00"), "", ""
	case "app.info":
		return map[string]any{"ID": 7, "CODE": s.ClientID, "CLIENT_ID": s.ClientID, "VERSION": 1, "STATUS": "L", "INSTALLED": true}, "", ""
	case "user.get":
		return s.usersLocked(), "", ""
	case "lists.element.add", "lists.element.update":
		code := str(p["ELEMENT_CODE"])
		_, exists := s.lists[code]
		if method == "lists.element.add" && exists {
			return nil, "ERROR_ELEMENT_ALREADY_EXISTS", "Element with this code already exists"
		}
		if method == "lists.element.update" && !exists {
			return nil, "ERROR_ELEMENT_NOT_FOUND", "Element not found"
		}
		f, _ := p["FIELDS"].(map[string]any)
		s.lists[code] = f
		return s.id(), "", ""
	case "crm.company.list":
		filter, _ := p["filter"].(map[string]any)
		q := strings.ToLower(strings.Trim(str(filter["%TITLE"]), "%"))
		var out []map[string]any
		for i, c := range s.companies {
			if strings.Contains(strings.ToLower(c), q) {
				out = append(out, map[string]any{"ID": strconv.Itoa(i + 1), "TITLE": c})
			}
		}
		return out, "", ""
	case "batch":
		cmd, _ := p["cmd"].(map[string]any)
		results, errs := map[string]any{}, map[string]any{}
		keys := make([]string, 0, len(cmd))
		for k := range cmd {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m, query, _ := strings.Cut(str(cmd[k]), "?")
			q, _ := url.ParseQuery(query)
			sub := unflatten(q)
			r, c, d := s.handleLocked(m, sub)
			if c != "" {
				errs[k] = errorBody(c, d)
				continue
			}
			results[k] = r
		}
		var errOut any = errs
		if len(errs) == 0 {
			errOut = []any{} // PHP's empty array
		}
		return map[string]any{"result": results, "result_error": errOut}, "", ""
	}
	return nil, "ERROR_METHOD_NOT_FOUND", "Method not found!"
}

func chatOf(dialog string) int64 { return 100000 + num(dialog) }

func (s *Server) usersLocked() []map[string]any {
	ids := make([]int64, 0, len(s.users))
	for id := range s.users {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []map[string]any
	for _, id := range ids {
		u := s.users[id]
		out = append(out, map[string]any{"ID": strconv.FormatInt(u.ID, 10), "ACTIVE": true, "NAME": u.Name, "LAST_NAME": u.LastName,
			"EMAIL": u.Email, "PERSONAL_MOBILE": u.Phone, "WORK_PHONE": ""})
	}
	return out
}

func (s *Server) downloadLinkLocked(id int64, field string) (any, string, string) {
	if s.files[id] == nil {
		return nil, "ERROR_NOT_FOUND", "File not found"
	}
	token := random(10)
	s.downloads[token] = id
	link := s.URL + "/download/" + token + "?auth=" + random(8)
	if field == "DOWNLOAD_URL" {
		// disk.file.get (api-reference/disk/file/disk-file-get.md): the
		// file's fields, numbers as strings.
		size := int64(len(s.files[id].Data))
		if s.files[id].Size > 0 {
			size = s.files[id].Size
		}
		return map[string]any{"ID": strconv.FormatInt(id, 10), "NAME": s.files[id].Name, "SIZE": strconv.FormatInt(size, 10),
			"TYPE": "file", "DOWNLOAD_URL": link}, "", ""
	}
	return map[string]any{field: link}, "", ""
}

// stringify turns every number and boolean in v into a string.
func stringify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = stringify(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stringify(e)
		}
		return out
	case string, nil:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// unflatten reads PHP bracket keys (a batch command's query) into maps;
// a level whose keys are 0, 1, 2 … is a list, as PHP reads it.
func unflatten(q url.Values) map[string]any {
	return listify(unflattenMaps(q)).(map[string]any)
}

func listify(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, x := range m {
		m[k] = listify(x)
	}
	list := make([]any, len(m))
	for i := range list {
		x, ok := m[strconv.Itoa(i)]
		if !ok {
			return m
		}
		list[i] = x
	}
	if len(list) == 0 {
		return m
	}
	return list
}

func unflattenMaps(q url.Values) map[string]any {
	out := map[string]any{}
	for k, v := range q {
		parts := strings.Split(strings.ReplaceAll(k, "]", ""), "[")
		m := out
		for i, p := range parts {
			if i == len(parts)-1 {
				m[p] = v[0]
				break
			}
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
	}
	return out
}

func (s *Server) addLocked(dialog string, text, kb, att any, system bool) (*Message, string, string) {
	if _, ok := s.users[num(dialog)]; !ok {
		return nil, "DIALOG_ID_EMPTY", "Dialog not found"
	}
	if str(text) == "" && kb == nil && att == nil {
		return nil, "EMPTY_MESSAGE", "Message is empty"
	}
	if len([]rune(str(text))) > 20000 {
		return nil, "MESSAGE_TOO_LONG", "Message is longer than 20000 characters"
	}
	m := &Message{ID: s.id(), Dialog: dialog, FromBot: true, Text: str(text), System: system}
	m.Buttons, m.Attach = buttons(kb), attachText(att)
	s.msgs = append(s.msgs, m)
	return m, "", ""
}

func (s *Server) updateLocked(id int64, text, kb, att any) (string, string) {
	for _, m := range s.msgs {
		if m.ID == id && m.FromBot {
			if text != nil {
				m.Text = str(text)
			}
			if kb != nil {
				m.Buttons = buttons(kb)
			}
			if att != nil {
				m.Attach = attachText(att)
			}
			m.Edits++
			return "", ""
		}
	}
	return "ACCESS_DENIED", "Message does not belong to the bot or does not exist"
}

func buttons(kb any) []Button {
	list, ok := kb.([]any)
	if !ok {
		return nil // "N": the keyboard removed
	}
	var out []Button
	for _, x := range list {
		b, _ := x.(map[string]any)
		if str(b["TYPE"]) == "NEWLINE" {
			continue
		}
		out = append(out, Button{Text: str(b["TEXT"]), Command: str(b["COMMAND"]), Params: str(b["COMMAND_PARAMS"]), Color: str(b["BG_COLOR_TOKEN"])})
	}
	return out
}

func attachText(att any) string {
	list, ok := att.([]any)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, x := range list {
		a, _ := x.(map[string]any)
		blocks, _ := a["BLOCKS"].([]any)
		for _, bl := range blocks {
			m, _ := bl.(map[string]any)
			b.WriteString(str(m["MESSAGE"]))
		}
	}
	return b.String()
}

// flatten writes nested values with PHP's http_build_query keys.
func flatten(prefix string, v any, out url.Values) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			flatten(key, val, out)
		}
	case []any:
		for i, val := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), val, out)
		}
	default:
		out.Set(prefix, str(x))
	}
}

// post delivers a v1 event to the app as the portal's queue server does.
func (s *Server) post(target string, v map[string]any) int {
	form := url.Values{}
	flatten("", v, form)
	resp, err := http.Post(target, "application/x-www-form-urlencoded", bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Posted is what became of one thing a user did: the HTTP status the app
// answered a classic event with (0 in fetch mode), and the event's body.
type Posted struct {
	Status int
	Event  map[string]any
	URL    string
}

func (s *Server) userJSON(u *User) map[string]any {
	return map[string]any{"id": u.ID, "active": true, "name": u.Name + " " + u.LastName, "firstName": u.Name, "lastName": u.LastName,
		"email": u.Email, "bot": false, "type": "employee"}
}

// emit hands an event to the bot: queued for imbot.v2.Event.get, or
// posted form-encoded to the handler registered for it.
func (s *Server) emit(u *User, v1 string, v1data map[string]any, v2 string, v2data map[string]any, handler string) Posted {
	s.mu.Lock()
	if s.fetchBot {
		s.eventSeq++
		v2data["bot"] = map[string]any{"id": s.botID, "code": "viza", "type": "bot", "eventMode": "fetch"}
		v2data["user"] = s.userJSON(u)
		v2data["language"] = u.Language
		if s.Minimal {
			// What events.md promises and no more: every scalar a string,
			// as the portal sends them in webhook mode.
			v2data = stringify(v2data).(map[string]any)
		}
		s.events = append(s.events, event{ID: s.eventSeq, Type: v2, Data: v2data})
		s.mu.Unlock()
		return Posted{}
	}
	target := s.handlers[handler]
	if strings.HasPrefix(handler, "cmd:") {
		target = s.cmdURLs[strings.TrimPrefix(handler, "cmd:")]
	}
	bot := strconv.FormatInt(s.botID, 10)
	token := s.ApplicationToken
	if s.eventToken != "" {
		token = s.eventToken
	}
	v1data["BOT"] = map[string]any{bot: map[string]any{"BOT_ID": bot, "BOT_CODE": "viza", "access_token": "acc" + random(6), "expires_in": "3600",
		"application_token": token, "client_endpoint": s.RESTURL}}
	v1data["USER"] = map[string]any{"ID": strconv.FormatInt(u.ID, 10), "NAME": u.Name + " " + u.LastName, "FIRST_NAME": u.Name,
		"LAST_NAME": u.LastName, "IS_BOT": "N", "IS_EXTRANET": "N"}
	ev := map[string]any{"event": v1, "event_handler_id": "403", "data": v1data, "ts": strconv.FormatInt(time.Now().UnixNano(), 10),
		"auth": map[string]any{"access_token": "acc" + random(6), "expires": "1771932585", "expires_in": "3600", "scope": "imbot",
			"domain": strings.TrimPrefix(s.URL, "http://"), "server_endpoint": "https://oauth.bitrix.info/rest/", "status": "L",
			"client_endpoint": s.RESTURL, "member_id": MemberID, "user_id": strconv.FormatInt(u.ID, 10),
			"application_token": token}}
	s.mu.Unlock()
	return Posted{Status: s.post(target, ev), Event: ev, URL: target}
}

// PostInstall posts ONAPPINSTALL with the given tokens to target, as the
// portal does when the local application is installed.
func (s *Server) PostInstall(target, access, refresh, appToken string) int {
	return s.post(target, map[string]any{"event": "ONAPPINSTALL", "data": map[string]any{"VERSION": "1", "LANGUAGE_ID": "ru"},
		"ts": strconv.FormatInt(time.Now().Unix(), 10), "auth": map[string]any{"access_token": access, "refresh_token": refresh,
			"expires_in": "3600", "scope": "imbot,im,disk,user,lists,crm", "domain": strings.TrimPrefix(s.URL, "http://"),
			"member_id": MemberID, "application_token": appToken, "client_endpoint": s.RESTURL}})
}

// Repost sends a classic event again exactly as before.
func (s *Server) Repost(p Posted) int { return s.post(p.URL, p.Event) }

// SetEventToken makes the portal sign the events it posts from now on
// with another application_token (a forger's).
func (s *Server) SetEventToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventToken = token
}

// PostForged sends a classic event with another application token.
func (s *Server) PostForged(p Posted, token string) int {
	ev := map[string]any{}
	for k, v := range p.Event {
		ev[k] = v
	}
	auth := map[string]any{}
	for k, v := range p.Event["auth"].(map[string]any) {
		auth[k] = v
	}
	auth["application_token"] = token
	ev["auth"] = auth
	return s.post(p.URL, ev)
}

func (s *Server) userMessage(u *User, text string, file *File) (map[string]any, map[string]any) {
	s.mu.Lock()
	id := s.id()
	dialog := strconv.FormatInt(u.ID, 10)
	m := &Message{ID: id, Dialog: dialog, Text: text, File: file}
	s.msgs = append(s.msgs, m)
	bot := s.botID
	s.mu.Unlock()
	params := map[string]any{"DIALOG_ID": dialog, "MESSAGE_ID": strconv.FormatInt(id, 10), "MESSAGE": text, "MESSAGE_TYPE": "P",
		"FROM_USER_ID": dialog, "AUTHOR_ID": dialog, "TO_USER_ID": strconv.FormatInt(bot, 10), "CHAT_ID": strconv.FormatInt(chatOf(dialog), 10),
		"LANGUAGE": u.Language, "PLATFORM_CONTEXT": "web", "SYSTEM": "N"}
	msg := map[string]any{"id": id, "chatId": chatOf(dialog), "authorId": u.ID, "date": time.Now().Format(time.RFC3339), "text": text,
		"isSystem": false, "uuid": "", "forward": nil, "params": map[string]any{}, "viewedByOthers": false}
	v2 := map[string]any{"message": msg, "chat": map[string]any{"id": chatOf(dialog), "dialogId": dialog, "type": "private"}}
	if file != nil {
		ext := ""
		if i := strings.LastIndex(file.Name, "."); i >= 0 {
			ext = file.Name[i+1:]
		}
		fid := strconv.FormatInt(file.ID, 10)
		params["FILE_ID"] = []any{fid}
		msg["params"] = map[string]any{"FILE_ID": []any{file.ID}}
		if !s.Minimal {
			params["FILES"] = map[string]any{fid: map[string]any{"id": fid, "chatId": strconv.FormatInt(chatOf(dialog), 10), "name": file.Name,
				"extension": ext, "size": strconv.Itoa(len(file.Data)), "type": "file", "urlDownload": "/disk/downloadFile/" + fid + "/"}}
			v2["files"] = []any{map[string]any{"id": file.ID, "chatId": chatOf(dialog), "name": file.Name, "extension": ext, "size": len(file.Data), "type": "file"}}
		}
	}
	return params, v2
}

func (s *Server) user(id int64) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		u = &User{ID: id, Name: "Гость", Language: "ru"}
	}
	return u
}

// UserText is a user writing to the bot.
func (s *Server) UserText(user int64, text string) Posted {
	u := s.user(user)
	params, v2 := s.userMessage(u, text, nil)
	return s.emit(u, "ONIMBOTMESSAGEADD", map[string]any{"PARAMS": params}, "ONIMBOTV2MESSAGEADD", v2, "ONIMBOTMESSAGEADD")
}

// UserFile is a user sending a file (size: what the portal reports; 0:
// the data's).
func (s *Server) UserFile(user int64, name string, data []byte, caption string, size int64) Posted {
	u := s.user(user)
	s.mu.Lock()
	f := &File{ID: s.id(), Name: name, Data: data, Size: size}
	s.files[f.ID] = f
	s.mu.Unlock()
	params, v2 := s.userMessage(u, caption, f)
	if size > 0 && !s.Minimal {
		sz := strconv.FormatInt(size, 10)
		params["FILES"].(map[string]any)[strconv.FormatInt(f.ID, 10)].(map[string]any)["size"] = sz
		v2["files"].([]any)[0].(map[string]any)["size"] = size
	}
	return s.emit(u, "ONIMBOTMESSAGEADD", map[string]any{"PARAMS": params}, "ONIMBOTV2MESSAGEADD", v2, "ONIMBOTMESSAGEADD")
}

// UserCommand is a user typing a registered command.
func (s *Server) UserCommand(user int64, name, params string) Posted {
	return s.command(user, name, params, "TEXTAREA", 0)
}

// UserTap is a user pressing a keyboard button of a message.
func (s *Server) UserTap(user int64, msgID int64, b Button) Posted {
	return s.command(user, b.Command, b.Params, "KEYBOARD", msgID)
}

func (s *Server) command(user int64, name, args, context string, msgID int64) Posted {
	u := s.user(user)
	text := "/" + name
	if args != "" {
		text += " " + args
	}
	params, v2 := s.userMessage(u, text, nil)
	s.mu.Lock()
	cmdID := s.commands[name]
	bot := strconv.FormatInt(s.botID, 10)
	s.mu.Unlock()
	if msgID == 0 {
		msgID = num(params["MESSAGE_ID"])
	}
	cid := strconv.FormatInt(cmdID, 10)
	v1 := map[string]any{"PARAMS": params, "COMMAND": map[string]any{cid: map[string]any{"BOT_ID": bot, "BOT_CODE": "viza", "COMMAND": name,
		"COMMAND_ID": cid, "COMMAND_PARAMS": args, "COMMAND_CONTEXT": context, "MESSAGE_ID": strconv.FormatInt(msgID, 10),
		"access_token": "acc" + random(6), "application_token": s.ApplicationToken}}}
	v2["command"] = map[string]any{"id": cmdID, "command": "/" + name, "params": args, "context": strings.ToLower(context)}
	if context == "KEYBOARD" {
		v2["message"].(map[string]any)["id"] = msgID
	}
	return s.emit(u, "ONIMCOMMANDADD", v1, "ONIMBOTV2COMMANDADD", v2, "cmd:"+name)
}
