package gguf

import "fmt"

// Open memory-maps the GGUF file at path (on platforms without mmap support
// it reads the whole file) and parses it. Tensor bytes are views of the
// mapping and are valid until Close; the metadata is copied out of the
// mapping and stays valid after Close.
func Open(path string) (*File, error) {
	b, unmap, err := mapFile(path)
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
	return f, nil
}
