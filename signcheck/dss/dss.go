// Package dss signs in КриптоПро DSS over its REST interface (v2 API of
// the signing service), in the signer's name, with confirmation in the
// myDSS app.
//
// What the documentation shows (dss.cryptopro.ru/docs/articles/rest/
// signserver/endpoints/signature.html, structs/operationdocstatus.html):
// POST <SignServer>/rest/api/v2/signature with a SignatureOperation
// (BinaryData with the Content, and Signature with CertificateId and a
// type or a ProcessingTemplateId), a bearer token, and an OperationInfo
// in answer whose Status is Created when the operation waits for the
// signer's confirmation and Completed when it does not; a document of an
// operation is Created, Processing, Completed, Error, Declined or
// Posponed; and that a confirmed operation is executed by a request "to
// the same endpoint" with an empty object (or a PinCode).
//
// What it does not show, in any copy we could read, is how the endpoint
// names the operation to execute and what the executed answer carries.
// Viza asks POST <SignServer>/rest/api/v2/signature/<OperationId> with {}
// and reads the answer defensively: a status at the top or per document,
// the signature as Content, SignedContent or Result of the first
// document or result, and anything it cannot read is "no answer", never a
// signature. Check it against your DSS before relying on it.
package dss

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/viza-app/viza/flows"
	"github.com/viza-app/viza/signcheck"
)

// TokenSource gives a bearer token to act in a signer's name.
type TokenSource interface {
	Token(ctx context.Context, user string) (string, error)
}

// Client is the company's DSS.
type Client struct {
	// URL is the signing service's REST root,
	// https://host/SignServer/rest/api.
	URL    string
	Tokens TokenSource
	// Users maps a Viza login to the signer's DSS login, when they differ.
	Users map[string]string
	// CertificateID is the signer's certificate in DSS ("0": their
	// default one); Template, when set, a processing template instead of
	// CAdES-BES detached.
	CertificateID string
	Template      string
	Client        *http.Client
	Timeout       time.Duration

	mu      sync.Mutex
	problem string
}

var _ flows.DSSSigner = (*Client)(nil)

// Problem is why DSS did not answer the last request ("" when it did):
// its line on /readyz.
func (c *Client) Problem() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.problem
}

func (c *Client) setProblem(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problem = ""
	if err != nil && flows.ErrorKind(err) == flows.KindTransient {
		c.problem = err.Error()
	}
}

// binaryData is a document of an operation, its bytes as base64.
type binaryData struct {
	Content []byte `json:"Content"`
	Name    string `json:"Name,omitempty"`
}

type signatureParams struct {
	Type                 string            `json:"Type,omitempty"`
	Parameters           map[string]string `json:"Parameters,omitempty"`
	CertificateID        string            `json:"CertificateId"`
	ProcessingTemplateID string            `json:"ProcessingTemplateId,omitempty"`
}

type signatureOperation struct {
	BinaryData []binaryData     `json:"BinaryData"`
	Signature  *signatureParams `json:"Signature,omitempty"`
}

// operationInfo is the part of DSS's OperationInfo Viza reads.
type operationInfo struct {
	OperationID string     `json:"OperationId"`
	ID          string     `json:"Id"`
	Status      string     `json:"Status"`
	Message     string     `json:"Message"`
	Error       string     `json:"error"`
	ErrorDesc   string     `json:"error_description"`
	Documents   []docState `json:"Documents"`
	Results     []docState `json:"Results"`
	Result      string     `json:"Result"`
}

type docState struct {
	Status        string `json:"Status"`
	Message       string `json:"Message"`
	Content       string `json:"Content"`
	SignedContent string `json:"SignedContent"`
	Result        string `json:"Result"`
}

// Start asks DSS to sign data in signer's name.
func (c *Client) Start(ctx context.Context, signer flows.PersonID, fileName string, data []byte) (flows.DSSStatus, error) {
	sig := &signatureParams{CertificateID: c.CertificateID}
	if sig.CertificateID == "" {
		sig.CertificateID = "0"
	}
	if c.Template != "" {
		sig.ProcessingTemplateID = c.Template
	} else {
		sig.Type, sig.Parameters = "CAdES", map[string]string{"CADESType": "BES", "IsDetached": "true"}
	}
	st, err := c.call(ctx, signer, "/v2/signature", signatureOperation{BinaryData: []binaryData{{Content: data, Name: fileName}}, Signature: sig})
	if err == nil && st.ID == "" && st.State == flows.DSSPending {
		err = flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS created an operation without an id")
	}
	c.setProblem(err)
	return st, err
}

