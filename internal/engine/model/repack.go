package model

import (
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// repack copies every matrix product's weights whose type has a repacked
// layout the kernels multiply (tensor.Repacked, Kernels.MatFunc) into
// anonymous memory in that layout, and releases the file pages it read
// (gguf.File.Release) so that the weights are resident once. When
// token_embd doubles as the output matrix, its rows are then looked up in
// the repacked copy (tensor.UnpackRow), so that no file page of it stays
// resident; otherwise token_embd is not repacked and stays in the file.
//
// It is the one copy of weights on load. It costs time at start
// (0.2-0.55 s for the 0.5B test models on two cores) and takes the repacked
// matrices out of the page cache's sharing between processes; in return
// the Q4_0, Q5_0, Q4_1, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K products run on the interleaved
// layouts, and from huge pages once settled.
func (m *Model) repack(threads int) error {
	var mats []*matrix
	add := func(w *matrix) {
		rt, ok := tensor.Repacked(w.typ)
		if ok && m.kern.MatFunc(rt) != nil && w.rows%tensor.RepackRows(rt) == 0 {
			mats = append(mats, w)
		}
	}
	// A vocabulary that is not a multiple of 8 (GPT-2's 50257) leaves
	// the output's last rows in the file, as a matrix of their own.
	if rt, ok := tensor.Repacked(m.output.typ); ok && m.kern.MatFunc(rt) != nil {
		if g := tensor.RepackRows(rt); m.output.rows%g != 0 && m.output.rows > g {
			head := m.output.rows / g * g
			m.outTail = m.output
			m.outTail.rows = m.output.rows - head
			m.outTail.data = m.output.data[head*m.output.rowBytes:]
			m.output.rows, m.output.data = head, m.output.data[:head*m.output.rowBytes]
		}
	}
	add(&m.output)
	for i := range m.layers {
		ly := &m.layers[i]
		for _, w := range []*matrix{&ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.gate, &ly.up, &ly.down} {
			add(w)
		}
	}
	total := 0
	for _, w := range mats {
		total += len(w.data)
	}
	if total == 0 {
		return nil
	}
	a, err := newArena(total)
	if err != nil {
		return fmt.Errorf("model: repacking %d bytes of weights: %w", total, err)
	}
	m.arena, m.repackedBytes = a, int64(total)
	arena := a.bytes()
	run := tensor.Goroutines(threads)
	for _, w := range mats {
		rt, _ := tensor.Repacked(w.typ)
		dst, src := arena[:len(w.data):len(w.data)], w.data
		arena = arena[len(w.data):]
		group := tensor.RepackRows(rt) * w.rowBytes
		var firstErr error
		run.Run(w.rows/tensor.RepackRows(rt), max(1, (1<<20)/group), func(lo, hi int) {
			m.file.Populate(src[lo*group : hi*group]) // one call, not a fault per page
			if err := tensor.Repack(w.typ, (hi-lo)*tensor.RepackRows(rt), w.cols, dst[lo*group:hi*group], src[lo*group:hi*group]); err != nil && lo == 0 {
				firstErr = err
			}
		})
		if firstErr != nil {
			return fmt.Errorf("model: repacking %s: %w", w.name, firstErr)
		}
		m.file.Release(src)
		w.typ, w.data, w.dot = rt, dst, nil // no DotFunc: rows are interleaved
	}
	m.embdRepacked = m.cfg.TiedEmbeddings && m.output.typ != m.embd.typ
	a.settle()
	return nil
}

// Settle waits until the background work of loading is done: moving the
// repacked weights to huge pages (Linux), which takes up to a second or
// two of one core after Load returns and makes decoding faster. The model
// serves meanwhile; a benchmark of steady-state speed waits first.
func (m *Model) Settle() {
	if m.arena != nil {
		m.arena.wait()
	}
}

// RepackedBytes returns the bytes of weights the model copied into
// anonymous memory on load to repack them (0 with Options.NoRepack, or
// when no matrix has a repacked layout on these kernels). They are part
// of WeightsBytes, not in addition to it.
func (m *Model) RepackedBytes() int64 { return m.repackedBytes }
