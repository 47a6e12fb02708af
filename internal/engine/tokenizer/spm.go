package tokenizer

// symbol is a span of the text being merged, linked to its neighbours.
type symbol struct {
	start, n   int
	prev, next int
}

// utf8Len is the sequence length announced by a UTF-8 lead byte, judged by
// its top four bits only (continuation and invalid bytes count as 1), as
// llama.cpp splits text into characters.
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// splitSymbols cuts s into one symbol per (possibly invalid) character.
func splitSymbols(s string, syms []symbol) []symbol {
	syms = syms[:0]
	for off := 0; off < len(s); {
		n := min(utf8Len(s[off]), len(s)-off)
		i := len(syms)
		next := i + 1
		if off+n == len(s) {
			next = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: i - 1, next: next})
		off += n
	}
	return syms
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

func spmLess(a, b spmBigram) bool {
	// The best bigram has the highest score; ties go to the leftmost.
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// encodeSPM tokenizes an already space-escaped fragment with the
// SentencePiece bigram algorithm and appends the ids to out.
func (t *Tokenizer) encodeSPM(s string, out []int32) []int32 {
	syms := splitSymbols(s, nil)
	q := heap[spmBigram]{less: spmLess}
	tryAdd := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l := syms[left]
		text := s[l.start : l.start+l.n+syms[right].n]
		id, ok := t.ids[text]
		if !ok {
			return
		}
		var score float32
		if t.v.Scores != nil {
			score = t.v.Scores[id]
		}
		q.push(spmBigram{left: left, right: right, score: score, size: len(text)})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.len() > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	if len(syms) == 0 {
		return out
	}
	for i := 0; i != -1; i = syms[i].next {
		sym := syms[i]
		text := s[sym.start : sym.start+sym.n]
		if id, ok := t.ids[text]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(text); j++ {
			id := t.byteIDs[text[j]]
			if id == NoToken {
				id = t.v.UNK
			}
			if id != NoToken {
				out = append(out, id)
			}
		}
	}
	return out
}

// heap is a binary min-heap ordered by less.
type heap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *heap[T]) len() int { return len(h.items) }

func (h *heap[T]) push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(h.items[i], h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *heap[T]) pop() T {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		m := l
		if r := l + 1; r < last && h.less(h.items[r], h.items[l]) {
			m = r
		}
		if !h.less(h.items[m], h.items[i]) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}
