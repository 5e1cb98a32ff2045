package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is the body of every error response, and the error Client returns
// for one.
type Error struct {
	// Status is the HTTP status code; it is not part of the body.
	Status int `json:"-"`
	// Code is one of the Code constants; empty when a response that was not
	// the server's (a proxy's error page) reached the client.
	Code string `json:"error"`
	// Reason says what went wrong and, where it helps, what to do.
	Reason string `json:"reason"`
	// retryAfter, if set, is sent as Retry-After, in seconds.
	retryAfter int
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Reason)
	}
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Reason)
}

// The error codes, with the status each is sent with.
const (
	CodeBadRequest           = "bad_request"            // 400: a malformed body, path or query parameter
	CodeNotFound             = "not_found"              // 404: no such route, transaction, VM, event or snapshot
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeTooLarge             = "too_large"              // 413: body or batch over its bound
	CodeUnsupportedMediaType = "unsupported_media_type" // 415
	CodeRejected             = "rejected"               // 422: the transaction is refused
	CodeInternal             = "internal"               // 500
	CodeBusy                 = "busy"                   // 503: too many pending transactions; retry later
	CodeUnavailable          = "unavailable"            // 503: the node stopped
	CodeTimeout              = "timeout"                // 504: the node did not answer in time
)

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Reason: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, CodeNotFound, format, args...)
}

func rejected(format string, args ...any) *Error {
	return errorf(http.StatusUnprocessableEntity, CodeRejected, format, args...)
}

func tooLarge(format string, args ...any) *Error {
	return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, format, args...)
}
