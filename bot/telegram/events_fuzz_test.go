package telegram

import (
	"encoding/json"
	"testing"

	"github.com/go-telegram/bot/models"
)

// FuzzUpdate: whatever JSON arrives as an update (getUpdates or the
// webhook), its translation neither panics nor yields an event without a
// sender, and a tap's action is the callback data as it came.
func FuzzUpdate(f *testing.F) {
	for _, s := range []string{
		`{"update_id":1,"message":{"message_id":5,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"is_bot":false,"first_name":"A"},"text":"/status Д-1"}}`,
		`{"update_id":2,"callback_query":{"id":"c1","from":{"id":7,"is_bot":false,"first_name":"A"},"chat_instance":"x","data":"ap:12","message":{"message_id":9,"date":0,"chat":{"id":7,"type":"private"}}}}`,
		`{"update_id":3,"message":{"message_id":6,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"is_bot":false,"first_name":"A"},"document":{"file_id":"f","file_unique_id":"u","file_name":"a.pdf","file_size":10},"caption":"x"}}`,
		`{"update_id":4,"message":{"message_id":7,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7,"is_bot":false,"first_name":"A"},"contact":{"phone_number":"+79001112233","first_name":"A","user_id":8}}}`,
		`{"update_id":5,"message":{"message_id":8,"date":1,"chat":{"id":-100,"type":"group"},"from":{"id":7,"is_bot":false,"first_name":"A"},"text":"hi"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var upd models.Update
		if json.Unmarshal(raw, &upd) != nil {
			return
		}
		ev, ok := event(&upd)
		if !ok {
			return
		}
		if ev.User == "" || ev.Conv == "" {
			t.Fatalf("an event without its sender: %+v", ev)
		}
		if upd.CallbackQuery != nil && (ev.Tap == nil || ev.Tap.Action != upd.CallbackQuery.Data) {
			t.Fatalf("a tap's action changed: %+v", ev.Tap)
		}
	})
}
