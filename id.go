package fanfare

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// lastID is the time part (milliseconds << 12 | sub-millisecond steps) of
// the last id made by this process: the next one is made larger, so ids
// sort in the order they were made even when the clock stands still or
// steps back.
var (
	idMu   sync.Mutex
	lastID int64
)

// NewID returns a new identifier: a UUIDv7 (RFC 9562) in its usual text
// form. Its first 48 bits are the Unix time in milliseconds read from c, the
// next 12 bits the fraction of that millisecond (in steps of 256 ns), raised
// when needed so that ids made by one process strictly increase, and 62
// bits are random (crypto/rand). Ids therefore sort by creation time, which
// keeps the B-tree indexes of both databases appending.
func NewID(c Clock) string {
	nano := c.Now().UnixNano()
	milli := nano / 1e6
	t := milli<<12 | (nano-milli*1e6)>>8 // the fraction is below 3907 < 1<<12
	idMu.Lock()
	if t <= lastID {
		t = lastID + 1
	}
	lastID = t
	idMu.Unlock()
	milli, seq := t>>12, t&0xfff

	var b [16]byte
	rand.Read(b[8:]) // never fails: crypto/rand crashes the program instead
	for i := range 6 {
		b[i] = byte(milli >> (40 - 8*i))
	}
	b[6] = 0x70 | byte(seq>>8) // version 7
	b[7] = byte(seq)
	b[8] = 0x80 | b[8]&0x3f // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
