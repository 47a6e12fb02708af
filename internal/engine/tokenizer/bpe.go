package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// byteTables maps every byte to the printable rune GPT-2's byte-level BPE
// stores it as, and back.
type byteTables struct {
	toRune [256]rune
	toByte map[rune]byte
	// encoded holds the UTF-8 form of toRune, to build words quickly.
	encoded [256]string
}

var gpt2Bytes = sync.OnceValue(func() *byteTables {
	t := &byteTables{toByte: make(map[rune]byte, 256)}
	next := rune(256)
	for b := range 256 {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = next
			next++
		}
		t.toRune[b] = r
		t.toByte[r] = byte(b)
		t.encoded[b] = string(r)
	}
	return t
})

// initBPE prepares merge ranks and the pre-tokenizer.
func (t *Tokenizer) initBPE() error {
	pre, err := newPreTokenizer(t.v.Pre)
	if err != nil {
		return err
	}
	t.pre = pre
	t.ignoreMrg = pre.ignoreMerges
	t.ranks = make(map[[2]string]int32, len(t.v.Merges))
	for i, m := range t.v.Merges {
		// The separator is the first space after the first byte, so a merge
		// may start with a space.
		j := -1
		if len(m) > 1 {
			if k := strings.IndexByte(m[1:], ' '); k >= 0 {
				j = k + 1
			}
		}
		if j < 0 {
			return fmt.Errorf("tokenizer: merge %d %q has no separator", i, m)
		}
		key := [2]string{m[:j], m[j+1:]}
		if _, dup := t.ranks[key]; !dup {
			t.ranks[key] = int32(i)
		}
	}
	return nil
}

type bpeBigram struct {
	left, right int
	rank        int32
	size        int
}

func bpeLess(a, b bpeBigram) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// encodeBPE pre-tokenizes a raw fragment, byte-encodes each word and merges
// it by rank, appending ids to out.
func (t *Tokenizer) encodeBPE(text string, out []int32) []int32 {
	bt := gpt2Bytes()
	var (
		word strings.Builder
		syms []symbol
		q    = heap[bpeBigram]{less: bpeLess}
	)
	for _, w := range t.pre.split(text) {
		word.Reset()
		for i := 0; i < len(w); i++ {
			word.WriteString(bt.encoded[w[i]])
		}
		s := word.String()
		if t.ignoreMrg {
			if id, ok := t.ids[s]; ok {
				out = append(out, id)
				continue
			}
		}
		syms = splitSymbols(s, syms)
		q.items = q.items[:0]
		tryAdd := func(left, right int) {
			if left < 0 || right < 0 {
				return
			}
			l, r := syms[left], syms[right]
			rank, ok := t.ranks[[2]string{s[l.start : l.start+l.n], s[r.start : r.start+r.n]}]
			if !ok {
				return
			}
			q.push(bpeBigram{left: left, right: right, rank: rank, size: l.n + r.n})
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
			continue
		}
		for i := 0; i != -1; i = syms[i].next {
			sym := syms[i]
			piece := s[sym.start : sym.start+sym.n]
			if id, ok := t.ids[piece]; ok {
				out = append(out, id)
				continue
			}
			// No token for the piece: fall back to single bytes that exist.
			for j := 0; j < len(piece); j++ {
				if id, ok := t.ids[piece[j:j+1]]; ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// decodeBPEText turns the byte-level text of a token back into bytes. Runes
// outside the byte table are copied as UTF-8.
func decodeBPEText(dst []byte, s string) []byte {
	bt := gpt2Bytes()
	for _, r := range s {
		if b, ok := bt.toByte[r]; ok {
			dst = append(dst, b)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
