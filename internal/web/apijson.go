package web

// This file is the API's JSON codec: error replies (status from the domain
// error code), decoding request bodies into errors that name the field,
// and the shared id validators.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	mw "saex/internal/web/middleware"
	"strings"
	"unicode/utf8"

	"saex/internal/features"
)

// statusOf maps a domain error code to an HTTP status code.
func statusOf(code string) int {
	switch code {
	case features.EINVALID:
		return http.StatusBadRequest
	case features.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case features.EFORBIDDEN:
		return http.StatusForbidden
	case features.ENOTFOUND:
		return http.StatusNotFound
	case features.ECONFLICT:
		return http.StatusConflict
	case features.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case features.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case features.ERATELIMIT:
		return http.StatusTooManyRequests
	case features.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// errorBody is the JSON shape of every API error, as Neuronpedia sends it.
type errorBody struct {
	Error string `json:"error"`
}

// userError returns the status and the message safe to show for err, and
// logs the cause of internal errors.
func (s *Server) userError(r *http.Request, err error) (int, string) {
	code := features.ErrorCode(err)
	status := statusOf(code)
	msg := features.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		msg = "internal error"
		s.reqLogger(r).Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	} else if status == http.StatusServiceUnavailable {
		s.reqLogger(r).Warn("request unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	return status, msg
}

// apiError writes err as {"error": "..."} with the status of its code.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.userError(r, err)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: msg})
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing more to do
}

// decodeJSON reads one JSON value from the request body, capped at limit
// bytes, into v. Errors are EINVALID naming the field, or ETOOLARGE.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") && !strings.HasPrefix(ct, "text/plain") {
		return features.Errorf(features.EINVALID, "request body must be JSON (Content-Type %q)", ct)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err, limit)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, limit)
		}
		return features.Errorf(features.EINVALID, "request body has data after the JSON value")
	}
	return nil
}

// jsonError explains a decoding error in terms of the request.
func jsonError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var slow *mw.BodyDeadlineError
	switch {
	case errors.As(err, &slow):
		return features.Errorf(features.EINVALID, "%s", slow.Error())
	case errors.As(err, &mbe):
		return features.Errorf(features.ETOOLARGE, "request body is larger than %d bytes", limit)
	case errors.Is(err, io.EOF):
		return features.Errorf(features.EINVALID, "request body is empty: expected JSON")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return features.Errorf(features.EINVALID, "request body is truncated JSON")
	case errors.As(err, &syn):
		return features.Errorf(features.EINVALID, "request body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "request body"
		}
		return features.Errorf(features.EINVALID, "field %q: expected %s, got JSON %s", field, typ.Type, typ.Value)
	default:
		return features.Errorf(features.EINVALID, "invalid request body: %v", err)
	}
}

// invalidField returns an EINVALID error naming the field.
func invalidField(field, format string, args ...any) error {
	return features.Errorf(features.EINVALID, "field %q: %s", field, fmt.Sprintf(format, args...))
}

// modelAndSource validates a request's model id and source id; Neuronpedia's
// clients name the source "source" or, in older code, "layer".
func modelAndSource(modelID, source, layer string) (string, error) {
	if source == "" {
		source = layer
	}
	if !features.ValidID(modelID) {
		return "", invalidField("modelId", "invalid model id %q", modelID)
	}
	if err := sourceField("source", source); err != nil {
		return "", err
	}
	return source, nil
}

// noFeatureAt is a page's 404 for a path that cannot name a feature: no
// such page, with the reason (naming the path segment) for the reader.
func noFeatureAt(r *http.Request, err error) error {
	return features.Errorf(features.ENOTFOUND, "there is no feature at %s: %s", clip(r.URL.Path), features.ErrorMessage(err))
}

// clip shortens a client's value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// sourceField checks a source id sent in the named field with the one rule
// of features.CheckSourceID.
func sourceField(field, id string) error {
	if err := features.CheckSourceID(id); err != nil {
		return invalidField(field, "%s", features.ErrorMessage(err))
	}
	return nil
}
