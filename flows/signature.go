package flows

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"
)

// How a sign stage is signed (StageTemplate.Method).
const (
	// SignScan closes the task with "done", optionally with a signed scan:
	// the signature is on paper.
	SignScan = "scan"
	// SignUpload closes it with a detached electronic signature (a .sig
	// the signer made with their own tools, a КЭП), checked by the
	// company's verifier against the version's bytes.
	SignUpload = "upload"
)

// SignatureCheck is what a verifier found of a signature: whose it is and
// whether it holds.
type SignatureCheck struct {
	Owner      string    `json:"owner,omitzero"`  // the certificate's subject: name, organisation
	Serial     string    `json:"serial,omitzero"` // the certificate's serial number, hex
	Issuer     string    `json:"issuer,omitzero"` // the certification authority
	NotBefore  time.Time `json:"not_before,omitzero"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	CertSHA256 string    `json:"cert_sha256,omitzero"`
	SignedAt   time.Time `json:"signed_at,omitzero"` // the signing time the signature claims; zero when it has none
	Verifier   string    `json:"verifier,omitzero"`  // who checked: "svs", "command"
	Message    string    `json:"message,omitzero"`   // the verifier's words
}

// SignatureVerifier checks a detached signature of data. A signature that
// does not hold is an Error of KindInvalid (signature_invalid,
// signature_unreadable); a verifier that cannot answer, KindTransient.
type SignatureVerifier interface {
	VerifyDetached(ctx context.Context, data, sig []byte) (SignatureCheck, error)
}

// Signature is a verified electronic signature of a version, recorded with
// the task it closed.
type Signature struct {
	TaskID        int64    `json:"task_id,omitzero"`
	Version       int      `json:"version,omitzero"` // the version signed
	VersionSHA256 string   `json:"version_sha256,omitzero"`
	By            PersonID `json:"by,omitzero"`  // who uploaded it
	For           PersonID `json:"for,omitzero"` // the task's holder when someone else did
	FileName      string   `json:"file_name,omitzero"`
	// Method is how it was made: SignUpload (the signer's own tools) or
	// SignDSS (in КриптоПро DSS, confirmed in myDSS).
	Method string `json:"method,omitzero"`
	SHA256 string `json:"sha256,omitzero"` // of the signature file, in the file store
	Size   int64  `json:"size,omitzero"`
	SignatureCheck
	At time.Time `json:"at,omitzero"` // when it was verified and recorded
}

// verifierBox lets an interface value live in an atomic.Pointer.
type verifierBox struct{ SignatureVerifier }

// SetVerifier sets the company's signature verifier (nil: none, and a
// stage signed by upload refuses signatures until one is configured).
func (e *Engine) SetVerifier(v SignatureVerifier) { e.verifier.Store(&verifierBox{v}) }

func (e *Engine) signatureVerifier() SignatureVerifier {
	if b := e.verifier.Load(); b != nil {
		return b.SignatureVerifier
	}
	return nil
}

// MaxSignatureSize bounds a signature file: a CAdES-X Long with its chain
// and revocation data is tens of kilobytes.
const MaxSignatureSize = 1 << 20

// verifySignature checks c's signature against the version current now
// and keeps its file; the command checks again, in its transaction, that
// the version is still current.
func (e *Engine) verifySignature(ctx context.Context, c DecideCmd) (*Signature, error) {
	d, err := e.store.DocumentOfTask(ctx, c.TaskID)
	if err != nil {
		return nil, err
	}
	t, ok := d.Task(c.TaskID)
	if !ok {
		return nil, Errorf(KindNotFound, "task_not_found", "task %d", c.TaskID)
	}
	if !d.SignedByUpload(t) && !d.SignedInDSS(t) {
		return nil, Errorf(KindInvalid, "signature_not_expected", "task %d is not signed by an uploaded signature", t.ID)
	}
	v := e.signatureVerifier()
	if v == nil {
		return nil, Errorf(KindInvalid, "no_verifier", "no signature verifier is configured (signatures: in the configuration)")
	}
	sig, err := io.ReadAll(io.LimitReader(c.Signature.Content, MaxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	if len(sig) > MaxSignatureSize {
		return nil, Errorf(KindInvalid, "signature_too_large", "%d bytes", len(sig))
	}
	ver, data, err := e.currentBytes(d)
	if err != nil {
		return nil, err
	}
	check, err := v.VerifyDetached(ctx, data, sig)
	if err != nil {
		return nil, err
	}
	sum, size, err := e.files.Put(ctx, bytes.NewReader(sig), MaxSignatureSize)
	if err != nil {
		return nil, err
	}
	name := CleanFileName(c.Signature.Name)
	if name == "" || name == "." {
		name = fmt.Sprintf("v%d.sig", ver.No)
	}
	return &Signature{TaskID: t.ID, Version: ver.No, VersionSHA256: ver.SHA256, FileName: name, SHA256: sum, Size: size, Method: SignUpload,
		SignatureCheck: check}, nil
}

// SignedByUpload reports whether t is a task of a sign stage signed by an
// uploaded signature.
func (d *Document) SignedByUpload(t *Task) bool {
	return t.Kind == KindSign && t.Stage < len(d.Stages) && d.Stages[t.Stage].Method == SignUpload
}

// checkSignature holds "done" on a task to its stage's method: a stage
// signed by upload takes a verified signature of the version current now,
// and no other stage takes one.
func (o *op) checkSignature(t *Task, sig *Signature) error {
	electronic := o.d.SignedByUpload(t) || o.d.SignedInDSS(t)
	switch {
	case electronic && sig == nil:
		return Errorf(KindInvalid, "signature_required", "task %d is signed by an electronic signature of the final version", t.ID)
	case !electronic && sig != nil:
		return Errorf(KindInvalid, "signature_not_expected", "task %d is not signed by an uploaded signature", t.ID)
	case sig == nil:
		return nil
	case sig.TaskID != t.ID:
		return Errorf(KindInvalid, "signature_not_expected", "the signature was checked for task %d, not %d", sig.TaskID, t.ID)
	}
	if v, ok := o.d.Version(o.d.CurrentVersion()); !ok || v.No != sig.Version || v.SHA256 != sig.VersionSHA256 {
		return Errorf(KindConflict, "version_changed", "v%d was signed; the document has a newer version", sig.Version)
	}
	return nil
}

// recordSignature keeps a verified signature with the task it closes, in
// the record and in the audit chain.
func (o *op) recordSignature(t *Task, s Signature, actor, forWhom PersonID) {
	s.By, s.For, s.At = actor, forWhom, o.now
	o.d.Signatures = append(o.d.Signatures, s)
	o.audit("signature_verified", actor, forWhom, t.ID, fmt.Sprintf("v%d %s: %s, serial %s, issued by %s, signature sha256:%s, checked by %s",
		s.Version, s.FileName, s.Owner, s.Serial, s.Issuer, s.SHA256, s.Verifier))
}
