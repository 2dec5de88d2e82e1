package signcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SVS asks КриптоПро SVS (the signature verification service) over its
// REST interface: POST <URL>/signatures with a SignedDocument of the
// CAdES type, the signature as Content and the signed bytes as Source
// (dss.cryptopro.ru/docs/svs/devguide/endpoints.html, structures.html).
type SVS struct {
	URL   string // https://host/<application>/rest/api
	Token string // a bearer token, when the service wants one
	// Client makes the request; its timeout, or Timeout, bounds it.
	Client  *http.Client
	Timeout time.Duration
}

// Name says who checked.
func (s *SVS) Name() string { return "svs" }

// signedDocument is SVS's request: byte arrays go as base64 strings,
// which encoding/json makes of []byte.
type signedDocument struct {
	SignatureType string `json:"SignatureType"`
	Content       []byte `json:"Content"`
	Source        []byte `json:"Source"`
}

// verification is the part of SVS's answer Viza reads: whether the
// signature holds, and why not. The answer is read defensively: a list
// of them (one per signer) or a single one; anything else is no answer.
type verification struct {
	Result  *bool  `json:"Result"`
	Message string `json:"Message"`
}

// Verify asks SVS whether sig is a signature of data.
func (s *SVS) Verify(ctx context.Context, data, sig []byte) (Verdict, error) {
	body, err := json.Marshal(signedDocument{SignatureType: "CAdES", Content: sig, Source: data})
	if err != nil {
		return Verdict{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.URL, "/")+"/signatures", bytes.NewReader(body))
	if err != nil {
		return Verdict{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return Verdict{}, fmt.Errorf("svs: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return Verdict{}, fmt.Errorf("svs: read the answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return Verdict{}, fmt.Errorf("svs answered %s: %s", res.Status, Excerpt(raw))
	}
	var list []verification
	if err := json.Unmarshal(raw, &list); err != nil {
		var one verification
		if err := json.Unmarshal(raw, &one); err != nil {
			return Verdict{}, fmt.Errorf("svs: an answer that is no verification result: %s", Excerpt(raw))
		}
		list = []verification{one}
	}
	if len(list) == 0 {
		return Verdict{Message: "SVS found no signature"}, nil
	}
	var words []string
	valid := true
	for _, v := range list {
		if v.Result == nil {
			return Verdict{}, fmt.Errorf("svs: an answer without Result: %s", Excerpt(raw))
		}
		valid = valid && *v.Result
		if v.Message != "" {
			words = append(words, v.Message)
		}
	}
	return Verdict{Valid: valid, Message: Excerpt([]byte(strings.Join(words, "; ")))}, nil
}
