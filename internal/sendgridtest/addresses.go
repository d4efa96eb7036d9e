package sendgridtest

import (
	"bytes"
	"hash/maphash"
)

// addressBook stores the recipients of accepted requests compactly: the
// addresses back to back in one byte arena with an offset each, and an
// open-addressing index (linear probing, at most half full) from the hash
// of the lower-cased address to the person with it: one entry per distinct
// address (compared without regard to ASCII case), with the recipient that
// first had it and how many times it was taken. About 45 bytes per
// recipient for typical addresses, so a million fit in ~45 MB.
type addressBook struct {
	arena []byte
	offs  []uint32 // recipient i is arena[offs[i]:offs[i+1]]
	first []int32  // person p's first recipient
	times []int32  // how many recipients person p has been
	table []int32  // person index + 1; 0 is empty
	seed  maphash.Seed
	lower []byte // scratch

	multi int // people taken more than once
	extra int // recipients beyond each person's first
}

func newAddressBook() *addressBook {
	return &addressBook{offs: []uint32{0}, table: make([]int32, 1024), seed: maphash.MakeSeed()}
}

// len is the number of recipients.
func (a *addressBook) len() int { return len(a.offs) - 1 }

// people is the number of distinct addresses.
func (a *addressBook) people() int { return len(a.first) }

func (a *addressBook) bytes(i int) []byte { return a.arena[a.offs[i]:a.offs[i+1]] }

func (a *addressBook) email(i int) string { return string(a.bytes(i)) }

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

// find returns the table slot of email's person, or the empty slot where
// it would go.
func (a *addressBook) find(email []byte) int {
	mask := uint64(len(a.table) - 1)
	for j := a.hash(email) & mask; ; j = (j + 1) & mask {
		p := a.table[j]
		if p == 0 || bytes.EqualFold(a.bytes(int(a.first[p-1])), email) {
			return int(j)
		}
	}
}

// add appends a recipient.
func (a *addressBook) add(email string) {
	a.arena = append(a.arena, email...)
	a.offs = append(a.offs, uint32(len(a.arena)))
	i := a.len() - 1
	j := a.find(a.bytes(i))
	if p := a.table[j]; p != 0 {
		a.times[p-1]++
		if a.times[p-1] == 2 {
			a.multi++
		}
		a.extra++
		return
	}
	a.first = append(a.first, int32(i))
	a.times = append(a.times, 1)
	a.table[j] = int32(len(a.first))
	if 2*len(a.first) > len(a.table) {
		a.grow()
	}
}

func (a *addressBook) grow() {
	a.table = make([]int32, 2*len(a.table))
	for p := range a.first {
		a.table[a.find(a.bytes(int(a.first[p])))] = int32(p + 1)
	}
}

// count is how many recipients have email, compared without regard to
// ASCII case.
func (a *addressBook) count(email string) int {
	if p := a.table[a.find([]byte(email))]; p != 0 {
		return int(a.times[p-1])
	}
	return 0
}
