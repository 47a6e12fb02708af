package gguf

import "fmt"

// Open memory-maps the GGUF file at path (on platforms without mmap support
// it reads the whole file) and parses it. Tensor bytes are views of the
// mapping and are valid until Close; the metadata is copied out of the
// mapping and stays valid after Close.
func Open(path string) (*File, error) {
	b, unmap, mapped, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: open %s: %w", path, err)
	}
	f, err := Parse(b)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.cloneMeta()
	f.closer = unmap
	if mapped {
		f.mapping = b
	}
	return f, nil
}

// Populate reads b, a tensor's bytes (or part of them) in f's mapping,
// into memory ahead of use with one call where the system can (Linux's
// MADV_POPULATE_READ), rather than a page fault per page as they are
// read: a loader about to read a whole tensor once calls it. It does
// nothing where the file was read into memory or the advice is refused.
func (f *File) Populate(b []byte) {
	if f.mapping != nil {
		populatePages(f.mapping, b)
	}
}

// Release tells the operating system that the process no longer needs b,
// a tensor's bytes (or part of them) in f's mapping: the whole pages inside
// b leave the process's resident memory, and are read back from the file
// (usually from the page cache) if touched again, so b stays valid. A
// loader that copies a tensor into another layout calls it so that the
// tensor is not resident twice. It does nothing where the file was read
// into memory rather than mapped, or for bytes outside the mapping.
func (f *File) Release(b []byte) {
	if f.mapping != nil {
		releasePages(f.mapping, b)
	}
}
