// Package slackfake is a local Slack for tests: the Web API methods Viza
// calls (form and JSON bodies, the {"ok":…} envelope, ok:false errors, 429
// with Retry-After under per-method, per-channel and workspace limits),
// the external file upload flow and url_private downloads on its own host,
// a Socket Mode WebSocket (hello, envelopes, acknowledgements, redelivery
// of what was not acknowledged, pings, disconnect), and, in HTTP mode,
// signed requests to the app's Request URLs with Events API retries.
//
// slack-go's own slacktest speaks RTM and lacks chat.update, views.* and
// files.*, so this one is written for the methods Viza uses.
package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Team and app the fake workspace has.
const (
	TeamID  = "T0ROMASHKA"
	AppID   = "A0VIZA"
	BotUser = "U0VIZABOT"
)

// User is a workspace member.
type User struct {
	ID     string
	Name   string
	Email  string
	Locale string
	// Team is the user's workspace; "" is the app's own (TeamID). A user
	// of another organisation reached through Slack Connect is a
	// Stranger; Unconfirmed has not confirmed the profile's e-mail.
	Team        string
	Stranger    bool
	Unconfirmed bool
}

// Message is a message in a channel as its readers see it.
type Message struct {
	Channel string
	TS      string
	User    string // the author: BotUser or a member
	Text    string // what the blocks (or the text) show, markup read
	Styled  []Run  // the styled runs of Text
	Buttons []Button
	Context string
	File    *File
	Thread  string
	Edits   int
	// Ephemeral messages are seen by one member only.
	Ephemeral string
	raw       map[string]any
}

// Button is a Block Kit button.
type Button struct {
	ActionID string
	BlockID  string
	Label    string
	Value    string
	Style    string
}

// Button returns the first button whose value starts with prefix.
func (m Message) Button(prefix string) (Button, bool) {
	for _, b := range m.Buttons {
		if strings.HasPrefix(b.Value, prefix) {
			return b, true
		}
	}
	return Button{}, false
}

// File is a file in the workspace.
type File struct {
	ID      string
	Name    string
	MIME    string
	Data    []byte
	Channel string
	Comment string
}

// View is a modal or a home tab the app opened or published.
type View struct {
	ID       string
	Type     string
	User     string
	Raw      map[string]any
	Metadata string
	Inputs   []string // block ids of input blocks
	Title    string
	Text     string // the view's texts, read
	Buttons  []Button
	Closed   bool
}

// Call is one Web API request.
type Call struct {
	Method string
	Params map[string]string
	Status int
	At     time.Time
}

// Limits are the rate limits the fake enforces, per minute unless said.
type Limits struct {
	PerMethod map[string]int // requests per minute per method
	// PerChannel is the gap between messages in one channel
	// (chat.postMessage, chat.update, chat.postEphemeral); 0: none.
	PerChannel time.Duration
	// Workspace is chat.postMessage per second across channels; 0: none.
	Workspace int
}

// Tiers are Slack's published tiers for the methods Viza calls, per
// minute (docs.slack.dev/apis/web-api/rate-limits).
var Tiers = map[string]int{
	"conversations.open": 50, "users.info": 100, "users.lookupByEmail": 50, "views.open": 100, "views.publish": 100,
	"files.getUploadURLExternal": 100, "files.completeUploadExternal": 100, "chat.update": 50, "chat.postEphemeral": 100,
	"auth.test": 100, "apps.connections.open": 100,
}

// Server is the fake Slack.
type Server struct {
	URL           string // the Web API base, ending in "/api/"
	BotToken      string
	AppToken      string
	SigningSecret string

	srv *httptest.Server

	mu        sync.Mutex
	users     map[string]*User
	dms       map[string]string // user → DM channel
	messages  []*Message
	views     map[string]*View
	homes     map[string]*View // user → published home
	files     map[string]*File
	triggers  map[string]time.Time
	calls     []Call
	next      int
	limits    Limits
	lastIn    map[string]time.Time // channel → last message
	recent    map[string][]time.Time
	posts     []time.Time
	limited   int
	failNext  map[string][]int // method → HTTP statuses to answer next
	envelopes []*envelope
	acks      map[string]json.RawMessage
	ackCount  map[string]int
	conns     map[*websocket.Conn]*sync.Mutex
	ackWait   time.Duration
	mode      string // "socket" or "http"
	appURL    string // HTTP mode: the app's base URL
	delivered map[string]int
	answers   map[string]*http.Response
}

type envelope struct {
	ID       string
	Type     string
	Payload  json.RawMessage
	Attempt  int
	SentAt   time.Time
	Accepts  bool
	Acked    bool
	Response json.RawMessage
}

