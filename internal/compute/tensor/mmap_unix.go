//go:build unix

package tensor

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps path read-only. The returned release unmaps it; mapped
// reports whether data is a mapping (an empty file is not).
func mapFile(path string) (data []byte, release func() error, mapped bool, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	size := st.Size()
	if size == 0 {
		return nil, func() error { return nil }, false, nil
	}
	if int64(int(size)) != size {
		return nil, nil, false, fmt.Errorf("%s: file too large to map (%d bytes)", path, size)
	}
	data, err = syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: mmap: %w", path, err)
	}
	return data, func() error { return syscall.Munmap(data) }, true, nil
}

// releasePages drops the pages of mapping that hold part, a subslice of
// it, from the resident set (MADV_DONTNEED; the file's data stays in the
// page cache and faults back in when read). The range is widened to whole
// pages, which the mapping always spans (it starts on a page boundary and
// its last page is mapped whole).
func releasePages(mapping, part []byte) error {
	ps := uintptr(os.Getpagesize())
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mapping)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(part)))
	end := start + uintptr(len(part))
	lo := (start - base) &^ (ps - 1)
	hi := (end - base + ps - 1) &^ (ps - 1)
	whole := unsafe.Slice(unsafe.SliceData(mapping), (uintptr(len(mapping))+ps-1)&^(ps-1))
	return syscall.Madvise(whole[lo:hi], syscall.MADV_DONTNEED)
}
