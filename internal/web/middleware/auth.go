package middleware

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"saex/internal/features"
)

// This file is the API-key side of production hardening: writes need a key,
// a private instance needs one for everything, and browsers log in to a
// private instance with a small form that starts a server-side session.
//
// Decisions (documented in docs/reliability.md):
//   - Reads and compute stay public unless the instance is private; on public
//     routes an X-Api-Key header is ignored, valid or not, because
//     Neuronpedia's Python client sends its own key with every request.
//     A public page may still ask who is logged in (Identify) to offer what
//     that key may do (the source page's auto-interp form); an invalid key
//     there makes an anonymous visitor, never a refusal.
//   - A key is read from the X-Api-Key header, else a session from the
//     login cookie.
//   - The cookie holds an opaque session token, never the key: the server
//     keeps its hash, its key and its end (30 days); revoking the key ends
//     its sessions. HttpOnly, SameSite=Lax, Secure over TLS or behind a
//     proxy the operator declares (Hardening.TrustProxyTLS).
//   - Unsafe requests authenticated by the cookie must also pass
//     http.CrossOriginProtection, whichever group they are in.

// KeyHeader is the request header carrying an API key, Neuronpedia's.
const KeyHeader = "X-Api-Key"

// SessionCookie is the cookie the login form sets: a session token.
const SessionCookie = "saex_session"

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = 30 * 24 * time.Hour

// keyCtx is the context key of the authenticated *features.APIKey.
type keyCtx struct{}

// APIKeyFrom returns the key that authenticated the request, or nil.
func APIKeyFrom(ctx context.Context) *features.APIKey {
	k, _ := ctx.Value(keyCtx{}).(*features.APIKey)
	return k
}

// Auth checks API keys. Its zero value is not usable: build it with NewAuth.
type Auth struct {
	// Keys authenticates secrets; nil refuses every key (writes are then
	// impossible and a private instance serves nothing but its login form).
	Keys features.APIKeyService
	// Private requires a key for every route except /healthz, /readyz,
	// /static/ and the login form.
	Private bool
	// AuthTimeout bounds the key lookup, so a slow database turns into a
	// fast 503 instead of a hung request.
	AuthTimeout time.Duration
	// Sessions keeps login sessions; nil: Keys when it keeps them too,
	// else the login form cannot log anyone in.
	Sessions features.SessionService
	// SessionTTL is how long a login lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure on every response
	// (behind a TLS-terminating proxy); without it, only over direct TLS.
	SecureCookies bool

	// Logger, when not nil, gives the logger of a request's errors (an
	// unavailable key check, a failed logout): the server's, with the
	// request id.
	Logger func(*http.Request) *slog.Logger
	// OnReject, when not nil, is told the status of every refusal (metrics).
	OnReject func(status int)

	cop *http.CrossOriginProtection
}

// NewAuth returns an Auth over keys. trustedOrigins (e.g.
// "https://notebooks.example.org") may post cross-origin anyway.
func NewAuth(keys features.APIKeyService, private bool, trustedOrigins []string) (*Auth, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, features.Wrap(features.EINVALID, err, "trusted origin %q", o)
		}
	}
	a := &Auth{Keys: keys, Private: private, AuthTimeout: 5 * time.Second, SessionTTL: DefaultSessionTTL, cop: cop}
	a.Sessions, _ = keys.(features.SessionService)
	cop.SetDenyHandler(http.HandlerFunc(a.denyCrossOrigin))
	return a, nil
}

// keyFrom returns the secret a request carries and whether it is a session
// token from the cookie: the X-Api-Key header, else an "Authorization:
// Bearer" header (what Prometheus scrapers send), else the login cookie.
func keyFrom(r *http.Request) (secret string, fromCookie bool) {
	if k := strings.TrimSpace(r.Header.Get(KeyHeader)); k != "" {
		return k, false
	}
	if scheme, k, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(k) != "" {
		return strings.TrimSpace(k), false
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// authenticate checks the request's key; a request authenticated by the
// cookie with an unsafe method must also be same-origin.
func (a *Auth) authenticate(r *http.Request) (*features.APIKey, error) {
	secret, fromCookie := keyFrom(r)
	if secret == "" {
		return nil, features.Errorf(features.EUNAUTHORIZED, "an API key is required: send it in the %s header", KeyHeader)
	}
	if fromCookie {
		if err := a.cop.Check(r); err != nil {
			return nil, features.Wrap(features.EFORBIDDEN, err, "cross-origin request refused")
		}
	}
	if a.Keys == nil || (fromCookie && a.Sessions == nil) {
		return nil, features.Errorf(features.EUNAUTHORIZED, "API keys are not enabled on this server")
	}
	ctx := r.Context()
	if a.AuthTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.AuthTimeout)
		defer cancel()
	}
	var k *features.APIKey
	var err error
	if fromCookie {
		k, err = a.Sessions.SessionKey(ctx, secret)
	} else {
		k, err = a.Keys.Authenticate(ctx, secret)
	}
	if err != nil {
		if code := features.ErrorCode(err); code == features.EUNAUTHORIZED || code == features.EUNAVAILABLE {
			return nil, err
		}
		// Anything else (a bug, a strange secret) still must not let the request in.
		return nil, features.Wrap(features.EUNAVAILABLE, err, "cannot check the API key right now")
	}
	return k, nil
}

// Identify returns the key a request carries (header or login cookie)
// when it is valid, nil otherwise: public pages use it to show what the
// logged-in user may do, never to refuse anyone.
func (a *Auth) Identify(r *http.Request) *features.APIKey {
	if k := APIKeyFrom(r.Context()); k != nil {
		return k
	}
	if secret, _ := keyFrom(r); secret == "" {
		return nil
	}
	k, err := a.authenticate(r)
	if err != nil {
		return nil
	}
	return k
}