// New starts a fake Slack with the given members.
func New(users ...User) *Server {
	s := &Server{BotToken: "xoxb-1-test-bot-token", AppToken: "xapp-1-test-app-token", SigningSecret: "8f742231b10e8888abcd99yyyzzz85a5",
		users: map[string]*User{}, dms: map[string]string{}, views: map[string]*View{}, homes: map[string]*View{}, files: map[string]*File{},
		triggers: map[string]time.Time{}, lastIn: map[string]time.Time{}, recent: map[string][]time.Time{}, failNext: map[string][]int{},
		acks: map[string]json.RawMessage{}, ackCount: map[string]int{}, conns: map[*websocket.Conn]*sync.Mutex{}, ackWait: 3 * time.Second, mode: "socket",
		delivered: map[string]int{}}
	for _, u := range users {
		s.users[u.ID] = &u
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/"
	go s.redeliver()
	return s
}

// Close stops the fake.
func (s *Server) Close() {
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mode = "closed"
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// RemoveUser takes a member out of the workspace: lookups and DMs to them
// fail as they do for a deactivated account.
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
}

// SetLimits turns rate limits on.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = l
}

// HTTPMode makes the fake deliver events, interactions and slash commands
// as signed POSTs to the app at base (…/slack/events, …/interactivity,
// …/commands) instead of over Socket Mode.
func (s *Server) HTTPMode(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.appURL = "http", strings.TrimRight(base, "/")
}

// FailNext makes the next calls of method answer with these HTTP statuses
// (429 comes with Retry-After: 1).
func (s *Server) FailNext(method string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], statuses...)
}

// Limited counts the 429 answers given.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
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

func (s *Server) id(prefix string) string {
	s.next++
	return fmt.Sprintf("%s%06d", prefix, s.next)
}

func (s *Server) ts() string {
	s.next++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.next)
}

// DM is the direct-message channel between a member and the app.
func (s *Server) DM(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dmLocked(user)
}

func (s *Server) dmLocked(user string) string {
	if c, ok := s.dms[user]; ok {
		return c
	}
	c := "D" + strings.TrimPrefix(user, "U")
	s.dms[user] = c
	return c
}

// Messages returns a channel's messages that member can see, oldest first.
func (s *Server) Messages(channel, member string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && (m.Ephemeral == "" || m.Ephemeral == member) {
			out = append(out, *m)
		}
	}
	return out
}

