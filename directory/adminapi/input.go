package adminapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/ssobroker/ssobroker/directory"
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

// decode reads the request's JSON body into v strictly: Content-Type must be
// application/json, unknown fields and trailing data are refused, and the
// body is at most 64 KiB. An empty body is refused unless optional.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	// Peek one byte to tell an empty body from a present one without trusting Content-Length.
	var first [1]byte
	n, err := io.ReadFull(body, first[:])
	if n == 0 {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
		if optional {
			return nil
		}
		return badRequest("a JSON request body is required")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, perr := mime.ParseMediaType(ct)
	if perr != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			message: "the request body must be JSON with Content-Type: application/json"}
	}
	dec := json.NewDecoder(io.MultiReader(strings.NewReader(string(first[:])), body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("the request body must hold exactly one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into 400 (malformed), 422 (a field of the
// wrong type or not known) or 413 (too large).
func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		return invalidField(te.Field, "field "+strconv.Quote(te.Field)+" must be "+jsonKind(te.Type.Kind().String()))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return invalidField(f, "unknown field "+strconv.Quote(f))
	}
	return badRequest("the request body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") || strings.HasPrefix(k, "float") {
		return "a number"
	}
	return "of another type"
}

// noBody accepts an absent body or an empty JSON object, for POSTs that take none.
func noBody(w http.ResponseWriter, r *http.Request) error {
	return decode(w, r, &struct{}{}, true)
}

// page reads ?cursor= and ?limit=. Cursors are opaque to clients.
func page(r *http.Request) (directory.Page, error) {
	var p directory.Page
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return p, invalidField("limit", "limit must be a whole number from 1 to 500")
		}
		p.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return p, invalidField("cursor", "cursor is not one this API returned")
		}
		p.After = string(b)
	}
	return p, nil
}

// cursor makes a store cursor opaque; "" stays "".
func cursor(after string) string {
	if after == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

// list is the JSON of every paginated list.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: cursor(next)}
}

// ifMatch reads If-Match as a version: 0 when absent or "*" (no condition),
// and a 412 when it names no version this API hands out.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	// Only the first entity tag of a list is considered; clients send one.
	h, _, _ = strings.Cut(h, ",")
	v, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(h), `"`), 10, 64)
	if err != nil || v < 1 || strings.HasPrefix(h, "W/") {
		return 0, &apiError{status: http.StatusPreconditionFailed, code: "precondition_failed",
			message: "If-Match names no current version; read the object again"}
	}
	return v, nil
}

// etag is the entity tag of a version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// notModified reports whether If-None-Match already names version.
func notModified(r *http.Request, version int64) bool {
	for _, t := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag(version) || t == "*" {
			return true
		}
	}
	return false
}
