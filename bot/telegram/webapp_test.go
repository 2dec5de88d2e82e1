package telegram

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestValidateInitDataKnownAnswer: initData and the bot token published
// with a third-party validator (sanvew/telegram-init-data's README), so
// the check does not only agree with our own signer.
func TestValidateInitDataKnownAnswer(t *testing.T) {
	const token = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
	const data = "query_id=AAHdF6IQAAAAAN0XohDhrOrc" +
		"&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%7D" +
		"&auth_date=1662771648" +
		"&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
	signedAt := time.Unix(1662771648, 0)
	u, err := ValidateInitData(data, token, signedAt.Add(time.Minute), MaxInitDataAge)
	if err != nil || u.ID != 279058397 || u.Username != "vdkfrost" {
		t.Fatalf("%+v %v", u, err)
	}
}

func TestValidateInitData(t *testing.T) {
	const token = "123456:our-bot"
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	fields := func(authDate time.Time, user string) url.Values {
		return url.Values{"query_id": {"AAE1"}, "auth_date": {strconv.FormatInt(authDate.Unix(), 10)}, "user": {user},
			"chat_instance": {"-1"}, "chat_type": {"sender"}}
	}
	alice := `{"id":111111111,"first_name":"Анна","language_code":"ru"}`
	valid := SignInitData(fields(now.Add(-time.Minute), alice), token)
	tamper := func(from, to string) string { return strings.Replace(valid, from, to, 1) }
	cases := []struct {
		name string
		data string
		want error
	}{
		{"valid", valid, nil},
		{"another user put in", tamper("111111111", "222222222"), ErrInitDataForged},
		{"a field added", valid + "&start_param=admin", ErrInitDataForged},
		{"a field dropped", strings.Replace(valid, "chat_type=sender&", "", 1), ErrInitDataForged},
		{"the date moved", tamper("auth_date="+strconv.FormatInt(now.Add(-time.Minute).Unix(), 10), "auth_date="+strconv.FormatInt(now.Unix(), 10)), ErrInitDataForged},
		{"another bot's token", SignInitData(fields(now.Add(-time.Minute), alice), "654321:another-bot"), ErrInitDataForged},
		{"stale", SignInitData(fields(now.Add(-2*time.Hour), alice), token), ErrInitDataStale},
		{"from the future", SignInitData(fields(now.Add(time.Hour), alice), token), ErrInitDataStale},
		{"no hash", "auth_date=1&user=%7B%7D", ErrInitDataBad},
		{"two hashes", valid + "&hash=00", ErrInitDataBad},
		{"a bot", SignInitData(fields(now, `{"id":5,"is_bot":true}`), token), ErrInitDataBad},
		{"no user", SignInitData(url.Values{"auth_date": {strconv.FormatInt(now.Unix(), 10)}}, token), ErrInitDataBad},
		{"garbage", "%zz", ErrInitDataBad},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := ValidateInitData(c.data, token, now, MaxInitDataAge)
			if c.want == nil {
				if err != nil || u.ID != 111111111 {
					t.Fatalf("%+v %v", u, err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}
