package features

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The web layer maps them to HTTP status
// codes; the store and the compute engine return them so callers can tell
// "you asked for something wrong" from "we broke".
const (
	ECONFLICT      = "conflict"      // 409: the write collides with existing data
	EINTERNAL      = "internal"      // 500: a bug or an unexpected failure
	EINVALID       = "invalid"       // 400: malformed or inconsistent input
	ENOTFOUND      = "not_found"     // 404
	EUNAUTHORIZED  = "unauthorized"  // 401: missing, unknown or revoked API key
	EFORBIDDEN     = "forbidden"     // 403
	ETOOLARGE      = "too_large"     // 413: body or batch over its cap
	EUNPROCESSABLE = "unprocessable" // 422: well-formed but cannot be computed (e.g. prompt longer than the context)
	ERATELIMIT     = "rate_limited"  // 429
	EUNAVAILABLE   = "unavailable"   // 503: the database or the compute pool is down or saturated
)

// Error is a domain error with a code and a message safe to show to users.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that keeps err as its cause.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the message of its
// *Error, or "internal error" for anything else (details stay in the logs).
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
