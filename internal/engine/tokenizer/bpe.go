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

// initBPE prepares merge ranks and the pre-tokenizer. Merges are looked
// up by the token ids of their two parts. A merge part or result that is
// not a token (some vocabularies drop tokens but keep their merges) gets a
// virtual id past the end of the vocabulary, so merging still follows the
// text exactly as llama.cpp does.
func (t *Tokenizer) initBPE() error {
	pre, err := newPreTokenizer(t.v.Pre)
	if err != nil {
		return err
	}
	t.pre = pre
	t.ignoreMrg = pre.ignoreMerges
	virt := map[string]int32{}
	idOf := func(s string) int32 {
		if id, ok := t.ids[s]; ok {
			return id
		}
		if id, ok := virt[s]; ok {
			return id
		}
		id := int32(len(t.v.Tokens) + len(t.virtual))
		virt[s] = id
		t.virtual = append(t.virtual, s)
		return id
	}
	bt := gpt2Bytes()
	for b := range 256 {
		t.byteTok[b] = idOf(bt.encoded[b])
	}
	t.pairs = make(map[uint64]mergeInfo, len(t.v.Merges))
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
		key := pairID(idOf(m[:j]), idOf(m[j+1:]))
		if _, dup := t.pairs[key]; !dup {
			t.pairs[key] = mergeInfo{rank: int32(i), id: idOf(m[:j] + m[j+1:])}
		}
	}
	return nil
}

// mergeInfo is the rank of a merge and the id of the token it makes.
type mergeInfo struct{ rank, id int32 }

func pairID(l, r int32) uint64 { return uint64(uint32(l))<<32 | uint64(uint32(r)) }

// idSymbol is a merged span of a word and its token id.
type idSymbol struct {
	n, prev, next int
	id            int32
}

type idBigram struct {
	left, right int
	rank, id    int32
	size        int
}

func idBigramLess(a, b idBigram) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// bpeSession holds the buffers reused across the words of one Encode.
type bpeSession struct {
	syms []idSymbol
	q    heap[idBigram]
}

func (s *bpeSession) tryAdd(t *Tokenizer, left, right int) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	m, ok := t.pairs[pairID(l.id, r.id)]
	if !ok {
		return
	}
	s.q.push(idBigram{left: left, right: right, rank: m.rank, id: m.id, size: l.n + r.n})
}

// encodeWord merges one pre-tokenized word (raw bytes) by token id.
func (t *Tokenizer) encodeWord(s *bpeSession, w string, out []int32) []int32 {
	s.syms = s.syms[:0]
	for i := 0; i < len(w); i++ {
		next := i + 1
		if next == len(w) {
			next = -1
		}
		s.syms = append(s.syms, idSymbol{n: 1, prev: i - 1, next: next, id: t.byteTok[w[i]]})
	}
	s.q.items = s.q.items[:0]
	for i := 1; i < len(s.syms); i++ {
		s.tryAdd(t, i-1, i)
	}
	for s.q.len() > 0 {
		b := s.q.pop()
		l, r := &s.syms[b.left], &s.syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue
		}
		l.n += r.n
		l.id = b.id
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = b.left
		}
		s.tryAdd(t, l.prev, b.left)
		s.tryAdd(t, b.left, l.next)
	}
	n := int32(len(t.v.Tokens))
	for i := 0; i != -1 && len(s.syms) > 0; i = s.syms[i].next {
		id := s.syms[i].id
		if id < n {
			out = append(out, id)
			continue
		}
		// Not a token: fall back to the single bytes that are tokens.
		text := t.virtual[id-n]
		for j := 0; j < len(text); j++ {
			if id, ok := t.ids[text[j:j+1]]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// encodeBPE pre-tokenizes a raw fragment and merges each word by rank,
// appending ids to out.
func (t *Tokenizer) encodeBPE(text string, out []int32) []int32 {
	bt := gpt2Bytes()
	var word strings.Builder
	sess := bpeSession{q: heap[idBigram]{less: idBigramLess}}
	for _, w := range t.pre.split(text) {
		if t.ignoreMrg {
			// Llama 3: a word that is a token is used whole.
			word.Reset()
			for i := 0; i < len(w); i++ {
				word.WriteString(bt.encoded[w[i]])
			}
			if id, ok := t.ids[word.String()]; ok {
				out = append(out, id)
				continue
			}
		}
		out = t.encodeWord(&sess, w, out)
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
