package web

import (
	"context"

	"saex/internal/features"
	mw "saex/internal/web/middleware"
)

// The API-key gate, login sessions and the login form live in the
// middleware package (mw.Auth); Hardening.Install wires them. These names
// stay here for the handlers and the tests.

// KeyHeader is the request header carrying an API key, Neuronpedia's.
const KeyHeader = mw.KeyHeader

// SessionCookie is the cookie the login form sets: a session token.
const SessionCookie = mw.SessionCookie

// DefaultSessionTTL is how long a login lasts.
const DefaultSessionTTL = mw.DefaultSessionTTL

// Paths served by the hardening layer itself, next to the router's.
const (
	LoginPath   = mw.LoginPath
	LogoutPath  = mw.LogoutPath
	MetricsPath = mw.MetricsPath
)

// APIKeyFrom returns the key that authenticated the request, or nil.
func APIKeyFrom(ctx context.Context) *features.APIKey { return mw.APIKeyFrom(ctx) }
