package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// serveWS is the Socket Mode connection: hello first, then every envelope
// not yet acknowledged, then new ones as they come; acknowledgements are
// read back.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wmu := &sync.Mutex{}
	s.mu.Lock()
	s.conns[conn] = wmu
	n := len(s.conns)
	var pending []*envelope
	for _, e := range s.envelopes {
		if !e.Acked {
			pending = append(pending, e)
		}
	}
	s.mu.Unlock()
	write := func(v any) error {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return conn.WriteJSON(v)
	}
	write(map[string]any{"type": "hello", "num_connections": n, "connection_info": map[string]any{"app_id": AppID},
		"debug_info": map[string]any{"host": "applink-fake", "approximate_connection_time": 3600}})
	for _, e := range pending {
		s.send(e)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				wmu.Lock()
				err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second))
				wmu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	defer func() {
		close(done)
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		s.mu.Lock()
		s.ackCount[ack.EnvelopeID]++
		for _, e := range s.envelopes {
			if e.ID == ack.EnvelopeID && !e.Acked {
				e.Acked, e.Response = true, ack.Payload
				s.acks[e.ID] = ack.Payload
			}
		}
		s.mu.Unlock()
	}
}

// send writes an envelope to a live connection, if any.
func (s *Server) send(e *envelope) {
	s.mu.Lock()
	var conn *websocket.Conn
	var wmu *sync.Mutex
	for c, m := range s.conns {
		conn, wmu = c, m
		break
	}
	e.SentAt = time.Now()
	msg := map[string]any{"envelope_id": e.ID, "type": e.Type, "payload": e.Payload, "accepts_response_payload": e.Accepts,
		"retry_attempt": e.Attempt, "retry_reason": ""}
	if e.Attempt > 0 {
		msg["retry_reason"] = "timeout"
	}
	s.mu.Unlock()
	if conn == nil {
		return
	}
	wmu.Lock()
	defer wmu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	conn.WriteJSON(msg)
}

// redeliver sends again, with retry_attempt raised, what was not
// acknowledged in time, as Slack does.
func (s *Server) redeliver() {
	for {
		time.Sleep(200 * time.Millisecond)
		s.mu.Lock()
		if s.mode == "closed" {
			s.mu.Unlock()
			return
		}
		var due []*envelope
		for _, e := range s.envelopes {
			if !e.Acked && !e.SentAt.IsZero() && time.Since(e.SentAt) > s.ackWait && e.Attempt < 3 {
				e.Attempt++
				due = append(due, e)
			}
		}
		s.mu.Unlock()
		for _, e := range due {
			s.send(e)
		}
	}
}

// Disconnect asks every Socket Mode client to reconnect, as Slack does
// before it rotates a connection.
func (s *Server) Disconnect(reason string) {
	s.mu.Lock()
	conns := map[*websocket.Conn]*sync.Mutex{}
	for c, m := range s.conns {
		conns[c] = m
	}
	s.mu.Unlock()
	for c, m := range conns {
		m.Lock()
		c.WriteJSON(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}})
		m.Unlock()
	}
}

// Connections counts the live Socket Mode connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Acks counts the acknowledgements an envelope got, redeliveries
// included: once it equals the times it was sent, the app has seen every
// copy.
func (s *Server) Acks(envelopeID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackCount[envelopeID]
}

// Acked reports the acknowledgement payload of an envelope, once acked.
func (s *Server) Acked(envelopeID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.acks[envelopeID]
	return p, ok
}

// Delivery is what became of one thing a member did: its envelope (Socket
// Mode) or HTTP answer, and its ids.
type Delivery struct {
	Envelope string
	Status   int    // HTTP mode: the app's answer
	Body     []byte // HTTP mode: its body
	EventID  string
	Trigger  string

	path, contentType string
	request           []byte
}

