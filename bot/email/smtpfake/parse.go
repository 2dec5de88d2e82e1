package smtpfake

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// Mail is a received message read back with the standard library only, as
// a mail client would: the subject decoded, the text and HTML parts, the
// attachments by their decoded names.
type Mail struct {
	Header      netmail.Header
	Subject     string
	Text, HTML  string
	Attachments map[string][]byte
	// Inline are the pictures shown inside the HTML part, by file name.
	Inline map[string]InlinePart
	// Charsets are the text parts' declared character sets.
	Charsets []string
}

// InlinePart is a picture of the mail and its media type.
type InlinePart struct {
	Type string
	Data []byte
}

// Parse reads a raw message.
func Parse(raw []byte) (*Mail, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read mail: %w", err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("decode subject %q: %w", msg.Header.Get("Subject"), err)
	}
	m := &Mail{Header: msg.Header, Subject: subject, Attachments: map[string][]byte{}, Inline: map[string]InlinePart{}}
	return m, m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
}

func (m *Mail) walk(ctype, cte, disposition string, body io.Reader) error {
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("next part: %w", err)
			}
			if err := m.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("read part %s: %w", media, err)
	}
	if strings.HasPrefix(disposition, "attachment") {
		_, dp, _ := mime.ParseMediaType(disposition)
		name, err := new(mime.WordDecoder).DecodeHeader(dp["filename"])
		if err != nil {
			return fmt.Errorf("attachment name %q: %w", dp["filename"], err)
		}
		m.Attachments[name] = b
		return nil
	}
	if strings.HasPrefix(disposition, "inline") && !strings.HasPrefix(media, "text/") {
		// A picture the HTML part shows by its Content-ID (a chart).
		_, dp, _ := mime.ParseMediaType(disposition)
		m.Inline[dp["filename"]] = InlinePart{Type: media, Data: b}
		return nil
	}
	m.Charsets = append(m.Charsets, params["charset"])
	switch media {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}
