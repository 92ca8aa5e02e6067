//go:build !unix

package tensor

import "os"

// mapFile reads the whole file where mmap is unavailable.
func mapFile(path string) ([]byte, func() error, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, false, err
	}
	return data, func() error { return nil }, false, nil
}

// releasePages has nothing to release without a mapping.
func releasePages(mapping, part []byte) error { return nil }
