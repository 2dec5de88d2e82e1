package flows

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that every edge (chat, web, CLI) can map it the
// same way without parsing messages.
type Kind string

const (
	KindInvalid   Kind = "invalid"
	KindForbidden Kind = "forbidden"
	KindNotFound  Kind = "not_found"
	KindConflict  Kind = "conflict"
	KindTransient Kind = "transient"
	KindPermanent Kind = "permanent"
	KindInternal  Kind = "internal"
)

// Error carries a kind and a code. The code names a locale key suffix
// ("error.<code>") so that the person sees a translated, safe message while
// Detail goes only to the log.
type Error struct {
	Kind   Kind
	Code   string
	Detail string
	Err    error
	// RetryAfter is the wait a platform asked for (transient errors).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := string(e.Kind) + ": " + e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted detail for the log.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of the first *Error in err's chain, or
// KindInternal for any other non-nil error.
func ErrorKind(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of the first *Error in err's chain, or
// "internal".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}
