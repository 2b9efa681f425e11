package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashCost is the cost of new password hashes (argon2id, one lane).
// Hashes store their own parameters, so changing it never locks anyone
// out: a hash made at another cost is checked at that cost.
type HashCost struct {
	Memory uint32 // KiB
	Time   uint32 // passes
}

// DefaultHashCost is the OWASP baseline: 19 MiB of memory, two passes.
var DefaultHashCost = HashCost{Memory: 19456, Time: 2}

// MinHashCost is the cheapest cost accepted: argon2's own floor. Anything
// under DefaultHashCost is for tests and load tests, never production.
var MinHashCost = HashCost{Memory: 8, Time: 1}

// Valid reports whether c is at least MinHashCost and at most 4 GiB.
func (c HashCost) Valid() bool {
	return c.Memory >= MinHashCost.Memory && c.Time >= MinHashCost.Time && c.Memory <= 4<<20 && c.Time <= 100
}

// Below reports whether c is cheaper than the OWASP baseline.
func (c HashCost) Below() bool {
	return c.Memory < DefaultHashCost.Memory || c.Time < DefaultHashCost.Time
}

const (
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// b64 is the encoding of the PHC string format: standard alphabet, no
// padding.
var b64 = base64.RawStdEncoding

// hashPassword returns the argon2id hash of password at cost in PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> at the default cost.
func hashPassword(password string, cost HashCost) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, cost.Time, cost.Memory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, cost.Memory, cost.Time, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed argon2id hash")

// checkPassword reports whether password matches the PHC-format hash
// encoded. The comparison takes the same time whatever the password.
func checkPassword(encoded, password string) (bool, error) {
	// "", "argon2id", "v=19", "m=...,t=...,p=...", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	// Bounds that keep a corrupt row from exhausting memory or CPU.
	if m < 8 || m > 1<<21 || t < 1 || t > 16 || p < 1 || p > 16 {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
