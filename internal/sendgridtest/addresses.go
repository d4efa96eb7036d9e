package sendgridtest

import (
	"hash/maphash"
	"strings"
)

// addressBook stores the recipients of accepted requests compactly: the
// addresses back to back in one byte arena with an offset each, and an
// open-addressing index (linear probing, at most half full) from the hash
// of the lower-cased address to the recipients with it. About 40 bytes per
// recipient for typical addresses, so a million fit in ~40 MB.
type addressBook struct {
	arena []byte
	offs  []uint32 // recipient i is arena[offs[i]:offs[i+1]]
	table []int32  // recipient index + 1; 0 is empty
	seed  maphash.Seed
	lower []byte // scratch
}

func newAddressBook() *addressBook {
	return &addressBook{offs: []uint32{0}, table: make([]int32, 1024), seed: maphash.MakeSeed()}
}

func (a *addressBook) len() int { return len(a.offs) - 1 }

func (a *addressBook) email(i int) string { return string(a.arena[a.offs[i]:a.offs[i+1]]) }

func (a *addressBook) hash(email []byte) uint64 {
	a.lower = a.lower[:0]
	for _, c := range email {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		a.lower = append(a.lower, c)
	}
	return maphash.Bytes(a.seed, a.lower)
}

// add appends a recipient.
func (a *addressBook) add(email string) {
	a.arena = append(a.arena, email...)
	a.offs = append(a.offs, uint32(len(a.arena)))
	n := a.len()
	if 2*n > len(a.table) {
		a.grow()
		return // grow indexed every recipient, this one included
	}
	a.insert(n - 1)
}

func (a *addressBook) insert(i int) {
	mask := uint64(len(a.table) - 1)
	for j := a.hash(a.arena[a.offs[i]:a.offs[i+1]]) & mask; ; j = (j + 1) & mask {
		if a.table[j] == 0 {
			a.table[j] = int32(i + 1)
			return
		}
	}
}

func (a *addressBook) grow() {
	a.table = make([]int32, 2*len(a.table))
	for i := range a.len() {
		a.insert(i)
	}
}

// count is how many recipients have email, compared without regard to
// ASCII case.
func (a *addressBook) count(email string) int {
	mask := uint64(len(a.table) - 1)
	n := 0
	for j := a.hash([]byte(email)) & mask; a.table[j] != 0; j = (j + 1) & mask {
		if strings.EqualFold(a.email(int(a.table[j]-1)), email) {
			n++
		}
	}
	return n
}
