package features

// Key scopes: what an API key may do beyond reading.
const (
	// ScopeRead reads and runs prompts (what a private instance needs a
	// key for) and writes nothing.
	ScopeRead = "read"
	// ScopeUpload writes to the sources the key created (uploads create
	// them), and adds explanations, as Neuronpedia ties uploads to their
	// creator.
	ScopeUpload = "upload"
	// ScopeAdmin writes anywhere; the demo and imported sources belong to
	// the admin.
	ScopeAdmin = "admin"
)

// ValidScope reports whether s is a known scope.
func ValidScope(s string) bool { return s == ScopeRead || s == ScopeUpload || s == ScopeAdmin }

// AuthorizeWrite checks that k may write at all (not read-only). A nil key
// means the server checks no keys (tests of the bare router) and passes.
func AuthorizeWrite(k *APIKey) error {
	if k == nil || k.Scope == ScopeAdmin || k.Scope == ScopeUpload {
		return nil
	}
	return Errorf(EFORBIDDEN, "API key %q is read-only (scope %q): it cannot write", k.Name, k.Scope)
}

// AuthorizeSourceWrite checks that k may change the features of a source
// owned by ownerKeyID ("" is the admin): an admin key anywhere, an upload
// key on the sources it created.
func AuthorizeSourceWrite(k *APIKey, ownerKeyID string) error {
	if err := AuthorizeWrite(k); err != nil {
		return err
	}
	if k == nil || k.Scope == ScopeAdmin || (ownerKeyID != "" && ownerKeyID == k.ID) {
		return nil
	}
	return Errorf(EFORBIDDEN, "API key %q (scope %q) may only write to sources it created", k.Name, k.Scope)
}