// Status asks DSS for the result of operation id: the signature once the
// signer confirmed it.
func (c *Client) Status(ctx context.Context, signer flows.PersonID, id string) (flows.DSSStatus, error) {
	st, err := c.call(ctx, signer, "/v2/signature/"+url.PathEscape(id), struct{}{})
	if st.ID == "" {
		st.ID = id
	}
	c.setProblem(err)
	return st, err
}

func (c *Client) call(ctx context.Context, signer flows.PersonID, path string, body any) (flows.DSSStatus, error) {
	user := string(signer)
	if u, ok := c.Users[user]; ok {
		user = u
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	token, err := c.Tokens.Token(ctx, user)
	if err != nil {
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "no DSS token for %s: %v", user, err)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return flows.DSSStatus{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+path, bytes.NewReader(raw))
	if err != nil {
		return flows.DSSStatus{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	hc := c.Client
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "%v", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4*flows.MaxSignatureSize))
	if err != nil {
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "read: %v", err)
	}
	var info operationInfo
	jsonErr := json.Unmarshal(answer, &info)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS refused the token for %s: HTTP %d %s", user, resp.StatusCode, info.words())
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "HTTP %d %s", resp.StatusCode, info.words())
	case resp.StatusCode >= 400:
		// DSS refused the operation itself (no certificate, a policy,
		// an operation it no longer knows): it ends without a signature.
		return flows.DSSStatus{State: flows.DSSFailed, Reason: cmp.Or(info.words(), fmt.Sprintf("HTTP %d", resp.StatusCode))}, nil
	case jsonErr != nil:
		return flows.DSSStatus{}, flows.Errorf(flows.KindTransient, "dss_unavailable", "not an answer of DSS: %s", signcheck.Excerpt(answer))
	}
	return info.status()
}

// status reads an OperationInfo: the operation's status, else its first
// document's.
func (info operationInfo) status() (flows.DSSStatus, error) {
	st := flows.DSSStatus{ID: cmp.Or(info.OperationID, info.ID)}
	docs := append(info.Documents, info.Results...)
	status, words := info.Status, info.words()
	if len(docs) > 0 {
		status = cmp.Or(docs[0].Status, status)
		words = cmp.Or(docs[0].Message, words)
	}
	switch strings.ToLower(status) {
	case "created", "processing", "inprogress", "posponed", "postponed":
		st.State = flows.DSSPending
	case "declined", "canceledbyuser", "cancelled", "canceled":
		st.State, st.Reason = flows.DSSDeclined, words
	case "timeout", "expired":
		st.State, st.Reason = flows.DSSExpired, words
	case "error", "crashed", "failed":
		st.State, st.Reason = flows.DSSFailed, words
	case "completed":
		var sig string
		if len(docs) > 0 {
			sig = cmp.Or(docs[0].Content, docs[0].SignedContent, docs[0].Result)
		}
		sig = cmp.Or(sig, info.Result)
		if sig == "" {
			return st, flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS completed operation %s without a signature in its answer", st.ID)
		}
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
		if err == nil {
			der, err = signcheck.Decode(der)
		}
		if err != nil {
			return st, flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS's signature of %s is not a CMS: %v", st.ID, err)
		}
		check, err := signcheck.Facts(der)
		if err != nil {
			return st, flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS's signature of %s: %v", st.ID, err)
		}
		check.Verifier = "dss"
		st.State, st.Signature, st.Check = flows.DSSCompleted, der, check
	default:
		return st, flows.Errorf(flows.KindTransient, "dss_unavailable", "DSS answered status %q", status)
	}
	return st, nil
}

func (info operationInfo) words() string {
	return strings.TrimSpace(cmp.Or(info.Message, info.ErrorDesc, info.Error))
}

// EnvToken is one token for every signer, from the environment: a
// company whose documents one person signs in DSS (the director).
type EnvToken struct{ Value string }

// Token implements TokenSource.
func (t EnvToken) Token(context.Context, string) (string, error) {
	if t.Value == "" {
		return "", errors.New("the token variable is empty")
	}
	return t.Value, nil
}
