package sms_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/viza-app/viza/bot/sms"
	"github.com/viza-app/viza/bot/sms/smsfake"
	"github.com/viza-app/viza/flows"
)

const text = "Д-2026-0042 «Поставка» ждёт вашего решения с 28.11.2026 14:02 MSK. Viza"

func gateways(url string) map[string]sms.Sender {
	c := &http.Client{Timeout: 5 * time.Second}
	return map[string]sms.Sender{
		"smsru":  &sms.SMSRu{BaseURL: url, APIID: "API-ID", From: "Viza", HTTP: c},
		"smsc":   &sms.SMSC{BaseURL: url, Login: "romashka", Password: "pw", Sender: "Viza", HTTP: c},
		"twilio": &sms.Twilio{BaseURL: url, AccountSID: "AC123", AuthToken: "tok", From: "+15005550006", HTTP: c},
	}
}

func TestGatewaysSendTheirWireFormat(t *testing.T) {
	fake := smsfake.New()
	defer fake.Close()
	tests := []struct {
		gw   string
		path string
		form map[string]string
		user string
	}{
		{"smsru", "/sms/send", map[string]string{"api_id": "API-ID", "to": "79001112233", "msg": text, "json": "1", "from": "Viza"}, ""},
		{"smsc", "/sys/send.php", map[string]string{"login": "romashka", "psw": "pw", "phones": "79001112233", "mes": text, "fmt": "3", "charset": "utf-8", "sender": "Viza"}, ""},
		{"twilio", "/2010-04-01/Accounts/AC123/Messages.json", map[string]string{"To": "+79001112233", "From": "+15005550006", "Body": text}, "AC123"},
	}
	for i, tc := range tests {
		t.Run(tc.gw, func(t *testing.T) {
			id, err := gateways(fake.URL)[tc.gw].Send(context.Background(), "+79001112233", text)
			if err != nil || id == "" {
				t.Fatalf("send = %q, %v", id, err)
			}
			req := fake.Requests()[i]
			if req.Method != http.MethodPost || req.Path != tc.path || req.User != tc.user {
				t.Fatalf("request = %+v", req)
			}
			for k, v := range tc.form {
				if req.Form[k] != v {
					t.Errorf("%s = %q, want %q", k, req.Form[k], v)
				}
			}
			if len(req.Form) != len(tc.form) {
				t.Errorf("form has extra fields: %v", req.Form)
			}
		})
	}
}

func TestGatewayErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name   string
		gw     string
		answer smsfake.Answer
		kind   flows.Kind
		retry  time.Duration
	}{
		{"sms.ru bad api_id", "smsru", smsfake.Answer{Status: 200, Body: `{"status":"ERROR","status_code":200,"status_text":"Неправильный api_id"}`}, flows.KindPermanent, 0},
		{"sms.ru no money", "smsru", smsfake.Answer{Status: 200, Body: `{"status":"ERROR","status_code":201,"status_text":"Не хватает средств"}`}, flows.KindPermanent, 0},
		{"sms.ru bad number", "smsru", smsfake.Answer{Status: 200, Body: `{"status":"OK","status_code":100,"sms":{"79001112233":{"status":"ERROR","status_code":202,"status_text":"Неправильно указан номер"}}}`}, flows.KindPermanent, 0},
		{"sms.ru down", "smsru", smsfake.Answer{Status: 200, Body: `{"status":"ERROR","status_code":220,"status_text":"Сервис временно недоступен"}`}, flows.KindTransient, 0},
		{"sms.ru 502", "smsru", smsfake.Answer{Status: 502, Body: `<html>Bad gateway</html>`}, flows.KindTransient, 0},
		{"smsc bad login", "smsc", smsfake.Answer{Status: 200, Body: `{"error":"authorise error","error_code":2}`}, flows.KindPermanent, 0},
		{"smsc bad phone", "smsc", smsfake.Answer{Status: 200, Body: `{"error":"invalid phone","error_code":7}`}, flows.KindPermanent, 0},
		{"smsc too many", "smsc", smsfake.Answer{Status: 200, Body: `{"error":"duplicate request, wait a minute","error_code":9}`}, flows.KindTransient, 0},
		{"twilio invalid To", "twilio", smsfake.Answer{Status: 400, Body: `{"code":21211,"message":"The 'To' number is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`}, flows.KindPermanent, 0},
		{"twilio auth", "twilio", smsfake.Answer{Status: 401, Body: `{"code":20003,"message":"Authenticate","status":401}`}, flows.KindPermanent, 0},
		{"twilio 429", "twilio", smsfake.Answer{Status: 429, Body: `{"code":20429,"message":"Too Many Requests","status":429}`, Headers: map[string]string{"Retry-After": "7"}}, flows.KindTransient, 7 * time.Second},
		{"twilio 503", "twilio", smsfake.Answer{Status: 503, Body: `{"code":20500,"message":"Internal Server Error","status":503}`}, flows.KindTransient, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := smsfake.New()
			defer fake.Close()
			fake.Then(tc.gw, tc.answer)
			_, err := gateways(fake.URL)[tc.gw].Send(context.Background(), "+79001112233", text)
			if flows.ErrorKind(err) != tc.kind {
				t.Fatalf("err = %v (%s), want %s", err, flows.ErrorKind(err), tc.kind)
			}
			var e *flows.Error
			if tc.retry > 0 && (!asError(err, &e) || e.RetryAfter != tc.retry) {
				t.Fatalf("retry after = %v", e)
			}
		})
	}
	// A gateway that cannot be reached at all is transient.
	_, err := gateways("http://127.0.0.1:1")["smsru"].Send(context.Background(), "+79001112233", text)
	if flows.ErrorKind(err) != flows.KindTransient {
		t.Fatalf("unreachable gateway: %v", err)
	}
}

func TestSegments(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{{"hello", 1}, {string(make([]byte, 160)), 1}, {string(make([]byte, 161)), 2}, {text, 2}, {"Привет", 1}} {
		if got := sms.Segments(tc.s); got != tc.want {
			t.Errorf("Segments(%d runes) = %d, want %d", len([]rune(tc.s)), got, tc.want)
		}
	}
}
