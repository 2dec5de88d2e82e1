package telegram

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Why initData is refused. The reasons are for the log; the person sees
// one page for all of them.
var (
	ErrInitDataForged = errors.New("telegram: mini app data with a wrong hash")
	ErrInitDataStale  = errors.New("telegram: mini app data too old")
	ErrInitDataBad    = errors.New("telegram: mini app data unreadable")
)

// MaxInitDataAge is how long after Telegram opened the Mini App its data
// starts a session: long enough to open it, short enough that data copied
// out of a phone is soon useless.
const MaxInitDataAge = time.Hour

// WebAppUser is the user of a Mini App's initData.
type WebAppUser struct {
	ID           int64  `json:"id"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitzero"`
	Username     string `json:"username,omitzero"`
	LanguageCode string `json:"language_code,omitzero"`
	IsBot        bool   `json:"is_bot,omitzero"`
}

// ValidateInitData checks a Mini App's initData the way the Bot API
// documents it ("Validating data received via the Mini App"): every field
// but hash, sorted by key, as key=value lines joined by "\n", signed with
// HMAC-SHA256 under the key HMAC-SHA256("WebAppData", bot token); and
// auth_date no older than maxAge (Telegram leaves freshness to the bot).
// It returns the user Telegram vouches for.
func ValidateInitData(initData, botToken string, now time.Time, maxAge time.Duration) (WebAppUser, error) {
	values, err := url.ParseQuery(initData)
	if err != nil {
		return WebAppUser{}, fmt.Errorf("%w: %v", ErrInitDataBad, err)
	}
	hash := values.Get("hash")
	if hash == "" || len(values["hash"]) != 1 {
		return WebAppUser{}, fmt.Errorf("%w: no single hash", ErrInitDataBad)
	}
	for k, v := range values {
		if len(v) != 1 {
			return WebAppUser{}, fmt.Errorf("%w: %s given %d times", ErrInitDataBad, k, len(v))
		}
	}
	got, err := hex.DecodeString(hash)
	if err != nil || !hmac.Equal(got, initDataHash(values, botToken)) {
		return WebAppUser{}, ErrInitDataForged
	}
	authDate, err := strconv.ParseInt(values.Get("auth_date"), 10, 64)
	if err != nil {
		return WebAppUser{}, fmt.Errorf("%w: auth_date %q", ErrInitDataBad, values.Get("auth_date"))
	}
	if age := now.Sub(time.Unix(authDate, 0)); age > maxAge || age < -time.Minute {
		return WebAppUser{}, fmt.Errorf("%w: signed %s ago", ErrInitDataStale, age.Round(time.Second))
	}
	var u WebAppUser
	if err := json.Unmarshal([]byte(values.Get("user")), &u); err != nil || u.ID == 0 || u.IsBot {
		return WebAppUser{}, fmt.Errorf("%w: no user", ErrInitDataBad)
	}
	return u, nil
}

// initDataHash is the signature of every field but hash.
func initDataHash(values url.Values, botToken string) []byte {
	keys := make([]string, 0, len(values))
	for k := range values {
		if k != "hash" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + values.Get(k)
	}
	secret := hmac.New(sha256.New, []byte("WebAppData"))
	secret.Write([]byte(botToken))
	mac := hmac.New(sha256.New, secret.Sum(nil))
	mac.Write([]byte(strings.Join(lines, "\n")))
	return mac.Sum(nil)
}

// SignInitData makes initData as Telegram would for a bot token: for the
// fake platform and tests.
func SignInitData(fields url.Values, botToken string) string {
	signed := url.Values{}
	for k, v := range fields {
		signed[k] = v
	}
	signed.Set("hash", hex.EncodeToString(initDataHash(fields, botToken)))
	return signed.Encode()
}