// WithAPIKey returns ctx carrying k as the request's key.
func WithAPIKey(ctx context.Context, k *features.APIKey) context.Context {
	return context.WithValue(ctx, keyCtx{}, k)
}

// RequireKey lets a request through only with a valid, unrevoked key:
// 401 JSON without one, 403 for a cross-origin cookie request, 503 when
// keys cannot be checked. It guards the write API.
func (a *Auth) RequireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := a.authenticate(r)
		if err != nil {
			a.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, k)))
	})
}

// RequireWriteKey is RequireKey for the write API: the key must also be
// allowed to write (not read-only); 403 otherwise. Routes that change one
// source's data check its owner too (Server.AuthorizeSourceWrite).
func (a *Auth) RequireWriteKey(next http.Handler) http.Handler {
	return a.RequireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := features.AuthorizeWrite(APIKeyFrom(r.Context())); err != nil {
			a.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// Gate is RequireKey for a private instance and a no-op otherwise. Pages
// without a key get the login form (status 401) instead of JSON.
func (a *Auth) Gate(next http.Handler) http.Handler {
	if !a.Private {
		return next
	}
	return a.RequireKey(next)
}

// CrossOrigin refuses unsafe cross-origin browser requests with 403: the
// pages' form posts and the write API.
func (a *Auth) CrossOrigin(next http.Handler) http.Handler {
	return a.cop.Handler(next)
}

// denyCrossOrigin answers a refused cross-origin request.
func (a *Auth) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	a.reject(w, r, features.Errorf(features.EFORBIDDEN, "cross-origin request refused"))
}

// authStatus is the HTTP status of an authentication error. The key check
// yields only these codes (anything else from the key store is wrapped as
// EUNAVAILABLE); the rest is an internal error, as in the API's mapping.
func authStatus(code string) int {
	switch code {
	case features.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case features.EFORBIDDEN:
		return http.StatusForbidden
	case features.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// reject writes an authentication failure: JSON for the API, the login
// form for a page that needs a key, plain text otherwise.
func (a *Auth) reject(w http.ResponseWriter, r *http.Request, err error) {
	status := authStatus(features.ErrorCode(err))
	msg := features.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		msg = "internal error"
	}
	if a.OnReject != nil {
		a.OnReject(status)
	}
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
		if a.Logger != nil {
			a.Logger(r).Warn("API key check unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		}
	}
	if IsAPI(r) {
		writeJSON(w, status, struct {
			Error string `json:"error"`
		}{msg}) // the API's error shape, Neuronpedia's
		return
	}
	if status == http.StatusUnauthorized && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		a.renderLogin(w, http.StatusUnauthorized, r.URL.RequestURI(), msg)
		return
	}
	http.Error(w, msg, status)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>saex: API key required</title><link rel="stylesheet" href="/static/saex.css"></head>
<body><main class="login">
<h1>saex</h1>
<p>This instance needs an API key. Ask its administrator for one (<code>saex apikey create --name NAME</code>).</p>
{{if .Message}}<p class="error" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
<label>API key <input type="password" name="key" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>
</main></body></html>
`))

// renderLogin writes the login form.
func (a *Auth) renderLogin(w http.ResponseWriter, status int, next, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, struct{ Next, Message string }{safeNext(next), msg})
}

// safeNext keeps a post-login redirect on this site: a local absolute path,
// never "//host" or "/\host" (which browsers treat as another origin).
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.ContainsAny(next, "\r\n\x00") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// HandleLogin serves the login form (GET) and checks a posted key (POST):
// a valid key sets the cookie and redirects to the page asked for.
func (a *Auth) HandleLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a.renderLogin(w, http.StatusOK, r.URL.Query().Get("next"), "")
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, http.StatusBadRequest, "/", "The form could not be read.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	secret := strings.TrimSpace(r.PostForm.Get("key"))
	// Check the posted key only: a stale cookie must not decide the login.
	r.Header.Del("Cookie")
	r.Header.Set(KeyHeader, secret)
	k, err := a.authenticate(r)
	if err == nil && a.Sessions == nil {
		err = features.Errorf(features.EUNAVAILABLE, "login sessions are not enabled on this server")
	}
	var token string
	if err == nil {
		token, err = a.Sessions.CreateSession(r.Context(), k.ID, a.SessionTTL)
	}
	if err != nil {
		status := authStatus(features.ErrorCode(err))
		msg := "That API key is not valid."
		if status == http.StatusServiceUnavailable || status == http.StatusInternalServerError {
			status, msg = http.StatusServiceUnavailable, "The key cannot be checked right now; try again shortly."
		} else {
			status = http.StatusUnauthorized
		}
		a.renderLogin(w, status, next, msg)
		return
	}
	http.SetCookie(w, a.sessionCookie(r, token, int(a.SessionTTL/time.Second)))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// HandleLogout clears the cookie (POST only, so a link cannot log anyone out).
func (a *Auth) HandleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && a.Sessions != nil {
		if err := a.Sessions.DeleteSession(r.Context(), c.Value); err != nil && a.Logger != nil {
			a.Logger(r).Warn("logout: session not deleted", "error", err)
		}
	}
	http.SetCookie(w, a.sessionCookie(r, "", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sessionCookie is the login cookie: HttpOnly (no script reads it),
// SameSite=Lax (sent on top-level navigation from other sites, so a link
// to a private page works; never on their posts), Secure over TLS or
// behind a declared TLS proxy.
func (a *Auth) sessionCookie(r *http.Request, token string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || a.SecureCookies,
	}
}