// Response waits for the app's answer to a delivery: the ack payload in
// Socket Mode, the response body in HTTP mode.
func (s *Server) Response(d Delivery, timeout time.Duration) (json.RawMessage, bool) {
	if d.Envelope == "" {
		return d.Body, d.Status != 0
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p, ok := s.Acked(d.Envelope); ok {
			return p, true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, false
}

// deliver hands something a member did to the app: an envelope in Socket
// Mode; a signed POST in HTTP mode, retried like the Events API when the
// app does not answer 2xx (events only; interactions are not retried).
func (s *Server) deliver(kind string, payload any, form url.Values, accepts bool) Delivery {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	if mode == "http" {
		var path, ct string
		var body []byte
		switch kind {
		case "events_api":
			path, ct = "/slack/events", "application/json"
			body, _ = json.Marshal(payload)
		case "interactive":
			path, ct = "/slack/interactivity", "application/x-www-form-urlencoded"
			js, _ := json.Marshal(payload)
			body = []byte(url.Values{"payload": {string(js)}}.Encode())
		case "slash_commands":
			path, ct = "/slack/commands", "application/x-www-form-urlencoded"
			body = []byte(form.Encode())
		}
		d := Delivery{path: path, contentType: ct, request: body}
		for attempt := 0; attempt <= 3; attempt++ {
			headers := map[string]string{}
			if attempt > 0 {
				headers["X-Slack-Retry-Num"] = strconv.Itoa(attempt)
				headers["X-Slack-Retry-Reason"] = "http_error"
			}
			status, out, err := s.post(path, ct, body, headers)
			d.Status, d.Body = status, out
			if err == nil && status >= 200 && status < 300 || kind != "events_api" {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
		}
		return d
	}
	var raw json.RawMessage
	if kind == "slash_commands" {
		flat := map[string]string{}
		for k := range form {
			flat[k] = form.Get(k)
		}
		raw, _ = json.Marshal(flat)
	} else {
		raw, _ = json.Marshal(payload)
	}
	s.mu.Lock()
	e := &envelope{ID: fmt.Sprintf("env-%06d-%d", s.next+1, time.Now().UnixNano()%100000), Type: kind, Payload: raw, Accepts: accepts}
	s.next++
	s.envelopes = append(s.envelopes, e)
	s.mu.Unlock()
	s.send(e)
	return Delivery{Envelope: e.ID}
}

// Redeliver sends an envelope or request again exactly as before, as Slack
// does when it did not see an acknowledgement; in HTTP mode the request is
// signed anew and marked with X-Slack-Retry-Num. It returns the app's HTTP
// status (0 in Socket Mode).
func (s *Server) Redeliver(d Delivery) int {
	if d.Envelope == "" {
		status, _, err := s.post(d.path, d.contentType, d.request, map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
		if err != nil {
			return 0
		}
		return status
	}
	s.mu.Lock()
	var e *envelope
	for _, x := range s.envelopes {
		if x.ID == d.Envelope {
			e = x
		}
	}
	if e != nil {
		e.Attempt++
	}
	s.mu.Unlock()
	if e != nil {
		s.send(e)
	}
	return 0
}

// Request is what a delivery sent in HTTP mode: path, content type, body.
func (d Delivery) Request() (path, contentType string, body []byte) {
	return d.path, d.contentType, d.request
}

func (s *Server) eventCallback(event map[string]any) (map[string]any, string) {
	s.mu.Lock()
	id := s.id("Ev")
	s.mu.Unlock()
	return map[string]any{"token": "verification-token", "team_id": TeamID, "api_app_id": AppID, "event": event,
		"type": "event_callback", "event_id": id, "event_time": time.Now().Unix(), "authorizations": []any{}}, id
}

// UserText is a member writing in their DM with the app.
func (s *Server) UserText(user, text string) Delivery {
	s.mu.Lock()
	ch := s.dmLocked(user)
	ts := s.ts()
	s.messages = append(s.messages, &Message{Channel: ch, TS: ts, User: user, Text: text})
	s.mu.Unlock()
	ev, id := s.eventCallback(map[string]any{"type": "message", "channel": ch, "user": user, "text": text, "ts": ts,
		"channel_type": "im", "event_ts": ts, "team": TeamID})
	d := s.deliver("events_api", ev, nil, false)
	d.EventID = id
	return d
}

// UserFile is a member sharing a file in their DM (in a thread when
// thread is a message's ts), size overriding the reported size.
func (s *Server) UserFile(user, name, mimeType string, data []byte, caption, thread string, size int64) Delivery {
	s.mu.Lock()
	ch := s.dmLocked(user)
	ts := s.ts()
	id := s.id("F")
	f := &File{ID: id, Name: name, MIME: mimeType, Data: data, Channel: ch}
	s.files[id] = f
	s.messages = append(s.messages, &Message{Channel: ch, TS: ts, User: user, Text: caption, File: f, Thread: thread})
	base := s.srv.URL
	s.mu.Unlock()
	if size == 0 {
		size = int64(len(data))
	}
	u := base + "/files/" + id + "/" + url.PathEscape(name)
	event := map[string]any{"type": "message", "subtype": "file_share", "channel": ch, "user": user, "text": caption, "ts": ts,
		"channel_type": "im", "event_ts": ts, "upload": false, "display_as_bot": false,
		"files": []any{map[string]any{"id": id, "name": name, "title": name, "mimetype": mimeType, "filetype": strings.TrimPrefix(mimeType, "application/"),
			"size": size, "user": user, "url_private": u, "url_private_download": u + "?download=1", "mode": "hosted"}}}
	if thread != "" {
		event["thread_ts"] = thread
	}
	ev, eid := s.eventCallback(event)
	d := s.deliver("events_api", ev, nil, false)
	d.EventID = eid
	return d
}

// OpenHome is a member opening the app's Home tab.
func (s *Server) OpenHome(user string) Delivery {
	s.mu.Lock()
	ch := s.dmLocked(user)
	ts := s.ts()
	s.mu.Unlock()
	ev, id := s.eventCallback(map[string]any{"type": "app_home_opened", "user": user, "channel": ch, "tab": "home", "event_ts": ts})
	d := s.deliver("events_api", ev, nil, false)
	d.EventID = id
	return d
}

func (s *Server) trigger(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := user + "." + s.id("trig")
	s.triggers[t] = time.Now()
	return t
}

func (s *Server) userJSONShort(user string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := user
	if u, ok := s.users[user]; ok {
		name = u.Name
	}
	return map[string]any{"id": user, "username": name, "name": name, "team_id": TeamID}
}

// UserCommand is a member typing /viza text in a channel (their DM with
// the app when channel is "").
func (s *Server) UserCommand(user, channel, text string) Delivery {
	if channel == "" {
		channel = s.DM(user)
	}
	trig := s.trigger(user)
	name := "directmessage"
	if strings.HasPrefix(channel, "C") {
		name = "general"
	}
	form := url.Values{"token": {"verification-token"}, "team_id": {TeamID}, "team_domain": {"romashka"}, "channel_id": {channel},
		"channel_name": {name}, "user_id": {user}, "user_name": {user}, "command": {"/viza"}, "text": {text},
		"api_app_id": {AppID}, "is_enterprise_install": {"false"}, "response_url": {"https://hooks.slack.com/commands/T0/1/x"},
		"trigger_id": {trig}}
	d := s.deliver("slash_commands", nil, form, true)
	d.Trigger = trig
	return d
}

// UserTap is a member pressing a button of a message.
func (s *Server) UserTap(user string, m Message, b Button) Delivery {
	trig := s.trigger(user)
	s.mu.Lock()
	ts := s.ts()
	s.mu.Unlock()
	payload := map[string]any{"type": "block_actions", "user": s.userJSONShort(user), "api_app_id": AppID, "token": "verification-token",
		"container":  map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Ephemeral != ""},
		"trigger_id": trig, "team": map[string]any{"id": TeamID, "domain": "romashka"},
		"channel": map[string]any{"id": m.Channel, "name": "directmessage"}, "message": map[string]any{"type": "message", "ts": m.TS, "text": m.Text},
		"response_url": "https://hooks.slack.com/actions/T0/1/x",
		"actions": []any{map[string]any{"action_id": b.ActionID, "block_id": b.BlockID, "text": map[string]any{"type": "plain_text", "text": b.Label},
			"value": b.Value, "type": "button", "action_ts": ts}}}
	d := s.deliver("interactive", payload, nil, true)
	d.Trigger = trig
	return d
}

// UserTapHome is a member pressing a button on their Home tab.
func (s *Server) UserTapHome(user string, b Button) Delivery {
	trig := s.trigger(user)
	s.mu.Lock()
	ts := s.ts()
	viewID := ""
	if v, ok := s.homes[user]; ok {
		viewID = v.ID
	}
	s.mu.Unlock()
	payload := map[string]any{"type": "block_actions", "user": s.userJSONShort(user), "api_app_id": AppID, "token": "verification-token",
		"container": map[string]any{"type": "view", "view_id": viewID}, "trigger_id": trig, "team": map[string]any{"id": TeamID, "domain": "romashka"},
		"view": map[string]any{"id": viewID, "type": "home"},
		"actions": []any{map[string]any{"action_id": b.ActionID, "block_id": b.BlockID, "text": map[string]any{"type": "plain_text", "text": b.Label},
			"value": b.Value, "type": "button", "action_ts": ts}}}
	d := s.deliver("interactive", payload, nil, true)
	d.Trigger = trig
	return d
}

// Submit is a member submitting a modal with text typed in its first
// input.
func (s *Server) Submit(user string, v View, text string) Delivery {
	block := ""
	if len(v.Inputs) > 0 {
		block = v.Inputs[0]
	}
	action := "text"
	if blocks, ok := v.Raw["blocks"].([]any); ok {
		for _, bv := range blocks {
			b, _ := bv.(map[string]any)
			if b["block_id"] == block {
				if el, ok := b["element"].(map[string]any); ok {
					action, _ = el["action_id"].(string)
				}
			}
		}
	}
	callback, _ := v.Raw["callback_id"].(string)
	payload := map[string]any{"type": "view_submission", "team": map[string]any{"id": TeamID, "domain": "romashka"},
		"user": s.userJSONShort(user), "api_app_id": AppID, "token": "verification-token", "trigger_id": s.trigger(user),
		"view": map[string]any{"id": v.ID, "type": "modal", "callback_id": callback, "private_metadata": v.Metadata, "hash": "h" + v.ID,
			"state": map[string]any{"values": map[string]any{block: map[string]any{action: map[string]any{"type": "plain_text_input", "value": text}}}}}}
	d := s.deliver("interactive", payload, nil, true)
	// A submission the app accepted closes the modal.
	go func() {
		if body, ok := s.Response(d, 5*time.Second); ok && !strings.Contains(string(body), "errors") {
			s.mu.Lock()
			if view, ok := s.views[v.ID]; ok {
				view.Closed = true
			}
			s.mu.Unlock()
		}
	}()
	return d
}
