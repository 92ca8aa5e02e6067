package web

import (
	"context"

	"saex/internal/features"
)

// AuthorizeWrite is the scope check of any write route: the request's key
// (set by the hardening) must not be read-only. Without hardening (a bare
// router in tests) there is no key and it passes.
func AuthorizeWrite(ctx context.Context) error {
	return features.AuthorizeWrite(APIKeyFrom(ctx))
}

// AuthorizeSourceWrite is the scope check of a route that changes one
// source's data: an admin key anywhere, an upload key only on a source it
// created. Write routes call it once the source exists (after creating it
// with OwnerKeyID set, for uploads). It fails closed: with a key but no
// way to read owners, only an admin key passes.
func (s *Server) AuthorizeSourceWrite(ctx context.Context, modelID, sourceID string) error {
	k := APIKeyFrom(ctx)
	if k == nil || k.Scope == features.ScopeAdmin {
		return features.AuthorizeSourceWrite(k, "")
	}
	owners, ok := s.Catalog.(features.SourceOwners)
	if !ok {
		return features.Errorf(features.EFORBIDDEN, "source ownership cannot be checked on this server: only admin keys may write")
	}
	owner, err := owners.SourceOwner(ctx, modelID, sourceID)
	if err != nil {
		return err
	}
	return features.AuthorizeSourceWrite(k, owner)
}

// uploadOwner is the owner a source created by this request gets: the
// request's key, or the admin ("") without one.
func uploadOwner(ctx context.Context) string {
	if k := APIKeyFrom(ctx); k != nil {
		return k.ID
	}
	return ""
}