// Home is the home tab published for a member.
func (s *Server) Home(user string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.homes[user]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// OpenViews lists the modals opened for a member and not yet closed.
func (s *Server) OpenViews(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, v := range s.views {
		if v.User == user && v.Type == "modal" && !v.Closed {
			out = append(out, *v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FileContent returns an uploaded file.
func (s *Server) FileContent(id string) (*File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	return f, ok
}

// Downloads counts url_private downloads.
func (s *Server) Downloads() int {
	n := 0
	for _, c := range s.Calls("download") {
		if c.Status == 200 {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ws":
		s.serveWS(w, r)
	case strings.HasPrefix(r.URL.Path, "/upload/"):
		s.serveUpload(w, r)
	case strings.HasPrefix(r.URL.Path, "/files/"):
		s.serveDownload(w, r)
	case r.URL.Path == "/signin":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><html><body>Sign in to Romashka</body></html>")
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// params reads a Web API request: form fields (token among them) or a
// JSON body with the token as a Bearer header.
func params(r *http.Request) (map[string]string, map[string]any, string, error) {
	p := map[string]string{}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, "", err
	}
	var js map[string]any
	switch ct {
	case "application/json":
		if len(bytes.TrimSpace(body)) == 0 {
			break
		}
		if err := json.Unmarshal(body, &js); err != nil {
			return nil, nil, "", fmt.Errorf("invalid_json")
		}
		for k, v := range js {
			if sv, ok := v.(string); ok {
				p[k] = sv
			} else {
				b, _ := json.Marshal(v)
				p[k] = string(b)
			}
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, "", fmt.Errorf("invalid_form_data")
		}
		for k := range vals {
			p[k] = vals.Get(k)
		}
		for k, v := range r.URL.Query() {
			p[k] = v[0]
		}
	}
	if t, ok := p["token"]; ok && token == "" {
		token = t
	}
	delete(p, "token")
	return p, js, token, nil
}

// limitLocked applies the limits; it returns the seconds to wait, or 0.
func (s *Server) limitLocked(method, channel string) int {
	now := time.Now()
	if per := s.limits.PerMethod[method]; per > 0 {
		window := s.recent[method]
		for len(window) > 0 && now.Sub(window[0]) >= time.Minute {
			window = window[1:]
		}
		if len(window) >= per {
			s.recent[method] = window
			return max(1, int(time.Minute-now.Sub(window[0]))/int(time.Second))
		}
		s.recent[method] = append(window, now)
	}
	if gap := s.limits.PerChannel; gap > 0 && channel != "" {
		if last, ok := s.lastIn[channel]; ok && now.Sub(last) < gap {
			return 1
		}
	}
	if method == "chat.postMessage" && s.limits.Workspace > 0 {
		for len(s.posts) > 0 && now.Sub(s.posts[0]) >= time.Second {
			s.posts = s.posts[1:]
		}
		if len(s.posts) >= s.limits.Workspace {
			return 1
		}
		s.posts = append(s.posts, now)
	}
	if channel != "" {
		s.lastIn[channel] = now
	}
	return 0
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	p, js, token, err := params(r)
	call := Call{Method: method, Params: p, At: time.Now(), Status: 200}
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.mu.Unlock()
	}()
	if err != nil {
		writeJSON(w, 200, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	want := s.BotToken
	if method == "apps.connections.open" {
		want = s.AppToken
	}
	if token != want {
		writeJSON(w, 200, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.mu.Lock()
	if q := s.failNext[method]; len(q) > 0 {
		status := q[0]
		s.failNext[method] = q[1:]
		if status == 429 {
			s.limited++
			w.Header().Set("Retry-After", "1")
		}
		s.mu.Unlock()
		call.Status = status
		writeJSON(w, status, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	channel := ""
	switch method {
	case "chat.postMessage", "chat.update", "chat.postEphemeral":
		channel = p["channel"]
	}
	if wait := s.limitLocked(method, channel); wait > 0 {
		s.limited++
		s.mu.Unlock()
		call.Status = 429
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeJSON(w, 429, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	result, errCode := s.handleLocked(r, method, p, js)
	s.mu.Unlock()
	if errCode != "" {
		writeJSON(w, 200, map[string]any{"ok": false, "error": errCode})
		return
	}
	result["ok"] = true
	writeJSON(w, 200, result)
}

func (s *Server) handleLocked(r *http.Request, method string, p map[string]string, js map[string]any) (map[string]any, string) {
	switch method {
	case "auth.test":
		return map[string]any{"url": "https://romashka.slack.com/", "team": "Romashka", "user": "viza", "team_id": TeamID, "user_id": BotUser, "bot_id": "B0VIZA"}, ""
	case "apps.connections.open":
		return map[string]any{"url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws"}, ""
	case "conversations.open":
		users := p["users"]
		if _, ok := s.users[users]; !ok || strings.Contains(users, ",") {
			return nil, "user_not_found"
		}
		return map[string]any{"channel": map[string]any{"id": s.dmLocked(users)}}, ""
	case "users.info":
		u, ok := s.users[p["user"]]
		if !ok {
			return nil, "user_not_found"
		}
		return map[string]any{"user": userJSON(u)}, ""
	case "users.lookupByEmail":
		for _, u := range s.users {
			if strings.EqualFold(u.Email, p["email"]) {
				return map[string]any{"user": userJSON(u)}, ""
			}
		}
		return nil, "users_not_found"
	case "chat.postMessage", "chat.postEphemeral":
		if !s.channelLocked(p["channel"]) {
			return nil, "channel_not_found"
		}
		m, err := s.messageLocked(p)
		if err != "" {
			return nil, err
		}
		if method == "chat.postEphemeral" {
			if _, ok := s.users[p["user"]]; !ok {
				return nil, "user_not_found"
			}
			m.Ephemeral = p["user"]
			s.messages = append(s.messages, m)
			return map[string]any{"message_ts": m.TS}, ""
		}
		s.messages = append(s.messages, m)
		return map[string]any{"channel": m.Channel, "ts": m.TS, "message": m.raw}, ""
	case "chat.update":
		for _, old := range s.messages {
			if old.Channel == p["channel"] && old.TS == p["ts"] {
				if old.User != BotUser {
					return nil, "cant_update_message"
				}
				m, err := s.messageLocked(p)
				if err != "" {
					return nil, err
				}
				m.TS, m.Edits, m.File, m.Thread = old.TS, old.Edits+1, old.File, old.Thread
				*old = *m
				return map[string]any{"channel": old.Channel, "ts": old.TS, "text": old.Text}, ""
			}
		}
		return nil, "message_not_found"
	case "views.open":
		at, ok := s.triggers[p["trigger_id"]]
		if !ok || time.Since(at) > 3*time.Second {
			return nil, "expired_trigger_id"
		}
		delete(s.triggers, p["trigger_id"])
		v, err := s.viewLocked(js["view"], "modal")
		if err != "" {
			return nil, err
		}
		v.User = strings.SplitN(p["trigger_id"], ".", 2)[0]
		s.views[v.ID] = v
		return map[string]any{"view": map[string]any{"id": v.ID, "type": "modal"}}, ""
	case "views.publish":
		if _, ok := s.users[p["user_id"]]; !ok {
			return nil, "user_not_found"
		}
		v, err := s.viewLocked(js["view"], "home")
		if err != "" {
			return nil, err
		}
		v.User = p["user_id"]
		s.views[v.ID] = v
		s.homes[v.User] = v
		return map[string]any{"view": map[string]any{"id": v.ID, "type": "home"}}, ""
	case "files.getUploadURLExternal":
		size, _ := strconv.Atoi(p["length"])
		if p["filename"] == "" || size <= 0 {
			return nil, "invalid_arguments"
		}
		id := s.id("F")
		s.files[id] = &File{ID: id, Name: p["filename"]}
		return map[string]any{"upload_url": s.srv.URL + "/upload/" + id, "file_id": id}, ""
	case "files.completeUploadExternal":
		var files []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		if json.Unmarshal([]byte(p["files"]), &files) != nil || len(files) == 0 {
			return nil, "invalid_arguments"
		}
		var out []map[string]any
		for _, f := range files {
			file, ok := s.files[f.ID]
			if !ok || file.Data == nil {
				return nil, "file_not_found"
			}
			if file.Channel != "" {
				return nil, "file_already_completed"
			}
			if !s.channelLocked(p["channel_id"]) {
				return nil, "channel_not_found"
			}
			file.Channel, file.Comment = p["channel_id"], p["initial_comment"]
			text, runs := Display(p["initial_comment"])
			s.messages = append(s.messages, &Message{Channel: file.Channel, TS: s.ts(), User: BotUser, Text: text, Styled: runs, File: file,
				Thread: p["thread_ts"]})
			out = append(out, map[string]any{"id": f.ID, "title": f.Title})
		}
		return map[string]any{"files": out}, ""
	}
	return nil, "unknown_method"
}

func (s *Server) channelLocked(c string) bool {
	for _, dm := range s.dms {
		if dm == c {
			return true
		}
	}
	return strings.HasPrefix(c, "C")
}

// userJSON is a user object as users.info and users.lookupByEmail answer
// it (docs.slack.dev/reference/objects/user-object).
func userJSON(u *User) map[string]any {
	team := u.Team
	if team == "" {
		team = TeamID
	}
	return map[string]any{"id": u.ID, "team_id": team, "name": u.Name, "real_name": u.Name, "locale": u.Locale,
		"deleted": false, "is_bot": false, "is_app_user": false, "is_stranger": u.Stranger, "is_email_confirmed": !u.Unconfirmed,
		"profile": map[string]any{"email": u.Email, "real_name": u.Name, "display_name": u.Name}}
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	var data []byte
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			if part.FormName() == "file" {
				data, _ = io.ReadAll(part)
			}
		}
	} else {
		data, _ = io.ReadAll(r.Body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok || data == nil {
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	f.Data = data
	io.WriteString(w, "OK - "+strconv.Itoa(len(data)))
}

func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/files/"), "/", 2)
	s.mu.Lock()
	f, ok := s.files[parts[0]]
	status := 200
	defer func() {
		s.calls = append(s.calls, Call{Method: "download", Params: map[string]string{"file": parts[0]}, Status: status, At: time.Now()})
		s.mu.Unlock()
	}()
	if r.Header.Get("Authorization") != "Bearer "+s.BotToken {
		// Without the token Slack sends the browser to sign in; a client
		// that follows the redirect gets an HTML page with status 200.
		status = http.StatusFound
		http.Redirect(w, r, "/signin?redir="+url.QueryEscape(r.URL.Path), http.StatusFound)
		return
	}
	if !ok {
		status = 404
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.MIME)
	w.Write(f.Data)
}

// Sign computes Slack's request signature of body at ts.
func (s *Server) Sign(ts string, body []byte) string { return SignWith(s.SigningSecret, ts, body) }

// SignWith computes a request signature with another signing secret, as
// a forger who does not hold the app's would.
func SignWith(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// post delivers one request to the app in HTTP mode, signed, and returns
// the status and body.
func (s *Server) post(path, contentType string, body []byte, headers map[string]string) (int, []byte, error) {
	s.mu.Lock()
	base := s.appURL
	s.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", s.Sign(ts, body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}
